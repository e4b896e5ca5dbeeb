"""Self-check of ground truth: does every planted instance satisfy its typology's definition
(shared/TYPOLOGIES.md) at the default thresholds of finflow.config?

Plain Python over each instance's own transactions (independent of how the generator built
them), so it is the executable statement of "a default detector can find this".
``check_dataset(ds)`` returns a list of violations; empty means every instance is valid.
Cost: O(T log T) for T truth transactions plus one scan of the transactions for BIPARTITE
quietness.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import polars as pl

from ..config import DetectConfig

__all__ = ["check_dataset", "CHECKERS"]

DAY = 86400
HOUR = 3600


class Tx:
    """One transaction of an instance."""
    __slots__ = ("txn_id", "src", "dst", "ts", "amount")

    def __init__(self, txn_id, src, dst, ts, amount):
        self.txn_id, self.src, self.dst, self.ts, self.amount = txn_id, src, dst, ts, amount


def _max_distinct_in_window(events: list[tuple[int, int]], window: int) -> int:
    """events (ts, counterparty) sorted by ts: most distinct counterparties in [t, t+window]."""
    best, j = 0, 0
    for i in range(len(events)):
        while j < len(events) and events[j][0] - events[i][0] <= window:
            j += 1
        best = max(best, len({c for _, c in events[i:j]}))
    return best


def _by_role(roles: dict[int, str], role: str) -> list[int]:
    return sorted(a for a, r in roles.items() if r == role)


def check_fan(txs, roles, cfg, out: bool):
    c = cfg.fan_out if out else cfg.fan_in
    hubs = _by_role(roles, "hub")
    if len(hubs) != 1:
        return [f"expected one hub, got {len(hubs)}"]
    h = hubs[0]
    side = "sink" if out else "source"
    ev = sorted((t.ts, t.dst if out else t.src) for t in txs
                if (t.src == h if out else t.dst == h) and roles.get(t.dst if out else t.src) == side)
    k = _max_distinct_in_window(ev, c.window)
    return [] if k >= c.min_degree else [f"at most {k} distinct counterparties within window"]


def check_cycle(txs, roles, cfg):
    c = cfg.cycle
    edges = sorted(txs, key=lambda t: (t.ts, t.txn_id))
    n = len(edges)
    errs = []
    if not c.min_length <= n <= c.max_length:
        errs.append(f"length {n} outside [{c.min_length}, {c.max_length}]")
    chain, cur = [edges[0]], edges[0]
    rest = edges[1:]
    while rest:
        nxt = [t for t in rest if t.src == cur.dst]
        if len(nxt) != 1:
            return errs + ["not a single chain"]
        cur = nxt[0]
        chain.append(cur)
        rest.remove(cur)
    if chain[-1].dst != chain[0].src:
        errs.append("does not close")
    if len({t.src for t in chain}) != n:
        errs.append("accounts repeat")
    if any(b.ts < a.ts for a, b in zip(chain, chain[1:])):
        errs.append("not time-respecting")
    if chain[-1].ts - chain[0].ts > c.window:
        errs.append("span exceeds window")
    if any(b.amount < c.min_hop_ratio * a.amount for a, b in zip(chain, chain[1:])):
        errs.append("a hop keeps less than min_hop_ratio")
    return errs


def check_scatter_gather(txs, roles, cfg):
    c = cfg.scatter_gather
    (s,), (t,) = _by_role(roles, "source"), _by_role(roles, "sink")
    good = 0
    for m in _by_role(roles, "intermediary"):
        ins = [x.ts for x in txs if x.src == s and x.dst == m]
        outs = [x.ts for x in txs if x.src == m and x.dst == t]
        good += bool(ins and outs and max(outs) >= min(ins))
    span = max(x.ts for x in txs) - min(x.ts for x in txs)
    errs = [] if good >= c.min_intermediaries else [f"only {good} time-respecting intermediaries"]
    return errs + (["span exceeds window"] if span > c.window else [])


def check_gather_scatter(txs, roles, cfg):
    c = cfg.gather_scatter
    (h,) = _by_role(roles, "hub")
    ins = [x for x in txs if x.dst == h and roles.get(x.src) == "source"]
    outs = [x for x in txs if x.src == h and roles.get(x.dst) == "sink"]
    errs = []
    if len({x.src for x in ins}) < c.min_in or len({x.dst for x in outs}) < c.min_out:
        errs.append("too few payers or payees")
    if min(x.ts for x in outs) < max(x.ts for x in ins):
        errs.append("an outgoing payment precedes an incoming one")
    if max(x.ts for x in txs) - min(x.ts for x in txs) > c.window:
        errs.append("span exceeds window")
    return errs


def _density_ok(layer, a_set, b_set, c):
    pairs = {(x.src, x.dst) for x in layer}
    return (len(a_set) >= c.min_side and len(b_set) >= c.min_side
            and len(pairs) >= c.min_density * len(a_set) * len(b_set))


def check_bipartite(txs, roles, cfg, all_tx=None):
    c = cfg.bipartite
    a, b = set(_by_role(roles, "source")), set(_by_role(roles, "sink"))
    errs = []
    if any(x.src not in a or x.dst not in b for x in txs):
        errs.append("an edge leaves A -> B")
    if not _density_ok(txs, a, b, c):
        errs.append("sides too small or density below min_density")
    t0, t1 = min(x.ts for x in txs), max(x.ts for x in txs)
    if t1 - t0 > c.window:
        errs.append("span exceeds window")
    if all_tx is not None:
        mine = {x.txn_id for x in txs}
        other = all_tx.filter(pl.col("src").is_in(list(a | b)) & pl.col("dst").is_in(list(a | b))
                              & ~pl.col("txn_id").is_in(list(mine))
                              & pl.col("ts").is_between(t0 - c.window, t1 + c.window))
        if other.height:
            errs.append(f"{other.height} other transactions among A and B near the instance")
    return errs


def check_stack(txs, roles, cfg):
    c = cfg.stack
    layer_sets = [set(_by_role(roles, "source"))]
    layers = []
    seen = set(layer_sets[0])
    while True:
        layer = [x for x in txs if x.src in layer_sets[-1]]
        if not layer:
            break
        nxt = {x.dst for x in layer}
        if nxt & seen:
            return ["layers overlap"]
        seen |= nxt
        layers.append(layer)
        layer_sets.append(nxt)
    errs = []
    if len(layers) < c.min_layers:
        errs.append(f"{len(layers)} layers")
    if sum(len(x) for x in layers) != len(txs):
        errs.append("edges outside the layers")
    for i, layer in enumerate(layers):
        if not _density_ok(layer, layer_sets[i], layer_sets[i + 1], c):
            errs.append(f"layer {i} too sparse or too small")
    for l1, l2 in zip(layers, layers[1:]):
        if max(x.ts for x in l1) > min(x.ts for x in l2):
            errs.append("layers not in time order")
    if max(x.ts for x in txs) - min(x.ts for x in txs) > c.window:
        errs.append("span exceeds window")
    return errs


def check_structuring(txs, roles, cfg):
    c = cfg.structuring
    (ben,) = _by_role(roles, "sink")
    lo, hi = (1 - c.band) * c.threshold, c.threshold
    ev = sorted((x.ts, x.txn_id) for x in txs
                if x.dst == ben and roles.get(x.src) == "source" and lo <= x.amount < hi)
    k = _max_distinct_in_window(ev, c.window)
    return [] if k >= c.min_count else [f"only {k} payments in the band within the window"]


def _episodes(txs, acc, max_dwell):
    """Split acc's transactions into episodes at silences longer than max_dwell."""
    mine = sorted((x for x in txs if acc in (x.src, x.dst)), key=lambda x: (x.ts, x.txn_id))
    eps, cur = [], []
    for x in mine:
        if cur and x.ts - cur[-1].ts > max_dwell:
            eps.append(cur)
            cur = []
        cur.append(x)
    return eps + ([cur] if cur else [])


