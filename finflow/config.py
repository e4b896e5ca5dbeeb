"""Detector parameters: one dataclass per typology, defaults from shared/TYPOLOGIES.md.

Units: every ``window``/``dwell``/``bucket``/``lag`` is in seconds; amounts are in the
dataset's base currency. A TOML file has one table per section, e.g.::

    [cycle]
    window = 259200
    max_length = 6

Numba flags: kernels use ``cache=True`` and never ``fastmath`` (money sums must not be
reassociated differently between runs).
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "HOUR", "DAY", "FanConfig", "CycleConfig", "ScatterGatherConfig", "GatherScatterConfig",
    "BipartiteConfig", "StackConfig", "StructuringConfig", "PassThroughConfig",
    "MuleRingConfig", "HawalaNettingConfig", "HawalaMirrorConfig", "DetectConfig",
    "load_config", "JIT_OPTIONS",
]

HOUR = 3600
DAY = 86400
#: numba options for every kernel
JIT_OPTIONS = dict(cache=True, nogil=True, fastmath=False)


@dataclass
class FanConfig:
    """FAN_OUT / FAN_IN: >= min_degree distinct counterparties inside one window."""
    window: int = DAY
    min_degree: int = 5
    max_results: int = 1_000_000


@dataclass
class CycleConfig:
    """CYCLE: temporal cycles, time-respecting, span <= window (finflow.patterns.cycles).

    min_hop_ratio: each hop moves >= this share of the previous hop (<= 0 disables).
    Budgets: max_results cycles in total (kept in start-edge order), max_results_per_start
    per start transaction, max_degree edges scanned per node visit (hubs), max_alerts
    emitted (highest scores kept). min_score: alerts scoring lower are only counted (stats
    below_min_score); 0.6 gave recall 1.0 and precision >= 0.9 on the sample datasets.
    """
    window: int = 7 * DAY
    min_length: int = 2
    max_length: int = 8
    min_hop_ratio: float = 0.5
    max_results: int = 200_000
    max_results_per_start: int = 1_000
    max_degree: int = 1_000
    max_alerts: int = 20_000
    min_score: float = 0.6


@dataclass
class ScatterGatherConfig:
    """SCATTER_GATHER: s -> >= min_intermediaries m_i -> same t, all inside window."""
    window: int = 7 * DAY
    min_intermediaries: int = 3
    max_results: int = 200_000
    #: skip a source whose out-degree, or an intermediary whose in-window slice, is larger
    max_degree: int = 100_000
    #: two-hop paths enumerated per source before it is truncated (counted as a budget cut)
    max_paths_per_source: int = 2_000_000
    #: operating point: alerts scoring lower are not emitted, only counted (stats
    #: below_min_score); score formula in finflow.patterns.scatter_gather. 0.2 sits between
    #: the planted instances (best alert >= 0.47) and the highest-scoring unrelated alert
    #: (<= 0.09) on demo, small and a demo variant with another seed. 0 emits every burst.
    min_score: float = 0.2


@dataclass
class GatherScatterConfig:
    """GATHER_SCATTER: >= min_in payers -> hub -> >= min_out payees, outs after ins."""
    window: int = 7 * DAY
    min_in: int = 3
    min_out: int = 3
    max_results: int = 200_000
    #: a burst with more transactions (in + out) is dropped and counted: an account that
    #: gathers and scatters all day (a payment processor) is no analyst's alert, and its
    #: overlapping bursts would repeat its transactions. Planted bursts hold <= 70.
    max_burst_transactions: int = 5_000
    #: operating point: alerts scoring lower are not emitted, only counted (stats
    #: below_min_score); score formula in finflow.patterns.scatter_gather. 0.25 kept every
    #: planted instance (best alert >= 0.40) at precision >= 0.94 on demo, small and a demo
    #: variant with another seed. 0 emits every burst.
    min_score: float = 0.25


@dataclass
class BipartiteConfig:
    """BIPARTITE: a dense block A -> B of novel pairs inside one window.

    ``|A|, |B| >= min_side``; the block's pairs connect it; density ``>= min_density``; a pair
    (a, b) counts only if a and b are otherwise quiet with each other (no b -> a payment ever,
    all a -> b payments inside the window); members are otherwise quiet in the window: each has
    ``>= max(min_member_degree, min_share * c)`` pairs in the block, c = its distinct
    counterparties in the window in its role (payees of a source, payers of a sink). Accounts with
    more than ``max_degree`` transactions are skipped; pairs whose payments sum to less than
    ``min_pair_amount`` (base currency: purchases, not transfers of value) are ignored. The
    default of two pairs per member keeps coincidental trees of one-off payments out (they are
    frequent in real traffic); sparse blocks (one pair per member) are reported only when fast
    and carrying most of their accounts' money (``sparse_span``, ``sparse_min_value_share``). Blocks that chain into a STACK under
    ``min_overlap`` / ``min_layers`` (same meaning as in StackConfig) are reported as STACK
    only. Windows start on a grid of ``window_step`` seconds: blocks spanning at most
    ``window - window_step`` (6.75 days at the defaults) always fall inside one; longer ones
    may be missed. Definition and algorithm: finflow/_kernels/bipartite.py.
    """
    window: int = 7 * DAY
    min_side: int = 2
    min_density: float = 0.5
    max_results: int = 100_000
    max_degree: int = 10_000
    min_member_degree: int = 2
    min_share: float = 0.5
    min_pair_amount: float = 50.0
    min_overlap: float = 0.5
    min_layers: int = 2
    #: windows start on the grid k * window_step (seconds); a block spanning at most
    #: window - window_step always lies inside one grid window (1 = every second)
    window_step: int = 6 * HOUR
    #: sparse blocks: a block found with one pair per member (a tree of one-off payments) is
    #: reported too when its transactions span at most sparse_span seconds and carry at least
    #: sparse_min_value_share of its accounts' money (2 * block amount / (sources' total
    #: outgoing + sinks' total incoming amount over the whole dataset)). Chance trees in
    #: background traffic are slow (days) or a small part of busy accounts' flows; a planted
    #: one is fast and is most of what its accounts move. 0 disables. The share falls as the
    #: dataset grows longer: 0.6 was set on 13-week datasets (sample_data, seeds 4242, 777,
    #: 31337 of seeds/demo.toml, where wrong sparse candidates reach 0.53); lower it for
    #: datasets of a year or more.
    sparse_span: int = DAY
    sparse_min_value_share: float = 0.6


@dataclass
class StackConfig:
    """STACK: >= min_layers BIPARTITE layers chained A -> B -> C in time order.

    Each layer is a BIPARTITE block (``window``, ``min_side``, ``min_member_degree``,
    ``min_share``, ``min_density``, ``max_degree``, ``min_pair_amount`` as in BipartiteConfig;
    one pair per member suffices here, since the chaining is itself strong evidence) inside its
    own window; consecutive layers share ``>= min_side`` accounts and ``>= min_overlap`` of the
    union of the earlier sink set and the later source set; the next layer starts no earlier
    than the previous one and within ``window`` of its end, and every shared account receives
    before it pays.
    """
    window: int = 7 * DAY
    min_layers: int = 2
    min_side: int = 2
    min_density: float = 0.5
    max_results: int = 100_000
    max_degree: int = 10_000
    min_member_degree: int = 1
    min_share: float = 0.5
    min_pair_amount: float = 50.0
    min_overlap: float = 0.5
    #: as in BipartiteConfig
    window_step: int = 6 * HOUR


@dataclass
class StructuringConfig:
    """STRUCTURING: >= min_count payments in [(1-band)*threshold, threshold) inside window."""
    threshold: float = 10_000.0
    band: float = 0.10
    window: int = 7 * DAY
    min_count: int = 3
    max_results: int = 1_000_000
    #: operating point: alerts scoring lower are not emitted, only counted (stats
    #: below_min_score); score formula in finflow.patterns.structuring. 0.2 sits between the
    #: planted instances (best alert >= 0.45) and the merchants' recurring takings deposits
    #: (<= 0.15) on demo, small and a demo variant with another seed. 0 emits every burst.
    min_score: float = 0.2


@dataclass
class PassThroughConfig:
    """PASS_THROUGH: forwards >= min_ratio of inflow within max_dwell, >= min_episodes times.

    max_retained_share: the account's retained balance (floored running balance at its last
    event) must be at most this share of everything it received ("keeps a low balance").
    min_flow_through: the account forwards at least this share of all it receives within
    max_dwell (the definition's ratio at account level, relaxed for other activity).
    Score (finflow.patterns.pass_through): value_scale (base currency) is the forwarded value
    scoring 0.5 on the value term; a payee is a regular relation after >= regular_payments
    payments spanning >= regular_span seconds. min_score: operating point; candidates
    scoring lower are only counted (stats below_min_score): 0.55 keeps every planted
    pass-through account of demo, small and a demo variant with another seed at precision
    >= 0.85, while most money-service businesses and shops score below it. 0 emits every
    candidate. Evidence lists max_evidence_episodes episodes (all are counted) and
    max_evidence_txns transactions per episode side (the alert's rows hold all of them).
    """
    max_dwell: int = 48 * HOUR
    min_ratio: float = 0.8
    min_episodes: int = 2
    max_retained_share: float = 0.2
    min_flow_through: float = 0.5
    value_scale: float = 10_000.0
    regular_payments: int = 8
    regular_span: int = 28 * DAY
    min_score: float = 0.55
    max_results: int = 1_000_000
    max_evidence_episodes: int = 10
    max_evidence_txns: int = 10


@dataclass
class MuleRingConfig:
    """MULE_RING: >= min_size pass-through accounts tied inside one window.

    A member mule needs >= min_episodes qualifying pass-through episodes (forwarding >=
    min_ratio within max_dwell) and forwards >= min_flow_through of all it receives within
    max_dwell. Two mules share a payer / payee of their episodes at times <= window apart
    when that counterparty is an end of the flow, >= min_tie_share of its payments
    (receipts) feed (drain) such episodes and its relation with the mule is not long-lived
    (>= regular_payments payments spanning >= regular_span seconds); a tie links them when
    >= min_tie_strength distinct occasions (counterparty, episode, episode) support it, and
    a ring keeps only mules tied to >= min_tie_degree others (k-core)
    (finflow.patterns.mule_ring). Budgets, counted in budget_cut: a counterparty shared by
    more than max_hub_degree mules is no evidence (a big merchant) and is skipped, as is one
    with more than max_pairs_per_counterparty incidence pairs in the window, and rings
    beyond max_results (lowest scores first). Evidence lists max_evidence_episodes episodes
    per mule and max_evidence_txns transactions per episode side.
    """
    window: int = 7 * DAY
    min_size: int = 3
    max_dwell: int = 48 * HOUR
    min_ratio: float = 0.8
    min_episodes: int = 1
    min_flow_through: float = 0.5
    max_hub_degree: int = 50
    min_tie_share: float = 0.25
    min_tie_strength: int = 2
    min_tie_degree: int = 2
    regular_payments: int = 3
    regular_span: int = 42 * DAY
    max_pairs_per_counterparty: int = 10_000
    max_results: int = 100_000
    max_evidence_episodes: int = 10
    max_evidence_txns: int = 10


@dataclass
class HawalaNettingConfig:
    """HAWALA_NETTING: broker pair whose collections and payouts track, settled in bulk.

    ``bucket``/``max_lag``/``max_settlement_span`` seconds. ``small_quantile``: amounts up to
    this quantile of all amounts are customer-sized ("small"). ``max_related``: related
    payer pairs per payer allowed (unrelated customers). ``max_settlement_hops``: at most
    this many intermediaries between the brokers. ``correlation``: ``"spearman"`` (ranks: a
    broker's other business in a few buckets neither hides nor fakes tracking) or
    ``"pearson"``. ``significance_z``: the correlation's
    Fisher-z lower bound at this many standard errors must be > 0. ``min_coverage``: closeness of the
    settled value to the imbalance (0 = settlement not required). ``max_settlement_rate``:
    settlement transfers per active collection bucket (few, accumulated settlements).
    Budgets: ``max_degree`` transactions read per account and search step, ``max_paths``
    settlement paths per candidate, ``max_pairs`` pairs compared without a settlement path.
    """
    bucket: int = DAY
    max_lag: int = 3 * DAY
    min_counterparties: int = 10
    small_quantile: float = 0.9
    max_related: float = 0.5
    min_correlation: float = 0.5
    correlation: str = "spearman"
    significance_z: float = 1.0
    min_volume_match: float = 0.3
    #: the brokers must track inside one window of this many seconds, stepped by
    #: tracking_step (0: the whole active span). Any working period of up to window - step
    #: (8 weeks) lies inside one window; few windows (6 in 26 weeks) keep the best-of-windows
    #: correlation from flattering chance pairs. 26-week scenarios (seeds/scale.toml and the
    #: same with seed 777), against the whole span: recall 0.83 -> 0.95 at precision 1.0 ->
    #: 0.99, and 0.85 -> 0.97 at 1.0; 6-week windows stepped by a week: 0.91 at 0.89.
    tracking_window: int = 84 * DAY
    tracking_step: int = 28 * DAY
    max_settlement_hops: int = 2
    max_settlement_span: int = 30 * DAY
    min_coverage: float = 0.3
    max_settlement_rate: float = 0.25
    max_degree: int = 1_000
    max_paths: int = 10_000
    max_pairs: int = 1_000_000
    max_results: int = 10_000

    def __post_init__(self):
        if self.correlation not in ("spearman", "pearson"):
            raise ConfigError(f"hawala_netting.correlation: {self.correlation!r} is not "
                              "'spearman' or 'pearson'")


@dataclass
class HawalaMirrorConfig:
    """HAWALA_MIRROR: offsetting X->Y and Y->X flows tied to one broker pair inside window.

    ``window`` seconds (relay hop and matching window); ``min_counterparties`` distinct
    fronts (accounts relaying between the brokers) in the two flows; ``min_transactions``
    crossing transactions per direction; ``max_imbalance`` |F - R| / max(F, R);
    ``min_relay_ratio``: a front passes on between this ratio and its inverse of what the
    broker paid it.
    ``small_quantile`` sets the customer-sized amount the score measures value in.
    Budgets: accounts with more than ``max_degree`` in- or out-transactions are not fronts;
    at most ``max_tuples`` relays.
    """
    window: int = 7 * DAY
    min_counterparties: int = 5
    min_transactions: int = 2
    max_imbalance: float = 0.2
    min_relay_ratio: float = 0.5
    small_quantile: float = 0.9
    max_degree: int = 1_000
    max_tuples: int = 20_000_000
    max_results: int = 10_000


@dataclass
class DetectConfig:
    """All detector sections. Section names are the typology names in lower case."""
    fan_out: FanConfig = field(default_factory=FanConfig)
    fan_in: FanConfig = field(default_factory=FanConfig)
    cycle: CycleConfig = field(default_factory=CycleConfig)
    scatter_gather: ScatterGatherConfig = field(default_factory=ScatterGatherConfig)
    gather_scatter: GatherScatterConfig = field(default_factory=GatherScatterConfig)
    bipartite: BipartiteConfig = field(default_factory=BipartiteConfig)
    stack: StackConfig = field(default_factory=StackConfig)
    structuring: StructuringConfig = field(default_factory=StructuringConfig)
    pass_through: PassThroughConfig = field(default_factory=PassThroughConfig)
    mule_ring: MuleRingConfig = field(default_factory=MuleRingConfig)
    hawala_netting: HawalaNettingConfig = field(default_factory=HawalaNettingConfig)
    hawala_mirror: HawalaMirrorConfig = field(default_factory=HawalaMirrorConfig)

    def section(self, typology: str):
        return getattr(self, typology.lower())

    def set(self, key: str, value: Any) -> None:
        """Set ``section.field`` (or ``field`` for every section that has it) from a string or value."""
        if "." in key:
            sec_name, name = key.split(".", 1)
            if not hasattr(self, sec_name):
                raise ConfigError(f"unknown config section {sec_name!r}; known: "
                                  + ", ".join(f.name for f in fields(self)))
            targets = [getattr(self, sec_name)]
        else:
            name = key
            targets = [getattr(self, f.name) for f in fields(self)
                       if name in {x.name for x in fields(getattr(self, f.name))}]
            if not targets:
                raise ConfigError(f"no config section has a parameter {name!r}")
        for sec in targets:
            kinds = {f.name: f.type for f in fields(sec)}
            if name not in kinds:
                raise ConfigError(f"{type(sec).__name__} has no parameter {name!r}; known: "
                                  + ", ".join(kinds))
            setattr(sec, name, _coerce(value, kinds[name], key))
            if hasattr(sec, "__post_init__"):  # the section's own checks, as at construction
                sec.__post_init__()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(value: Any, kind: Any, key: str):
    kind = kind if isinstance(kind, str) else kind.__name__
    try:
        if kind == "int":
            if isinstance(value, str):
                return parse_duration(value) if value[-1:].isalpha() else int(value)
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind == "float":
            return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: {value!r} is not a valid {kind}") from None
    return value


_UNITS = {"s": 1, "m": 60, "h": HOUR, "d": DAY, "w": 7 * DAY}


def parse_duration(text: str) -> int:
    """'48h' -> 172800; '7d', '90m', '30s', '2w', or plain seconds."""
    text = str(text).strip().lower()
    try:
        if text[-1:] in _UNITS:
            return int(float(text[:-1]) * _UNITS[text[-1]])
        return int(text)
    except ValueError:
        raise ConfigError(f"not a duration: {text!r} (use e.g. 30s, 90m, 48h, 7d)") from None


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> DetectConfig:
    """Defaults, then a TOML file's sections, then ``overrides`` ({'cycle.max_length': 6})."""
    cfg = DetectConfig()
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        for sec, values in data.items():
            if not isinstance(values, dict):
                raise ConfigError(f"{path}: top-level key {sec!r} must be a [section]")
            for k, v in values.items():
                cfg.set(f"{sec}.{k}", v)
    for k, v in (overrides or {}).items():
        cfg.set(k, v)
    return cfg
