"""Fund-tracing kernel: one replay of the transactions in processing order, moving taint.

The executable definition is ``tests/naive/trace.py``; the public API is ``finflow.trace``.

Input (E = replayed transactions in *processing order*, N = accounts)
----------------------------------------------------------------------
``src, dst`` int32[E], ``ts`` int64[E] (seconds), ``amt`` float64[E] (base currency). Forward
tracing passes the dataset's edges in (ts, txn_id) order; backward tracing passes them in the
exact reverse order with ``src``/``dst`` swapped, so the kernel has no notion of direction.
``seed_account`` uint8[N] and ``seed_edge`` uint8[E] mark the taint sources; an edge is
*forced* (tainted in full) when ``seed_edge[e]`` or when ``seed_account[src[e]]`` and
``e >= first_active`` (edges before ``first_active`` are history before the window: they
build balances but seeds do not emit yet).

Replay, one edge ``e = (u -> v, a)`` at a time, sender side first (so a self-loop first
pays out, then receives):

* **proportional**: each account has a known balance ``bal`` (opening balance 0: unknown
  opening balances count as clean) and taint ``tnt <= bal``. An outflow of ``a < bal``
  carries ``tnt * a / bal``; an outflow of ``a >= bal`` carries all of ``tnt`` and the excess
  ``a - bal`` is clean money from the unknown opening balance (``bal`` floors at 0).
* **fifo / lifo**: every inflow is a lot ``(amount, taint)``; an outflow consumes lots oldest
  first (fifo) or newest first (lifo). A partly consumed lot gives up taint pro rata inside the
  lot (one transaction's tainted and clean parts are mixed). Value beyond the lots is clean
  money from the unknown opening balance.
* **forced** edges carry ``a`` in full; the part the rule attributes to taint the sender
  already held is *reused*, the rest ``a - reused`` is *originated* at the sender. So taint
  never exceeds what left the seeds, and money cycling back to a seed is not counted twice.
* **hops**: seeds (and senders of seed transactions) have hop 0; an edge's hop is its sender's
  minimum hop so far + 1. Taint is pooled per account, so value that came over a longer route
  travels at the account's minimum distance. An edge with hop > ``max_hops`` (if >= 0) carries
  nothing and its taint is counted as *stopped* at the sender; otherwise taint below
  ``min_amount`` is *dropped* at the sender. Either way the money itself still moves.

Per account: ``taint_in + originated = held + taint_out + dropped + stopped`` (exact up to float
rounding; taint is clamped to the balance or lot amount against rounding drift).

Paths: every tainted edge keeps one *parent* (its best predecessor): fifo/lifo the lot that
gave the largest tainted share of the outflow; proportional the inflow whose contribution to
the sender's current taint is largest (all contributions decay by the same factor on each
outflow, so one running maximum per account is exact; it resets when the account is
drained or pays out while holding no taint). Forced edges are roots. An edge's path value is the bottleneck (minimum taint) along
its parent chain; ``extended[e] = 1`` when a child edge keeps the same bottleneck (then the path
to ``e`` is a prefix of an equally valuable longer path). This is an approximation: a pooled
account's outflow descends from several inflows, and the chain records only the largest.

Complexity: O(E + N) time (each lot is created once and fully consumed at most once; one
partial take per outflow). Memory: 160 bytes per account (packed rows: the replay is bound
by random access to the sender's and receiver's state, so each side touches one or two cache
lines), 25 bytes per replayed transaction of output, and for fifo/lifo one 24-byte lot slot
per replayed transaction (account v's lots live at ``lot_ptr[v] ..`` of a pool sized by v's
in-degree), so the pool is exactly E slots and cannot overflow: no budget is needed.
"""
from __future__ import annotations

import numpy as np

from .jit import kernel

__all__ = ["RULES", "NO_HOP", "trace_replay"]