def _pass_through_errors(txs, acc, max_dwell, min_ratio, min_episodes):
    good = 0
    for ep in _episodes(txs, acc, max_dwell):
        ins = [x for x in ep if x.dst == acc]
        outs = [x for x in ep if x.src == acc]
        if not ins or not outs:
            continue
        vin, vout = sum(x.amount for x in ins), sum(x.amount for x in outs)
        t_in = min(x.ts for x in ins)
        if (min_ratio * vin <= vout <= vin and min(x.ts for x in outs) >= t_in
                and max(x.ts for x in outs) - t_in <= max_dwell):
            good += 1
    return [] if good >= min_episodes else [f"account {acc}: {good} pass-through episodes"]


def check_pass_through(txs, roles, cfg, all_tx=None):
    c = cfg.pass_through
    (acc,) = _by_role(roles, "intermediary")
    errs = _pass_through_errors(txs, acc, c.max_dwell, c.min_ratio, c.min_episodes)
    if all_tx is not None:      # "keeping a low balance", over all of the account's activity
        mine = all_tx.filter((pl.col("src") == acc) | (pl.col("dst") == acc)).sort("ts", "txn_id")
        bal = received = 0.0
        for src, amt in mine.select("src", "amount").iter_rows():
            if src == acc:
                bal = max(0.0, bal - amt)
            else:
                bal += amt
                received += amt
        share = getattr(c, "max_retained_share", 0.2)
        if bal > share * received:
            errs.append(f"keeps {bal:.0f} of {received:.0f} received")
    return errs


