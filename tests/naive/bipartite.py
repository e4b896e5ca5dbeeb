"""Plain-Python twin of finflow/_kernels/bipartite.py: BIPARTITE blocks and STACK chains.

Exhaustive: every grid window (t0 = k * step), every split of the accounts into payers A and
payees B. Meant for graphs with at most ~7 accounts and a few dozen grid points. The definitions are in the kernel's module doc and in
finflow.config.BipartiteConfig / StackConfig.
"""
from __future__ import annotations

from itertools import combinations

from finflow.graph import TemporalGraph


def novel_pairs(g: TemporalGraph, window: int, max_degree: int) -> dict:
    """{(a, b): [edge indices in time order]} for the novel pairs."""
    deg = [0] * g.n_nodes
    groups: dict = {}
    for e in range(g.n_edges):
        a, b = int(g.src[e]), int(g.dst[e])
        deg[a] += 1
        deg[b] += 1
        groups.setdefault((a, b), []).append(e)
    out = {}
    for (a, b), edges in groups.items():
        times = [int(g.ts[e]) for e in edges]
        if (a != b and deg[a] <= max_degree and deg[b] <= max_degree
                and (b, a) not in groups and max(times) - min(times) <= window):
            out[(a, b)] = sorted(edges)
    return out


def _span(g, edges):
    times = [int(g.ts[e]) for e in edges]
    return min(times), max(times)


def _connected(A, B, pairs) -> bool:
    nodes = [("a", a) for a in A] + [("b", b) for b in B]
    adj = {x: set() for x in nodes}
    for a, b in pairs:
        adj[("a", a)].add(("b", b))
        adj[("b", b)].add(("a", a))
    seen = {nodes[0]}
    todo = [nodes[0]]
    while todo:
        for y in adj[todo.pop()]:
            if y not in seen:
                seen.add(y)
                todo.append(y)
    return len(seen) == len(nodes)


def counterparties(g: TemporalGraph, x: int, is_payer: bool, t0: int, window: int) -> int:
    """Distinct counterparties of x (payees if is_payer, else payers) in [t0, t0 + window]."""
    own, other = (g.src, g.dst) if is_payer else (g.dst, g.src)
    return len({int(other[e]) for e in range(g.n_edges)
                if own[e] == x and other[e] != x and t0 <= g.ts[e] <= t0 + window})


def is_block(g, t0, window, A, B, pairs, min_side, min_degree, min_share, min_density) -> bool:
    """The definition of a block in window t0, given the pairs inside it between A and B."""
    if A & B or len(A) < min_side or len(B) < min_side:
        return False
    for x in A:
        need = max(min_degree, min_share * counterparties(g, x, True, t0, window))
        if sum(1 for a, _ in pairs if a == x) < need:
            return False
    for x in B:
        need = max(min_degree, min_share * counterparties(g, x, False, t0, window))
        if sum(1 for _, b in pairs if b == x) < need:
            return False
    return len(pairs) >= min_density * len(A) * len(B) and _connected(A, B, pairs)


