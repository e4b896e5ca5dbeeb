"""BIPARTITE blocks and STACK chains (executable definitions: tests/naive/bipartite.py).

Definitions (W = window, k = min_side, g = min_member_degree, s = min_share, d = min_density)
-------------------------------------------------------------------------------------------
A *pair* (a, b), a != b, is the set of all transactions a -> b. It is *novel* when a and b
are otherwise quiet with each other: there is no b -> a transaction at all, the a -> b
transactions span at most W, they sum to at least ``min_pair_amount``, and neither account is
a hub (more than ``max_degree`` transactions in and out). A novel pair is *inside* the window
``[t0, t0 + W]`` when all its transactions are; ``H(t0)`` is the set of novel pairs inside that
window, and windows start at the first transaction of some novel pair.

A *block* in window t0 is (A, B) with A, B disjoint, ``|A|, |B| >= k``, whose pairs
``P = H(t0) ∩ (A x B)`` connect A and B (as an undirected graph), have density
``|P| / (|A| |B|) >= d``, and give every member x at least ``max(g, s * c_t0(x))`` pairs, where
``c_t0(x)`` is the number of x's distinct counterparties in the window in its role (payees of a
source, payers of a sink, over all transactions): members are otherwise quiet in the window,
so merchants and payroll accounts, busy with many others, do not qualify. A block is *maximal*
when no other block, in any window, has A' ⊇ A and B' ⊇ B; each maximal (A, B) is reported
once, with its pairs in the earliest window where it is a block.

Kernel (``bipartite_blocks``)
-----------------------------
1. ``novel_pairs``: group transactions by (src, dst) with one stable sort, O(E log E).
2. Support filter (g >= 2 only): drop pairs whose payer (payee) has fewer than g - 1 other
   pairs fitting with it in one window; iterated to a fixed point.
3. Sweep the windows t0 in time order. A block whose earliest window is t0 either holds a
   *new* pair (last time in ``(t0_prev + W, t0 + W]``) or a member whose counterparty count
   dropped since the previous window (a transaction in ``[t0_prev, t0)`` left the window), so
   only the part of ``H(t0)`` connected to those accounts is examined (breadth-first search
   that skips accounts which cannot meet their threshold even with all their pairs), then its
   core (every account keeps ``max(g, s * c)`` pairs; unique, by peeling) in the
   payer/payee double cover, split into connected components. New-pair lookup is O(P) over the
   sweep (pairs sorted by last time), the dropped-account lookup O(E).
4. A component that has disjoint payer and payee sides, ``>= k`` of each and density
   ``>= d`` is the maximal block of that window containing its sub-blocks and is emitted.
   Otherwise it is reduced without any tie-break by account number (so results do not
   depend on labels): an account on both sides keeps the role in which it has more pairs
   (both roles dropped on a tie); if the density is short, every account with the lowest
   share of the other side (pairs / size of the other side) is removed at once; the rest is
   re-cored and split, and the pieces are examined again.
5. Blocks equal to an earlier block, or contained in another block, are dropped.

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
``|S| >= min_overlap * |B ∪ B'|``; Y starts no earlier than X and no later than W after X's
last transaction; every shared account's first payment in Y is not before its first receipt in
X; and Y brings no account of X other than S. A stack is a path of ``>= min_layers`` linked
blocks in which every layer's new accounts are new to the whole path, that is not a contiguous
part of a longer such path. Found by depth-first search from every block (``max_results``
paths at most; start blocks left unexplored are counted), then dropping contained paths.
"""
from __future__ import annotations

import numba
import numpy as np

from ..config import JIT_OPTIONS

__all__ = ["novel_pairs", "bipartite_blocks", "chain_layers"]


