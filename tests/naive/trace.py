"""Plain-Python fund tracing: the executable definition of finflow/_kernels/trace.py.

One function, ``naive_trace``, replays the transactions of a TemporalGraph one at a time with
dicts and lists. Seeds are account indices and edge indices (positions in the graph's edge
order); ``since``/``until`` are seconds, inclusive. Results use the graph's edge indices.
"""
from __future__ import annotations

from collections import defaultdict


def _replay_order(g, backward, since, until):
    """[(edge, sender, receiver, ts, amount)] in processing order, and 'seeds emit at ts'."""
    edges = [(e, int(g.src[e]), int(g.dst[e]), int(g.ts[e]), float(g.amt[e]))
             for e in range(g.n_edges)]
    if not backward:
        order = [x for x in edges if until is None or x[3] <= until]
        return order, lambda t: since is None or t >= since
    order = [(e, d, s, t, a) for (e, s, d, t, a) in reversed(edges) if since is None or t >= since]
    return order, lambda t: until is None or t <= until


def naive_trace(g, seed_accounts=(), seed_edges=(), *, backward=False, rule="proportional",
                since=None, until=None, max_hops=None, min_amount=0.0):
    order, seeds_emit = _replay_order(g, backward, since, until)
    seed_accounts, seed_edges = set(seed_accounts), set(seed_edges)
    position = {e: p for p, (e, *_rest) in enumerate(order)}

    hop = {v: 0 for v in seed_accounts}
    for e, s, _d, _t, _a in order:
        if e in seed_edges:
            hop[s] = 0
    # proportional: balance, taint and each tainted inflow's current share of the taint
    balance = defaultdict(float)
    taint = defaultdict(float)
    share = defaultdict(dict)        # account -> {edge: contribution}, insertion = arrival order
    # fifo / lifo: lots [amount, taint, edge] in arrival order
    lots = defaultdict(list)

    acc = defaultdict(lambda: defaultdict(float))
    first, last, n_in = {}, {}, defaultdict(int)
    edge_taint, edge_parent, edge_value, extended = {}, {}, {}, set()
    counts = dict(tainted=0, forced=0, dropped=0, stopped=0)

    for e, u, v, t, a in order:
        # what u's existing taint contributes to this outflow, and from which predecessor
        reused, parent = 0.0, -1
        if rule == "proportional":
            if a >= balance[u]:                    # drains the known balance (rest is clean)
                reused = taint[u]
                if reused > 0.0:
                    parent = _largest(share[u])
                taint[u], balance[u], share[u] = 0.0, 0.0, {}
            else:
                f = a / balance[u]
                held_before = taint[u]
                reused = taint[u] * f
                taint[u] = min(taint[u] - reused, balance[u] - a)
                taint[u] = max(taint[u], 0.0)
                balance[u] = balance[u] - a
                if reused > 0.0:
                    parent = _largest(share[u])
                if held_before > 0.0:              # every share shrinks by the same factor
                    share[u] = {k: c * (1.0 - f) for k, c in share[u].items()}
                else:                              # no taint held: no shares left
                    share[u] = {}
        else:
            queue = lots[u]
            remaining, best = a, 0.0
            while remaining > 0.0 and queue:
                lot = queue[0] if rule == "fifo" else queue[-1]
                if lot[0] <= remaining:            # the whole lot leaves
                    take = lot[1]
                    remaining -= lot[0]
                    queue.pop(0 if rule == "fifo" else -1)
                else:                              # part of it leaves, taint pro rata
                    take = lot[1] * (remaining / lot[0])
                    lot[0] = lot[0] - remaining
                    lot[1] = max(min(lot[1] - take, lot[0]), 0.0)
                    remaining = 0.0
                reused += take
                if take > best:
                    best, parent = take, lot[2]
        carried = reused
        if e in seed_edges or (u in seed_accounts and seeds_emit(t)):
            acc[u]["originated"] += a - reused
            carried, parent = a, -1
            counts["forced"] += 1
        h = hop.get(u, 1 << 62) + 1
        if carried > 0.0 and max_hops is not None and h > max_hops:
            acc[u]["stopped"] += carried
            counts["stopped"] += 1
            carried = 0.0
        elif 0.0 < carried < min_amount:
            acc[u]["dropped"] += carried
            counts["dropped"] += 1
            carried = 0.0
        if carried <= 0.0:
            parent = -1
        acc[u]["traced_out"] += carried
        edge_taint[e], edge_parent[e] = carried, parent
        if carried > 0.0:
            counts["tainted"] += 1
            edge_value[e] = carried if parent < 0 else min(edge_value[parent], carried)
            if parent >= 0 and edge_value[e] >= edge_value[parent]:
                extended.add(parent)
            acc[v]["traced_in"] += carried
            first.setdefault(v, t)
            last[v] = t
            n_in[v] += 1
            hop[v] = min(hop.get(v, 1 << 62), h)
        # the receiver
        if rule == "proportional":
            balance[v] += a
            if carried > 0.0:
                taint[v] += carried
                share[v][e] = carried
        else:
            lots[v].append([a, carried, e])

    for v in range(g.n_nodes):
        acc[v]["held"] = taint[v] if rule == "proportional" else sum(lot[1] for lot in lots[v])
    return {
        "accounts": {v: {**{k: acc[v][k] for k in ("traced_in", "traced_out", "held",
                                                   "originated", "dropped", "stopped")},
                         "min_hops": hop.get(v, -1),
                         "first_ts": min(first[v], last[v]) if v in first else None,
                         "last_ts": max(first[v], last[v]) if v in first else None,
                         "n_in": n_in[v]}
                     for v in range(g.n_nodes)},
        "edge_taint": edge_taint, "edge_parent": edge_parent, "edge_value": edge_value,
        "extended": extended, "position": position, "counts": counts,
    }


def _largest(shares: dict) -> int:
    """The inflow with the largest current share; the earliest arrival on ties."""
    best_edge, best = -1, 0.0
    for edge, c in shares.items():
        if c > best:
            best_edge, best = edge, c
    return best_edge