def _windows(g, pairs, window, step=1):
    """[(t0, {pair: edges inside [t0, t0 + window]})] for every grid point t0 = k * step from
    the one at or before the earliest pair start up to the latest pair start."""
    spans = {p: _span(g, e) for p, e in pairs.items()}
    if not spans:
        return []
    first = min(f for f, _ in spans.values())
    last = max(f for f, _ in spans.values())
    out = []
    for t0 in range((first // step) * step, last + 1, step):
        out.append((t0, {p: pairs[p] for p, (f, l) in spans.items()
                         if f >= t0 and l <= t0 + window}))
    return out


def maximal_blocks(g: TemporalGraph, window: int, min_side: int = 2, min_degree: int = 1,
                   min_share: float = 0.5, min_density: float = 0.5,
                   max_degree: int = 10_000, step: int = 1) -> list:
    """[(A, B, t0, pairs frozenset, edges frozenset)] of maximal blocks, each in its fullest
    window (most pairs; the earliest on ties)."""
    pairs = novel_pairs(g, window, max_degree)
    found = {}
    for t0, H in _windows(g, pairs, window, step):
        payers = sorted({a for a, _ in H})
        payees = sorted({b for _, b in H})
        for na in range(min_side, len(payers) + 1):
            for A in map(frozenset, combinations(payers, na)):
                rest = [b for b in payees if b not in A]
                for nb in range(min_side, len(rest) + 1):
                    for B in map(frozenset, combinations(rest, nb)):
                        P = frozenset(p for p in H if p[0] in A and p[1] in B)
                        # keep the fullest window (windows come in time order: earliest on ties)
                        if ((A, B) not in found or len(P) > len(found[(A, B)][1])) and is_block(
                                g, t0, window, A, B, P, min_side, min_degree, min_share,
                                min_density):
                            found[(A, B)] = (t0, P)
    out = []
    for (A, B), (t0, P) in found.items():
        if any((A2, B2) != (A, B) and A <= A2 and B <= B2 for A2, B2 in found):
            continue
        edges = frozenset(e for p in P for e in pairs[p])
        out.append((A, B, t0, P, edges))
    return out


def _core_components(g, t0, window, H, min_degree, min_share):
    """Components of the core of pair set H in the payer/payee double cover: every payer and
    payee keeps >= max(min_degree, min_share * window counterparties) pairs."""
    H = set(H)
    need_pay = {a: max(min_degree, min_share * counterparties(g, a, True, t0, window))
                for a, _ in H}
    need_rcv = {b: max(min_degree, min_share * counterparties(g, b, False, t0, window))
                for _, b in H}
    while True:
        pay = {}
        rcv = {}
        for a, b in H:
            pay[a] = pay.get(a, 0) + 1
            rcv[b] = rcv.get(b, 0) + 1
        weak = {p for p in H if pay[p[0]] < need_pay[p[0]] or rcv[p[1]] < need_rcv[p[1]]}
        if not weak:
            break
        H -= weak
    comps = []
    left = set(H)
    while left:
        comp = {left.pop()}
        grew = True
        while grew:
            grew = False
            for p in list(left):
                if any(p[0] == q[0] or p[1] == q[1] for q in comp):
                    comp.add(p)
                    left.discard(p)
                    grew = True
        comps.append(comp)
    return comps


def reduction_free(g: TemporalGraph, window: int, min_side: int = 2, min_degree: int = 1,
                   min_share: float = 0.5, min_density: float = 0.5,
                   max_degree: int = 10_000, step: int = 1) -> bool:
    """True when the graph is in the class on which the kernel is exact: in every window every
    core component is either too small on one side or already a block (no reduction needed)."""
    pairs = novel_pairs(g, window, max_degree)
    for t0, H in _windows(g, pairs, window, step):
        for comp in _core_components(g, t0, window, H, min_degree, min_share):
            A = {a for a, _ in comp}
            B = {b for _, b in comp}
            if A & B:
                return False
            if len(A) < min_side or len(B) < min_side:
                continue
            if len(comp) < min_density * len(A) * len(B):
                return False
    return True


def stacks(g: TemporalGraph, blocks: list, window: int, min_side: int = 2,
           min_overlap: float = 0.5, min_layers: int = 2) -> list:
    """Maximal stacks over ``blocks`` (as returned by maximal_blocks): tuples of block indices."""
    def times(blk):
        return [int(g.ts[e]) for e in blk[4]]

    def first_in(blk, x):
        return min(int(g.ts[e]) for e in blk[4] if int(g.dst[e]) == x)

    def first_out(blk, x):
        return min(int(g.ts[e]) for e in blk[4] if int(g.src[e]) == x)

    def link(X, Y):
        shared = X[1] & Y[0]
        if len(shared) < min_side or len(shared) < min_overlap * len(X[1] | Y[0]):
            return False
        # time order on the shared accounts only: they receive in X before they pay in Y,
        # and Y's payments out of them start within W of X's end
        if min(first_out(Y, s) for s in shared) > max(times(X)) + window:
            return False
        return all(first_out(Y, s) >= first_in(X, s) for s in shared)

    def valid(seq):
        for k in range(1, len(seq)):
            X, Y = blocks[seq[k - 1]], blocks[seq[k]]
            if not link(X, Y):
                return False
            earlier = set().union(*(blocks[i][0] | blocks[i][1] for i in seq[:k]))
            if ((Y[0] | Y[1]) - (X[1] & Y[0])) & earlier:
                return False
        return True

    found = []

    def grow(seq):
        if len(seq) >= 2:
            found.append(tuple(seq))
        for y in range(len(blocks)):
            if y not in seq and valid(seq + [y]):
                grow(seq + [y])

    for x in range(len(blocks)):
        grow([x])

    def inside(s, t):
        return len(s) < len(t) and any(t[i:i + len(s)] == s for i in range(len(t) - len(s) + 1))

    return [s for s in found if len(s) >= min_layers and not any(inside(s, t) for t in found)]


def drop_contained(blocks: list) -> list:
    """Indices of the blocks ``[(A, B, t0, pairs, ...)]`` kept: a block goes when another has
    A' ⊇ A and B' ⊇ B, unless the two are equal and it has more pairs (or as many and comes
    first)."""
    keep = []
    for x, (A, B, _, P, *_) in enumerate(blocks):
        gone = False
        for y, (A2, B2, _, P2, *_) in enumerate(blocks):
            if y == x or not (A <= A2 and B <= B2):
                continue
            if (A, B) != (A2, B2) or len(P2) > len(P) or (len(P2) == len(P) and y < x):
                gone = True
                break
        if not gone:
            keep.append(x)
    return keep


def flows_of(g: TemporalGraph, A, B) -> float:
    """A's total outgoing plus B's total incoming amount in g (an A -> B payment counts in
    both); a sparse block needs 2 * its amount >= sparse_min_value_share * this."""
    return (sum(float(g.amt[e]) for e in range(g.n_edges) if int(g.src[e]) in A)
            + sum(float(g.amt[e]) for e in range(g.n_edges) if int(g.dst[e]) in B))


def bipartite_blocks(g: TemporalGraph, window: int, min_side: int = 2, min_degree: int = 2,
                     min_share: float = 0.5, min_density: float = 0.5,
                     max_degree: int = 10_000, step: int = 1, sparse_span: int = 0,
                     sparse_min_value_share: float = 0.6) -> list:
    """BIPARTITE's candidate blocks: the maximal blocks with ``min_degree`` pairs per member,
    plus (``sparse_span > 0``, ``min_degree > 1``) those with one pair per member spanning at
    most ``sparse_span`` seconds whose amount, doubled, is at least
    ``sparse_min_value_share * flows_of(A, B)``; then
    ``drop_contained`` (dense blocks first). Same tuples as ``maximal_blocks``."""
    kw = dict(min_side=min_side, min_share=min_share, min_density=min_density,
              max_degree=max_degree, step=step)
    blocks = maximal_blocks(g, window, min_degree=min_degree, **kw)
    if sparse_span > 0 and min_degree > 1:
        for A, B, t0, P, E in maximal_blocks(g, window, min_degree=1, **kw):
            first, last = _span(g, E)
            moved = 2.0 * sum(float(g.amt[e]) for e in E)
            if last - first <= sparse_span and moved >= sparse_min_value_share * flows_of(g, A, B):
                blocks.append((A, B, t0, P, E))
    return [blocks[i] for i in drop_contained(blocks)]
