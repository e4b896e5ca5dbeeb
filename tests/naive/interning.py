"""Plain-Python twin of finflow/_kernels/interning.py: the executable definition."""
from __future__ import annotations


def first_seen_codes(keys):
    """(codes, first): each key's number in order of first appearance, and the index of the
    row where each number first appears."""
    code_of: dict[int, int] = {}
    codes, first = [], []
    for i, k in enumerate(keys):
        k = int(k)
        if k not in code_of:
            code_of[k] = len(code_of)
            first.append(i)
        codes.append(code_of[k])
    return codes, first
