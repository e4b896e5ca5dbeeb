"""``kernel``: the decorator of every finflow kernel (numba ``njit`` with ``JIT_OPTIONS``), whose
cached machine code loads without numba's compiler set-up.

Why: before each load from its on-disk cache, numba refreshes the target context, which imports
and registers every lowering numba has (``numba.np.arraymath``, ``linalg``, ``random`` ...),
and numba's BLAS probe imports scipy where it is installed. Loading cached machine code needs
none of that: only the runtime's symbols (NRT) and the hash secret, which are set up here. It
was a fixed 0.25 s of a warm ``finflow detect`` (0.45 s with scipy present), a quarter of it.

A cache miss still compiles through numba's own path, which does the full refresh first, so
only loading changes. Where a numba release lacks the private methods this relies on, the
kernel keeps numba's ordinary load (slower, same results).
"""
from __future__ import annotations

import functools

import numba

from ..config import JIT_OPTIONS

__all__ = ["kernel"]


def _load_cached(cache, sig, target_context):
    """numba's ``Cache.load_overload`` minus ``target_context.refresh()`` (module doc)."""
    from numba.core.runtime import nrt
    import numba.cpython.hashing  # noqa: F401  (puts the hash secret in LLVM's symbol table)
    nrt.rtsys.initialize(target_context)
    with cache._guard_against_spurious_io_errors():
        return cache._load_overload(sig, target_context)


def kernel(fn=None, **options):
    """``@kernel`` or ``@kernel(parallel=True)``: ``numba.njit(**JIT_OPTIONS, **options)``,
    loading from numba's cache without the compiler set-up (module doc)."""
    def wrap(f):
        dispatcher = numba.njit(**JIT_OPTIONS, **options)(f)
        cache = getattr(dispatcher, "_cache", None)
        if all(hasattr(cache, m) for m in ("_load_overload", "_guard_against_spurious_io_errors")):
            cache.load_overload = functools.partial(_load_cached, cache)
        return dispatcher
    return wrap if fn is None else wrap(fn)
