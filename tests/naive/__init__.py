"""Plain-Python reference twins of every numba kernel, one module per kernel family.

They favour obviousness over speed: read them as the executable definition of what a kernel
computes. Tests compare each kernel with its twin on random small graphs (hypothesis).
"""
