"""Planted instances of every typology in shared/TYPOLOGIES.md, with their ground truth.

One Python loop iteration per planted instance (never per transaction of the background).
Each planter draws its parameters from the scenario's ranges, so instances differ in size,
speed, value kept and shape; every instance satisfies its typology's definition at the
default thresholds of finflow.config (see finflow.synth.checks, which verifies that).

Roles (schema.ROLES) and which of them are *core* (what evaluate scores) are listed in
:data:`CORE_ROLES`; non-core roles are the funders, customers and victims around a pattern.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..schema import CORE_ROLES
from ..schema import TYPOLOGY_ORDER as ORDER
from .rows import Rows
from .world import CH, World

__all__ = ["ORDER", "CORE_ROLES", "DEFAULT_PARAMS", "Planter"]

DAY = 86400
HOUR = 3600

# ORDER (typologies in the order they are planted, fixed: determinism) and CORE_ROLES (roles
# that make up the pattern itself; evaluate scores these accounts) live in finflow.schema,
# shared with evaluate, which must not import the generator.

#: default parameter ranges per typology ([lo, hi] inclusive; hours/days as named)
DEFAULT_PARAMS: dict[str, dict] = {
    "FAN_OUT": dict(count=10, degree=[5, 20], span_hours=[2, 23], amount=[150, 6000]),
    "FAN_IN": dict(count=10, degree=[5, 20], span_hours=[2, 23], amount=[150, 6000]),
    "CYCLE": dict(count=10, length=[2, 8], span_hours=[3, 144], hop_ratio=[0.6, 0.99],
                  amount=[2000, 60000]),
    "SCATTER_GATHER": dict(count=10, intermediaries=[3, 10], span_hours=[6, 156],
                           amount=[800, 9000], hop_ratio=[0.85, 0.99]),
    "GATHER_SCATTER": dict(count=10, fan_in=[3, 10], fan_out=[3, 10], span_hours=[6, 156],
                           amount=[500, 9000], hop_ratio=[0.85, 0.99]),
    "BIPARTITE": dict(count=10, side_a=[2, 6], side_b=[2, 6], density=[0.5, 1.0],
                      span_hours=[6, 156], amount=[500, 9000]),
    "STACK": dict(count=10, layers=[2, 3], side=[2, 5], density=[0.5, 1.0],
                  span_hours=[12, 156], amount=[500, 9000], hop_ratio=[0.85, 0.99]),
    "STRUCTURING": dict(count=10, deposits=[3, 8], depositors=[1, 3], span_hours=[6, 156],
                        band=[9000.0, 9999.99]),
    "PASS_THROUGH": dict(count=10, episodes=[2, 6], dwell_hours=[1, 46], ratio=[0.8, 0.98],
                         amount=[800, 25000], gap_days=[4, 15]),
    "MULE_RING": dict(count=10, mules=[3, 8], sinks=[1, 2], episodes=[2, 4],
                      dwell_hours=[1, 46], ratio=[0.8, 0.98], amount=[400, 5000],
                      gap_days=[5, 12], victim_share=0.4),
    "HAWALA_NETTING": dict(count=5, payers=[15, 60], recipients=[15, 60], days=[14, 45],
                           lag_days=[0, 2], settlements=[1, 4], hops=[0, 2],
                           payment=[50, 1500], cover=[0.9, 1.05], fee=[0.01, 0.05],
                           sender_countries=["GB", "FR"],
                           receiver_countries=["IQ", "VN", "AL", "TN"],
                           hub_countries=["AE", "HK", "SG"]),
    "HAWALA_MIRROR": dict(count=5, set_size=[5, 12], episodes=[1, 3], match_days=[1, 4.5],
                          imbalance=[0.0, 0.15], amount=[2000, 20000],
                          sender_countries=["GB", "FR"],
                          receiver_countries=["IQ", "VN", "AL", "TN", "AE"]),
}


@dataclass
class Planter:
    """Plants instances into ``rows`` and records truth (population indices, roles)."""
    world: World
    rows: Rows
    names: list[str] = field(default_factory=list)          # instance number -> name
    typology_of: list[str] = field(default_factory=list)
    role_inst: list[int] = field(default_factory=list)
    role_acc: list[int] = field(default_factory=list)
    role_name: list[str] = field(default_factory=list)
    home: str = ""            # home country of the instance being planted
    abroad: float = 0.15      # chance that one of its accounts is from anywhere else

    # -- helpers ---------------------------------------------------------------------
    @property
    def rng(self) -> np.random.Generator:
        return self.world.rng

    def _new(self, typology: str, i: int) -> int:
        self.names.append(f"{typology}-{i + 1:04d}")
        self.typology_of.append(typology)
        return len(self.names) - 1

    def _role(self, inst: int, accounts, role: str) -> None:
        for a in np.atleast_1d(accounts).tolist():
            self.role_inst.append(inst)
            self.role_acc.append(int(a))
            self.role_name.append(role)

    def _pay(self, inst, src, dst, t, amount, channel=None):
        src = np.atleast_1d(np.asarray(src, np.int64))
        dst = np.broadcast_to(np.asarray(dst, np.int64), src.shape)
        if channel is None:
            w = self.world
            channel = np.where(w.country[src] != w.country[dst], CH["wire"],
                               CH["transfer"]).astype(np.int8)
        self.rows.add(src, dst, t, np.round(np.asarray(amount, np.float64), 2), channel,
                      instance=inst, exact=True)

    def _int(self, r) -> int:
        return int(self.rng.integers(int(r[0]), int(r[1]) + 1))

    def _unif(self, r, n=None):
        return self.rng.uniform(float(r[0]), float(r[1]), n)

    def _money(self, r, n=None):
        """Log-uniform amounts in [lo, hi]; a fifth rounded to 50 (criminals like round sums
        about as often as everyone else)."""
        lo, hi = float(r[0]), float(r[1])
        a = np.exp(self.rng.uniform(np.log(lo), np.log(hi), n))
        rnd = self.rng.random(np.shape(a)) < 0.2
        return np.where(rnd, np.maximum(50.0, np.round(a / 50.0) * 50.0), np.round(a, 2))

    def _draw(self, n, kinds, *, core: bool = True) -> np.ndarray:
        """n accounts for the current instance: mostly from its home country, some abroad."""
        w = self.world
        abroad = int((self.rng.random(n) < self.abroad).sum())
        parts = []
        if n - abroad:
            try:
                parts.append(w.draw(n - abroad, kinds, [self.home], core=core))
            except ValueError:              # the home country has too few of this kind
                abroad = n
        if abroad:
            parts.append(w.draw(abroad, kinds, None, core=core))
        return self.rng.permutation(np.concatenate(parts))

    def _clock(self):
        return self.world.personal if self.rng.random() < 0.5 else self.world.business

    def _start(self, span: float) -> int:
        room = self.world.horizon - int(span) - 1
        if room <= 0:
            raise ValueError(f"scenario horizon of {self.world.days} days is too short for "
                             f"a planted instance spanning {span / DAY:.1f} days")
        return int(self.rng.integers(0, room))

    def _times(self, n, a, b, clock=None):
        """n ordered times in [a, b] following a daily rhythm."""
        return (clock or self._clock()).sample(self.rng, n, a, b, ordered=True)

    # -- structural --------------------------------------------------------------------
    def fan_out(self, inst, p):
        k = self._int(p["degree"])
        span = self._unif(p["span_hours"]) * HOUR
        t0 = self._start(span + 2 * DAY) + 2 * DAY
        hub = self._draw(1, ["person", "business"])[0]
        sinks = self._draw(k, ["person", "business"])
        funder = self._draw(1, None, core=False)[0]
        t = self._times(k, t0, t0 + span)
        amt = self._money(p["amount"], k) if self.rng.random() < 0.5 else \
            self._money(p["amount"]) * self.rng.uniform(0.95, 1.05, k)
        tf = t0 - int(self.rng.integers(HOUR, 40 * HOUR))
        self._pay(inst, funder, hub, tf, amt.sum() * self.rng.uniform(1.0, 1.1))
        self._pay(inst, np.full(k, hub), sinks, t, amt)
        self._role(inst, hub, "hub")
        self._role(inst, sinks, "sink")
        self._role(inst, funder, "controller")

    def fan_in(self, inst, p):
        k = self._int(p["degree"])
        span = self._unif(p["span_hours"]) * HOUR
        t0 = self._start(span + 2 * DAY)
        hub = self._draw(1, ["person", "business"])[0]
        srcs = self._draw(k, ["person", "business"])
        dest = self._draw(1, None, core=False)[0]
        t = self._times(k, t0, t0 + span)
        amt = self._money(p["amount"], k) if self.rng.random() < 0.5 else \
            self._money(p["amount"]) * self.rng.uniform(0.95, 1.05, k)
        self._pay(inst, srcs, hub, t, amt)
        self._pay(inst, hub, dest, t[-1] + int(self.rng.integers(HOUR, 40 * HOUR)),
                  amt.sum() * self.rng.uniform(0.85, 0.98))
        self._role(inst, srcs, "source")
        self._role(inst, hub, "hub")
        self._role(inst, dest, "controller")

    def cycle(self, inst, p):
        n = self._int(p["length"])
        span = self._unif(p["span_hours"]) * HOUR
        t0 = self._start(span)
        acc = self._draw(n, ["person", "business", "trading"])
        t = self._times(n, t0, t0 + span)
        ratio = self._unif(p["hop_ratio"], n - 1)
        amt = self._money(p["amount"]) * np.concatenate([[1.0], np.cumprod(ratio)])
        self._pay(inst, acc, np.roll(acc, -1), t, amt)
        self._role(inst, acc, "member")

    def scatter_gather(self, inst, p):
        k = self._int(p["intermediaries"])
        span = self._unif(p["span_hours"]) * HOUR
        t0 = self._start(span)
        s = self._draw(1, ["person", "business", "trading"])[0]
        mids = self._draw(k, ["person", "business"])
        tgt = self._draw(1, ["person", "business", "trading"])[0]
        ck = self._clock()
        t_in = self._times(k, t0, t0 + span * self.rng.uniform(0.2, 0.6), ck)
        t_out = ck.sample(self.rng, k, t_in + 600, t0 + span)
        amt = self._money(p["amount"], k)
        self._pay(inst, np.full(k, s), mids, t_in, amt)
        self._pay(inst, mids, np.full(k, tgt), t_out, amt * self._unif(p["hop_ratio"], k))
        self._role(inst, s, "source")
        self._role(inst, mids, "intermediary")
        self._role(inst, tgt, "sink")

    def gather_scatter(self, inst, p):
        ki, ko = self._int(p["fan_in"]), self._int(p["fan_out"])
        span = self._unif(p["span_hours"]) * HOUR
        t0 = self._start(span)
        srcs = self._draw(ki, ["person", "business"])
        hub = self._draw(1, ["person", "business", "trading"])[0]
        dsts = self._draw(ko, ["person", "business"])
        ck = self._clock()
        cut = t0 + int(span * self.rng.uniform(0.2, 0.6))
        t_in = self._times(ki, t0, cut, ck)
        t_out = self._times(ko, cut + 600, t0 + span, ck)
        amt = self._money(p["amount"], ki)
        out = amt.sum() * self._unif(p["hop_ratio"]) * self.rng.dirichlet(np.full(ko, 4.0))
        self._pay(inst, srcs, np.full(ki, hub), t_in, amt)
        self._pay(inst, np.full(ko, hub), dsts, t_out, out)
        self._role(inst, srcs, "source")
        self._role(inst, hub, "hub")
        self._role(inst, dsts, "sink")

    def _dense_pairs(self, na, nb, density):
        """Distinct (i, j) pairs covering every row and column, at least density * na * nb."""
        need = max(int(np.ceil(density * na * nb)), max(na, nb))
        cover = [(i % na, i % nb) for i in range(max(na, nb))]
        rest = [(i, j) for i in range(na) for j in range(nb) if (i, j) not in set(cover)]
        extra = self.rng.permutation(len(rest))[: need - len(cover)]
        pairs = cover + [rest[x] for x in sorted(extra.tolist())]
        return np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])

    def bipartite(self, inst, p):
        na, nb = self._int(p["side_a"]), self._int(p["side_b"])
        span = self._unif(p["span_hours"]) * HOUR
        t0 = self._start(span)
        a = self._draw(na, ["person", "business"])
        b = self._draw(nb, ["person", "business", "trading"])
        i, j = self._dense_pairs(na, nb, self._unif(p["density"]))
        t = self.rng.permutation(self._times(i.shape[0], t0, t0 + span))
        self._pay(inst, a[i], b[j], t, self._money(p["amount"], i.shape[0]))
        self._role(inst, a, "source")
        self._role(inst, b, "sink")

    def stack(self, inst, p):
        layers = self._int(p["layers"])
        span = self._unif(p["span_hours"]) * HOUR
        t0 = self._start(span)
        sets = [self._draw(self._int(p["side"]), ["person", "business"])
                for _ in range(layers + 1)]
        ck = self._clock()
        bounds = t0 + np.linspace(0, span, layers + 1).astype(np.int64)
        inflow = None
        for L in range(layers):
            a, b = sets[L], sets[L + 1]
            i, j = self._dense_pairs(a.shape[0], b.shape[0], self._unif(p["density"]))
            if inflow is None:
                amt = self._money(p["amount"], i.shape[0])
            else:   # each account forwards most of what it received, split over its edges
                amt = np.zeros(i.shape[0])
                for x in range(a.shape[0]):
                    e = np.flatnonzero(i == x)
                    amt[e] = inflow[x] * self._unif(p["hop_ratio"]) * self.rng.dirichlet(
                        np.full(e.shape[0], 4.0))
            lo = bounds[L] + (600 if L else 0)
            t = self.rng.permutation(self._times(i.shape[0], lo, bounds[L + 1], ck))
            self._pay(inst, a[i], b[j], t, amt)
            inflow = np.bincount(j, weights=amt, minlength=b.shape[0])
        self._role(inst, sets[0], "source")
        for s in sets[1:-1]:
            self._role(inst, s, "intermediary")
        self._role(inst, sets[-1], "sink")

    def structuring(self, inst, p):
        n = self._int(p["deposits"])
        m = min(self._int(p["depositors"]), n)
        span = self._unif(p["span_hours"]) * HOUR
        t0 = self._start(span)
        dep = self._draw(m, ["person", "business", "merchant"])
        ben = self._draw(1, ["person", "business"])[0]
        who = self.rng.permutation(np.arange(n) % m)
        t = self._times(n, t0, t0 + span, self.world.business)
        lo, hi = float(p["band"][0]), float(p["band"][1])
        amt = np.round(self.rng.uniform(lo, hi, n), 2)
        rnd = self.rng.random(n) < 0.25
        amt = np.where(rnd, np.clip(np.floor(amt / 100.0) * 100.0, lo, hi), amt)
        ch = np.where(self.rng.random(n) < 0.7, CH["cash"], CH["transfer"]).astype(np.int8)
        self._pay(inst, dep[who], np.full(n, ben), t, amt, channel=ch)
        self._role(inst, dep, "source")
        self._role(inst, ben, "sink")

    # -- behavioural ---------------------------------------------------------------------
    def _episode(self, inst, acc, srcs, sinks, t0, total_in, ratio, dwell, clock):
        """acc receives total_in from srcs (inside the first third of dwell, at most 6h),
        then forwards ratio * total_in to sinks before t0 + dwell. Returns the last time."""
        k_in, k_out = srcs.shape[0], sinks.shape[0]
        spread = min(dwell / 3.0, 6 * HOUR)
        t_in = self._times(k_in, t0, t0 + int(spread), clock)
        t_out = self._times(k_out, t_in[-1] + 300, t0 + int(dwell), clock)
        a_in = total_in * self.rng.dirichlet(np.full(k_in, 5.0))
        a_out = total_in * ratio * self.rng.dirichlet(np.full(k_out, 5.0))
        self._pay(inst, srcs, np.full(k_in, acc), t_in, a_in)
        self._pay(inst, np.full(k_out, acc), sinks, t_out, a_out)
        return int(t_out[-1])

    def pass_through(self, inst, p):
        e = self._int(p["episodes"])
        gaps = self._unif(p["gap_days"], e) * DAY
        dwell = self._unif(p["dwell_hours"], e) * HOUR
        gaps[0] = 0.0
        room = self.world.horizon - 2 * DAY
        if gaps.sum() > room:         # a short scenario: squeeze the gaps, keep them >= 4 days
            gaps[1:] = np.maximum(gaps[1:] * room / gaps.sum(), 4 * DAY)
        starts = np.cumsum(gaps).astype(np.int64)
        starts += self._start(float(starts[-1] + dwell[-1] + HOUR))
        acc = self._draw(1, ["person", "business"])[0]
        srcs = self._draw(self._int([1, 3]), None, core=False)
        sinks = self._draw(self._int([1, 2]), None, core=False)
        ck = self._clock()
        used_src, used_sink = [], []
        for x in range(e):
            s_in = self.rng.choice(srcs, self._int([1, srcs.shape[0]]), replace=False)
            s_out = self.rng.choice(sinks, self._int([1, sinks.shape[0]]), replace=False)
            used_src.append(s_in)
            used_sink.append(s_out)
            self._episode(inst, acc, s_in, s_out, int(starts[x]), self._money(p["amount"]),
                          self._unif(p["ratio"]), dwell[x], ck)
        self._role(inst, acc, "intermediary")
        self._role(inst, np.unique(np.concatenate(used_src)), "source")
        self._role(inst, np.unique(np.concatenate(used_sink)), "sink")

    def mule_ring(self, inst, p):
        m = self._int(p["mules"])
        e = self._int(p["episodes"])
        victims_mode = self.rng.random() < float(p.get("victim_share", 0.4))
        mules = self._draw(m, ["person"])
        sinks = self._draw(self._int(p["sinks"]), ["person", "business", "trading"])
        ctrl = None if victims_mode else self._draw(1, ["person", "business"])[0]
        gaps = self._unif(p["gap_days"], e) * DAY
        gaps[0] = 0.0
        room = self.world.horizon - 4 * DAY
        if gaps.sum() > room:         # a short scenario: squeeze the gaps, keep them >= 5 days
            gaps[1:] = np.maximum(gaps[1:] * room / gaps.sum(), 5 * DAY)
        ep_start = np.cumsum(gaps).astype(np.int64)
        ep_start += self._start(float(ep_start[-1] + 3 * DAY))
        ck = self._clock()
        victims_all = []
        for x in range(e):
            t = int(ep_start[x])
            starts = self._times(m, t, t + 12 * HOUR, ck)
            for j in range(m):
                dwell = self._unif(p["dwell_hours"])
                if victims_mode:
                    srcs = self._draw(self._int([1, 3]), ["person"], core=False)
                    victims_all.append(srcs)
                else:
                    srcs = np.array([ctrl])
                # mules take turns between the sinks, so the ring stays tied through them
                sink = sinks[(j + x) % sinks.shape[0]]
                self._episode(inst, mules[j], srcs, np.array([sink]), int(starts[j]),
                              self._money(p["amount"]), self._unif(p["ratio"]), dwell, ck)
        if ctrl is not None:
            self._role(inst, ctrl, "source")
        self._role(inst, mules, "mule")
        self._role(inst, sinks, "sink")
        if victims_all:
            self._role(inst, np.unique(np.concatenate(victims_all)), "member")

    # -- hawala ----------------------------------------------------------------------------
    def hawala_netting(self, inst, p):
        w, rng = self.world, self.rng
        ca = str(rng.choice(p["sender_countries"]))
        cb = str(rng.choice(p["receiver_countries"]))
        days = self._int(p["days"])
        lag = self._int(p["lag_days"])
        t0 = self._start((days + lag + 8) * DAY)
        a = w.draw(1, ["msb", "business"], [ca])[0]
        b = w.draw(1, ["msb", "business"], [cb])[0]
        n_pay, n_rec = self._int(p["payers"]), self._int(p["recipients"])
        payers = w.draw(n_pay, ["person"], [ca], core=False)
        recips = w.draw(n_rec, ["person"], [cb], core=False)
        n_txn = max(n_pay, n_rec) + int(rng.integers(0, max(n_pay, n_rec) + 1))
        who = np.concatenate([np.arange(n_pay), rng.integers(0, n_pay, n_txn - n_pay)])
        to = np.concatenate([np.arange(n_rec), rng.integers(0, n_rec, n_txn - n_rec)])
        who, to = rng.permutation(who), rng.permutation(to)
        # collections are bursty (pay days, holidays, word of mouth): gamma day weights
        weight = rng.gamma(1.2, 1.0, days)
        day = rng.choice(days, size=n_txn, p=weight / weight.sum())
        t_in = w.personal.sample(rng, n_txn, t0 + day * DAY, t0 + day * DAY + DAY - 1)
        amt = self._money(p["payment"], n_txn)
        self._pay(inst, payers[who], np.full(n_txn, a), t_in, amt)
        fee = self._unif(p["fee"])
        t_out = w.business.sample(rng, n_txn, t_in + lag * DAY + 1800,
                                  t_in + lag * DAY + 14 * HOUR)
        paid = amt * (1 - fee)
        self._pay(inst, np.full(n_txn, b), recips[to], t_out, paid)
        # settlement: a few large transfers A -> [1-2 intermediaries] -> B, ~ the imbalance
        n_set = max(1, min(self._int(p["settlements"]), n_txn // 12))
        hops = self._int(p["hops"])
        mids = w.draw(hops, ["trading", "business"], p["hub_countries"]) if hops else \
            np.zeros(0, np.int64)
        owed = paid.sum() * self._unif(p["cover"])
        parts = owed * (0.5 / n_set + 0.5 * rng.dirichlet(np.full(n_set, 4.0)))  # all large
        when = t0 + ((np.arange(n_set) + 1) * days * DAY) // n_set
        when = when + rng.integers(0, 3 * DAY, n_set)
        path = np.concatenate([[a], mids, [b]])
        for s in range(n_set):
            ts, v = int(min(when[s], w.horizon - 8 * DAY)), parts[s]
            for h in range(path.shape[0] - 1):
                self._pay(inst, path[h], path[h + 1], ts, v)
                ts += int(rng.integers(2 * HOUR, 2 * DAY))
                v *= rng.uniform(0.985, 1.0)
        self._role(inst, [a, b], "broker")
        self._role(inst, mids, "intermediary")
        self._role(inst, payers, "source")
        self._role(inst, recips, "sink")

    def hawala_mirror(self, inst, p):
        w, rng = self.world, self.rng
        ca = str(rng.choice(p["sender_countries"]))
        cb = str(rng.choice(p["receiver_countries"]))
        e = self._int(p["episodes"])
        a = w.draw(1, ["msb", "business"], [ca])[0]
        b = w.draw(1, ["msb", "business", "trading"], [cb])[0]
        k1, k2 = self._int(p["set_size"]), self._int(p["set_size"])
        xs = w.draw(k1, ["person", "business"], [ca])
        ys = w.draw(k2, ["person", "business"], [cb])
        spacing = int(rng.integers(14, 18)) * DAY     # episodes >= 8 days apart
        t = self._start((e - 1) * spacing + 7 * DAY)
        for x in range(e):
            te = t + x * spacing
            v1 = k1 * float(self._money(p["amount"]))
            v2 = v1 * (1 - self._unif(p["imbalance"])) if rng.random() < 0.5 else \
                v1 / (1 - self._unif(p["imbalance"]))
            for hub, fronts, far, val, t_leg in (
                    (a, xs, b, v1, te),
                    (b, ys, a, v2, te + int(self._unif(p["match_days"]) * DAY))):
                k = fronts.shape[0]
                part = val * rng.dirichlet(np.full(k, 5.0))
                t1 = self._times(k, t_leg, t_leg + 12 * HOUR)
                t2 = t1 + rng.integers(HOUR, 24 * HOUR, k)
                self._pay(inst, np.full(k, hub), fronts, t1, part)
                self._pay(inst, fronts, np.full(k, far), t2, part * rng.uniform(0.98, 1.0, k))
        self._role(inst, [a, b], "broker")
        self._role(inst, xs, "intermediary")
        self._role(inst, ys, "intermediary")

    PLANTERS = {
        "FAN_OUT": fan_out, "FAN_IN": fan_in, "CYCLE": cycle, "SCATTER_GATHER": scatter_gather,
        "GATHER_SCATTER": gather_scatter, "BIPARTITE": bipartite, "STACK": stack,
        "STRUCTURING": structuring, "PASS_THROUGH": pass_through, "MULE_RING": mule_ring,
        "HAWALA_NETTING": hawala_netting, "HAWALA_MIRROR": hawala_mirror,
    }

    def plant_all(self, typologies: dict[str, dict]) -> None:
        counts = np.bincount(self.world.country, minlength=len(self.world.countries))
        share = counts / counts.sum()
        for typ in ORDER:
            p = {**DEFAULT_PARAMS[typ], **typologies.get(typ, {})}
            for i in range(int(p["count"])):
                inst = self._new(typ, i)
                self.home = self.world.countries[int(self.rng.choice(len(share), p=share))]
                self.PLANTERS[typ](self, inst, p)
