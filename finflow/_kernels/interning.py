"""Interning: dense codes for 64-bit keys in first-seen order (used by account interning).

The executable definition is the twin in ``tests/naive/interning.py``.
"""
from __future__ import annotations

import numpy as np

from .jit import kernel

__all__ = ["first_seen_codes"]

_EMPTY = np.int32(-1)


@kernel
def first_seen_codes(keys):
    """Dense codes of ``keys`` (uint64[n]) in order of first appearance.

    Returns ``(codes, first)``: ``codes`` int32[n] with ``codes[i] == codes[j]`` iff
    ``keys[i] == keys[j]``, numbered 0, 1, ... as new keys appear; ``first`` int64[k] the
    index of each code's first row (increasing). Open addressing with linear probing in a
    table kept between 1/4 and 1/2 full (doubled as keys arrive), so it stays about the size
    of the distinct keys, not of ``n``: O(n) expected time, O(k) extra memory.
    Callers pass well-mixed keys (hashes); the slot is taken from the low bits after a
    final xor-shift.
    """
    n = keys.shape[0]
    codes = np.empty(n, dtype=np.int32)
    first = np.empty(max(n, 1), dtype=np.int64)
    cap = 1024
    slot_key = np.empty(cap, dtype=np.uint64)
    slot_code = np.full(cap, _EMPTY, dtype=np.int32)
    k = 0
    for i in range(n):
        x = keys[i]
        mask = np.uint64(cap - 1)
        j = np.int64((x ^ (x >> np.uint64(32))) & mask)
        while True:
            c = slot_code[j]
            if c == _EMPTY:
                slot_code[j] = k
                slot_key[j] = x
                first[k] = i
                codes[i] = k
                k += 1
                break
            if slot_key[j] == x:
                codes[i] = c
                break
            j = (j + 1) & np.int64(mask)
        if 2 * k > cap:  # grow: re-insert every key into a table twice the size
            cap *= 2
            mask = np.uint64(cap - 1)
            new_key = np.empty(cap, dtype=np.uint64)
            new_code = np.full(cap, _EMPTY, dtype=np.int32)
            for s in range(cap // 2):
                c = slot_code[s]
                if c == _EMPTY:
                    continue
                y = slot_key[s]
                j = np.int64((y ^ (y >> np.uint64(32))) & mask)
                while new_code[j] != _EMPTY:
                    j = (j + 1) & np.int64(mask)
                new_code[j] = c
                new_key[j] = y
            slot_key, slot_code = new_key, new_code
    return codes, first[:k].copy()
