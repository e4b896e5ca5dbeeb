"""Hawala-like value transfer: HAWALA_NETTING (broker pairs that net customer flows and settle
in bulk) and HAWALA_MIRROR (offsetting cross-place flows tied to one broker pair).

Vocabulary shared by both detectors
-----------------------------------
* **Place** of an account: its country code when the data has countries, else its bank,
  else the currency it uses most (mode of its transactions' currencies, ties to the lowest
  code); ``-1`` when unknown. Unknown places count as different from every place. A
  broker's place is its own attribute; its customers may be anywhere.
* **Small** transaction: amount <= the ``small_quantile`` quantile of all amounts (base
  currency). Customer payments are small, settlements are large (above it).
* **Broker candidates**: a *collector* has >= ``min_counterparties`` distinct small payers, a
  *payer* has >= ``min_counterparties`` distinct small payees, and those counterparties are
  *unrelated*: related ordered pairs among them (``p -> q`` payments) per counterparty
  <= ``max_related`` (a fan-in of a mule ring is related, a broker's customers are not).
  Reading each counterparty's out-row is capped at ``max_degree`` transactions.

Complexity: O(E) for the candidate statistics (stamp arrays), then output-sensitive searches
among candidates only (settlement paths from candidates) or over bounded relays (mirror); no
step compares all accounts with all accounts.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl

from .._kernels import hawala as K
from ..alerts import ROLE_CODE, Detection, make_alerts
from ..config import HawalaMirrorConfig, HawalaNettingConfig
from ..graph import TemporalGraph
from ._common import ranges, saturate

__all__ = ["detect_hawala_netting", "detect_hawala_mirror", "node_places", "small_threshold",
           "broker_candidates", "unrelated"]

_BROKER, _SOURCE, _SINK, _INTER = (ROLE_CODE[r] for r in
                                    ("broker", "source", "sink", "intermediary"))


# -- shared steps -------------------------------------------------------------------------
def node_places(graph: TemporalGraph) -> tuple[np.ndarray, str, tuple[str, ...]]:
    """(place int32[N], kind 'country'|'bank'|'currency'|'none', place names). O(E log E)."""
    n = graph.n_nodes
    if graph.countries and np.any(graph.node_country >= 0):
        return graph.node_country.astype(np.int32), "country", graph.countries
    if graph.banks and np.any(graph.node_bank >= 0):
        return graph.node_bank.astype(np.int32), "bank", graph.banks
    place = np.full(n, -1, np.int32)
    if graph.currencies and np.any(graph.edge_currency >= 0):
        cur = np.concatenate([graph.edge_currency, graph.edge_currency]).astype(np.int64)
        acc = np.concatenate([graph.src, graph.dst]).astype(np.int64)
        ok = cur >= 0
        key = acc[ok] * (len(graph.currencies) + 1) + cur[ok]
        uk, cnt = np.unique(key, return_counts=True)
        a, c = uk // (len(graph.currencies) + 1), uk % (len(graph.currencies) + 1)
        order = np.lexsort((c, -cnt, a))          # per account: most used, then lowest code
        a, c = a[order], c[order]
        first = np.ones(a.shape[0], bool)
        first[1:] = a[1:] != a[:-1]
        place[a[first]] = c[first]
        return place, "currency", graph.currencies
    return place, "none", ()


def small_threshold(graph: TemporalGraph, quantile: float) -> float:
    """The largest 'small' amount: the ``quantile`` of all amounts (0 for an empty graph)."""
    if graph.n_edges == 0:
        return 0.0
    return float(np.quantile(graph.amt, min(max(quantile, 0.0), 1.0), method="lower"))


@dataclasses.dataclass
class BrokerCandidates:
    """Per-account small-counterparty statistics and the candidate lists (ascending)."""
    n_payers: np.ndarray      # int64[N] distinct small payers
    collected: np.ndarray     # float64[N] value of small inflows
    n_payees: np.ndarray      # int64[N] distinct small payees
    paid: np.ndarray          # float64[N] value of small outflows
    collectors: np.ndarray    # int32[C] >= min_counterparties distinct small payers
    payers: np.ndarray        # int32[P] >= min_counterparties distinct small payees


def broker_candidates(graph: TemporalGraph, small: float, min_counterparties: int) -> BrokerCandidates:
    """Collectors and payers by their distinct small counterparties (module doc). O(E + N)."""
    g = graph
    n_payers, collected = K.small_counterparties(g.in_ptr, g.in_nbr, g.in_amt, small)
    n_payees, paid = K.small_counterparties(g.out_ptr, g.out_nbr, g.out_amt, small)
    col = np.flatnonzero(n_payers >= max(min_counterparties, 1)).astype(np.int32)
    pay = np.flatnonzero(n_payees >= max(min_counterparties, 1)).astype(np.int32)
    return BrokerCandidates(n_payers, collected, n_payees, paid, col, pay)


def unrelated(graph: TemporalGraph, accounts: np.ndarray, n_counterparties: np.ndarray,
              view: str, small: float, max_related: float,
              max_degree: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Whether each account's small counterparties (``view`` 'in': payers, 'out': payees)
    are unrelated: related ordered pairs <= ``max_related`` per counterparty. Returns (ok
    bool[K], related pairs int64[K], out-rows cut by ``max_degree``). O(sum of the
    counterparties' out-degrees, each capped)."""
    g = graph
    accounts = np.asarray(accounts, np.int32)
    ptr, nbr, amt = (g.in_ptr, g.in_nbr, g.in_amt) if view == "in" else \
        (g.out_ptr, g.out_nbr, g.out_amt)
    pairs, cut = K.related_pairs(accounts, ptr, nbr, amt, small, g.out_ptr, g.out_nbr, max_degree)
    ok = pairs <= max_related * n_counterparties[accounts]
    return ok, pairs, int(cut)