@numba.njit(**JIT_OPTIONS)
def novel_pairs(src, dst, ts, amt, out_ptr, in_ptr, window, max_degree, min_pair_amount):
    """Novel pairs of a graph, O(E log E).

    Inputs: edge arrays ``src, dst`` int32, ``ts`` int64 seconds (time-sorted), the CSR row
    pointers ``out_ptr, in_ptr`` int64[N+1]; ``amt`` float64 (base currency); ``window``
    seconds; ``max_degree``; ``min_pair_amount``: pairs whose payments sum to less are dropped.
    Returns ``(pa int32, pb int32, pf int64, pl int64, pedge_ptr int64[P+1], pedge int64,
    n_hubs)``: payer, payee, first and last time of each novel pair, the pair's edge indices in
    time order (CSR), and the number of accounts with more than ``max_degree`` transactions.
    """
    n = out_ptr.shape[0] - 1
    e = src.shape[0]
    hub = np.zeros(n, np.bool_)
    n_hubs = 0
    for v in range(n):
        if (out_ptr[v + 1] - out_ptr[v]) + (in_ptr[v + 1] - in_ptr[v]) > max_degree:
            hub[v] = True
            n_hubs += 1
    keys = src.astype(np.int64) * n + dst.astype(np.int64)
    order = np.argsort(keys, kind="mergesort")  # stable: each group stays in time order
    skeys = keys[order]
    pa = np.empty(e, np.int32)
    pb = np.empty(e, np.int32)
    pf = np.empty(e, np.int64)
    pl = np.empty(e, np.int64)
    pedge_ptr = np.zeros(e + 1, np.int64)
    pedge = np.empty(e, np.int64)
    n_pairs = 0
    n_out = 0
    i = 0
    while i < e:
        j = i + 1
        while j < e and skeys[j] == skeys[i]:
            j += 1
        a = src[order[i]]
        b = dst[order[i]]
        first = ts[order[i]]
        last = ts[order[j - 1]]
        ok = a != b and not hub[a] and not hub[b] and last - first <= window
        if ok:
            total = 0.0
            for q in range(i, j):
                total += amt[order[q]]
            ok = total >= min_pair_amount
        if ok:
            rk = np.int64(b) * n + a
            k = np.searchsorted(skeys, rk)
            if k < e and skeys[k] == rk:
                ok = False
        if ok:
            pa[n_pairs] = a
            pb[n_pairs] = b
            pf[n_pairs] = first
            pl[n_pairs] = last
            for q in range(i, j):
                pedge[n_out] = order[q]
                n_out += 1
            n_pairs += 1
            pedge_ptr[n_pairs] = n_out
        i = j
    return (pa[:n_pairs].copy(), pb[:n_pairs].copy(), pf[:n_pairs].copy(), pl[:n_pairs].copy(),
            pedge_ptr[:n_pairs + 1].copy(), pedge[:n_out].copy(), n_hubs)


@numba.njit(**JIT_OPTIONS)
def _rows(key, pf, n):
    """CSR of pair indices grouped by ``key`` (payer or payee), each row sorted by first time."""
    o = np.argsort(pf, kind="mergesort")
    o2 = np.argsort(key[o], kind="mergesort")
    idx = o[o2].astype(np.int64)
    ptr = np.zeros(n + 1, np.int64)
    for p in range(key.shape[0]):
        ptr[key[p] + 1] += 1
    for v in range(n):
        ptr[v + 1] += ptr[v]
    return ptr, idx


@numba.njit(**JIT_OPTIONS)
def _row_start(idx, lo, hi, pf, t):
    """First position in idx[lo:hi] (sorted by pf) with pf >= t (binary search)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if pf[idx[mid]] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(**JIT_OPTIONS)
def _count_fitting(p, idx, lo, hi, pf, pl, alive, window, need):
    """How many other alive pairs of a row fit with pair p inside one window (stops at need)."""
    c = 0
    k = _row_start(idx, lo, hi, pf, pl[p] - window)
    while k < hi:
        q = idx[k]
        if pf[q] > pf[p] + window:
            break
        if q != p and alive[q] and max(pl[p], pl[q]) - min(pf[p], pf[q]) <= window:
            c += 1
            if c >= need:
                return c
        k += 1
    return c


@numba.njit(**JIT_OPTIONS)
def _support_filter(pa, pb, pf, pl, pay_ptr, pay_idx, rcv_ptr, rcv_idx, window, min_degree):
    """Alive mask: pairs whose payer and payee each keep >= min_degree - 1 fitting pairs."""
    n_p = pa.shape[0]
    alive = np.ones(n_p, np.bool_)
    need = min_degree - 1
    if need <= 0:
        return alive
    changed = True
    while changed:
        changed = False
        for p in range(n_p):
            if not alive[p]:
                continue
            a = pa[p]
            b = pb[p]
            if (_count_fitting(p, pay_idx, pay_ptr[a], pay_ptr[a + 1], pf, pl, alive, window, need)
                    < need or
                    _count_fitting(p, rcv_idx, rcv_ptr[b], rcv_ptr[b + 1], pf, pl, alive, window,
                                   need) < need):
                alive[p] = False
                changed = True
    return alive


@numba.njit(**JIT_OPTIONS)
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@numba.njit(**JIT_OPTIONS)
def _core_components(items, pa, pb, need_pay, need_rcv, loc_pay, loc_rcv):
    """Core of a pair set in the payer/payee double cover, split into components: the largest
    subset in which every payer a has >= need_pay[a] pairs and every payee b >= need_rcv[b].

    ``loc_pay``/``loc_rcv`` are scratch int64[N] filled with -1 (restored on return).
    Returns (pairs grouped by component in order of first appearance, component pointers).
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
            ru = _find(parent, u[j])
            rv = _find(parent, v[j])
            if ru != rv:
                parent[max(ru, rv)] = min(ru, rv)
    comp_of_root = np.full(nl, -1, np.int64)
    count = np.zeros(k + 1, np.int64)
    label = np.full(k, -1, np.int64)
    n_comp = 0
    for j in range(k):
        if alive[j]:
            r = _find(parent, u[j])
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
    return out, ptr


