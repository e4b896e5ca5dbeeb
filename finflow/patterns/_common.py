"""Helpers shared by detectors: score shaping, evidence measures (account volume, segment
medians), and the CSR and relationship helpers detectors build alerts with."""
from __future__ import annotations

import numpy as np

from ..alerts import ROLE_CODE
from ..graph import TemporalGraph

__all__ = ["saturate", "speed_score", "persistence", "account_volume", "EVIDENCE_LIMIT",
           "owner_of", "ranges", "unique_pairs", "group_unique", "csr_take", "csr_concat",
           "role_codes", "members_csr", "pair_key", "pair_counts", "relationship_novelty",
           "segment_median"]

#: evidence lists (transactions, counterparties, paths) are cut at this length; the alert's
#: transaction and account tables always hold everything
EVIDENCE_LIMIT = 500


def saturate(x, half: float):
    """Map x >= 0 to [0, 1): x / (x + half); equals 0.5 at x == half. Monotone."""
    x = np.maximum(np.asarray(x, np.float64), 0.0)
    return x / (x + half)


def speed_score(span_seconds, window_seconds: float):
    """1 for an instantaneous pattern, falling linearly to 0 at the full window."""
    s = np.asarray(span_seconds, np.float64)
    return np.clip(1.0 - s / max(float(window_seconds), 1.0), 0.0, 1.0)


def persistence(span_seconds, window_seconds: float):
    """W / max(W, span): 1 for a pattern inside one window, falling as it drags on beyond it
    (a steady business, not a burst). A zero window counts as one second, so never 0/0."""
    w = max(float(window_seconds), 1.0)
    return w / np.maximum(w, np.asarray(span_seconds, np.float64))


def account_volume(graph: TemporalGraph, accounts: np.ndarray, lo: np.ndarray,
                   hi: np.ndarray) -> np.ndarray:
    """Total amount ``accounts[i]`` sent plus received with ``lo[i] <= ts <= hi[i]`` (base
    currency), float64[Q]. Binary search in the time-sorted CSR rows over prefix sums:
    O(E + Q log E)."""
    accounts = np.asarray(accounts, np.int64)
    total = np.zeros(accounts.shape[0])
    if graph.n_edges == 0 or accounts.shape[0] == 0:
        return total
    # key = account * stride + time offset; row times map to 1..span, queries are clipped to
    # 0..span + 1 so that a bound before (after) every transaction stays before (after) them
    t_min = int(graph.ts[0]) - 1
    span = int(graph.ts[-1]) - t_min
    stride = span + 2
    lo_key = accounts * stride + np.clip(np.asarray(lo, np.int64) - t_min, 0, span + 1)
    hi_key = accounts * stride + np.clip(np.asarray(hi, np.int64) - t_min, 0, span + 1)
    for ptr, row_ts, row_amt in ((graph.out_ptr, graph.out_ts, graph.out_amt),
                                 (graph.in_ptr, graph.in_ts, graph.in_amt)):
        owner = owner_of(ptr)
        key = owner * stride + (row_ts - t_min)      # sorted: rows by account, then time
        csum = np.concatenate([[0.0], np.cumsum(row_amt)])
        total += (csum[np.searchsorted(key, hi_key, "right")]
                  - csum[np.searchsorted(key, lo_key, "left")])
    return total


# -- CSR helpers: per-alert variable-length lists as (ptr int64[A+1], values) -------------

def owner_of(ptr: np.ndarray) -> np.ndarray:
    """The row of every position of a CSR: ``[0]*n_0 + [1]*n_1 + ...`` (int64). O(total)."""
    ptr = np.asarray(ptr, np.int64)
    return np.repeat(np.arange(ptr.shape[0] - 1, dtype=np.int64), np.diff(ptr))


def ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the concatenated integer ranges [lo_i, hi_i): (ptr int64[A+1], values int64).
    O(A + total)."""
    lo = np.asarray(lo, np.int64)
    n = np.asarray(hi, np.int64) - lo
    ptr = np.zeros(lo.shape[0] + 1, np.int64)
    np.cumsum(n, out=ptr[1:])
    vals = np.arange(ptr[-1], dtype=np.int64) - np.repeat(ptr[:-1] - lo, n)
    return ptr, vals


def unique_pairs(a: np.ndarray, b: np.ndarray, return_counts: bool = False):
    """Distinct (a_i, b_i) pairs of non-negative int64 arrays in lexicographic order:
    (a', b'[, counts]). One sort of packed ``a * span + b`` keys when they fit in int64, else
    a lexsort. O(n log n)."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    if a.shape[0] == 0:
        out = (a, b)
        return out + (np.zeros(0, np.int64),) if return_counts else out
    span = int(b.max()) + 1
    if (int(a.max()) + 1) * span < 2**62:
        key, counts = np.unique(a * span + b, return_counts=True)
        ua, ub = key // span, key % span
    else:  # keys beyond 2**62
        order = np.lexsort((b, a))
        a, b = a[order], b[order]
        start = np.flatnonzero(np.concatenate([[True], (a[1:] != a[:-1]) | (b[1:] != b[:-1])]))
        ua, ub = a[start], b[start]
        counts = np.diff(np.append(start, a.shape[0]))
    return (ua, ub, counts) if return_counts else (ua, ub)


def group_unique(group: np.ndarray, values: np.ndarray, n_groups: int):
    """Distinct non-negative int values per group, sorted: (ptr int64[n_groups+1], values
    int64). O(n log n)."""
    ug, uv = unique_pairs(group, values)
    ptr = np.zeros(n_groups + 1, np.int64)
    np.cumsum(np.bincount(ug, minlength=n_groups), out=ptr[1:])
    return ptr, uv