def check_mule_ring(txs, roles, cfg):
    c = cfg.mule_ring
    mules = _by_role(roles, "mule")
    errs = [] if len(mules) >= c.min_size else [f"{len(mules)} mules"]
    for m in mules:
        errs += _pass_through_errors(txs, m, c.max_dwell, c.min_ratio, 2)
    # evidence graph: mules tied by a shared upstream payer or downstream payee
    parent = {m: m for m in mules}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    by_cp = defaultdict(set)
    for x in txs:
        if x.dst in parent:
            by_cp[("in", x.src)].add(x.dst)
        if x.src in parent:
            by_cp[("out", x.dst)].add(x.src)
    for group in by_cp.values():
        g = sorted(group)
        for o in g[1:]:
            parent[find(o)] = find(g[0])
    if len({find(m) for m in mules}) != 1:
        errs.append("mules are not tied into one ring")
    episodes = _ring_episodes(txs, c.max_dwell)
    if any(ep[-1].ts - ep[0].ts > c.window for ep in episodes):
        errs.append("an episode spans more than the window")
    if len(episodes) < 2:
        errs.append("fewer than 2 episodes")
    return errs


def _ring_episodes(txs, gap):
    xs = sorted(txs, key=lambda x: (x.ts, x.txn_id))
    eps, cur = [], []
    for x in xs:
        if cur and x.ts - cur[-1].ts > gap:
            eps.append(cur)
            cur = []
        cur.append(x)
    return eps + ([cur] if cur else [])