@numba.njit(**JIT_OPTIONS)
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
                parts, ptr = _core_components(rest, pa, pb, need_pay, need_rcv, loc_pay,
                                              loc_rcv)
                for q in range(ptr.shape[0] - 1):
                    work.append(parts[ptr[q]:ptr[q + 1]].copy())
    return reductions


@numba.njit(**JIT_OPTIONS)
def _window_counterparties(ptr, nbr, row_ts, x, t0, hi, mark, stamp):
    """Distinct counterparties (other than x) of row x with times in [t0, hi]."""
    lo = ptr[x]
    end = ptr[x + 1]
    while lo < end:  # binary search for the first time >= t0
        mid = (lo + end) // 2
        if row_ts[mid] < t0:
            lo = mid + 1
        else:
            end = mid
    c = 0
    for k in range(lo, ptr[x + 1]):
        if row_ts[k] > hi:
            break
        y = nbr[k]
        if y != x and mark[y] != stamp:
            mark[y] = stamp
            c += 1
    return c


@numba.njit(**JIT_OPTIONS)
def _need_dropped(ptr, nbr, row_ts, x, prev_t0, t0, window, min_degree, min_share, mark, stamp):
    """Whether x's threshold max(g, s * counterparties) is lower in [t0, t0 + W] than in
    [prev_t0, prev_t0 + W]. ``stamp`` and ``stamp - 1`` are fresh counterparty stamps."""
    c_prev = _window_counterparties(ptr, nbr, row_ts, x, prev_t0, prev_t0 + window, mark,
                                    stamp - 1)
    if min_share * c_prev <= min_degree:
        return False
    c_now = _window_counterparties(ptr, nbr, row_ts, x, t0, t0 + window, mark, stamp)
    return max(np.float64(min_degree), min_share * c_now) < min_share * c_prev


@numba.njit(**JIT_OPTIONS)
def _member_need(x, is_payer, t0, hi, pf, pl, alive, pay_ptr, pay_idx, rcv_ptr, rcv_idx,
                 out_ptr, out_nbr, out_ts, in_ptr, in_nbr, in_ts, min_degree, min_share,
                 mark, stamp):
    """(pairs needed, novel pairs available) for account x in one role in window [t0, hi]."""
    if is_payer:
        n_cp = _window_counterparties(out_ptr, out_nbr, out_ts, x, t0, hi, mark, stamp)
        lo, end, idx = pay_ptr[x], pay_ptr[x + 1], pay_idx
    else:
        n_cp = _window_counterparties(in_ptr, in_nbr, in_ts, x, t0, hi, mark, stamp)
        lo, end, idx = rcv_ptr[x], rcv_ptr[x + 1], rcv_idx
    have = 0
    s = _row_start(idx, lo, end, pf, t0)
    while s < end:
        p = idx[s]
        s += 1
        if pf[p] > hi:
            break
        if alive[p] and pl[p] <= hi:
            have += 1
    return max(np.float64(min_degree), min_share * n_cp), have


