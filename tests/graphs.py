"""Named toy graphs, each a small story with a known answer.

Times are hours from T0; amounts in base currency.
"""
from __future__ import annotations

import numpy as np

from finflow.graph import TemporalGraph

T0 = 1_700_000_000
H = 3600


def graph(edges, n=None) -> TemporalGraph:
    """edges: list of (src, dst, hour, amount)."""
    if not edges:
        return TemporalGraph.from_arrays([], [], [], [], None, n or 1)
    s, d, h, a = zip(*edges)
    return TemporalGraph.from_arrays(np.array(s), np.array(d), T0 + np.array(h) * H,
                                     np.array(a, dtype=float), None, n)


def triangle_round_trip() -> TemporalGraph:
    """0 -> 1 -> 2 -> 0 within 3 hours keeping 95% each hop: one CYCLE of length 3."""
    return graph([(0, 1, 0, 1000.0), (1, 2, 1, 950.0), (2, 0, 2, 900.0)])


def triangle_out_of_order() -> TemporalGraph:
    """Triangle 0 -> 1 -> 2 -> 0 whose hops go backwards in time (2h, 1h, 0h): no rotation is
    time-respecting, so there is no temporal cycle."""
    return graph([(2, 0, 0, 900.0), (1, 2, 1, 950.0), (0, 1, 2, 1000.0)])


def fan_out_star(k: int = 6) -> TemporalGraph:
    """Account 0 pays k distinct accounts within k hours: one FAN_OUT of degree k."""
    return graph([(0, i + 1, i, 100.0) for i in range(k)])


def diamond(k: int = 3) -> TemporalGraph:
    """Source 0 pays k intermediaries 1..k, each pays target k+1 an hour later: SCATTER_GATHER."""
    e = [(0, i, i, 500.0) for i in range(1, k + 1)]
    e += [(i, k + 1, k + i, 480.0) for i in range(1, k + 1)]
    return graph(e)


def pass_through_twice(gap_hours: int = 72, dwell_hours: int = 3) -> TemporalGraph:
    """0 pays mule 1 1000 twice, gap_hours apart; each time 1 sends 900 to 2 dwell_hours later.

    With dwell_hours <= 48: one PASS_THROUGH account (1), ratio 0.9, two episodes.
    """
    e = []
    for k in range(2):
        e += [(0, 1, k * gap_hours, 1000.0), (1, 2, k * gap_hours + dwell_hours, 900.0)]
    return graph(sorted(e, key=lambda x: x[2]))


def payroll_account(months: int = 3) -> TemporalGraph:
    """Employer 0 pays salary 3000 to account 1 every 30 days; 1 spends 100 a day at
    merchants 2..11 in turn: money leaves slowly, no PASS_THROUGH."""
    e = []
    for m in range(months):
        e.append((0, 1, m * 720, 3000.0))
        e += [(1, 2 + d % 10, m * 720 + 24 * d + 10, 100.0) for d in range(30)]
    return graph(sorted(e, key=lambda x: x[2]), n=12)


def mule_ring_four(rounds: int = 2) -> TemporalGraph:
    """Source 0 pays mules 1..4 1000 each; each mule forwards 900 to sink 5 two hours later;
    repeated every 72 h: one MULE_RING (source 0, mules 1-4, sink 5)."""
    e = []
    for r in range(rounds):
        for m in range(1, 5):
            e += [(0, m, r * 72 + m, 1000.0), (m, 5, r * 72 + m + 2, 900.0)]
    return graph(sorted(e, key=lambda x: x[2]))


def mutual_payments(weeks: int = 4) -> TemporalGraph:
    """Landlord 0 and tenant 1: 1 pays rent 1200 to 0 every Monday, 0 reimburses repairs of
    150 to 1 on Thursday. 2-cycles exist (value rule off) but look like ordinary mutual
    payments: amounts far apart, days apart - low CYCLE score."""
    e = []
    for w in range(weeks):
        e += [(1, 0, w * 168, 1200.0), (0, 1, w * 168 + 72, 150.0)]
    return graph(e)


