"""Connected components by union-find, and time-windowed linking through shared keys.

Reusable by any detector that groups accounts from pairwise evidence:

* :func:`connected_components` - components of an undirected edge list over nodes
  ``0..n-1``; each node is labelled by the smallest node index of its component, so the
  labelling is canonical (independent of edge order).
* :func:`shared_key_pairs` - evidence "two nodes share a key (a counterparty) at times at
  most ``window`` apart": every such incidence pair with the occasion (e.g. episode) of
  each side, so that a caller can weigh a tie by how many distinct occasions support it;
  keys touched by more than ``max_degree`` distinct nodes (a hub shared by everyone is no
  evidence) or with too many pairs are skipped and counted.

* :func:`k_core` - the nodes of the k-core (every node keeps >= k distinct neighbours
  among the kept nodes): peels chains and trees of one-to-one links off dense groups.

Union-find uses union by size with path halving: O(E alpha(n)).
"""
from __future__ import annotations

import numpy as np

from .jit import kernel

__all__ = ["connected_components", "shared_key_pairs", "k_core", "find_root"]


@kernel
def find_root(parent, x):
    """Root of x in a union-find forest, halving the path on the way (amortised ~O(1))."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@kernel
def connected_components(n, edge_a, edge_b):
    """Component label per node (int64[n]) = smallest node index in its component.

    ``edge_a``/``edge_b``: int64 arrays of node indices in [0, n), one undirected edge per
    position (self-loops and repeats allowed). O(n + E alpha(n)).
    """
    parent = np.arange(n, dtype=np.int64)
    size = np.ones(n, np.int64)
    for j in range(edge_a.shape[0]):
        ra = find_root(parent, edge_a[j])
        rb = find_root(parent, edge_b[j])
        if ra == rb:
            continue
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
    smallest = np.full(n, n, np.int64)
    for x in range(n):
        r = find_root(parent, x)
        if x < smallest[r]:
            smallest[r] = x
    label = np.empty(n, np.int64)
    for x in range(n):
        label[x] = smallest[find_root(parent, x)]
    return label


@kernel
def shared_key_pairs(key, node, occ, ts, window, max_degree, max_pairs_per_key, n_nodes):
    """Every pair of incidences of one key, from different nodes, at most ``window`` apart.

    Input: incidences (key, node, occ, ts) sorted by (key, ts) (int64; node < n_nodes;
    ``occ`` an occasion id such as the episode the incidence belongs to; ts in seconds).
    A key touched by more than ``max_degree`` distinct nodes (a hub shared by everyone is no
    evidence), or with more than ``max_pairs_per_key`` incidence pairs within the window
    (same-node pairs included: they cost a step too), is skipped and counted. For every
    other key, every incidence pair (i, j), i before j in the sorted order, with
    ``node[i] != node[j]`` and ``ts[j] - ts[i] <= window`` gives one row
    (lo, hi, key, occ_lo, occ_hi): the two nodes in increasing order, each with the
    occasion of its own incidence.

    Returns (pair_lo, pair_hi, pair_key, occ_lo, occ_hi) int64 arrays (keys in input order,
    then by j, then by i descending), keys cut by the degree budget, keys cut by the pair
    budget. O(I + Q) time for I incidences and Q incidence pairs within the window (at most
    max_pairs_per_key + 1 per key), O(I + Q + n_nodes) memory.
    """
    m = key.shape[0]
    stamp = np.full(n_nodes, -1, np.int64)   # last group that counted this node
    # pass 1: per key group, its degree and its pair count (stopped past the budget)
    group_pairs = np.zeros(m, np.int64)      # indexed by the group's first incidence
    n_deg_cut = 0
    n_pair_cut = 0
    total = 0
    lo = 0
    while lo < m:
        hi = lo
        degree = 0
        while hi < m and key[hi] == key[lo]:
            if stamp[node[hi]] != lo:
                stamp[node[hi]] = lo
                degree += 1
            hi += 1
        if degree > max_degree:
            n_deg_cut += 1
            group_pairs[lo] = -1
        elif degree > 1:
            c = 0
            examined = 0
            for j in range(lo + 1, hi):
                i = j - 1
                while i >= lo and ts[j] - ts[i] <= window and examined <= max_pairs_per_key:
                    examined += 1
                    if node[i] != node[j]:
                        c += 1
                    i -= 1
                if examined > max_pairs_per_key:
                    break
            if examined > max_pairs_per_key:
                n_pair_cut += 1
                group_pairs[lo] = -1
            else:
                group_pairs[lo] = c
                total += c
        lo = hi
    pair_lo = np.empty(total, np.int64)
    pair_hi = np.empty(total, np.int64)
    pair_key = np.empty(total, np.int64)
    occ_lo = np.empty(total, np.int64)
    occ_hi = np.empty(total, np.int64)
    # pass 2: fill
    k = 0
    lo = 0
    while lo < m:
        hi = lo
        while hi < m and key[hi] == key[lo]:
            hi += 1
        if group_pairs[lo] > 0:
            for j in range(lo + 1, hi):
                i = j - 1
                while i >= lo and ts[j] - ts[i] <= window:
                    if node[i] != node[j]:
                        if node[i] < node[j]:
                            pair_lo[k], occ_lo[k] = node[i], occ[i]
                            pair_hi[k], occ_hi[k] = node[j], occ[j]
                        else:
                            pair_lo[k], occ_lo[k] = node[j], occ[j]
                            pair_hi[k], occ_hi[k] = node[i], occ[i]
                        pair_key[k] = key[lo]
                        k += 1
                    i -= 1
        lo = hi
    return pair_lo, pair_hi, pair_key, occ_lo, occ_hi, n_deg_cut, n_pair_cut


@kernel
def k_core(n, edge_a, edge_b, k):
    """Membership (bool[n]) of the k-core of an undirected graph over nodes ``0..n-1``.

    ``edge_a``/``edge_b``: int64 arrays, one edge per position; self-loops are ignored and
    repeated edges count once (pass distinct pairs, or they count as several). A node is
    removed while it has fewer than ``k`` neighbours among the remaining nodes; the
    result is the largest subgraph where every node has >= k neighbours (empty for k > the
    degeneracy; every node for k <= 0). O(n + E) by peeling with a queue.
    """
    m = edge_a.shape[0]
    deg = np.zeros(n, np.int64)
    for j in range(m):
        if edge_a[j] != edge_b[j]:
            deg[edge_a[j]] += 1
            deg[edge_b[j]] += 1
    # adjacency in CSR form
    ptr = np.zeros(n + 1, np.int64)
    for x in range(n):
        ptr[x + 1] = ptr[x] + deg[x]
    fill = ptr[:-1].copy()
    adj = np.empty(ptr[n], np.int64)
    for j in range(m):
        a, b = edge_a[j], edge_b[j]
        if a != b:
            adj[fill[a]] = b
            fill[a] += 1
            adj[fill[b]] = a
            fill[b] += 1
    alive = np.ones(n, np.bool_)
    queue = np.empty(n, np.int64)
    head = 0
    tail = 0
    for x in range(n):
        if deg[x] < k:
            alive[x] = False
            queue[tail] = x
            tail += 1
    while head < tail:
        x = queue[head]
        head += 1
        for j in range(ptr[x], ptr[x + 1]):
            y = adj[j]
            if alive[y]:
                deg[y] -= 1
                if deg[y] < k:
                    alive[y] = False
                    queue[tail] = y
                    tail += 1
    return alive