def csr_take(ptr: np.ndarray, rows: np.ndarray, *values: np.ndarray):
    """Rows ``rows`` (increasing) of a CSR: (new ptr int64[len(rows)+1], [values...])."""
    rows = np.asarray(rows, np.int64)
    new_ptr, pos = ranges(ptr[rows], ptr[rows + 1])
    return new_ptr, [v[pos] for v in values]


def csr_concat(parts) -> tuple[np.ndarray, list[np.ndarray]]:
    """Row-wise concatenation of CSRs with the same rows: ``parts`` is a sequence of
    ``(ptr, [values...])`` (each part's value lists aligned); row i of the result holds part
    0's row i, then part 1's row i, ... Returns (ptr int64[A+1], [values...]). O(total)."""
    ptrs = [np.asarray(p, np.int64) for p, _ in parts]
    lengths = [np.diff(p) for p in ptrs]
    ptr = np.zeros(ptrs[0].shape[0], np.int64)
    np.cumsum(np.sum(lengths, axis=0), out=ptr[1:])
    before = ptr[:-1].copy()        # where part j starts in each row
    pos = []
    for p, n in zip(ptrs, lengths):
        pos.append(np.arange(p[-1], dtype=np.int64) + np.repeat(before - p[:-1], n))
        before += n
    out = []
    for j in range(len(parts[0][1])):
        first = np.asarray(parts[0][1][j])
        col = np.empty(ptr[-1], first.dtype)
        for (_, vals), where in zip(parts, pos):
            col[where] = vals[j]
        out.append(col)
    return ptr, out


def role_codes(n: int, role: str) -> np.ndarray:
    """``n`` copies of the code of ``role`` (int8, see ``alerts.ROLE_CODE``)."""
    return np.full(n, ROLE_CODE[role], np.int8)


def members_csr(first: np.ndarray, first_role: str, rest_ptr: np.ndarray, rest: np.ndarray,
                rest_role: str):
    """Member CSR: one ``first`` account per alert, then its ``rest`` accounts:
    (ptr int64[A+1], account int32, role int8 codes)."""
    a = first.shape[0]
    ptr, (acc, role) = csr_concat([
        (np.arange(a + 1), [np.asarray(first, np.int32), role_codes(a, first_role)]),
        (rest_ptr, [np.asarray(rest, np.int32), role_codes(rest.shape[0], rest_role)])])
    return ptr, acc, role


# -- relationships: ordered account pairs over the whole data -----------------------------

def pair_key(graph: TemporalGraph, src, dst) -> np.ndarray:
    """int64 key of the ordered account pair (src, dst): ``src * n_nodes + dst``."""
    return np.asarray(src, np.int64) * max(graph.n_nodes, 1) + np.asarray(dst, np.int64)


def pair_counts(graph: TemporalGraph, keys: np.ndarray) -> np.ndarray:
    """How many transactions each ordered pair ``keys[i]`` (see :func:`pair_key`) has in the
    whole dataset, int64[Q]. One pass over the edges, then a binary search into the Q distinct
    queried keys for the edges of queried senders: O(E + E' log Q + Q log Q), E' <= E."""
    keys = np.asarray(keys, np.int64)
    if keys.shape[0] == 0 or graph.n_edges == 0:
        return np.zeros(keys.shape[0], np.int64)
    q = np.unique(keys)
    # only edges whose sender starts a queried pair need the search
    sender = np.zeros(max(graph.n_nodes, 1), bool)
    sender[q // max(graph.n_nodes, 1)] = True
    cand = np.flatnonzero(sender[graph.src])
    every = pair_key(graph, graph.src[cand], graph.dst[cand])
    pos = np.minimum(np.searchsorted(q, every), q.shape[0] - 1)
    hit = q[pos] == every
    counts = np.bincount(pos[hit], minlength=q.shape[0])
    return counts[np.searchsorted(q, keys)].astype(np.int64)


def relationship_novelty(graph: TemporalGraph, group: np.ndarray, edges: np.ndarray,
                         n_groups: int) -> np.ndarray:
    """Per group (alert), the share of its distinct relationships (ordered account pairs of
    ``edges``, each edge listed once per group) that have no transaction outside the group.

    A pair that also pays at other times (a monthly salary, a weekly deposit, a regular
    supplier) is an existing relationship; a pattern built from pairs that exist only inside
    it is made of new ties. float64[n_groups] in [0, 1]; O(E + T log T) for T edges.
    """
    group = np.asarray(group, np.int64)
    edges = np.asarray(edges, np.int64)
    out = np.zeros(n_groups)
    if edges.shape[0] == 0:
        return out
    ug, upair, inside = unique_pairs(group, pair_key(graph, graph.src[edges], graph.dst[edges]),
                                     return_counts=True)
    new = (inside == pair_counts(graph, upair)).astype(np.float64)
    n_pairs = np.bincount(ug, minlength=n_groups).astype(np.float64)
    n_new = np.bincount(ug, weights=new, minlength=n_groups)
    np.divide(n_new, n_pairs, out=out, where=n_pairs > 0)
    return out


def segment_median(x: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """Median of each CSR segment ``x[ptr[i]:ptr[i+1]]`` (segments non-empty), float64.
    O(T log T)."""
    seg = np.repeat(np.arange(ptr.shape[0] - 1), np.diff(ptr))
    xs = x[np.lexsort((x, seg))]
    n = np.diff(ptr)
    return 0.5 * (xs[ptr[:-1] + (n - 1) // 2] + xs[ptr[:-1] + n // 2])