def repeated_round_trip(times: int = 3, gap_hours: int = 24) -> TemporalGraph:
    """0 -> 1 -> 2 -> 3 -> 0 repeated ``times`` times, gap_hours apart, each hop keeping 97%:
    ``times`` temporal 4-cycles over one account rotation (one CYCLE alert per week)."""
    e = []
    for r in range(times):
        a = 10_000.0
        for h, (s, d) in enumerate([(0, 1), (1, 2), (2, 3), (3, 0)]):
            e.append((s, d, r * gap_hours + h, a))
            a *= 0.97
    return graph(e)


# -- hawala (countries: 0 AE, 1 GB, 2 IQ, 3 FR) ------------------------------------------------
HAWALA_COUNTRIES = ("AE", "GB", "IQ", "FR")
DAY_S = 86400


def _hawala_graph(edges, country) -> TemporalGraph:
    s, d, t, a = (np.array(x) for x in zip(*edges))
    return TemporalGraph.from_arrays(s, d, T0 + t, a.astype(float), None, len(country),
                                     node_country=np.array(country, np.int32),
                                     countries=HAWALA_COUNTRIES)


def hawala_broker_pair(settle: bool = True, days: int = 60, staff: int = 0) -> TemporalGraph:
    """HAWALA_NETTING story. Broker A=0 (GB) collects from 20 customers 3..22 (GB), broker
    B=1 (IQ) pays 20 recipients 23..42 (IQ) the same value less 3% some hours later; with
    ``settle`` A pays trading company T=2 (AE) three large sums (the running imbalance) and T
    pays B 1% less two days later. Daily counts vary (seeded), so the series track. With
    ``staff`` > 0, B is also a shop paying that many employees 43.. (IQ) small wages
    (450-520) on day 24 of each month: two bursts in B's outflow series that A's collections
    do not have."""
    rng = np.random.default_rng(5)
    country = [1, 2, 0] + [1] * 20 + [2] * 20 + [2] * staff
    edges, owed, done = [], 0.0, 0
    for day in range(days):
        for _ in range(int(rng.poisson(2.5))):
            t = day * DAY_S + int(rng.integers(8 * H, 18 * H))
            v = float(rng.integers(200, 600))
            edges.append((3 + int(rng.integers(20)), 0, t, v))
            edges.append((1, 23 + int(rng.integers(20)), t + int(rng.integers(1, 12)) * H,
                          round(v * 0.97, 2)))
            owed += v
        if settle and day in (days // 3, 2 * days // 3, days - 1):
            edges.append((0, 2, day * DAY_S + 20 * H, owed - done))
            edges.append((2, 1, day * DAY_S + 68 * H, round((owed - done) * 0.99, 2)))
            done = owed
        if staff and day % 30 == 24:
            edges += [(1, 43 + e, day * DAY_S + 9 * H, 450.0 + 5 * e) for e in range(staff)]
    return _hawala_graph(edges, country)


def msb_daily_settlement(days: int = 60) -> TemporalGraph:
    """A licensed money-service pair: the same tracking flows as ``hawala_broker_pair`` but
    the home MSB 0 (GB) settles with its correspondent 1 (IQ) every business day by wire,
    each transfer matching the day's book. Not hawala: settlement is not accumulated."""
    rng = np.random.default_rng(6)
    country = [1, 2, 0] + [1] * 20 + [2] * 20
    edges = []
    for day in range(days):
        book = 0.0
        for _ in range(int(rng.poisson(4))):
            t = day * DAY_S + int(rng.integers(8 * H, 18 * H))
            v = float(rng.integers(200, 600))
            edges.append((3 + int(rng.integers(20)), 0, t, v))
            edges.append((1, 23 + int(rng.integers(20)), t + int(rng.integers(1, 12)) * H,
                          round(v * 0.97, 2)))
            book += v
        if book and day % 7 < 5:
            edges.append((0, 1, (day + 1) * DAY_S + 10 * H, book * 0.985))
    return _hawala_graph(edges, country)


def payroll_and_merchant(months: int = 3) -> TemporalGraph:
    """Legitimate look-alikes: merchant 0 (GB) takes card payments from 40 shoppers 2..41 every
    day; company 1 (FR) pays 30 employees 42..71 on the 25th; the merchant pays the company a
    large invoice every month (a large-transfer corridor). Must not be HAWALA_NETTING."""
    rng = np.random.default_rng(7)
    country = [1, 3] + [1] * 40 + [3] * 30
    edges = []
    for day in range(30 * months):
        for _ in range(int(rng.poisson(6))):
            edges.append((2 + int(rng.integers(40)), 0, day * DAY_S + int(rng.integers(9 * H, 20 * H)),
                          float(rng.integers(5, 80))))
        if day % 30 == 20:
            edges.append((0, 1, day * DAY_S + 10 * H, 40_000.0))
        if day % 30 == 24:
            for e in range(30):
                edges.append((1, 42 + e, day * DAY_S + 9 * H, 2_500.0 + 10 * e))
    return _hawala_graph(edges, country)


def hawala_mirror_pair(balanced: bool = True) -> TemporalGraph:
    """HAWALA_MIRROR story. Broker X=0 (GB) pays fronts 2..7 (GB) 5,000 each, who pay broker
    Y=1 (IQ) 4,950 each a few hours later (value GB -> IQ); two days later Y pays fronts 8..13
    (IQ) 4,900 each, who pay X 4,850 each (or 3,900 when not ``balanced``: 21% short): value crossed
    both ways, neither broker's balance moved. Customers 14..25 pay the brokers small sums."""
    country = [1, 2] + [1] * 6 + [2] * 6 + [1] * 6 + [2] * 6
    edges = []
    for i in range(6):
        for m in range(3):
            edges.append((14 + i, 0, m * 30 * DAY_S + (i + 1) * DAY_S, 300.0 + i))
            edges.append((20 + i, 1, m * 30 * DAY_S + (i + 2) * DAY_S, 290.0 + i))
    base = 35 * DAY_S
    back = 4_850.0 if balanced else 3_900.0
    for i in range(6):
        edges.append((0, 2 + i, base + i * H, 5_000.0))
        edges.append((2 + i, 1, base + (i + 3) * H, 4_950.0))
        edges.append((1, 8 + i, base + 2 * DAY_S + i * H, 4_900.0))
        edges.append((8 + i, 0, base + 2 * DAY_S + (i + 5) * H, back))
    return _hawala_graph(edges, country)


def bipartite_3x3() -> TemporalGraph:
    """Accounts 0,1,2 each pay 3,4,5 within one day (9 payments of ~5,000): one complete
    3x3 BIPARTITE block, density 1."""
    return graph([(a, b, 2 * a + b - 3, 5_000.0 + 10 * a + b) for a in range(3)
                  for b in range(3, 6)])


def bipartite_ring_4x4() -> TemporalGraph:
    """Payers 0..3, payees 4..7, each payer pays two payees in a ring (a -> 4+a, a -> 4+(a+1)%4)
    within a day: 8 of 16 pairs, density exactly 0.5, connected, every member has two pairs."""
    return graph([(a, 4 + (a + k) % 4, 2 * a + k, 1_000.0) for a in range(4) for k in range(2)])


def matching_2x2() -> TemporalGraph:
    """0 -> 2 and 1 -> 3 on one day: 2 of 4 pairs (density 0.5) but two unrelated payments,
    not connected: no BIPARTITE block."""
    return graph([(0, 2, 0, 1_000.0), (1, 3, 1, 1_000.0)])


def stack_three_layers() -> TemporalGraph:
    """Layer 1: 0,1,2 pay 3,4,5 (all 9 pairs) on day 0; layer 2: 3,4,5 pay 6,7 (all 6 pairs) on
    day 1; layer 3: 6,7 pay 8,9,10 (all 6 pairs) on day 2. One STACK of three layers."""
    e = [(a, b, a, 9_000.0) for a in range(3) for b in range(3, 6)]
    e += [(a, b, 24 + a, 13_000.0) for a in range(3, 6) for b in range(6, 8)]
    e += [(a, b, 48 + a, 6_500.0) for a in range(6, 8) for b in range(8, 11)]
    return graph(e)


def payroll_fan(employees: int = 12, months: int = 3) -> TemporalGraph:
    """Employer 0 pays employees 1..n on the 25th of each month; the employees each pay the
    same two shops n+1, n+2 every week. A fan and repeat customers, no BIPARTITE block."""
    e = []
    for m in range(months):
        e += [(0, 1 + i, (m * 30 + 25) * 24, 3_000.0) for i in range(employees)]
    for w in range(months * 4):
        for i in range(employees):
            e += [(1 + i, employees + 1 + s, (w * 7 + i % 7) * 24 + 10 + s, 40.0 + i)
                  for s in range(2)]
    return graph(e)


def structuring_burst(n: int = 5) -> TemporalGraph:
    """Account 0 pays account 1 n times just under 10,000 within n hours: one STRUCTURING."""
    return graph([(0, 1, h, 9_500.0 + h) for h in range(n)] + [(2, 3, 0, 50.0)])


def gather_then_scatter(k: int = 4) -> TemporalGraph:
    """k payers pay hub 0 hourly, then the hub pays k new payees: one GATHER_SCATTER."""
    return graph([(i, 0, i, 1000.0) for i in range(1, k + 1)]
                 + [(0, 10 + i, k + 1 + i, 950.0) for i in range(k)])


def hawala_broker_pair_with_payroll(days: int = 60, staff: int = 15) -> TemporalGraph:
    """``hawala_broker_pair`` whose payer B=1 also pays ``staff`` employees monthly wages. The
    broker pair still tracks bucket after bucket (HAWALA_NETTING with rank correlation);
    Pearson's value drops to ~0.4."""
    return hawala_broker_pair(days=days, staff=staff)


def bipartite_tree_3x2(hours: int = 21) -> TemporalGraph:
    """Sources 0, 1, 2 pay sinks 3, 4 within ``hours``: 0 -> 3, 1 -> 4, 2 -> 3, 2 -> 4 (4 of 6
    pairs, density 2/3, a tree: only 2 has two pairs). The accounts do nothing else, so the
    block is all of their money: a sparse BIPARTITE block when fast (<= 24 h)."""
    step = hours // 3
    return graph([(0, 3, 0, 625.0), (1, 4, step, 2_975.0), (2, 3, 2 * step, 3_200.0),
                  (2, 4, 3 * step, 1_650.0)])


def stack_with_early_outsider() -> TemporalGraph:
    """Layer 1: 0, 1, 2 pay 3, 4, 5 (all 9 pairs) in hours 10-18; layer 2: 3, 4, 5 pay 6, 7, 8
    (all 9 pairs) in hours 40-48. Outsider 9 pays 6 and 7 at hours 2 and 3, before layer 1
    starts, and so joins layer 2's block as a fourth source. The layers' order is judged on
    the shared accounts 3, 4, 5 (they receive before they pay): one STACK of two layers."""
    e = [(a, b, 10 + 3 * a + (b - 3), 5_000.0) for a in range(3) for b in range(3, 6)]
    e += [(a, b, 40 + 3 * (a - 3) + (b - 6), 4_800.0) for a in range(3, 6) for b in range(6, 9)]
    e += [(9, 6, 2, 900.0), (9, 7, 3, 950.0)]
    return graph(sorted(e, key=lambda x: x[2]))