@numba.njit(**JIT_OPTIONS)
def bipartite_blocks(pa, pb, pf, pl, src, dst, ts, out_ptr, out_nbr, out_ts, in_ptr, in_nbr,
                     in_ts, window, min_side, min_degree, min_share, min_density, max_results):
    """Maximal BIPARTITE blocks over the novel pairs (see the module doc for the algorithm).

    Inputs: novel pairs ``pa, pb`` int32, ``pf, pl`` int64 first/last times (seconds); the
    graph's time-sorted edges ``src, dst, ts`` and CSR rows (``out_*``, ``in_*``: ptr int64,
    nbr int32, ts int64); ``window`` seconds; ``min_side``; ``min_degree`` and ``min_share``
    (a member needs ``>= max(min_degree, min_share * c)`` pairs in the block, c = its distinct
    counterparties in the window in its role); ``min_density`` in (0, 1]; ``max_results``.
    Returns ``(block_ptr int64[K+1], block_pairs int64 (sorted per block), block_t0 int64[K],
    n_alive, n_windows, n_components, n_reductions, cut)`` where ``cut`` counts what the
    ``max_results`` budget left out: windows and components not examined, blocks dropped.
    Work: O(R * S) for the support filter (R rounds, S row-scan work per round) plus, per window,
    linear work in the part connected to its seeds (more where reductions happen).
    """
    n_nodes = out_ptr.shape[0] - 1
    n_p = pa.shape[0]
    n_e = src.shape[0]
    pay_ptr, pay_idx = _rows(pa, pf, n_nodes)
    rcv_ptr, rcv_idx = _rows(pb, pf, n_nodes)
    alive = _support_filter(pa, pb, pf, pl, pay_ptr, pay_idx, rcv_ptr, rcv_idx, window,
                            min_degree)
    n_alive = 0
    for p in range(n_p):
        if alive[p]:
            n_alive += 1
    by_first = np.argsort(pf, kind="mergesort")
    by_last = np.argsort(pl, kind="mergesort")
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
    mark = np.full(n_nodes, -1, np.int64)      # counterparty stamps
    n_marks = 0
    pair_seen = np.full(n_p, -1, np.int64)
    queue = np.empty(2 * n_nodes + 1, np.int64)
    seeds = np.empty(2 * (n_p + n_e) + 1, np.int64)
    region = np.empty(n_p, np.int64)
    emitted = [np.empty(0, np.int64)]
    emitted.pop()
    t0_list = [np.int64(0)]
    t0_list.pop()
    n_windows = 0
    n_components = 0
    n_reductions = 0
    cut = 0
    i = 0
    j = 0   # by_last pointer: pairs with last <= previous window end are done
    le = 0  # edge pointer: edges before the previous window start have left
    first_window = True
    prev_t0 = np.int64(0)
    left_pay = np.full(n_nodes, -1, np.int64)  # window stamp: leaving-edge check done
    left_rcv = np.full(n_nodes, -1, np.int64)
    n_alive_pay = np.zeros(n_nodes, np.int64)
    n_alive_rcv = np.zeros(n_nodes, np.int64)
    for p in range(n_p):
        if alive[p]:
            n_alive_pay[pa[p]] += 1
            n_alive_rcv[pb[p]] += 1
    while i < n_p:
        t0 = pf[by_first[i]]
        while i < n_p and pf[by_first[i]] == t0:
            i += 1
        hi = t0 + window
        stamp = n_windows
        n_windows += 1
        # seeds: endpoints of new pairs (last in (previous end, hi]) and, since the previous
        # window, accounts that lost a counterparty transaction (their threshold may drop)
        n_seeds = 0
        while j < n_p and pl[by_last[j]] <= hi:
            p = by_last[j]
            j += 1
            if alive[p]:
                seeds[n_seeds] = pa[p]
                seeds[n_seeds + 1] = -1 - np.int64(pb[p])
                n_seeds += 2
        while le < n_e and ts[le] < t0:
            x = src[le]
            y = dst[le]
            if not first_window and x != y:
                if n_alive_pay[x] >= min_degree and left_pay[x] != stamp:
                    left_pay[x] = stamp
                    n_marks += 2
                    if _need_dropped(out_ptr, out_nbr, out_ts, x, prev_t0, t0, window,
                                     min_degree, min_share, mark, n_marks):
                        seeds[n_seeds] = x
                        n_seeds += 1
                if n_alive_rcv[y] >= min_degree and left_rcv[y] != stamp:
                    left_rcv[y] = stamp
                    n_marks += 2
                    if _need_dropped(in_ptr, in_nbr, in_ts, y, prev_t0, t0, window,
                                     min_degree, min_share, mark, n_marks):
                        seeds[n_seeds] = -1 - np.int64(y)
                        n_seeds += 1
            le += 1
        prev_t0 = t0
        first_window = False
        if n_seeds == 0:
            continue
        if len(emitted) >= max_results:
            cut += 1
            continue
        head = 0
        tail = 0
        for q in range(n_seeds):
            x = seeds[q]
            if x >= 0:
                if seen_pay[x] == stamp:
                    continue
                seen_pay[x] = stamp
                if chk_pay[x] != stamp:
                    chk_pay[x] = stamp
                    n_marks += 1
                    need, have = _member_need(x, True, t0, hi, pf, pl, alive, pay_ptr, pay_idx,
                                              rcv_ptr, rcv_idx, out_ptr, out_nbr, out_ts,
                                              in_ptr, in_nbr, in_ts, min_degree, min_share,
                                              mark, n_marks)
                    need_pay[x] = need
                    ok_pay[x] = have >= need
                if ok_pay[x]:
                    queue[tail] = x
                    tail += 1
            else:
                y = -1 - x
                if seen_rcv[y] == stamp:
                    continue
                seen_rcv[y] = stamp
                if chk_rcv[y] != stamp:
                    chk_rcv[y] = stamp
                    n_marks += 1
                    need, have = _member_need(y, False, t0, hi, pf, pl, alive, pay_ptr,
                                              pay_idx, rcv_ptr, rcv_idx, out_ptr, out_nbr,
                                              out_ts, in_ptr, in_nbr, in_ts, min_degree,
                                              min_share, mark, n_marks)
                    need_rcv[y] = need
                    ok_rcv[y] = have >= need
                if ok_rcv[y]:
                    queue[tail] = x
                    tail += 1
        # BFS over H(t0) through accounts that can be members in this window
        n_reg = 0
        while head < tail:
            x = queue[head]
            head += 1
            is_payer = x >= 0
            if is_payer:
                lo, end, idx = pay_ptr[x], pay_ptr[x + 1], pay_idx
            else:
                x = -1 - x
                lo, end, idx = rcv_ptr[x], rcv_ptr[x + 1], rcv_idx
            s = _row_start(idx, lo, end, pf, t0)
            while s < end:
                p = idx[s]
                s += 1
                if pf[p] > hi:
                    break
                if not alive[p] or pl[p] > hi or pair_seen[p] == stamp:
                    continue
                y = pb[p] if is_payer else pa[p]
                if is_payer:
                    if chk_rcv[y] != stamp:
                        chk_rcv[y] = stamp
                        n_marks += 1
                        need, have = _member_need(y, False, t0, hi, pf, pl, alive, pay_ptr,
                                                  pay_idx, rcv_ptr, rcv_idx, out_ptr, out_nbr,
                                                  out_ts, in_ptr, in_nbr, in_ts, min_degree,
                                                  min_share, mark, n_marks)
                        need_rcv[y] = need
                        ok_rcv[y] = have >= need
                    if not ok_rcv[y]:
                        continue
                    if seen_rcv[y] != stamp:
                        seen_rcv[y] = stamp
                        queue[tail] = -1 - np.int64(y)
                        tail += 1
                else:
                    if chk_pay[y] != stamp:
                        chk_pay[y] = stamp
                        n_marks += 1
                        need, have = _member_need(y, True, t0, hi, pf, pl, alive, pay_ptr,
                                                  pay_idx, rcv_ptr, rcv_idx, out_ptr, out_nbr,
                                                  out_ts, in_ptr, in_nbr, in_ts, min_degree,
                                                  min_share, mark, n_marks)
                        need_pay[y] = need
                        ok_pay[y] = have >= need
                    if not ok_pay[y]:
                        continue
                    if seen_pay[y] != stamp:
                        seen_pay[y] = stamp
                        queue[tail] = y
                        tail += 1
                pair_seen[p] = stamp
                region[n_reg] = p
                n_reg += 1
        if n_reg == 0:
            continue
        reg = np.sort(region[:n_reg])
        parts, ptr = _core_components(reg, pa, pb, need_pay, need_rcv, loc_pay, loc_rcv)
        for q in range(ptr.shape[0] - 1):
            if len(emitted) >= max_results:
                cut += 1
                continue
            n_components += 1
            before = len(emitted)
            n_reductions += _resolve(parts[ptr[q]:ptr[q + 1]].copy(), pa, pb, min_side,
                                     min_density, need_pay, need_rcv, loc_pay, loc_rcv,
                                     cnt_pay, cnt_rcv, emitted)
            while len(emitted) > max_results:
                emitted.pop()
                cut += 1
            for _ in range(len(emitted) - before):
                t0_list.append(t0)
    # step 5: drop repeats (keep the earliest) and blocks contained in another block
    n_b = len(emitted)
    t0s = np.empty(n_b, np.int64)
    for b in range(n_b):
        t0s[b] = t0_list[b]
    a_ptr = np.zeros(n_b + 1, np.int64)
    b_ptr = np.zeros(n_b + 1, np.int64)
    tot = 0
    for b in range(n_b):
        tot += emitted[b].shape[0]
    a_nodes = np.empty(tot, np.int64)
    b_nodes = np.empty(tot, np.int64)
    na = 0
    nb = 0
    for b in range(n_b):
        blk = emitted[b]
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
        sa = a_ptr[x + 1] - a_ptr[x]
        sb = b_ptr[x + 1] - b_ptr[x]
        first_a = a_nodes[a_ptr[x]]
        for s in range(inv_ptr[first_a], inv_ptr[first_a + 1]):
            y = inv[s]
            if y == x:
                continue
            ya = a_ptr[y + 1] - a_ptr[y]
            yb = b_ptr[y + 1] - b_ptr[y]
            if ya < sa or yb < sb:
                continue
            if ya == sa and yb == sb and y > x:
                continue  # an equal later block does not remove the earlier one
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
            n_out += emitted[b].shape[0]
    block_ptr = np.zeros(n_keep + 1, np.int64)
    block_pairs = np.empty(n_out, np.int64)
    block_t0 = np.empty(n_keep, np.int64)
    c = 0
    w = 0
    for b in range(n_b):
        if keep[b]:
            blk = emitted[b]
            block_pairs[w:w + blk.shape[0]] = blk
            w += blk.shape[0]
            block_t0[c] = t0s[b]
            c += 1
            block_ptr[c] = w
    return (block_ptr, block_pairs, block_t0, n_alive, n_windows, n_components, n_reductions,
            cut)


