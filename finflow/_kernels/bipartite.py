"""BIPARTITE blocks and STACK chains (executable definitions: tests/naive/bipartite.py).

Definitions (W = window, k = min_side, g = min_member_degree, s = min_share, d = min_density)
-------------------------------------------------------------------------------------------
A *pair* (a, b), a != b, is the set of all transactions a -> b. It is *novel* when a and b
are otherwise quiet with each other: there is no b -> a transaction at all, the a -> b
transactions span at most W, they sum to at least ``min_pair_amount``, and neither account is
a hub (more than ``max_degree`` transactions in and out). A novel pair is *inside* the window
``[t0, t0 + W]`` when all its transactions are; ``H(t0)`` is the set of novel pairs inside that
window. Windows start on a grid, ``t0 = j * step`` (``window_step``, seconds since the epoch,
so the grid does not depend on the data): a pattern spanning at most ``W - step`` lies inside
at least one grid window, so the grid loses nothing up to that span; a block spanning more
(up to W) is found only when a grid point happens to fall in ``[last - W, first]``, and a
member's counterparty count ``c_t0`` is taken over the grid window, not over a window starting
at the block's first transaction (``step = 1`` makes every second a window start).

A *block* in window t0 is (A, B) with A, B disjoint, ``|A|, |B| >= k``, whose pairs
``P = H(t0) ∩ (A x B)`` connect A and B (as an undirected graph), have density
``|P| / (|A| |B|) >= d``, and give every member x at least ``max(g, s * c_t0(x))`` pairs, where
``c_t0(x)`` is the number of x's distinct counterparties in the window in its role (payees of a
source, payers of a sink, over all transactions): members are otherwise quiet in the window,
so merchants and payroll accounts, busy with many others, do not qualify. A block is *maximal*
when no other block, in any window, has A' ⊇ A and B' ⊇ B; each maximal (A, B) is reported
once, with its pairs in its fullest window (most pairs; the earliest such window on ties).

Kernel (``bipartite_blocks``)
-----------------------------
1. ``novel_pairs``: group transactions by (src, dst) with one counting pass over the in-CSR,
   O(E); reverse payments by binary search in the payee's row; pairs numbered by first time
   (one sort, O(P log P)). Also links each transaction to the previous / next one of its pair.
2. Sweep the grid windows in time order, keeping, incrementally (O(1) per transaction
   entering or leaving, O(E) over the sweep): every account's distinct counterparties in the
   window in each role (a transaction changes the count only when no other transaction of its
   pair is in the window, told by the pair links), and its pairs in ``H(t0)`` (O(P)). Grid
   points where no pair enters and no transaction leaves are skipped.
3. In the earliest window t0 where a block (A, B) is a block, and in the earliest of its
   fullest windows, the block either holds a *new* pair (last time in
   ``(t0 - step + W, t0 + W]``) or has a member whose threshold ``max(g, s * c)`` dropped
   since the grid window t0 - step (a transaction in ``[t0 - step, t0)`` left): otherwise
   its pairs at t0 - step include those at t0 under thresholds no higher, since more pairs
   only help and the thresholds depend on c alone. So only the part of ``H(t0)`` connected to
   those accounts is examined: breadth-first search from them through accounts that can meet
   their threshold with all their pairs in ``H(t0)`` (an O(1) check from the maintained
   counts); a new pair whose two accounts have no other pair in ``H(t0)`` is a component on
   its own and is not searched from. Then the core of the region (every account keeps
   ``max(g, s * c)`` pairs; unique, by peeling) in the payer/payee double cover, split into
   connected components; components with fewer than k payers or payees are dropped (no
   reduction can make a block of them).
4. A component that has disjoint payer and payee sides, ``>= k`` of each and density
   ``>= d`` is the maximal block of that window containing its sub-blocks and is emitted.
   Otherwise it is reduced without any tie-break by account number (so results do not
   depend on labels): an account on both sides keeps the role in which it has more pairs
   (both roles dropped on a tie); if the density is short, every account with the lowest
   share of the other side (pairs / size of the other side) is removed at once; the rest is
   re-cored and split, and the pieces are examined again.
5. ``drop_contained``: of equal blocks only the fullest (earliest on ties) is kept; blocks
   contained in another block are dropped.

Work: O(E + P log P) for steps 1-2 plus, per grid window, linear work in the examined region
(the ``examined_pairs`` statistic sums it) and more where reductions happen. Windows examined
are at most (time span) / step.

Exactness: whenever, in every window, every core component passes step 4 without a
reduction, the output equals the maximal blocks of the definition (every block lies inside one
core component, since the union of two sets meeting the thresholds meets them too, and that
component is then itself a block). tests/naive/bipartite.py ``reduction_free`` decides that
class; the tests check equality on it and soundness everywhere. The reductions of step 4 are a
heuristic: on components holding several overlapping dense parts joined by sparse links, or
accounts both paying and receiving inside one dense part, some maximal blocks may be missed or
found smaller. Every emitted block satisfies the definition.

Budgets: hubs (``max_degree``) are excluded and counted; after ``max_results`` emitted blocks
the sweep stops examining, and the windows and components it left out (and blocks beyond the
budget) are counted.

STACK (``chain_layers``)
------------------------
Block X = (A, B) links to block Y = (B', C) when ``S = B ∩ B'`` has ``>= k`` accounts and
``|S| >= min_overlap * |B ∪ B'|``; every shared account's first payment in Y is not before its
first receipt in X, and Y's first payment out of S is no later than W after X's last
transaction; and Y brings no account of X other than S. Time order is judged on the shared
accounts only: a payment in Y by another source of Y (an account outside X paying into C
before the layer starts) does not move the layer's start. A stack is a path of ``>= min_layers`` linked
blocks in which every layer's new accounts are new to the whole path, that is not a contiguous
part of a longer such path. Found by depth-first search from every block (``max_results``
paths at most; start blocks left unexplored are counted), then dropping contained paths.
"""
from __future__ import annotations

