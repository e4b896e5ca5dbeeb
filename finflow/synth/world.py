"""The synthetic world: countries, banks, currencies, accounts and the activity clock.

Everything here is drawn from one ``numpy.random.Generator`` so a scenario file fixes it.
Account indices used inside the generator (``0..N-1``, "population index") are internal:
the written dataset only shows opaque, shuffled string ids.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

__all__ = ["COUNTRY_INFO", "CURRENCIES", "RATES", "KINDS", "CHANNELS", "Clock", "World", "build_world"]

#: country -> (currency, units of that currency per EUR, wage level relative to GB, banks)
COUNTRY_INFO: dict[str, tuple[str, float, float, int]] = {
    "GB": ("GBP", 0.85, 1.00, 4),
    "FR": ("EUR", 1.00, 0.90, 4),
    "AL": ("ALL", 100.0, 0.18, 2),
    "VN": ("VND", 27_000.0, 0.12, 3),
    "IQ": ("IQD", 1_420.0, 0.20, 2),
    "TN": ("TND", 3.35, 0.16, 2),
    "AE": ("AED", 3.98, 1.10, 3),
    "HK": ("HKD", 8.45, 1.00, 3),
    "SG": ("SGD", 1.46, 1.05, 2),
    "US": ("USD", 1.08, 1.20, 2),
}
#: settlement-hub countries, where trading companies also bill in USD
HUBS = ("AE", "HK", "SG")
USD_PER_EUR = 1.08
#: every currency, and units of it per EUR (the base currency)
CURRENCIES = tuple(sorted({v[0] for v in COUNTRY_INFO.values()}))
RATES = np.array([next(v[1] for v in COUNTRY_INFO.values() if v[0] == c) for c in CURRENCIES])

#: account kinds (criminal accounts are drawn from the same kinds as everyone else)
KINDS = ("person", "business", "merchant", "msb", "trading")
CHANNELS = ("card", "transfer", "wire", "cash", "standing_order")
CH = {c: i for i, c in enumerate(CHANNELS)}
KIND = {k: i for i, k in enumerate(KINDS)}

# hourly activity shapes (relative intensity by hour of day, UTC) and day-of-week factors
_PERSONAL_HOURS = np.array([0.04, 0.02, 0.015, 0.015, 0.02, 0.05, 0.15, 0.35, 0.55, 0.65,
                            0.7, 0.8, 0.95, 0.9, 0.75, 0.7, 0.75, 0.9, 1.0, 0.95, 0.8, 0.6,
                            0.35, 0.12])
_BUSINESS_HOURS = np.array([0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.08, 0.3, 0.8, 1.0, 1.0,
                            0.95, 0.7, 0.85, 0.95, 0.9, 0.75, 0.45, 0.2, 0.08, 0.04, 0.03,
                            0.02, 0.01])
_PERSONAL_WEEK = np.array([0.9, 0.9, 0.95, 1.0, 1.15, 1.3, 0.8])   # Mon..Sun
_BUSINESS_WEEK = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.05])


class Clock:
    """An inhomogeneous-in-time sampler with a daily and weekly rhythm.

    Times are int64 seconds from the scenario start (a UTC midnight). The intensity is constant
    inside each hour; ``F`` maps time to cumulative intensity and ``inverse`` maps back, so
    sampling uniformly in intensity and inverting gives rhythmic times, and sampling sorted
    values inside ``[F(a), F(b)]`` gives ordered times inside ``[a, b]`` (the map is monotone).
    O(days * 24) memory, O(n log(days * 24)) per sample.
    """

    def __init__(self, days: int, start_weekday: int, hours: np.ndarray, week: np.ndarray):
        h = np.arange(days * 24)
        self.horizon = days * 86400
        self.w = hours[h % 24] * week[(start_weekday + h // 24) % 7]
        self.cum = np.concatenate([[0.0], np.cumsum(self.w)])

    def F(self, t: np.ndarray | float) -> np.ndarray:
        x = np.asarray(t, dtype=np.float64) / 3600.0
        i = np.clip(np.floor(x).astype(np.int64), 0, self.w.shape[0] - 1)
        return self.cum[i] + (x - i) * self.w[i]

    def inverse(self, u: np.ndarray) -> np.ndarray:
        i = np.clip(np.searchsorted(self.cum, u, side="right") - 1, 0, self.w.shape[0] - 1)
        return (i + (u - self.cum[i]) / self.w[i]) * 3600.0

    def sample(self, rng: np.random.Generator, n: int, a=0, b=None, *, ordered=False) -> np.ndarray:
        """n times in [a, b] (seconds; scalars or arrays of length n), rhythm-weighted."""
        b = self.horizon - 1 if b is None else b
        fa, fb = self.F(a), self.F(b)
        u = rng.uniform(0.0, 1.0, n)
        if ordered:
            u = np.sort(u)
        t = np.floor(self.inverse(fa + u * (fb - fa))).astype(np.int64)
        return np.clip(t, np.asarray(a, np.int64), np.asarray(b, np.int64))


@dataclass
class World:
    """The population every behaviour and typology draws from (arrays indexed by population index)."""
    rng: np.random.Generator
    start_s: int                 # scenario start, Unix seconds (UTC midnight)
    days: int
    countries: tuple[str, ...]
    country: np.ndarray          # int16 codes into countries
    bank: np.ndarray             # int16 codes into banks
    banks: tuple[str, ...]
    kind: np.ndarray             # int8 codes into KINDS
    activity: np.ndarray         # float64 heavy-tailed sending propensity
    popularity: np.ndarray       # float64 heavy-tailed receiving propensity
    personal: Clock
    business: Clock
    used_core: np.ndarray = field(default=None)   # bool: core account of a planted instance
    used_any: np.ndarray = field(default=None)    # bool: any role in a planted instance
    _pools: dict = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return int(self.country.shape[0])

    @property
    def horizon(self) -> int:
        return self.days * 86400

    def code(self, cc: str) -> int:
        return self.countries.index(cc)

    def accounts_where(self, kinds=None, countries=None) -> np.ndarray:
        """Population indices of the given kinds / country codes (strings), ascending."""
        m = np.ones(self.n, dtype=bool)
        if kinds is not None:
            m &= np.isin(self.kind, [KIND[k] for k in kinds])
        if countries is not None:
            m &= np.isin(self.country, [self.code(c) for c in countries if c in self.countries])
        return np.flatnonzero(m)

    def _pool(self, kinds, countries) -> tuple[np.ndarray, np.ndarray]:
        """Candidates of the given kinds/countries and their cumulative draw weights (cached)."""
        key = (tuple(kinds) if kinds is not None else None,
               tuple(countries) if countries is not None else None)
        if key not in self._pools:
            cand = self.accounts_where(kinds, countries)
            w = 1.0 / np.sqrt(self.activity[cand])
            self._pools[key] = (cand, np.cumsum(w))
        return self._pools[key]

    def draw(self, n: int, kinds=None, countries=None, *, core: bool = True) -> np.ndarray:
        """Draw n distinct accounts for a planted instance and mark them used.

        Core accounts come from accounts no instance has used; non-core accounts (customers,
        victims, funders) only avoid other instances' core accounts. Criminals prefer quiet
        accounts (weight 1/sqrt(activity)), but any account of the kind can be drawn.
        Rejection sampling on cached cumulative weights: O(n log N) while the pool is mostly
        free, one O(N) pass when it is crowded.
        """
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        cand, cum = self._pool(kinds, countries)
        taken = self.used_any if core else self.used_core
        pick = np.zeros(0, dtype=np.int64)
        for _ in range(8):
            u = self.rng.uniform(0.0, cum[-1] if cum.size else 0.0, 2 * n + 8)
            got = cand[np.minimum(np.searchsorted(cum, u, side="right"), cand.size - 1)] \
                if cand.size else pick
            got = got[~taken[got]]
            pick = np.concatenate([pick, got])
            _, first = np.unique(pick, return_index=True)
            pick = pick[np.sort(first)]
            if pick.size >= n:
                pick = pick[:n]
                break
        else:
            free = cand[~taken[cand]]
            if free.shape[0] < n:
                raise ValueError(f"scenario too small: need {n} unused {kinds or 'any'} accounts "
                                 f"in {countries or 'any country'}, have {free.shape[0]}; "
                                 "raise accounts")
            w = 1.0 / np.sqrt(self.activity[free])
            pick = self.rng.choice(free, size=n, replace=False, p=w / w.sum())
        self.used_any[pick] = True
        if core:
            self.used_core[pick] = True
        return pick

    def currency_of(self, src: np.ndarray) -> np.ndarray:
        """Currency code (index into CURRENCIES) per transaction: the sender's; traders in the
        settlement hubs mostly bill in USD."""
        by_country = np.array([CURRENCIES.index(COUNTRY_INFO[c][0]) for c in self.countries],
                              dtype=np.int8)
        cur = by_country[self.country[src]]
        hub = np.isin(self.country[src], [self.code(c) for c in HUBS if c in self.countries])
        usd = hub & (self.kind[src] == KIND["trading"]) & (self.rng.random(src.shape[0]) < 0.7)
        cur[usd] = CURRENCIES.index("USD")
        return cur


def _pareto_weights(rng: np.random.Generator, n: int, alpha: float) -> np.ndarray:
    return (1.0 + rng.pareto(alpha, n))


def build_world(rng: np.random.Generator, sc: dict) -> World:
    """Population from the scenario: country shares, kind shares, banks, heavy-tailed weights."""
    n = int(sc["accounts"])
    shares = sc["countries"]
    countries = tuple(shares)
    for c in countries:
        if c not in COUNTRY_INFO:
            raise ValueError(f"unknown country {c!r}; known: {', '.join(COUNTRY_INFO)}")
    p = np.array([shares[c] for c in countries], dtype=np.float64)
    country = rng.choice(len(countries), size=n, p=p / p.sum()).astype(np.int16)
    kshare = sc["kinds"]
    kp = np.array([kshare.get(k, 0.0) for k in KINDS], dtype=np.float64)
    kind = rng.choice(len(KINDS), size=n, p=kp / kp.sum()).astype(np.int8)
    # trading companies live mostly in the settlement hubs; money-service businesses everywhere
    hub_codes = [countries.index(c) for c in HUBS if c in countries]
    trading = np.flatnonzero(kind == KIND["trading"])
    if hub_codes and trading.size:
        move = rng.random(trading.size) < 0.7
        country[trading[move]] = rng.choice(hub_codes, size=int(move.sum())).astype(np.int16)
    banks, bank = [], np.zeros(n, dtype=np.int16)
    for ci, c in enumerate(countries):
        nb = COUNTRY_INFO[c][3]
        first = len(banks)
        banks.extend(f"{c}B{j + 1}" for j in range(nb))
        idx = np.flatnonzero(country == ci)
        bp = 1.0 / np.arange(1, nb + 1)          # a few big banks, a tail of small ones
        bank[idx] = first + rng.choice(nb, size=idx.size, p=bp / bp.sum())
    activity = _pareto_weights(rng, n, 1.6)
    popularity = _pareto_weights(rng, n, 1.3)
    biz = np.isin(kind, [KIND["business"], KIND["merchant"], KIND["msb"], KIND["trading"]])
    activity[biz] *= 4.0
    popularity[biz] *= 6.0
    start = np.datetime64(sc["start"], "D")
    start_s = int(start.astype("datetime64[s]").astype(np.int64))
    weekday = int((start.astype(np.int64) + 3) % 7)      # 1970-01-01 was a Thursday (3)
    days = int(sc["days"])
    return World(rng=rng, start_s=start_s, days=days, countries=countries, country=country,
                 bank=bank, banks=tuple(banks), kind=kind, activity=activity,
                 popularity=popularity,
                 personal=Clock(days, weekday, _PERSONAL_HOURS, _PERSONAL_WEEK),
                 business=Clock(days, weekday, _BUSINESS_HOURS, _BUSINESS_WEEK),
                 used_core=np.zeros(n, dtype=bool), used_any=np.zeros(n, dtype=bool))


def account_ids(rng: np.random.Generator, n: int) -> pl.Series:
    """n distinct opaque ids like 'AC4821093377', in random order (no link to kind or role)."""
    nums = rng.choice(9 * 10**9, size=n, replace=False) + 10**9
    return pl.select(pl.concat_str(pl.lit("AC"), pl.Series(nums).cast(pl.String))
                     .alias("account_id")).to_series()