@numba.njit(**JIT_OPTIONS)
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
    first_in = np.full(n_nodes, np.iinfo(np.int64).max, np.int64)   # in X, per sink
    first_out = np.full(n_nodes, np.iinfo(np.int64).max, np.int64)  # in Y, per source
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
                if start[y] < start[x] or start[y] > end[x] + window:
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
                for t in range(block_ptr[y], block_ptr[y + 1]):
                    q = block_pairs[t]
                    a = pa[q]
                    if in_y[a] == 1:  # count each source once
                        in_y[a] = 3
                        if in_x[a] == 2:
                            shared += 1
                            if first_out[a] < first_in[a]:
                                ok = False
                        elif in_x[a] == 1:
                            ok = False
                    if in_x[pb[q]] != 0:
                        ok = False
                if ok and (shared < min_side
                           or shared < min_overlap * (n_bx + n_ay - shared)):
                    ok = False
                for t in range(block_ptr[y], block_ptr[y + 1]):
                    q = block_pairs[t]
                    in_y[pa[q]] = 0
                    in_y[pb[q]] = 0
                    first_out[pa[q]] = np.iinfo(np.int64).max
                if ok:
                    link_src.append(np.int64(x))
                    link_dst.append(y)
        for s in range(block_ptr[x], block_ptr[x + 1]):
            p = block_pairs[s]
            in_x[pa[p]] = 0
            in_x[pb[p]] = 0
            first_in[pb[p]] = np.iinfo(np.int64).max
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