import numpy as np

from .jit import kernel
from .components import find_root
from .rows import row_lower_bound

__all__ = ["novel_pairs", "bipartite_blocks", "drop_contained", "chain_layers"]

#: "no time yet" (int64 max); a global constant rather than ``np.iinfo`` inside a kernel,
#: whose numba implementation sits in a module a warm start-up would otherwise import
NEVER = np.iinfo(np.int64).max


@kernel
def novel_pairs(out_ptr, in_ptr, in_nbr, in_ts, in_amt, in_eid, window, max_degree,
                min_pair_amount):
    """Novel pairs of a graph, and same-pair links between transactions; O(E + P log E).

    Inputs: the CSR row pointers ``out_ptr, in_ptr`` int64[N+1] and the in-CSR rows (payers
    ``in_nbr`` int32, ``in_ts`` int64 seconds, ``in_amt`` float64 base currency, edge indices
    ``in_eid`` int64; time order inside a row); ``window`` seconds; ``max_degree``;
    ``min_pair_amount``: pairs whose payments sum to less are dropped.
    Returns ``(pa int32, pb int32, pf int64, pl int64, pedge_ptr int64[P+1], pedge int64,
    prev_same int64[E], next_same int64[E], n_hubs)``: payer, payee, first and last time of
    each novel pair, ordered by first transaction; the pair's edge indices in time order
    (CSR); for every transaction the previous / next transaction with the same (src, dst)
    (-1 / E when none); the number of accounts with more than ``max_degree`` transactions.
    """
    n = out_ptr.shape[0] - 1
    e = in_nbr.shape[0]
    hub = np.zeros(n, np.bool_)
    n_hubs = 0
    for v in range(n):
        if (out_ptr[v + 1] - out_ptr[v]) + (in_ptr[v + 1] - in_ptr[v]) > max_degree:
            hub[v] = True
            n_hubs += 1
    # rows of the out-CSR re-ordered by (payee, time): one stable counting pass over the
    # in-CSR (grouped by payee, time order inside), O(E), sequential reads
    srt_nbr = np.empty(e, np.int32)
    grp_eid = np.empty(e, np.int64)
    grp_ts = np.empty(e, np.int64)
    grp_amt = np.empty(e, np.float64)
    fill = out_ptr[:-1].copy()
    for y in range(n):
        for k in range(in_ptr[y], in_ptr[y + 1]):
            a = in_nbr[k]
            f = fill[a]
            srt_nbr[f] = y
            grp_eid[f] = in_eid[k]
            grp_ts[f] = in_ts[k]
            grp_amt[f] = in_amt[k]
            fill[a] = f + 1
    prev_same = np.full(e, -1, np.int64)
    next_same = np.full(e, e, np.int64)
    for a in range(n):
        for q in range(out_ptr[a] + 1, out_ptr[a + 1]):
            if srt_nbr[q] == srt_nbr[q - 1]:
                prev_same[grp_eid[q]] = grp_eid[q - 1]
                next_same[grp_eid[q - 1]] = grp_eid[q]
    g_start = np.empty(e, np.int64)  # group start positions of kept pairs
    g_end = np.empty(e, np.int64)
    g_first = np.empty(e, np.int64)
    g_payer = np.empty(e, np.int32)
    n_pairs = 0
    for a in range(n):
        if hub[a]:
            continue
        q = out_ptr[a]
        k1 = out_ptr[a + 1]
        while q < k1:
            r = q + 1
            while r < k1 and srt_nbr[r] == srt_nbr[q]:
                r += 1
            b = srt_nbr[q]
            ok = a != b and not hub[b] and grp_ts[r - 1] - grp_ts[q] <= window
            if ok:
                total = 0.0
                for s in range(q, r):
                    total += grp_amt[s]
                ok = total >= min_pair_amount
            if ok:  # b never pays a: binary search in b's payee-sorted row
                lo = row_lower_bound(srt_nbr, out_ptr[b], out_ptr[b + 1], a)
                if lo < out_ptr[b + 1] and srt_nbr[lo] == a:
                    ok = False
            if ok:
                g_start[n_pairs] = q
                g_end[n_pairs] = r
                g_first[n_pairs] = grp_eid[q]
                g_payer[n_pairs] = a
                n_pairs += 1
            q = r
    order = np.argsort(g_first[:n_pairs])  # first-edge indices are distinct
    pa = np.empty(n_pairs, np.int32)
    pb = np.empty(n_pairs, np.int32)
    pf = np.empty(n_pairs, np.int64)
    pl = np.empty(n_pairs, np.int64)
    pedge_ptr = np.zeros(n_pairs + 1, np.int64)
    n_out = 0
    for k in range(n_pairs):
        g = order[k]
        n_out += g_end[g] - g_start[g]
        pedge_ptr[k + 1] = n_out
    pedge = np.empty(n_out, np.int64)
    for k in range(n_pairs):
        g = order[k]
        q = g_start[g]
        r = g_end[g]
        pa[k] = g_payer[g]
        pb[k] = srt_nbr[q]
        pf[k] = grp_ts[q]
        pl[k] = grp_ts[r - 1]
        pedge[pedge_ptr[k]:pedge_ptr[k + 1]] = grp_eid[q:r]
    return pa, pb, pf, pl, pedge_ptr, pedge, prev_same, next_same, n_hubs


@kernel
def _rows(key, n):
    """CSR of pair indices grouped by ``key`` (payer or payee); pairs are numbered by first
    time, so each row is sorted by first time (counting sort, O(P + N))."""
    ptr = np.zeros(n + 1, np.int64)
    for p in range(key.shape[0]):
        ptr[key[p] + 1] += 1
    for v in range(n):
        ptr[v + 1] += ptr[v]
    fill = ptr[:-1].copy()
    idx = np.empty(key.shape[0], np.int64)
    for p in range(key.shape[0]):
        idx[fill[key[p]]] = p
        fill[key[p]] += 1
    return ptr, idx


