"""Legitimate background behaviour, generated in whole-array operations.

Each behaviour mirrors something a typology detector could mistake for crime:

==================  =======================================================================
card                persons -> merchants, many small payments (legitimate FAN_IN)
p2p / mutual        persons -> their few contacts; friends paying each other back
                    (legitimate 2-cycles)
payroll             a company pays 10..200 employees on its pay day (legitimate FAN_OUT)
standing orders     fixed monthly amounts on a fixed day, often round
remittances         one sender in GB/FR -> one relative abroad, monthly; some through a
                    licensed money-service business that settles with its foreign
                    correspondent daily (legitimate hawala look-alike)
b2b                 invoices between businesses and hub traders, heavy-tailed amounts
deposits            cash-heavy merchants depositing takings, sometimes just under 10,000
==================  =======================================================================
"""
from __future__ import annotations

import numpy as np
import polars as pl

from .rows import Rows
from .world import CH, COUNTRY_INFO, World

__all__ = ["generate_background"]

DAY = 86400
HOUR = 3600


def _wage(w: World, acc: np.ndarray) -> np.ndarray:
    lvl = np.array([COUNTRY_INFO[c][2] for c in w.countries])
    return lvl[w.country[acc]]


def _choose(rng, cand: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    p = weight / weight.sum()
    return rng.choice(cand, size=n, p=p)


def _pick_counterparty(w: World, src: np.ndarray, cand: np.ndarray, weight: np.ndarray,
                       same_country: float) -> np.ndarray:
    """For each sender, a counterparty from ``cand`` (by weight), in the sender's country with
    probability ``same_country`` (anywhere otherwise, or when the country has none)."""
    rng = w.rng
    out = np.empty(src.shape[0], dtype=np.int64)
    local = rng.random(src.shape[0]) < same_country
    sc = w.country[src]
    cc = w.country[cand]
    for code in range(len(w.countries)):
        rows = np.flatnonzero(local & (sc == code))
        m = cc == code
        if not m.any():
            local[rows] = False
            continue
        out[rows] = _choose(rng, cand[m], weight[m], rows.shape[0])
    rows = np.flatnonzero(~local)
    out[rows] = _choose(rng, cand, weight, rows.shape[0])
    return out


def _xb_channel(w: World, src, dst, domestic: str = "transfer") -> np.ndarray:
    """'wire' across borders, ``domestic`` otherwise."""
    return np.where(w.country[src] != w.country[dst], CH["wire"], CH[domestic]).astype(np.int8)


def _months(w: World) -> list[int]:
    """Start (seconds from scenario start) of each calendar month overlapping the horizon."""
    start = np.datetime64(w.start_s, "s").astype("datetime64[M]")
    end = np.datetime64(w.start_s + w.horizon, "s").astype("datetime64[M]")
    months = np.arange(start, end + 1)
    return [int(m.astype("datetime64[s]").astype(np.int64)) - w.start_s for m in months]


def _monthly(w: World, day_of_month: np.ndarray, seconds_in_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For items with a fixed day of month (1..28) and time: (item index, time) per month in range."""
    idx, ts = [], []
    for m0 in _months(w):
        t = m0 + (day_of_month - 1) * DAY + seconds_in_day
        ok = (t >= 0) & (t < w.horizon)
        idx.append(np.flatnonzero(ok))
        ts.append(t[ok])
    return np.concatenate(idx), np.concatenate(ts).astype(np.int64)


def payroll(w: World, rows: Rows, bg: dict) -> None:
    rng = w.rng
    lo, hi = bg["payroll_employees"]
    persons = w.accounts_where(["person"])
    employed = persons[rng.random(persons.shape[0]) < bg["employed_share"]]
    employers_all = w.accounts_where(["business"])
    for code in range(len(w.countries)):
        staff = employed[w.country[employed] == code]
        bosses = employers_all[w.country[employers_all] == code]
        if staff.size == 0 or bosses.size == 0:
            continue
        staff = rng.permutation(staff)
        bosses = rng.permutation(bosses)
        # company sizes: truncated power law in [lo, hi] (many small firms, a few large ones)
        u = rng.random(bosses.shape[0])
        a = 1.2
        size = np.floor((lo ** -a - u * (lo ** -a - hi ** -a)) ** (-1 / a)).astype(np.int64)
        cum = np.cumsum(size)
        k = int(np.searchsorted(cum, staff.shape[0], side="right"))
        size = size[:k]
        if k == 0:
            continue
        boss_of = np.repeat(bosses[:k], size)
        staff = staff[: boss_of.shape[0]]
        payday = rng.choice([25, 26, 27, 28, 28, 28, 1], size=k)
        hour = rng.integers(6, 10, size=k) * HOUR + rng.integers(0, 3600, size=k)
        salary = rng.lognormal(np.log(2600.0), 0.35, size=staff.shape[0]) * _wage(w, staff)
        fixed = rng.random(staff.shape[0]) < 0.7
        emp_rank = np.arange(staff.shape[0]) - np.repeat(cum[:k] - size, size)
        boss_idx = np.repeat(np.arange(k), size)
        item, t = _monthly(w, payday[boss_idx], hour[boss_idx] + emp_rank * rng.integers(1, 20))
        amt = salary[item] * np.where(fixed[item], 1.0, rng.uniform(0.94, 1.08, item.shape[0]))
        rows.add(boss_of[item], staff[item], t, amt, "transfer")


def standing_orders(w: World, rows: Rows, bg: dict) -> None:
    rng = w.rng
    persons = w.accounts_where(["person"])
    payers = persons[rng.random(persons.shape[0]) < bg["standing_order_share"]]
    n_orders = 1 + (rng.random(payers.shape[0]) < 0.4)
    payer = np.repeat(payers, n_orders)
    payees = w.accounts_where(["business", "person"])
    payee = _pick_counterparty(w, payer, payees, w.popularity[payees] ** 1.5, 0.97)
    keep = payee != payer
    payer, payee = payer[keep], payee[keep]
    rent = rng.random(payer.shape[0]) < 0.5
    amt = np.where(rent, rng.lognormal(np.log(750.0), 0.4, payer.shape[0]),
                   rng.lognormal(np.log(35.0), 0.8, payer.shape[0])) * _wage(w, payer)
    dom = rng.integers(1, 29, size=payer.shape[0])
    sec = rng.integers(0, 5 * HOUR, size=payer.shape[0])     # banks run them in a night batch
    item, t = _monthly(w, dom, sec)
    rows.add(payer[item], payee[item], t, amt[item], _xb_channel(w, payer[item], payee[item],
             "standing_order"), round_local=rent[item])


def remittances(w: World, rows: Rows, bg: dict) -> None:
    rng = w.rng
    senders_c = [c for c in bg["remittance_from"] if c in w.countries]
    receivers_c = [c for c in bg["remittance_to"] if c in w.countries]
    if not senders_c or not receivers_c:
        return
    persons = w.accounts_where(["person"], senders_c)
    senders = persons[rng.random(persons.shape[0]) < bg["remitter_share"]]
    relatives = w.accounts_where(["person"], receivers_c)
    rel = _choose(rng, relatives, np.ones(relatives.shape[0]), senders.shape[0])
    amount = rng.lognormal(np.log(280.0), 0.5, senders.shape[0])
    rnd = rng.random(senders.shape[0]) < 0.5
    dom = rng.integers(1, 29, size=senders.shape[0])
    sec = w.personal.sample(rng, senders.shape[0], 0, DAY - 1)
    item, t = _monthly(w, dom, sec)
    t = t + rng.integers(-2, 3, item.shape[0]) * DAY
    ok = (t >= 0) & (t < w.horizon)
    item, t = item[ok], t[ok]
    s, r, a = senders[item], rel[item], amount[item] * rng.uniform(0.9, 1.1, item.shape[0])
    via = rng.random(senders.shape[0])[item] < bg["remittance_via_msb"]
    rows.add(s[~via], r[~via], t[~via], a[~via], "wire", round_local=rnd[item][~via])
    # through a licensed money-service business: customer -> MSB at home; the MSB's
    # correspondent abroad pays the relative within a day; the two MSBs settle every business
    # day by wire (many settlements, each matching the day's book: not hawala).
    msbs = w.accounts_where(["msb"])
    if msbs.size == 0 or not via.any():
        return
    s, r, a, t = s[via], r[via], a[via], t[via]
    home = _pick_counterparty(w, s, msbs, np.ones(msbs.shape[0]), 1.0)
    corr_of = {}
    corr = np.empty(s.shape[0], dtype=np.int64)
    rcountry = w.country[r]
    for m in np.unique(home):
        for rc in np.unique(rcountry[home == m]):
            pool = msbs[w.country[msbs] == rc]
            if pool.size == 0:
                pool = msbs
            corr_of[(int(m), int(rc))] = int(pool[rng.integers(0, pool.shape[0])])
    keys = home * 1000 + rcountry
    for (m, rc), c in sorted(corr_of.items()):
        corr[keys == m * 1000 + rc] = c
    rows.add(s, home, t, a, "transfer", round_local=rng.random(s.shape[0]) < 0.5)
    lag = rng.integers(1 * HOUR, 30 * HOUR, s.shape[0])
    rows.add(corr, r, np.minimum(t + lag, w.horizon - 1), a * 0.97, "wire")
    book = (pl.DataFrame({"m": home, "c": corr, "d": t // DAY, "a": a})
            .group_by("m", "c", "d").agg(pl.col("a").sum()).sort("m", "c", "d"))
    d = book["d"].to_numpy()
    tt = (d + 1) * DAY + w.business.sample(rng, book.height, 0, DAY - 1)
    ok = tt < w.horizon
    rows.add(book["m"].to_numpy()[ok], book["c"].to_numpy()[ok], tt[ok],
             book["a"].to_numpy()[ok] * 0.985, "wire")


def deposits(w: World, rows: Rows, bg: dict) -> None:
    """Cash-heavy merchants paying their takings into their business account 1-2 times a week."""
    rng = w.rng
    merchants = w.accounts_where(["merchant"])
    dep = merchants[rng.random(merchants.shape[0]) < bg["depositor_share"]]
    if dep.size == 0:
        return
    biz = w.accounts_where(["business"])
    own = _pick_counterparty(w, dep, biz, np.ones(biz.shape[0]), 1.0)
    weeks = w.days // 7
    per_week = rng.choice([1, 1, 2], size=dep.shape[0])
    n = per_week * weeks
    who = np.repeat(np.arange(dep.shape[0]), n)
    t = w.business.sample(rng, who.shape[0])
    level = rng.lognormal(np.log(6200.0), 0.25, dep.shape[0])
    amt = level[who] * rng.lognormal(0.0, 0.18, who.shape[0])
    rows.add(dep[who], own[who], t, amt, "cash")


def free_form(w: World, rows: Rows, bg: dict, n_total: int) -> None:
    """Card, p2p (with mutual pay-backs) and b2b payments: the bulk of the volume."""
    rng = w.rng
    shares = np.array([bg["card_share"], bg["p2p_share"], bg["b2b_share"]], dtype=np.float64)
    n_card, n_p2p, n_b2b = np.floor(n_total * shares / shares.sum()).astype(np.int64)
    persons = w.accounts_where(["person"])
    act = w.activity[persons]
    # card
    payer = _choose(rng, persons, act, n_card)
    merchants = w.accounts_where(["merchant"])
    if merchants.size:
        m = _pick_counterparty(w, payer, merchants, w.popularity[merchants], 0.96)
        amt = rng.lognormal(np.log(24.0), 0.9, n_card) * np.sqrt(_wage(w, payer))
        rows.add(payer, m, w.personal.sample(rng, n_card), amt, "card")
    # p2p among contacts: each person has a few contacts, mostly compatriots
    n_mutual = int(n_p2p * bg["mutual_share"])
    n_one = n_p2p - 2 * n_mutual
    k = np.minimum(1 + rng.geometric(0.3, persons.shape[0]), 12)
    owner = np.repeat(persons, k)
    contact = _pick_counterparty(w, owner, persons, w.popularity[persons], 0.9)
    ptr = np.concatenate([[0], np.cumsum(k)])
    src_pos = _choose(rng, np.arange(persons.shape[0]), act, n_one + n_mutual)
    j = ptr[src_pos] + np.floor(rng.random(src_pos.shape[0]) * k[src_pos]).astype(np.int64)
    s, d = persons[src_pos], contact[j]
    keep = s != d
    s, d = s[keep], d[keep]
    n_p = s.shape[0]
    amt = rng.lognormal(np.log(45.0), 1.0, n_p) * np.sqrt(_wage(w, s))
    rnd = rng.random(n_p) < 0.5
    t = w.personal.sample(rng, n_p)
    rows.add(s, d, t, amt, _xb_channel(w, s, d), round_local=rnd)
    # mutual: the last n_mutual p2p payments are paid back (in part) within hours to days
    back = np.arange(max(0, n_p - n_mutual), n_p)
    tb = t[back] + rng.integers(HOUR, 5 * DAY, back.shape[0])
    ok = tb < w.horizon
    back = back[ok]
    rows.add(d[back], s[back], tb[ok], amt[back] * rng.uniform(0.3, 1.0, back.shape[0]),
             _xb_channel(w, d[back], s[back]), round_local=rng.random(back.shape[0]) < 0.5)
    # b2b
    firms = w.accounts_where(["business", "merchant", "trading", "msb"])
    if firms.size >= 2 and n_b2b:
        payer = _choose(rng, firms, w.activity[firms], n_b2b)
        payee_pool = w.accounts_where(["business", "trading"])
        payee = _pick_counterparty(w, payer, payee_pool, w.popularity[payee_pool], 0.75)
        keep = payee != payer
        payer, payee = payer[keep], payee[keep]
        amt = rng.lognormal(np.log(1800.0), 1.2, payer.shape[0])
        rows.add(payer, payee, w.business.sample(rng, payer.shape[0]), amt,
                 _xb_channel(w, payer, payee), round_local=rng.random(payer.shape[0]) < 0.3)


def generate_background(w: World, rows: Rows, bg: dict, n_target: int) -> None:
    """All legitimate behaviour; the free-form share tops the structured ones up to n_target."""
    before = len(rows)
    payroll(w, rows, bg)
    standing_orders(w, rows, bg)
    remittances(w, rows, bg)
    deposits(w, rows, bg)
    structured = len(rows) - before
    free_form(w, rows, bg, max(0, n_target - structured))