def _differ(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return (p < 0) | (q < 0) | (p != q)


def _place_name(names, code) -> str | None:
    return names[code] if 0 <= code < len(names) else None


def _acct(graph, a) -> str:
    return graph.account_id_of(np.array([a]))[0]


def _empty(graph, typology, stats) -> Detection:
    return Detection(make_alerts(graph, typology, [], [0], [], [], [0], []), stats)


def _small_rows(ptr, nbr, amt, eid, v, small):
    """Edge indices and counterparties of v's small transactions in one CSR view."""
    sl = slice(ptr[v], ptr[v + 1])
    m = (nbr[sl] != v) & (amt[sl] <= small)
    return eid[sl][m], nbr[sl][m]


def _assign_roles(groups):
    """groups: list of (role, accounts) in priority order -> (accounts, roles), each once."""
    seen, acc, rol = set(), [], []
    for role, accounts in groups:
        for a in np.unique(np.asarray(accounts, np.int64)).tolist():
            if a not in seen:
                seen.add(a)
                acc.append(a)
                rol.append(role)
    return acc, rol


# -- HAWALA_NETTING -------------------------------------------------------------------------
def _settlement_stats(graph, src, tgt, ptr, edges, n):
    """Per (src, tgt) of settlement paths: value = min(distinct first-hop value, distinct
    last-hop value), number of distinct first-hop transfers, and the paths' ids."""
    if src.shape[0] == 0:
        return {}
    first = edges[ptr[:-1]]
    last = edges[ptr[1:] - 1]
    key = src.astype(np.int64) * n + tgt
    df = pl.DataFrame({"key": key, "first": first, "last": last,
                       "path": np.arange(src.shape[0], dtype=np.int64),
                       "a_first": graph.amt[first], "a_last": graph.amt[last]})
    fs = (df.unique(["key", "first"], maintain_order=True).group_by("key", maintain_order=True)
          .agg(pl.col("a_first").sum().alias("out_value"), pl.len().alias("n_first")))
    ls = df.unique(["key", "last"], maintain_order=True).group_by("key", maintain_order=True).agg(pl.col("a_last").sum().alias("in_value"))
    paths = df.group_by("key").agg(pl.col("path").sort())
    out = {}
    for row in fs.join(ls, on="key").join(paths, on="key").iter_rows(named=True):
        out[row["key"]] = (min(row["out_value"], row["in_value"]), row["n_first"], row["path"],
                           row["out_value"], row["in_value"])
    return out


def detect_hawala_netting(graph: TemporalGraph, cfg: HawalaNettingConfig) -> Detection:
    """HAWALA_NETTING: a collector A and a payer B in different places whose small flows track
    each other and who settle the accumulated imbalance in a few large transfers.

    Steps (N accounts, E transactions):

    1. Places, the small threshold and broker candidates by distinct small counterparties
       (module doc; the unrelatedness check comes in step 3, for survivors only). O(E).
    2. *Corridors*: settlement paths (``finflow._kernels.hawala.settlement_paths``) from every
       candidate to every candidate in another place: 1..``max_settlement_hops + 1`` large,
       time-respecting transactions within ``max_settlement_span`` seconds (so at most
       ``max_settlement_hops`` intermediaries, e.g. a trading company). A pair (A collector,
       B payer) is compared only if such a path joins them in either direction; with
       ``min_coverage == 0`` every cross-place collector x payer pair is compared too (at most
       ``max_pairs``). Output-sensitive, capped by ``max_degree`` and ``max_paths``.
    3. *Tracking*: bucket series (``bucket`` seconds) of A's small inflows and B's small
       outflows; the best lag window 0..``max_lag`` (``correlation``: Spearman by default,
       see the kernel module doc) inside the best *tracking window* of ``tracking_window``
       seconds (stepped by ``tracking_step``) whose volume match, min(A's, B's value) /
       max(...) inside the window, reaches ``min_volume_match``. The brokers must track in
       the same period: over months their other business dilutes a whole-span correlation
       (26 simulated weeks: 25 of 150 planted pairs fell to 0.3-0.5 over the whole span,
       0.6-0.9 inside a window around their working period). Ranks because brokers run
       other business through the same accounts: a payroll run or a supplier payment in
       one bucket swamps Pearson's value either way (it hid planted pairs and let unrelated
       pairs through on one shared burst). O(pairs * windows * W * log(W) * max_lag^2),
       W the window in buckets.
       The correlation must also be significantly positive: its one-sided Fisher-z lower
       bound ``tanh(atanh(r) - significance_z * sqrt(v / (n - 3))) > 0`` with ``n`` the
       active buckets of the sparser series in the window (sparse series correlate by
       chance) and ``v`` 1.06 for Spearman (Fieller, Hartley & Pearson 1957), 1 for
       Pearson. Windows are filtered by volume match before the correlation, pairs by
       unrelated customers after it, so the expensive checks run on few accounts.
    4. *Settlement*: per direction, value = min(value of the distinct first-hop transfers,
       value of the distinct last-hop transfers) of the paths. The imbalance
       ``I = min(collected_A, paid_B) - min(collected_B, paid_A)`` on small (customer-sized)
       flows, the second term only when B is also a collector and A a payer (the corridor
       may net the other way). It undercounts customers paying more than the small
       threshold, so ``I_all``, the same on all flows except the settlement legs between A
       and B, is an overcount; closeness uses whichever of the two is closer. Settlement
       is expected A -> B when I >= 0, else B -> A, but the direction whose value is closest
       to |I| is used (TYPOLOGIES: "sometimes in the opposite direction"); coverage = S / |I|,
       closeness = max over I, I_all of min(S, |I|) / max(S, |I|).
    5. *Few*: settlement rate = distinct first-hop settlement transfers per active collection
       bucket of A; a licensed money-service pair settles every day (rate ~ 1), a hawala pair
       lets the imbalance accumulate (rate <= ``max_settlement_rate``).
    6. Alert when correlation >= ``min_correlation``, volume match >= ``min_volume_match``,
       closeness >= ``min_coverage`` and rate <= ``max_settlement_rate`` (the last two only
       when ``min_coverage > 0``); one alert per unordered broker pair (the better direction).

    Score = 0.35 * max(corr, 0) + 0.2 * volume_match + 0.3 * closeness
    + 0.15 * n / (n + min_counterparties), n = min(distinct payers of A, distinct payees of B).
    Each term is monotone in its evidence; a pair without settlement scores at most 0.7.

    Members: A and B ``broker``, settlement intermediaries ``intermediary``, A's small payers
    ``source``, B's small payees ``sink``. Transactions: step 0 A's small inflows, step 1 B's
    small outflows, step 2 + hop for settlement transfers.
    """
    g = graph
    params = dataclasses.asdict(cfg)
    use_ranks = cfg.correlation == "spearman"
    stats = {"budget_cut": 0, "candidates": 0, "pairs": 0}
    if g.n_edges == 0:
        return _empty(g, "HAWALA_NETTING", stats)
    place, place_kind, names = node_places(g)
    small = small_threshold(g, cfg.small_quantile)
    bc = broker_candidates(g, small, cfg.min_counterparties)
    n = g.n_nodes
    is_col = np.zeros(n, bool)
    is_col[bc.collectors] = True
    is_pay = np.zeros(n, bool)
    is_pay[bc.payers] = True
    stats["candidates"] = int(bc.collectors.shape[0] + bc.payers.shape[0])
    cut = 0
    # 2. corridors: settlement paths among candidates
    cands = np.flatnonzero(is_col | is_pay).astype(np.int32)
    p_src, p_tgt, p_ptr, p_edge, c = K.settlement_paths(
        cands, (is_col | is_pay).astype(np.int8), place, g.out_ptr, g.out_nbr, g.out_ts,
        g.out_amt, g.out_eid, small, int(cfg.max_settlement_hops) + 1,
        int(cfg.max_settlement_span), int(cfg.max_degree), int(cfg.max_paths))
    cut += int(c)
    path_key = p_src.astype(np.int64) * n + p_tgt
    s_, t_ = p_src.astype(np.int64), p_tgt.astype(np.int64)
    fwd = is_col[s_] & is_pay[t_]            # path A -> B
    rev = is_pay[s_] & is_col[t_]            # path B -> A
    pair_key = np.unique(np.concatenate([path_key[fwd], t_[rev] * n + s_[rev]]))
    if cfg.min_coverage <= 0:
        total = bc.collectors.shape[0] * bc.payers.shape[0]
        if total <= cfg.max_pairs:
            aa, bb = np.meshgrid(bc.collectors.astype(np.int64), bc.payers.astype(np.int64),
                                 indexing="ij")
            aa, bb = aa.ravel(), bb.ravel()
            m = (aa != bb) & _differ(place[aa], place[bb])
            pair_key = np.unique(np.concatenate([pair_key, aa[m] * n + bb[m]]))
        else:
            cut += int(total)
    pa, pb = (pair_key // n).astype(np.int32), (pair_key % n).astype(np.int32)
    stats["pairs"] = int(pa.shape[0])
    # 3. tracking: per tracking window, volume match first (cheap), then the correlation
    bucket = max(int(cfg.bucket), 1)
    t0 = int(g.ts[0])
    nb = int((g.ts[-1] - t0) // bucket) + 1
    ua, ia = np.unique(pa, return_inverse=True)
    ub, ib = np.unique(pb, return_inverse=True)
    sa = K.bucket_series(ua, g.in_ptr, g.in_nbr, g.in_ts, g.in_amt, small, t0, bucket, nb)
    sb = K.bucket_series(ub, g.out_ptr, g.out_nbr, g.out_ts, g.out_amt, small, t0, bucket, nb)
    max_lag = max(int(cfg.max_lag) // bucket, 0)
    corr, lag_lo, lag_hi, w_lo, w_hi, vol = K.lagged_correlation(
        sa, sb, ia.astype(np.int64), ib.astype(np.int64), max_lag, use_ranks,
        int(cfg.tracking_window) // bucket, max(int(cfg.tracking_step) // bucket, 1),
        float(cfg.min_volume_match))
    keep = w_lo >= 0
    pa, pb, ia, ib, corr, lag_lo, lag_hi, w_lo, w_hi, vol = (
        x[keep] for x in (pa, pb, ia, ib, corr, lag_lo, lag_hi, w_lo, w_hi, vol))
    stats["pairs_volume_matched"] = int(pa.shape[0])
    # significance: lower one-sided bound of the correlation (Fisher z) with as many
    # observations as the sparser series has active buckets in the tracking window
    act_a = np.concatenate([np.zeros((sa.shape[0], 1), np.int64), np.cumsum(sa != 0, axis=1)], 1)
    act_b = np.concatenate([np.zeros((sb.shape[0], 1), np.int64), np.cumsum(sb != 0, axis=1)], 1)
    n_eff = np.minimum(act_a[ia, w_hi] - act_a[ia, w_lo],
                       act_b[ib, w_hi] - act_b[ib, w_lo]).astype(np.float64)
    active_a = act_a[ia, -1]   # A's active collection buckets, for the settlement rate
    z = np.arctanh(np.clip(corr, -0.999999, 0.999999))
    z_var = 1.06 if use_ranks else 1.0       # Fieller et al. (1957): var(atanh r_s) ~ 1.06/(n-3)
    corr_low = np.where(n_eff > 3, np.tanh(z - cfg.significance_z
                                           * np.sqrt(z_var / np.maximum(n_eff - 3, 1))), -1.0)
    ok = (corr >= cfg.min_correlation) & (corr_low > 0)
    # unrelated customers, checked only for the accounts still in play
    if ok.any():
        ca = np.unique(pa[ok])
        cb = np.unique(pb[ok])
        ok_a, _, c1 = unrelated(g, ca, bc.n_payers, "in", small, cfg.max_related, cfg.max_degree)
        ok_b, _, c2 = unrelated(g, cb, bc.n_payees, "out", small, cfg.max_related, cfg.max_degree)
        cut += c1 + c2
        ok &= np.isin(pa, ca[ok_a]) & np.isin(pb, cb[ok_b])
    stats["pairs_tracking"] = int(ok.sum())
    back = is_col[pb] & is_pay[pa]
    loop = g.src != g.dst
    in_total = np.bincount(g.dst[loop], weights=g.amt[loop], minlength=n)
    out_total = np.bincount(g.src[loop], weights=g.amt[loop], minlength=n)
    # 4-5. settlement per surviving pair
    live = np.flatnonzero(ok)
    wanted = np.unique(np.concatenate([pa[live].astype(np.int64) * n + pb[live],
                                       pb[live].astype(np.int64) * n + pa[live]]))
    sel = np.flatnonzero(np.isin(path_key, wanted))
    sub_ptr, sub_rows = ranges(p_ptr[sel], p_ptr[sel + 1])
    sub_edge = p_edge[sub_rows]
    settle = _settlement_stats(g, p_src[sel], p_tgt[sel], sub_ptr, sub_edge, n)
    settle = {key: (v, nf, [int(sel[i]) for i in paths], vo, vi)
              for key, (v, nf, paths, vo, vi) in settle.items()}
    imbalance = np.minimum(bc.collected[pa], bc.paid[pb]) - np.where(
        back, np.minimum(bc.collected[pb], bc.paid[pa]), 0.0)
    imbalance_all = np.zeros(pa.shape[0])
    rows = []
    for k in live.tolist():
        a, b = int(pa[k]), int(pb[k])
        # all value through the brokers except the settlement legs between them
        fo, fi = settle.get(a * n + b, (0, 0, 0, 0.0, 0.0))[3:]
        ro, ri = settle.get(b * n + a, (0, 0, 0, 0.0, 0.0))[3:]
        imbalance_all[k] = min(in_total[a] - ri, out_total[b] - ro) - (
            min(in_total[b] - fi, out_total[a] - fo) if back[k] else 0.0)
        best = None
        for direction, key in (("A->B", a * n + b), ("B->A", b * n + a)):
            if key not in settle:
                continue
            value, n_first, paths = settle[key][:3]
            close = max(min(value, i) / max(value, i) if max(value, i) > 0 else 0.0
                        for i in (abs(float(imbalance[k])), abs(float(imbalance_all[k]))))
            expected = (direction == "A->B") == (imbalance[k] >= 0)
            cand = (close, expected, direction, value, n_first, paths)
            if best is None or cand[:2] > best[:2]:
                best = cand
        close, direction, value, n_first, paths = ((0.0, None, 0.0, 0, []) if best is None else
                                                   (best[0], best[2], best[3], best[4], best[5]))
        rate = n_first / max(int(active_a[k]), 1)
        if cfg.min_coverage > 0 and not (close >= cfg.min_coverage
                                         and rate <= cfg.max_settlement_rate):
            continue
        n_cp = min(int(bc.n_payers[a]), int(bc.n_payees[b]))
        terms = {"correlation": max(float(corr[k]), 0.0), "volume_match": float(vol[k]),
                 "settlement_closeness": float(close),
                 "customers": float(saturate(n_cp, max(cfg.min_counterparties, 1)))}
        score = (0.35 * terms["correlation"] + 0.2 * terms["volume_match"]
                 + 0.3 * terms["settlement_closeness"] + 0.15 * terms["customers"])
        rows.append(dict(k=k, a=a, b=b, score=score, terms=terms, close=close,
                         direction=direction, value=value, n_first=n_first, paths=paths,
                         rate=rate))
    # one alert per unordered pair: the higher score; ties go to the direction whose collector
    # was paid first (an edge index, so the choice does not depend on account numbering)
    def first_in(acc: int) -> int:
        lo, hi = int(g.in_ptr[acc]), int(g.in_ptr[acc + 1])
        return int(g.in_eid[lo:hi].min()) if hi > lo else g.n_edges

    def rank(r: dict) -> tuple:
        return (-r["score"], first_in(r["a"]), first_in(r["b"]))

    best_of: dict[tuple[int, int], dict] = {}
    for r in rows:
        key = (min(r["a"], r["b"]), max(r["a"], r["b"]))
        cur = best_of.get(key)
        if cur is None or rank(r) < rank(cur):
            best_of[key] = r
    chosen = sorted(best_of.values(), key=rank)
    if len(chosen) > cfg.max_results:
        cut += len(chosen) - cfg.max_results
        chosen = chosen[:cfg.max_results]
    stats["budget_cut"] = cut
    stats["small_threshold"] = small
    stats["place"] = place_kind
    if not chosen:
        return _empty(g, "HAWALA_NETTING", stats)
    scores, m_ptr, m_acc, m_role, t_ptr, t_edge, t_step, evidence = [], [0], [], [], [0], [], [], []
    for r in chosen:
        k, a, b = r["k"], r["a"], r["b"]
        in_e, payers = _small_rows(g.in_ptr, g.in_nbr, g.in_amt, g.in_eid, a, small)
        out_e, payees = _small_rows(g.out_ptr, g.out_nbr, g.out_amt, g.out_eid, b, small)
        s_edges, s_steps, inter, transfers = [], [], [], []
        for pid in r["paths"]:
            pe = p_edge[p_ptr[pid]:p_ptr[pid + 1]]
            accts = [int(g.src[pe[0]])] + [int(g.dst[e]) for e in pe]
            inter.extend(accts[1:-1])
            s_edges.extend(pe.tolist())
            s_steps.extend(range(2, 2 + pe.shape[0]))
            if len(transfers) < 50:
                transfers.append({"path": g.account_id_of(np.array(accts)).to_list(),
                                  "txn_ids": g.txn_id[pe], "amounts": g.amt[pe],
                                  "ts": g.ts[pe]})
        accs, roles = _assign_roles([(_BROKER, [a, b]), (_INTER, inter), (_SOURCE, payers),
                                     (_SINK, payees)])
        edges = np.concatenate([in_e, out_e, np.array(s_edges, np.int64)])
        steps = np.concatenate([np.zeros(in_e.shape[0], np.int32), np.ones(out_e.shape[0], np.int32),
                                np.array(s_steps, np.int32)])
        edges, first = np.unique(edges, return_index=True)   # a transaction appears once
        steps = steps[first]
        ia_k, ib_k = ia[k], ib[k]
        nz = np.flatnonzero((sa[ia_k] != 0) | (sb[ib_k] != 0))
        lo_b, hi_b = (int(nz[0]), int(nz[-1]) + 1) if nz.shape[0] else (0, 0)
        evidence.append({
            "place_kind": place_kind, "small_threshold": small,
            "collector": {"account_id": _acct(g, a), "place": _place_name(names, place[a]),
                          "distinct_payers": int(bc.n_payers[a]),
                          "collected": float(bc.collected[a])},
            "payer": {"account_id": _acct(g, b), "place": _place_name(names, place[b]),
                      "distinct_payees": int(bc.n_payees[b]), "paid_out": float(bc.paid[b])},
            "bucket_seconds": bucket, "series_start_ts": t0 + lo_b * bucket,
            "collector_series": sa[ia_k, lo_b:hi_b], "payer_series": sb[ib_k, lo_b:hi_b],
            "correlation": float(corr[k]), "correlation_method": cfg.correlation,
            "correlation_lower_bound": float(corr_low[k]),
            "tracking_window": {"start": t0 + int(w_lo[k]) * bucket,
                                "end": t0 + int(w_hi[k]) * bucket},
            "active_buckets": int(n_eff[k]),
            "lag_seconds": [int(lag_lo[k]) * bucket, (int(lag_hi[k]) + 1) * bucket],
            "volume_match": float(vol[k]),
            "matched_volume": float(min(bc.collected[a], bc.paid[b])),
            "imbalance": float(imbalance[k]), "imbalance_all_value": float(imbalance_all[k]),
            "settlement": {"direction": r["direction"], "value": float(r["value"]),
                           "transfers": int(r["n_first"]), "paths": len(r["paths"]),
                           "rate_per_active_bucket": float(r["rate"]),
                           "examples": transfers},
            "coverage": float(r["value"] / abs(imbalance[k])) if imbalance[k] else None,
            "score_terms": r["terms"],
        })
        scores.append(r["score"])
        m_acc.extend(accs)
        m_role.extend(roles)
        m_ptr.append(len(m_acc))
        t_edge.extend(edges.tolist())
        t_step.extend(steps.tolist())
        t_ptr.append(len(t_edge))
    alerts = make_alerts(g, "HAWALA_NETTING", scores, m_ptr, m_acc, m_role, t_ptr, t_edge,
                         t_step, evidence=evidence, params=params)
    return Detection(alerts, stats)


# -- HAWALA_MIRROR --------------------------------------------------------------------------
def detect_hawala_mirror(graph: TemporalGraph, cfg: HawalaMirrorConfig) -> Detection:
    """HAWALA_MIRROR: value moves X -> Y through one set of accounts tied to a broker pair and
    comes back Y -> X through another set within ``window`` seconds, with similar value, so
    that neither broker's balance moves while value has crossed both ways.

    Concretely, a *relay* carries value from broker A to broker B (places differ) through a
    *front* f: A pays f, then f pays B within ``window``, passing the value on (the payment
    to B is within a factor ``min_relay_ratio`` of the one from A; kernel ``relay_tuples``; the fronts
    are the sets of accounts, tied to A by being fed by it and to B by paying it). Steps:

    1. Relays from every account that is not a hub (in- and out-degree <= ``max_degree``),
       at most ``max_tuples``. O(sum of in-degree x out-degree per front, capped).
    2. Per unordered pair {A, B}, each crossing transaction f -> B counted once, sorted by
       time; the window of ``window`` seconds, starting at an episode start (after a quiet
       gap longer than ``window``, so no sub-window of a flow is cherry-picked), with both
       directions present, imbalance
       |F - R| / max(F, R) <= ``max_imbalance`` and the largest matched value min(F, R) of
       the crossing transactions; the same kernel (``mirror_windows``, O(relays + N))
       counts the window's distinct fronts and crossings per direction.
    3. Alert when the window has >= ``min_counterparties`` distinct fronts and
       >= ``min_transactions`` crossing transactions each way (vectorised over pairs; only
       the alerts, at most ``max_results``, are visited one by one, for their evidence).

    Score = 0.5 * (1 - imbalance) + 0.25 * k / (k + min_counterparties)
    + 0.25 * m / (m + 10 * small), k = distinct fronts, m = matched value min(F, R), small =
    the ``small_quantile`` amount (m measured in customer-sized payments). Monotone in each.

    Members: A and B ``broker``, fronts ``intermediary``. Transactions: step 0 the forward
    broker -> front payments, step 1 the forward front -> broker crossings (forward = the
    direction of the window's first crossing), steps 2 and 3 the same for the reverse flow.
    Offsetting flows between customers that never touch the brokers are not covered.
    """
    g = graph
    params = dataclasses.asdict(cfg)
    stats = {"budget_cut": 0, "candidates": 0, "pairs": 0}
    if g.n_edges == 0:
        return _empty(g, "HAWALA_MIRROR", stats)
    place, place_kind, names = node_places(g)
    small = small_threshold(g, cfg.small_quantile)
    ra, rb, rf, ein, eout, cut = K.relay_tuples(
        place, g.in_ptr, g.in_nbr, g.in_ts, g.in_amt, g.in_eid, g.out_ptr, g.out_nbr, g.out_ts,
        g.out_amt, g.out_eid, int(cfg.window), float(cfg.min_relay_ratio), int(cfg.max_degree),
        int(cfg.max_tuples))
    cut = int(cut)
    stats["candidates"] = int(np.unique(rf).shape[0])
    if ra.shape[0] == 0:
        stats["budget_cut"] = cut
        return _empty(g, "HAWALA_MIRROR", stats)
    n = g.n_nodes
    lo = np.minimum(ra, rb).astype(np.int64)
    hi = np.maximum(ra, rb).astype(np.int64)
    pk = lo * n + hi
    direction = (ra > rb).astype(np.int8)       # 0: value moves from lo's side to hi's
    order = np.lexsort((eout, pk))              # edge order is time order
    pk_s, eout_s = pk[order], eout[order]
    first = np.concatenate([[True], (pk_s[1:] != pk_s[:-1]) | (eout_s[1:] != eout_s[:-1])])
    keep = order[first]                          # each crossing once per pair
    pk_k, e_k, d_k, f_k = pk[keep], eout[keep], direction[keep], rf[keep]
    starts = np.flatnonzero(np.concatenate([[True], pk_k[1:] != pk_k[:-1]]))
    grp_ptr = np.append(starts, pk_k.shape[0]).astype(np.int64)
    stats["pairs"] = int(starts.shape[0])
    w_start, w_stop, v0, v1, n_front, n0, n1 = K.mirror_windows(
        grp_ptr, g.ts[e_k], g.amt[e_k], d_k, f_k, n, int(cfg.window), float(cfg.max_imbalance))
    live = np.flatnonzero((w_start >= 0) & (n_front >= cfg.min_counterparties)
                          & (np.minimum(n0, n1) >= cfg.min_transactions))
    ws, we = w_start[live], w_stop[live]
    flip = d_k[ws] == 1                          # forward = the flow that crossed first
    f_val = np.where(flip, v1[live], v0[live])
    r_val = np.where(flip, v0[live], v1[live])
    imbalance = np.abs(f_val - r_val) / np.maximum(f_val, r_val)
    fronts_n = n_front[live]
    score = (0.5 * (1.0 - imbalance)
             + 0.25 * saturate(fronts_n, max(cfg.min_counterparties, 1))
             + 0.25 * saturate(np.minimum(f_val, r_val), max(10.0 * small, 1e-9)))
    key = pk_k[ws]
    order = np.lexsort((key % n, key // n, -score))
    if order.shape[0] > cfg.max_results:
        cut += int(order.shape[0]) - cfg.max_results
        order = order[:cfg.max_results]
    found = []
    for i in order.tolist():
        sl = slice(ws[i], we[i])
        d = 1 - d_k[sl] if flip[i] else d_k[sl]
        found.append((float(score[i]), int(key[i] // n), int(key[i] % n), e_k[sl], d,
                      float(f_val[i]), float(r_val[i]), float(imbalance[i]), int(fronts_n[i])))
    stats["budget_cut"] = cut
    stats["small_threshold"] = small
    stats["place"] = place_kind
    scores, m_ptr, m_acc, m_role, t_ptr, t_edge, t_step, evidence = [], [0], [], [], [0], [], [], []
    # broker -> front payments feeding each crossing, for the alerted pairs only
    fm = np.isin(pk, np.array([a * n + b for _, a, b, *_ in found], np.int64))
    feed_of: dict[tuple[int, int], list[int]] = {}
    for key, o, i in zip(pk[fm].tolist(), eout[fm].tolist(), ein[fm].tolist()):
        feed_of.setdefault((key, o), []).append(i)
    for score, a, b, e, d, f, r, imb, n_front in found:
        fronts = g.src[e]
        accs, roles = _assign_roles([(_BROKER, [a, b]), (_INTER, fronts)])
        edges, steps, flows = [], [], []
        for side in (0, 1):
            cross = e[d == side]
            feed = np.unique(np.array([i for o in cross.tolist() for i in feed_of[(a * n + b, o)]],
                                      np.int64))
            edges += feed.tolist() + cross.tolist()
            steps += [2 * side] * feed.shape[0] + [2 * side + 1] * cross.shape[0]
            far = int(g.dst[cross[0]])
            flows.append({
                "from_broker": _acct(g, int(g.src[feed[0]])), "to_broker": _acct(g, far),
                "fronts": g.account_id_of(np.unique(g.src[cross])).to_list(),
                "feeds": {"txn_ids": g.txn_id[feed], "amounts": g.amt[feed], "ts": g.ts[feed]},
                "crossings": {"txn_ids": g.txn_id[cross], "amounts": g.amt[cross],
                              "ts": g.ts[cross]}})
        edges_u, idx = np.unique(np.array(edges, np.int64), return_index=True)
        evidence.append({
            "place_kind": place_kind,
            "brokers": [{"account_id": _acct(g, x), "place": _place_name(names, place[x])}
                        for x in (a, b)],
            "forward": flows[0], "reverse": flows[1],
            "forward_value": f, "reverse_value": r, "imbalance": imb,
            "window_seconds": int(cfg.window), "fronts": n_front,
        })
        scores.append(score)
        m_acc.extend(accs)
        m_role.extend(roles)
        m_ptr.append(len(m_acc))
        t_edge.extend(edges_u.tolist())
        t_step.extend(np.array(steps, np.int32)[idx].tolist())
        t_ptr.append(len(t_edge))
    if not scores:
        return _empty(g, "HAWALA_MIRROR", stats)
    alerts = make_alerts(g, "HAWALA_MIRROR", scores, m_ptr, m_acc, m_role, t_ptr, t_edge, t_step,
                         evidence=evidence, params=params)
    return Detection(alerts, stats)