@kernel
def _core_components(items, pa, pb, need_pay, need_rcv, loc_pay, loc_rcv):
    """Core of a pair set in the payer/payee double cover, split into components: the largest
    subset in which every payer a has >= need_pay[a] pairs and every payee b >= need_rcv[b].

    ``loc_pay``/``loc_rcv`` are scratch int64[N] filled with -1 (restored on return).
    Returns (pairs grouped by component in order of first appearance, component pointers,
    int64[C, 2] payers and payees of each component).
    """
    k = items.shape[0]
    u = np.empty(k, np.int64)
    v = np.empty(k, np.int64)
    glob = np.empty(2 * k, np.int64)
    role = np.empty(2 * k, np.int8)
    nl = 0
    for j in range(k):
        a = pa[items[j]]
        b = pb[items[j]]
        if loc_pay[a] < 0:
            loc_pay[a] = nl
            glob[nl] = a
            role[nl] = 0
            nl += 1
        if loc_rcv[b] < 0:
            loc_rcv[b] = nl
            glob[nl] = b
            role[nl] = 1
            nl += 1
        u[j] = loc_pay[a]
        v[j] = loc_rcv[b]
    for x in range(nl):  # restore scratch
        if role[x] == 0:
            loc_pay[glob[x]] = -1
        else:
            loc_rcv[glob[x]] = -1
    deg = np.zeros(nl, np.int64)
    need = np.empty(nl, np.float64)
    for x in range(nl):
        need[x] = need_pay[glob[x]] if role[x] == 0 else need_rcv[glob[x]]
    for j in range(k):
        deg[u[j]] += 1
        deg[v[j]] += 1
    adj_ptr = np.zeros(nl + 1, np.int64)
    for x in range(nl):
        adj_ptr[x + 1] = adj_ptr[x] + deg[x]
    fill = adj_ptr[:-1].copy()
    adj = np.empty(2 * k, np.int64)
    for j in range(k):
        adj[fill[u[j]]] = j
        fill[u[j]] += 1
        adj[fill[v[j]]] = j
        fill[v[j]] += 1
    alive = np.ones(k, np.bool_)
    removed = np.zeros(nl, np.bool_)
    stack = np.empty(nl, np.int64)
    top = 0
    for x in range(nl):
        if deg[x] < need[x]:
            removed[x] = True
            stack[top] = x
            top += 1
    while top > 0:
        top -= 1
        x = stack[top]
        for s in range(adj_ptr[x], adj_ptr[x + 1]):
            j = adj[s]
            if alive[j]:
                alive[j] = False
                y = v[j] if u[j] == x else u[j]
                deg[y] -= 1
                if deg[y] < need[y] and not removed[y]:
                    removed[y] = True
                    stack[top] = y
                    top += 1
    parent = np.arange(nl)
    for j in range(k):
        if alive[j]:
            ru = find_root(parent, u[j])
            rv = find_root(parent, v[j])
            if ru != rv:
                parent[max(ru, rv)] = min(ru, rv)
    comp_of_root = np.full(nl, -1, np.int64)
    count = np.zeros(k + 1, np.int64)
    label = np.full(k, -1, np.int64)
    n_comp = 0
    for j in range(k):
        if alive[j]:
            r = find_root(parent, u[j])
            if comp_of_root[r] < 0:
                comp_of_root[r] = n_comp
                n_comp += 1
            label[j] = comp_of_root[r]
            count[label[j] + 1] += 1
    ptr = np.zeros(n_comp + 1, np.int64)
    for c in range(n_comp):
        ptr[c + 1] = ptr[c] + count[c + 1]
    fill2 = ptr[:-1].copy()
    out = np.empty(ptr[n_comp], np.int64)
    for j in range(k):
        if label[j] >= 0:
            out[fill2[label[j]]] = items[j]
            fill2[label[j]] += 1
    n_side = np.zeros((n_comp, 2), np.int64)  # payers, payees per component
    for x in range(nl):
        if not removed[x]:
            n_side[comp_of_root[find_root(parent, x)], role[x]] += 1
    return out, ptr, n_side


@kernel
def _resolve(comp, pa, pb, min_side, min_density, need_pay, need_rcv, loc_pay, loc_rcv,
             cnt_pay, cnt_rcv, emitted):
    """Turn one connected core component into blocks (step 4 of the module doc).

    ``cnt_pay``/``cnt_rcv`` are scratch int64[N] of zeros (restored). Emitted blocks (sorted
    pair index arrays) are appended to ``emitted``. Returns the number of reductions made.
    """
    work = [comp]
    reductions = 0
    while len(work) > 0:
        c = work.pop()
        k = c.shape[0]
        for j in range(k):
            cnt_pay[pa[c[j]]] += 1
            cnt_rcv[pb[c[j]]] += 1
        n_l = 0
        n_r = 0
        overlap = False
        for j in range(k):
            a = pa[c[j]]
            b = pb[c[j]]
            if loc_pay[a] < 0:
                loc_pay[a] = 1
                n_l += 1
            if loc_rcv[b] < 0:
                loc_rcv[b] = 1
                n_r += 1
            if cnt_rcv[a] > 0 or cnt_pay[b] > 0:
                overlap = True
        keep = np.ones(k, np.bool_)
        verdict = 0  # 0 emit, 1 discard, 2 reduced
        if overlap:
            verdict = 2
            for j in range(k):
                a = pa[c[j]]
                b = pb[c[j]]
                # a keeps the payer role unless it has strictly more pairs as payee
                if cnt_rcv[a] > 0 and cnt_rcv[a] >= cnt_pay[a]:
                    keep[j] = False
                if cnt_pay[b] > 0 and cnt_pay[b] >= cnt_rcv[b]:
                    keep[j] = False
        elif n_l < min_side or n_r < min_side:
            verdict = 1
        elif k < min_density * n_l * n_r:
            verdict = 2
            # lowest share of the other side: payer deg / n_r, payee deg / n_l (exact compare)
            best_num = -1
            best_den = 1
            for j in range(k):
                a = pa[c[j]]
                b = pb[c[j]]
                if best_num < 0 or cnt_pay[a] * best_den < best_num * n_r:
                    best_num = cnt_pay[a]
                    best_den = n_r
                if cnt_rcv[b] * best_den < best_num * n_l:
                    best_num = cnt_rcv[b]
                    best_den = n_l
            for j in range(k):
                a = pa[c[j]]
                b = pb[c[j]]
                if (cnt_pay[a] * best_den == best_num * n_r
                        or cnt_rcv[b] * best_den == best_num * n_l):
                    keep[j] = False
        for j in range(k):  # restore scratch
            cnt_pay[pa[c[j]]] = 0
            cnt_rcv[pb[c[j]]] = 0
            loc_pay[pa[c[j]]] = -1
            loc_rcv[pb[c[j]]] = -1
        if verdict == 0:
            emitted.append(np.sort(c))
        elif verdict == 2:
            reductions += 1
            rest = c[keep]
            if rest.shape[0] > 0:
                parts, ptr, n_side = _core_components(rest, pa, pb, need_pay, need_rcv,
                                                      loc_pay, loc_rcv)
                for q in range(ptr.shape[0] - 1):
                    if n_side[q, 0] >= min_side and n_side[q, 1] >= min_side:
                        work.append(parts[ptr[q]:ptr[q + 1]].copy())
    return reductions