def check_hawala_netting(txs, roles, cfg):
    c = cfg.hawala_netting
    brokers = _by_role(roles, "broker")
    if len(brokers) != 2:
        return ["expected two brokers"]
    payers, recips = set(_by_role(roles, "source")), set(_by_role(roles, "sink"))
    col = [x for x in txs if x.src in payers]
    pay = [x for x in txs if x.dst in recips]
    if len({x.dst for x in col}) != 1 or len({x.src for x in pay}) != 1:
        return ["collections or payouts not through one broker each"]
    a, b = col[0].dst, pay[0].src
    errs = []
    if a == b:
        errs.append("A is B")
    if len({x.src for x in col}) < c.min_counterparties or \
            len({x.dst for x in pay}) < c.min_counterparties:
        errs.append("too few distinct payers or payees")
    d0 = min(x.ts for x in col) // c.bucket
    nb = (max(x.ts for x in txs) // c.bucket) - d0 + 1
    s_in, s_out = np.zeros(nb), np.zeros(nb)
    for x in col:
        s_in[x.ts // c.bucket - d0] += x.amount
    for x in pay:
        s_out[x.ts // c.bucket - d0] += x.amount
    last = max(x.ts for x in pay) // c.bucket - d0 + 1
    best = -1.0
    for lag in range(0, c.max_lag // c.bucket + 1):
        u, v = s_in[: last - lag], s_out[lag:last]
        if u.std() > 0 and v.std() > 0:
            best = max(best, float(np.corrcoef(u, v)[0, 1]))
    if best < c.min_correlation:
        errs.append(f"collections and payouts correlate at most {best:.2f}")
    mids = set(_by_role(roles, "intermediary"))
    if len(mids) > c.max_settlement_hops:
        errs.append("too many settlement hops")
    settle = [x for x in txs if x.src == a and (x.dst == b or x.dst in mids)]
    arrive = [x for x in txs if x.dst == b and (x.src == a or x.src in mids)]
    if not settle or not arrive or len(settle) > 4:
        errs.append(f"{len(settle)} settlement transfers (want 1..4)")
    else:
        med = float(np.median([x.amount for x in col]))
        if min(x.amount for x in settle) < 3 * med:
            errs.append("a settlement transfer is not large")
        owed = sum(x.amount for x in pay)
        got = sum(x.amount for x in arrive)
        if not 0.8 * owed <= got <= 1.2 * owed:
            errs.append(f"settled {got:.0f} vs imbalance {owed:.0f}")
    return errs


def check_hawala_mirror(txs, roles, cfg):
    c = cfg.hawala_mirror
    brokers = _by_role(roles, "broker")
    if len(brokers) != 2:
        return ["expected two brokers"]
    a, b = brokers
    mids = set(_by_role(roles, "intermediary"))
    errs = []
    for ep in _ring_episodes(txs, c.window):
        if ep[-1].ts - ep[0].ts > c.window:
            errs.append("an episode spans more than the window")
        to_b = [x for x in ep if x.dst == b and x.src in mids]
        to_a = [x for x in ep if x.dst == a and x.src in mids]
        fed = {(x.src, x.dst) for x in ep if x.src in (a, b) and x.dst in mids}
        if len({x.src for x in to_b}) < c.min_counterparties or \
                len({x.src for x in to_a}) < c.min_counterparties:
            errs.append("a side has too few accounts")
            continue
        if any((a, x.src) not in fed for x in to_b) or any((b, x.src) not in fed for x in to_a):
            errs.append("a front is not fed by the other broker")
        v1, v2 = sum(x.amount for x in to_b), sum(x.amount for x in to_a)
        if abs(v1 - v2) > c.max_imbalance * max(v1, v2):
            errs.append(f"legs {v1:.0f} and {v2:.0f} do not offset")
    return errs


CHECKERS = {
    "FAN_OUT": lambda t, r, c: check_fan(t, r, c, True),
    "FAN_IN": lambda t, r, c: check_fan(t, r, c, False),
    "CYCLE": check_cycle, "SCATTER_GATHER": check_scatter_gather,
    "GATHER_SCATTER": check_gather_scatter, "BIPARTITE": check_bipartite,
    "STACK": check_stack, "STRUCTURING": check_structuring, "PASS_THROUGH": check_pass_through,
    "MULE_RING": check_mule_ring, "HAWALA_NETTING": check_hawala_netting,
    "HAWALA_MIRROR": check_hawala_mirror,
}


def _core_txs(typ, txs, roles):
    """The pattern's own transactions (funders, onward payments and victims' legs kept for the
    behavioural checks that need them)."""
    if typ in ("CYCLE", "BIPARTITE", "STACK"):
        return txs
    if typ == "FAN_OUT":
        return [x for x in txs if roles.get(x.src) == "hub"]
    if typ == "FAN_IN":
        return [x for x in txs if roles.get(x.dst) == "hub"]
    return txs


def check_dataset(ds, config: DetectConfig | None = None) -> list[str]:
    """Violations of the typology definitions by the dataset's planted instances."""
    cfg = config or DetectConfig()
    errs: list[str] = []
    truth = ds.truth("instances")
    itx = ds.truth("instance_transactions")
    tx = ds.transactions().select("txn_id", "src", "dst", pl.col("ts").dt.epoch("s"),
                                  "amount").collect()
    joined = itx.join(tx, on="txn_id", how="left")
    missing = joined.filter(pl.col("src").is_null())
    if missing.height:
        errs.append(f"{missing.height} truth transactions are not in transactions.parquet")
    acc = ds.accounts().select("account", "account_id").collect()
    bad = truth.join(acc, on="account_id", how="left").filter(
        pl.col("account") != pl.col("account_right"))
    if bad.height:
        errs.append(f"{bad.height} truth rows have the wrong account index")
    txs_of = defaultdict(list)
    for r in joined.drop_nulls("src").iter_rows(named=True):
        txs_of[r["instance"]].append(Tx(r["txn_id"], r["src"], r["dst"], r["ts"], r["amount"]))
    roles_of = defaultdict(dict)
    typ_of = {}
    for r in truth.iter_rows(named=True):
        roles_of[r["instance"]][r["account"]] = r["role"]
        typ_of[r["instance"]] = r["typology"]
    for inst in sorted(typ_of):
        typ, txs, roles = typ_of[inst], txs_of.get(inst, []), roles_of[inst]
        if not txs:
            errs.append(f"{inst}: no transactions")
            continue
        touched = {x.src for x in txs} | {x.dst for x in txs}
        if set(roles) - touched:
            errs.append(f"{inst}: accounts with a role but no transaction in the instance")
        checker = CHECKERS.get(typ)
        if checker is None:
            continue
        try:
            if typ in ("BIPARTITE", "PASS_THROUGH"):
                found = checker(txs, roles, cfg, tx)
            else:
                found = checker(_core_txs(typ, txs, roles), roles, cfg)
        except (ValueError, IndexError) as exc:
            found = [f"malformed instance ({exc})"]
        errs += [f"{inst}: {e}" for e in found]
    return errs