#: rule name -> code passed to the kernel
RULES = {"proportional": 0, "fifo": 1, "lifo": 2}
#: min_hop of an account that taint never reached
NO_HOP = np.int64(1) << np.int64(62)


@kernel
def trace_replay(src, dst, ts, amt, n_nodes, seed_account, seed_edge, first_active, rule,
                 max_hops, min_amount):
    """Replay edges in processing order and move taint (see the module docstring).

    Returns (per edge, processing order) taint float64[E], parent int64[E] (processing
    position, -1 root or untainted), value float64[E] (path bottleneck), extended uint8[E];
    (per account) taint_in, taint_out, held, originated, dropped, stopped float64[N],
    min_hop int64[N] (NO_HOP if never reached), first_ts, last_ts int64[N] (first and last
    tainted inflow), n_in int64[N] (tainted inflows); counts int64[4]: tainted edges,
    forced edges, dropped edges, stopped edges.
    """
    n_edges = src.shape[0]
    no_hop = np.int64(1) << np.int64(62)
    # Per-account state is packed one row per account (a transaction then touches one or two
    # cache lines per side instead of a dozen scattered arrays: the replay is memory bound).
    # hot: what every transaction reads (best_edge as float64, exact below 2**53)
    BAL, HELD, BEST_CUR, BEST_EDGE = 0, 1, 2, 3
    # fs: float totals touched only by tainted transactions
    T_IN, T_OUT, ORIG, DROPPED, STOPPED = 0, 1, 2, 3, 4
    # ist: int state; HEAD / NEXT are absolute lot slots: fifo queue HEAD..NEXT, lifo stack
    # base HEAD and top NEXT
    MIN_HOP, N_IN, FIRST_TS, LAST_TS, HEAD, NEXT = 0, 1, 2, 3, 4, 5
    hot = np.zeros((n_nodes if rule == 0 else 0, 4), np.float64)
    fs = np.zeros((n_nodes, 8), np.float64)
    ist = np.zeros((n_nodes, 8), np.int64)
    taint = np.zeros(n_edges, np.float64)
    parent = np.full(n_edges, -1, np.int64)
    value = np.zeros(n_edges, np.float64)
    extended = np.zeros(n_edges, np.uint8)
    counts = np.zeros(4, np.int64)

    for v in range(n_nodes):
        if rule == 0:
            hot[v, BEST_EDGE] = -1.0
        ist[v, MIN_HOP] = 0 if seed_account[v] else no_hop
    for e in range(n_edges):
        if seed_edge[e]:
            ist[src[e], MIN_HOP] = 0

    # fifo / lifo lot pool: account v owns slots lot_ptr[v] .. lot_ptr[v + 1] (its in-degree);
    # one row per lot: amount, taint, edge (as float64, exact below 2**53)
    n_lots = n_edges if rule != 0 else 0
    lot_ptr = np.zeros(n_nodes + 1, np.int64)
    if rule != 0:
        for e in range(n_edges):
            lot_ptr[dst[e] + 1] += 1
        for v in range(n_nodes):
            lot_ptr[v + 1] += lot_ptr[v]
            ist[v, HEAD] = lot_ptr[v]
            ist[v, NEXT] = lot_ptr[v]
    lots = np.zeros((n_lots, 3), np.float64)

    for e in range(n_edges):
        u = src[e]
        v = dst[e]
        a = amt[e]
        # -- sender: what the rule says this outflow carries of u's taint ------------------
        reused = 0.0
        par = np.int64(-1)
        if rule == 0:
            b = hot[u, BAL]
            h = hot[u, HELD]
            if a >= b:
                reused = h
                hot[u, HELD] = 0.0
                hot[u, BAL] = 0.0
                if reused > 0.0:
                    par = np.int64(hot[u, BEST_EDGE])
                hot[u, BEST_CUR] = 0.0
                hot[u, BEST_EDGE] = -1.0
            elif h > 0.0:
                f = a / b
                reused = h * f
                h = h - reused
                if h > b - a:
                    h = b - a
                if h < 0.0:
                    h = 0.0
                hot[u, HELD] = h
                hot[u, BAL] = b - a
                if reused > 0.0:
                    par = np.int64(hot[u, BEST_EDGE])
                hot[u, BEST_CUR] = hot[u, BEST_CUR] * (1.0 - f)
            else:                         # holds no taint: nothing to attribute
                hot[u, BAL] = b - a
                hot[u, BEST_CUR] = 0.0
                hot[u, BEST_EDGE] = -1.0
        else:
            remaining = a
            best_take = 0.0
            while remaining > 0.0 and ist[u, HEAD] < ist[u, NEXT]:
                s = ist[u, HEAD] if rule == 1 else ist[u, NEXT] - 1
                la = lots[s, 0]
                if la <= remaining:
                    take = lots[s, 1]
                    remaining -= la
                    lots[s, 0] = 0.0
                    lots[s, 1] = 0.0
                    if rule == 1:
                        ist[u, HEAD] += 1
                    else:
                        ist[u, NEXT] -= 1
                else:
                    lt = lots[s, 1]
                    take = lt * (remaining / la)
                    left = la - remaining
                    lt = lt - take
                    if lt > left:
                        lt = left
                    if lt < 0.0:
                        lt = 0.0
                    lots[s, 0] = left
                    lots[s, 1] = lt
                    remaining = 0.0
                reused += take
                if take > best_take:
                    best_take = take
                    par = np.int64(lots[s, 2])
        # -- forced edges, hop limit, minimum amount ---------------------------------------
        carried = reused
        if seed_edge[e] or (seed_account[u] != 0 and e >= first_active):
            fs[u, ORIG] += a - reused
            carried = a
            par = -1
            counts[1] += 1
        hop = no_hop
        if carried > 0.0:
            hop = ist[u, MIN_HOP] + 1
            if max_hops >= 0 and hop > max_hops:
                fs[u, STOPPED] += carried
                counts[3] += 1
                carried = 0.0
            elif carried < min_amount:
                fs[u, DROPPED] += carried
                counts[2] += 1
                carried = 0.0
        if carried > 0.0:
            fs[u, T_OUT] += carried
            taint[e] = carried
            parent[e] = par
            counts[0] += 1
            if par >= 0:
                value[e] = min(value[par], carried)
                if value[e] >= value[par]:
                    extended[par] = 1
            else:
                value[e] = carried
        # -- receiver ------------------------------------------------------------------------
        if rule == 0:
            hot[v, BAL] += a
            if carried > 0.0:
                hot[v, HELD] += carried
                if carried > hot[v, BEST_CUR]:
                    hot[v, BEST_CUR] = carried
                    hot[v, BEST_EDGE] = e
        else:
            s = ist[v, NEXT]
            ist[v, NEXT] += 1
            lots[s, 0] = a
            lots[s, 1] = carried
            lots[s, 2] = e
        if carried > 0.0:
            fs[v, T_IN] += carried
            if ist[v, N_IN] == 0:
                ist[v, FIRST_TS] = ts[e]
            ist[v, LAST_TS] = ts[e]
            ist[v, N_IN] += 1
            if hop < ist[v, MIN_HOP]:
                ist[v, MIN_HOP] = hop

    held = np.zeros(n_nodes, np.float64)
    for v in range(n_nodes):
        if rule == 0:
            held[v] = hot[v, HELD]
        else:
            h = 0.0
            for s in range(lot_ptr[v], lot_ptr[v + 1]):
                h += lots[s, 1]
            held[v] = h
    return (taint, parent, value, extended, fs[:, T_IN].copy(), fs[:, T_OUT].copy(), held, fs[:, ORIG].copy(), fs[:, DROPPED].copy(),
            fs[:, STOPPED].copy(), ist[:, MIN_HOP].copy(), ist[:, FIRST_TS].copy(),
            ist[:, LAST_TS].copy(), ist[:, N_IN].copy(), counts)