@kernel
def _check_member(x, is_payer, stamp, have_pay, have_rcv, c_pay, c_rcv, min_degree,
                  min_share, chk_pay, chk_rcv, ok_pay, ok_rcv, need_pay, need_rcv):
    """Whether x can be a member in its role in this window: its pairs in H(t0) reach
    max(g, s * counterparties). O(1) from the maintained counts; cached per window stamp."""
    if is_payer:
        if chk_pay[x] != stamp:
            chk_pay[x] = stamp
            need_pay[x] = max(np.float64(min_degree), min_share * c_pay[x])
            ok_pay[x] = have_pay[x] >= need_pay[x]
        return ok_pay[x]
    if chk_rcv[x] != stamp:
        chk_rcv[x] = stamp
        need_rcv[x] = max(np.float64(min_degree), min_share * c_rcv[x])
        ok_rcv[x] = have_rcv[x] >= need_rcv[x]
    return ok_rcv[x]


@kernel
def bipartite_blocks(pa, pb, pf, pl, src, dst, ts, prev_same, next_same, n_nodes, window, step,
                     min_side, min_degree, min_share, min_density, max_results):
    """Maximal BIPARTITE blocks over the novel pairs (see the module doc for the algorithm).

    Inputs: novel pairs ``pa, pb`` int32, ``pf, pl`` int64 first/last times (seconds), numbered
    by first transaction (as ``novel_pairs`` returns them); the graph's time-sorted edges
    ``src, dst, ts`` and their same-pair links ``prev_same, next_same`` (``novel_pairs``);
    ``window`` and ``step`` (window grid) seconds; ``min_side``; ``min_degree`` and
    ``min_share`` (a member needs ``>= max(min_degree, min_share * c)`` pairs in the block,
    c = its distinct counterparties in the window in its role); ``min_density`` in (0, 1];
    ``max_results``. Returns ``(block_ptr int64[K+1], block_pairs int64 (sorted per block),
    block_t0 int64[K], n_windows, n_examined (pairs in the examined regions, summed over
    windows), n_components, n_reductions, n_emitted (blocks before step 5), cut)`` where ``cut`` counts what
    the ``max_results`` budget left out: windows and components not examined, blocks dropped.
    Work: O(E + P log P) for the sliding counts and pair bookkeeping, plus, per grid window,
    linear work in the part of H(t0) connected to its seeds (more where reductions happen).
    """
    n_p = pa.shape[0]
    n_e = src.shape[0]
    pay_ptr, pay_idx = _rows(pa, n_nodes)
    rcv_ptr, rcv_idx = _rows(pb, n_nodes)
    # row-ordered copies, so that row scans read memory in order
    pay_pf = pf[pay_idx]
    pay_pl = pl[pay_idx]
    pay_oth = pb[pay_idx]
    rcv_pf = pf[rcv_idx]
    rcv_pl = pl[rcv_idx]
    rcv_oth = pa[rcv_idx]
    by_last = np.argsort(pl)  # tie order does not matter: regions are sets
    loc_pay = np.full(n_nodes, -1, np.int64)
    loc_rcv = np.full(n_nodes, -1, np.int64)
    cnt_pay = np.zeros(n_nodes, np.int64)
    cnt_rcv = np.zeros(n_nodes, np.int64)
    need_pay = np.zeros(n_nodes, np.float64)
    need_rcv = np.zeros(n_nodes, np.float64)
    chk_pay = np.full(n_nodes, -1, np.int64)   # window stamp of the member check
    chk_rcv = np.full(n_nodes, -1, np.int64)
    ok_pay = np.zeros(n_nodes, np.bool_)
    ok_rcv = np.zeros(n_nodes, np.bool_)
    seen_pay = np.full(n_nodes, -1, np.int64)  # BFS stamps
    seen_rcv = np.full(n_nodes, -1, np.int64)
    # sliding state: distinct counterparties over the edges [lo, ro) and pairs in H(t0)
    c_pay = np.zeros(n_nodes, np.int64)
    c_rcv = np.zeros(n_nodes, np.int64)
    have_pay = np.zeros(n_nodes, np.int64)
    have_rcv = np.zeros(n_nodes, np.int64)
    in_win = np.zeros(n_p, np.bool_)
    drop_pay = np.full(n_nodes, -1, np.int64)  # window stamp: counterparty lost this step
    drop_rcv = np.full(n_nodes, -1, np.int64)
    cprev_pay = np.zeros(n_nodes, np.int64)
    cprev_rcv = np.zeros(n_nodes, np.int64)
    dropped = np.empty(2 * n_nodes + 1, np.int64)
    pair_seen = np.full(n_p, -1, np.int64)
    queue = np.empty(2 * n_nodes + 1, np.int64)
    seeds = np.empty(2 * n_p + 2 * n_nodes + 1, np.int64)
    region = np.empty(n_p, np.int64)
    emitted = [np.empty(0, np.int64)]
    emitted.pop()
    t0_list = [np.int64(0)]
    t0_list.pop()
    n_windows = 0
    n_components = 0
    n_reductions = 0
    n_examined = 0
    cut = 0
    i = 0   # pairs (numbered by first time) before i have left H
    j = 0   # by_last pointer: pairs that entered (or could not)
    lo = 0  # edge state [lo, ro)
    ro = 0
    t_next = np.int64(0)
    if n_p > 0:
        t_next = (pf[0] // step) * step
    while i < n_p:
        # windows start on the grid k * step; t0 jumps over grid points where nothing changes
        t0 = t_next
        hi = t0 + window
        while i < n_p and pf[i] < t0:
            if in_win[i]:
                in_win[i] = False
                have_pay[pa[i]] -= 1
                have_rcv[pb[i]] -= 1
            i += 1
        if i >= n_p:
            break
        stamp = n_windows
        n_windows += 1
        # edge state of the previous grid window [t0 - step, t0 - step + W] (nothing left
        # between the last examined window and t0 - step: see the jump below)
        while lo < n_e and ts[lo] < t0 - step:
            if src[lo] != dst[lo] and next_same[lo] >= ro:
                c_pay[src[lo]] -= 1
                c_rcv[dst[lo]] -= 1
            lo += 1
        while ro < n_e and ts[ro] <= t0 - step + window:
            if src[ro] != dst[ro] and prev_same[ro] < lo:
                c_pay[src[ro]] += 1
                c_rcv[dst[ro]] += 1
            ro += 1
        # transactions leaving since t0 - step: accounts whose counterparty count drops
        n_drop = 0
        while lo < n_e and ts[lo] < t0:
            x = src[lo]
            y = dst[lo]
            if x != y and next_same[lo] >= ro:
                if drop_pay[x] != stamp:
                    drop_pay[x] = stamp
                    cprev_pay[x] = c_pay[x]
                    dropped[n_drop] = x
                    n_drop += 1
                if drop_rcv[y] != stamp:
                    drop_rcv[y] = stamp
                    cprev_rcv[y] = c_rcv[y]
                    dropped[n_drop] = -1 - np.int64(y)
                    n_drop += 1
                c_pay[x] -= 1
                c_rcv[y] -= 1
            lo += 1
        while ro < n_e and ts[ro] <= hi:
            if src[ro] != dst[ro] and prev_same[ro] < lo:
                c_pay[src[ro]] += 1
                c_rcv[dst[ro]] += 1
            ro += 1
        # seeds: endpoints of new pairs (last in (previous end, hi]) and accounts whose
        # threshold max(g, s * c) dropped since the previous grid window
        n_seeds = 0
        while j < n_p and pl[by_last[j]] <= hi:
            p = by_last[j]
            j += 1
            if pf[p] >= t0:
                in_win[p] = True
                have_pay[pa[p]] += 1
                have_rcv[pb[p]] += 1
                seeds[n_seeds] = p
                n_seeds += 1
        n_pair_seeds = n_seeds
        for q in range(n_drop):
            x = dropped[q]
            if x >= 0:
                before = max(np.float64(min_degree), min_share * cprev_pay[x])
                now = max(np.float64(min_degree), min_share * c_pay[x])
                if now < before and have_pay[x] >= now:
                    seeds[n_seeds] = n_p + x
                    n_seeds += 1
            else:
                y = -1 - x
                before = max(np.float64(min_degree), min_share * cprev_rcv[y])
                now = max(np.float64(min_degree), min_share * c_rcv[y])
                if now < before and have_rcv[y] >= now:
                    seeds[n_seeds] = -1 - (n_p + y)
                    n_seeds += 1
        # next grid point where a pair enters (last <= t0' + window) or a transaction leaves
        cand = NEVER
        if j < n_p:
            cand = -((window - pl[by_last[j]]) // step) * step  # ceil((pl - W) / step) * step
        if lo < n_e:
            cand = min(cand, (ts[lo] // step + 1) * step)
        t_next = max(t0 + step, cand)
        if n_seeds == 0:
            continue
        if len(emitted) >= max_results:
            cut += 1
            continue
        head = 0
        tail = 0
        for q in range(n_seeds):
            s = seeds[q]
            if q < n_pair_seeds:
                # a pair whose endpoints have no other pair in H(t0) is a component alone
                if min_side >= 2 and have_pay[pa[s]] < 2 and have_rcv[pb[s]] < 2:
                    continue
                xs0 = np.int64(pa[s])
                xs1 = -1 - np.int64(pb[s])
                n_x = 2
            else:
                xs0 = s - n_p if s >= 0 else -1 - ((-1 - s) - n_p)
                xs1 = xs0
                n_x = 1
            for r in range(n_x):
                x = xs0 if r == 0 else xs1
                if x >= 0:
                    if seen_pay[x] == stamp:
                        continue
                    seen_pay[x] = stamp
                    if _check_member(x, True, stamp, have_pay, have_rcv, c_pay, c_rcv,
                                     min_degree, min_share, chk_pay, chk_rcv, ok_pay, ok_rcv,
                                     need_pay, need_rcv):
                        queue[tail] = x
                        tail += 1
                else:
                    y = -1 - x
                    if seen_rcv[y] == stamp:
                        continue
                    seen_rcv[y] = stamp
                    if _check_member(y, False, stamp, have_pay, have_rcv, c_pay, c_rcv,
                                     min_degree, min_share, chk_pay, chk_rcv, ok_pay, ok_rcv,
                                     need_pay, need_rcv):
                        queue[tail] = x
                        tail += 1
        # BFS over H(t0) through accounts that can be members in this window
        n_reg = 0
        while head < tail:
            x = queue[head]
            head += 1
            is_payer = x >= 0
            if is_payer:
                r0, r1, idx, rpf, rpl, roth = (pay_ptr[x], pay_ptr[x + 1], pay_idx, pay_pf,
                                               pay_pl, pay_oth)
            else:
                x = -1 - x
                r0, r1, idx, rpf, rpl, roth = (rcv_ptr[x], rcv_ptr[x + 1], rcv_idx, rcv_pf,
                                               rcv_pl, rcv_oth)
            s = row_lower_bound(rpf, r0, r1, t0)
            while s < r1:
                if rpf[s] > hi:
                    break
                if rpl[s] > hi:  # not in H(t0) yet (first >= t0 by the start position)
                    s += 1
                    continue
                p = idx[s]
                y = roth[s]
                s += 1
                if pair_seen[p] == stamp:
                    continue
                if not _check_member(y, not is_payer, stamp, have_pay, have_rcv, c_pay, c_rcv,
                                     min_degree, min_share, chk_pay, chk_rcv, ok_pay, ok_rcv,
                                     need_pay, need_rcv):
                    continue
                if is_payer:
                    if seen_rcv[y] != stamp:
                        seen_rcv[y] = stamp
                        queue[tail] = -1 - np.int64(y)
                        tail += 1
                else:
                    if seen_pay[y] != stamp:
                        seen_pay[y] = stamp
                        queue[tail] = y
                        tail += 1
                pair_seen[p] = stamp
                region[n_reg] = p
                n_reg += 1
        if n_reg == 0:
            continue
        n_examined += n_reg
        reg = np.sort(region[:n_reg])
        parts, ptr, n_side = _core_components(reg, pa, pb, need_pay, need_rcv, loc_pay,
                                              loc_rcv)
        for q in range(ptr.shape[0] - 1):
            # too few payers or payees (an account in both roles counts on both sides):
            # no reduction can make a block of it
            if n_side[q, 0] < min_side or n_side[q, 1] < min_side:
                continue
            if len(emitted) >= max_results:
                cut += 1
                continue
            n_components += 1
            before_n = len(emitted)
            n_reductions += _resolve(parts[ptr[q]:ptr[q + 1]].copy(), pa, pb, min_side,
                                     min_density, need_pay, need_rcv, loc_pay, loc_rcv,
                                     cnt_pay, cnt_rcv, emitted)
            while len(emitted) > max_results:
                emitted.pop()
                cut += 1
            for _ in range(len(emitted) - before_n):
                t0_list.append(t0)
    # step 5: drop repeats (keep the fullest window) and blocks contained in another block
    n_b = len(emitted)
    t0s = np.empty(n_b, np.int64)
    all_ptr = np.zeros(n_b + 1, np.int64)
    for b in range(n_b):
        t0s[b] = t0_list[b]
        all_ptr[b + 1] = all_ptr[b] + emitted[b].shape[0]
    all_pairs = np.empty(all_ptr[n_b], np.int64)
    for b in range(n_b):
        all_pairs[all_ptr[b]:all_ptr[b + 1]] = emitted[b]
    block_ptr, block_pairs, block_t0 = drop_contained(all_ptr, all_pairs, t0s, pa, pb, n_nodes)
    return (block_ptr, block_pairs, block_t0, n_windows, n_examined, n_components, n_reductions,
            n_b, cut)


@kernel
def drop_contained(block_ptr, block_pairs, block_t0, pa, pb, n_nodes):
    """Blocks (CSR over novel-pair indices, sorted per block) without the repeats and the
    blocks contained in another: block x goes when another block y has A_y ⊇ A_x and
    B_y ⊇ B_x, unless the two are equal and x has more pairs (or as many and comes first),
    so each (A, B) keeps its fullest window, the earliest on ties. Returns the kept blocks'
    ``(block_ptr, block_pairs, block_t0)`` in input order. Work: O(sum over blocks of the
    sizes of the blocks sharing its first payer).
    """
    n_b = block_ptr.shape[0] - 1
    a_ptr = np.zeros(n_b + 1, np.int64)
    b_ptr = np.zeros(n_b + 1, np.int64)
    tot = block_ptr[n_b]
    a_nodes = np.empty(tot, np.int64)
    b_nodes = np.empty(tot, np.int64)
    na = 0
    nb = 0
    for b in range(n_b):
        blk = block_pairs[block_ptr[b]:block_ptr[b + 1]]
        av = np.unique(pa[blk])
        bv = np.unique(pb[blk])
        a_nodes[na:na + av.shape[0]] = av
        b_nodes[nb:nb + bv.shape[0]] = bv
        na += av.shape[0]
        nb += bv.shape[0]
        a_ptr[b + 1] = na
        b_ptr[b + 1] = nb
    # payer -> blocks index
    inv_ptr = np.zeros(n_nodes + 1, np.int64)
    for s in range(na):
        inv_ptr[a_nodes[s] + 1] += 1
    for v in range(n_nodes):
        inv_ptr[v + 1] += inv_ptr[v]
    inv = np.empty(na, np.int64)
    fill = inv_ptr[:-1].copy()
    for b in range(n_b):
        for s in range(a_ptr[b], a_ptr[b + 1]):
            inv[fill[a_nodes[s]]] = b
            fill[a_nodes[s]] += 1
    mark_a = np.full(n_nodes, -1, np.int64)
    mark_b = np.full(n_nodes, -1, np.int64)
    keep = np.ones(n_b, np.bool_)
    for x in range(n_b):
        if a_ptr[x + 1] == a_ptr[x]:
            keep[x] = False  # no pairs: not a block
            continue
        sa = a_ptr[x + 1] - a_ptr[x]
        sb = b_ptr[x + 1] - b_ptr[x]
        kx = block_ptr[x + 1] - block_ptr[x]
        first_a = a_nodes[a_ptr[x]]
        for s in range(inv_ptr[first_a], inv_ptr[first_a + 1]):
            y = inv[s]
            if y == x:
                continue
            ya = a_ptr[y + 1] - a_ptr[y]
            yb = b_ptr[y + 1] - b_ptr[y]
            if ya < sa or yb < sb:
                continue
            if ya == sa and yb == sb:
                # an equal block removes x only when it is fuller, or as full and earlier
                ky = block_ptr[y + 1] - block_ptr[y]
                if ky < kx or (ky == kx and y > x):
                    continue
            for r in range(a_ptr[y], a_ptr[y + 1]):
                mark_a[a_nodes[r]] = y
            for r in range(b_ptr[y], b_ptr[y + 1]):
                mark_b[b_nodes[r]] = y
            inside = True
            for r in range(a_ptr[x], a_ptr[x + 1]):
                if mark_a[a_nodes[r]] != y:
                    inside = False
                    break
            if inside:
                for r in range(b_ptr[x], b_ptr[x + 1]):
                    if mark_b[b_nodes[r]] != y:
                        inside = False
                        break
            if inside:
                keep[x] = False
                break
    n_keep = 0
    n_out = 0
    for b in range(n_b):
        if keep[b]:
            n_keep += 1
            n_out += block_ptr[b + 1] - block_ptr[b]
    out_ptr = np.zeros(n_keep + 1, np.int64)
    out_pairs = np.empty(n_out, np.int64)
    out_t0 = np.empty(n_keep, np.int64)
    c = 0
    w = 0
    for b in range(n_b):
        if keep[b]:
            k = block_ptr[b + 1] - block_ptr[b]
            out_pairs[w:w + k] = block_pairs[block_ptr[b]:block_ptr[b + 1]]
            w += k
            out_t0[c] = block_t0[b]
            c += 1
            out_ptr[c] = w
    return out_ptr, out_pairs, out_t0


@kernel
def chain_layers(block_ptr, block_pairs, pa, pb, pf, pl, n_nodes, window, min_side,
                 min_overlap, min_layers, max_results):
    """STACK paths over blocks (see the module doc).

    Inputs: blocks as CSR over novel-pair indices, the novel pairs ``pa, pb, pf, pl``;
    ``window`` seconds; ``min_side`` (shared accounts); ``min_overlap`` in (0, 1];
    ``min_layers``; ``max_results`` paths. Returns ``(stack_ptr int64[S+1], stack_blocks
    int64 (layers in order), starts_cut)``. Work: O(links + explored paths * path length).
    """
    n_b = block_ptr.shape[0] - 1
    start = np.empty(n_b, np.int64)
    end = np.empty(n_b, np.int64)
    for x in range(n_b):
        s0 = block_ptr[x]
        start[x] = pf[block_pairs[s0]]
        end[x] = pl[block_pairs[s0]]
        for s in range(s0, block_ptr[x + 1]):
            start[x] = min(start[x], pf[block_pairs[s]])
            end[x] = max(end[x], pl[block_pairs[s]])
    # payer account -> blocks where it is a source (each block listed once per account)
    inv_ptr = np.zeros(n_nodes + 1, np.int64)
    mark = np.full(n_nodes, -1, np.int64)
    for x in range(n_b):
        for s in range(block_ptr[x], block_ptr[x + 1]):
            a = pa[block_pairs[s]]
            if mark[a] != x:
                mark[a] = x
                inv_ptr[a + 1] += 1
    for v in range(n_nodes):
        inv_ptr[v + 1] += inv_ptr[v]
    inv = np.empty(inv_ptr[n_nodes], np.int64)
    fill = inv_ptr[:-1].copy()
    mark[:] = -1
    for x in range(n_b):
        for s in range(block_ptr[x], block_ptr[x + 1]):
            a = pa[block_pairs[s]]
            if mark[a] != x:
                mark[a] = x
                inv[fill[a]] = x
                fill[a] += 1
    # links X -> Y
    first_in = np.full(n_nodes, NEVER, np.int64)   # in X, per sink
    first_out = np.full(n_nodes, NEVER, np.int64)  # in Y, per source
    in_x = np.zeros(n_nodes, np.int8)   # 1 source of X, 2 sink of X
    in_y = np.zeros(n_nodes, np.int8)
    cand_seen = np.full(n_b, -1, np.int64)
    link_src = [np.int64(0)]
    link_dst = [np.int64(0)]
    link_src.pop()
    link_dst.pop()
    for x in range(n_b):
        n_bx = 0
        for s in range(block_ptr[x], block_ptr[x + 1]):
            p = block_pairs[s]
            in_x[pa[p]] = 1
            if in_x[pb[p]] != 2:
                in_x[pb[p]] = 2
                n_bx += 1
            first_in[pb[p]] = min(first_in[pb[p]], pf[p])
        for s in range(block_ptr[x], block_ptr[x + 1]):
            sink = pb[block_pairs[s]]
            for r in range(inv_ptr[sink], inv_ptr[sink + 1]):
                y = inv[r]
                if y == x or cand_seen[y] == x:
                    continue
                cand_seen[y] = x
                # cheap bound: Y's shared payments start no earlier than Y itself
                if start[y] > end[x] + window:
                    continue
                n_ay = 0
                for t in range(block_ptr[y], block_ptr[y + 1]):
                    q = block_pairs[t]
                    if in_y[pa[q]] != 1:
                        in_y[pa[q]] = 1
                        n_ay += 1
                    first_out[pa[q]] = min(first_out[pa[q]], pf[q])
                ok = True
                shared = 0
                shared_start = NEVER  # Y's first payment out of S
                for t in range(block_ptr[y], block_ptr[y + 1]):
                    q = block_pairs[t]
                    a = pa[q]
                    if in_y[a] == 1:  # count each source once
                        in_y[a] = 3
                        if in_x[a] == 2:
                            shared += 1
                            shared_start = min(shared_start, first_out[a])
                            if first_out[a] < first_in[a]:
                                ok = False
                        elif in_x[a] == 1:
                            ok = False
                    if in_x[pb[q]] != 0:
                        ok = False
                if ok and (shared < min_side
                           or shared < min_overlap * (n_bx + n_ay - shared)
                           or shared_start > end[x] + window):
                    ok = False
                for t in range(block_ptr[y], block_ptr[y + 1]):
                    q = block_pairs[t]
                    in_y[pa[q]] = 0
                    in_y[pb[q]] = 0
                    first_out[pa[q]] = NEVER
                if ok:
                    link_src.append(np.int64(x))
                    link_dst.append(y)
        for s in range(block_ptr[x], block_ptr[x + 1]):
            p = block_pairs[s]
            in_x[pa[p]] = 0
            in_x[pb[p]] = 0
            first_in[pb[p]] = NEVER
    n_links = len(link_src)
    out_ptr = np.zeros(n_b + 1, np.int64)
    for l in range(n_links):
        out_ptr[link_src[l] + 1] += 1
    for x in range(n_b):
        out_ptr[x + 1] += out_ptr[x]
    out_nbr = np.empty(n_links, np.int64)
    for l in range(n_links):  # links were appended in x order
        out_nbr[l] = link_dst[l]
    # depth-first search from every block; record leaf paths of >= min_layers blocks
    used = np.zeros(n_nodes, np.int64)  # how many path layers hold the account
    path = np.empty(n_b + 1, np.int64)
    pos = np.empty(n_b + 1, np.int64)
    rec = [np.empty(0, np.int64)]
    rec.pop()
    starts_cut = 0
    extended = np.zeros(n_b + 1, np.bool_)
    for x0 in range(n_b):
        if out_ptr[x0 + 1] == out_ptr[x0]:
            continue
        if len(rec) >= max_results:
            starts_cut += 1
            continue
        depth = 1
        path[0] = x0
        pos[0] = out_ptr[x0]
        for s in range(block_ptr[x0], block_ptr[x0 + 1]):
            p = block_pairs[s]
            used[pa[p]] += 1
            used[pb[p]] += 1
        extended[0] = False
        while depth > 0:
            x = path[depth - 1]
            advanced = False
            while pos[depth - 1] < out_ptr[x + 1]:
                y = out_nbr[pos[depth - 1]]
                pos[depth - 1] += 1
                # y's accounts other than its sources shared with x must be new to the path
                ok = True
                for t in range(block_ptr[y], block_ptr[y + 1]):
                    q = block_pairs[t]
                    if used[pb[q]] > 0:
                        ok = False
                        break
                    if used[pa[q]] > 0:
                        # a shared source is a sink of x; any other use is a repeat
                        shared_ok = False
                        for r in range(block_ptr[x], block_ptr[x + 1]):
                            if pb[block_pairs[r]] == pa[q]:
                                shared_ok = True
                                break
                        if not shared_ok:
                            ok = False
                            break
                if not ok:
                    continue
                extended[depth - 1] = True
                path[depth] = y
                pos[depth] = out_ptr[y]
                extended[depth] = False
                depth += 1
                for t in range(block_ptr[y], block_ptr[y + 1]):
                    q = block_pairs[t]
                    used[pa[q]] += 1
                    used[pb[q]] += 1
                advanced = True
                break
            if advanced:
                continue
            if not extended[depth - 1] and depth >= min_layers and len(rec) < max_results:
                rec.append(path[:depth].copy())
            for t in range(block_ptr[x], block_ptr[x + 1]):
                q = block_pairs[t]
                used[pa[q]] -= 1
                used[pb[q]] -= 1
            depth -= 1
    # drop paths that are a contiguous part of another recorded path
    n_r = len(rec)
    holder_ptr = np.zeros(n_b + 1, np.int64)
    for r in range(n_r):
        for s in range(rec[r].shape[0]):
            holder_ptr[rec[r][s] + 1] += 1
    for x in range(n_b):
        holder_ptr[x + 1] += holder_ptr[x]
    holder = np.empty(holder_ptr[n_b], np.int64)
    hfill = holder_ptr[:-1].copy()
    for r in range(n_r):
        for s in range(rec[r].shape[0]):
            holder[hfill[rec[r][s]]] = r
            hfill[rec[r][s]] += 1
    keep = np.ones(n_r, np.bool_)
    for r in range(n_r):
        pr = rec[r]
        for h in range(holder_ptr[pr[0]], holder_ptr[pr[0] + 1]):
            o = holder[h]
            po = rec[o]
            if o == r or po.shape[0] <= pr.shape[0]:
                continue
            at = -1
            for s in range(po.shape[0]):
                if po[s] == pr[0]:
                    at = s
                    break
            if at < 0 or at + pr.shape[0] > po.shape[0]:
                continue
            same = True
            for s in range(pr.shape[0]):
                if po[at + s] != pr[s]:
                    same = False
                    break
            if same:
                keep[r] = False
                break
    n_keep = 0
    tot = 0
    for r in range(n_r):
        if keep[r]:
            n_keep += 1
            tot += rec[r].shape[0]
    stack_ptr = np.zeros(n_keep + 1, np.int64)
    stack_blocks = np.empty(tot, np.int64)
    c = 0
    w = 0
    for r in range(n_r):
        if keep[r]:
            stack_blocks[w:w + rec[r].shape[0]] = rec[r]
            w += rec[r].shape[0]
            c += 1
            stack_ptr[c] = w
    return stack_ptr, stack_blocks, starts_cut
