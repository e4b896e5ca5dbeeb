"""Scenario generator: legitimate background behaviour + planted typologies + ground truth.

    from finflow.synth import generate
    ds = generate("seeds/demo.toml", "demo.finflow")

A scenario (TOML; see seeds/README.md) fixes the random seed, the population (accounts,
countries, kinds), the horizon, the background volume and, per typology, how many instances
to plant and the ranges their parameters are drawn from. The same scenario gives
byte-identical files: one ``numpy.random.Generator`` seeded from the file drives everything,
loops run in fixed orders, and meta.json holds no clock time or path.

Cost: O(E log E) for E transactions (one sort), vectorised; Python loops run per planted
instance and per country/month, never per background transaction.
"""
from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .. import schema
from ..errors import ConfigError
from .background import generate_background
from .rows import Rows
from .typologies import CORE_ROLES, DEFAULT_PARAMS, ORDER, Planter
from .world import CHANNELS, CURRENCIES, KINDS, RATES, account_ids, build_world

__all__ = ["generate", "load_scenario", "DEFAULT_SCENARIO", "CORE_ROLES", "GENERATOR_VERSION"]

#: bump when the same scenario would give different data
GENERATOR_VERSION = 1

DEFAULT_SCENARIO: dict[str, Any] = {
    "scenario": {
        "name": "default", "description": "", "seed": 2025, "start": "2025-03-03",
        "days": 60, "accounts": 4000, "background_transactions": 40_000,
        "base_currency": "EUR",
    },
    # the corridors named at the 2025 border-security summit, plus settlement hubs
    "countries": {"GB": 0.34, "FR": 0.24, "AL": 0.08, "VN": 0.08, "IQ": 0.07, "TN": 0.07,
                  "AE": 0.05, "HK": 0.04, "SG": 0.03},
    "kinds": {"person": 0.84, "business": 0.08, "merchant": 0.05, "msb": 0.012,
              "trading": 0.018},
    "background": {
        "employed_share": 0.55, "payroll_employees": [10, 200],
        "standing_order_share": 0.35, "remitter_share": 0.18,
        "remittance_from": ["GB", "FR"], "remittance_to": ["AL", "VN", "IQ", "TN"],
        "remittance_via_msb": 0.4, "depositor_share": 0.35,
        "card_share": 0.55, "p2p_share": 0.3, "b2b_share": 0.15, "mutual_share": 0.15,
    },
    "typologies": {},
}


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_scenario(scenario: str | Path | dict) -> dict:
    """Scenario dict from a TOML path or a dict, completed with defaults and validated."""
    if isinstance(scenario, dict):
        raw = scenario
    else:
        try:
            raw = tomllib.loads(Path(scenario).read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{scenario}: {exc}") from None
    unknown = set(raw) - set(DEFAULT_SCENARIO)
    if unknown:
        raise ConfigError(f"scenario: unknown section(s) {sorted(unknown)}; "
                          f"known: {', '.join(DEFAULT_SCENARIO)}")
    sc = _merge(DEFAULT_SCENARIO, raw)
    if "countries" in raw:          # a scenario's country list replaces the default one
        sc["countries"] = dict(raw["countries"])
    for typ, params in sc["typologies"].items():
        if typ not in DEFAULT_PARAMS:
            raise ConfigError(f"scenario: unknown typology {typ!r}; known: {', '.join(ORDER)}")
        bad = set(params) - set(DEFAULT_PARAMS[typ])
        if bad:
            raise ConfigError(f"scenario: [typologies.{typ}] has unknown key(s) {sorted(bad)}; "
                              f"known: {', '.join(DEFAULT_PARAMS[typ])}")
    s = sc["scenario"]
    if int(s["days"]) < 14:
        raise ConfigError("scenario: days must be at least 14")
    if s["base_currency"] != "EUR":
        raise ConfigError("scenario: the generator works in EUR (base_currency = 'EUR')")
    return sc


def _truth(planter: Planter, ids: pl.Series) -> pl.DataFrame:
    inst = np.asarray(planter.role_inst, dtype=np.int64)
    acc = np.asarray(planter.role_acc, dtype=np.int64)
    names = pl.Series(planter.names, dtype=pl.String)
    typ = pl.Series(planter.typology_of, dtype=pl.String)
    df = pl.DataFrame({
        "instance": names.gather(inst), "typology": typ.gather(inst),
        "account": pl.Series(np.full(acc.shape[0], None), dtype=pl.Int32),  # filled on write
        "account_id": ids.gather(acc), "role": pl.Series(planter.role_name, dtype=pl.String),
    })
    # an account appears once per instance (first role wins: core roles are recorded first)
    return (df.with_row_index("_i").unique(["instance", "account_id"], keep="first")
            .sort("instance", "_i").drop("_i"))


def generate(scenario: str | Path | dict, out: str | Path, *, csv: bool = False):
    """Generate the scenario into dataset directory ``out``; returns the opened Dataset.

    ``csv=True`` also writes ``out/raw.csv``: the raw transactions with string account ids
    (what ``finflow ingest`` would read). Raises ConfigError on a bad scenario.
    """
    from ..dataset import check_replaceable, write_dataset

    out = Path(out)
    check_replaceable(out)
    sc = load_scenario(scenario)
    s = sc["scenario"]
    rng = np.random.default_rng(int(s["seed"]))
    try:
        world = build_world(rng, s | {"countries": sc["countries"], "kinds": sc["kinds"]})
        rows = Rows(world)
        planter = Planter(world, rows)
        planter.plant_all(sc["typologies"])
        generate_background(world, rows, sc["background"], int(s["background_transactions"]))
    except ValueError as exc:
        raise ConfigError(f"scenario {s['name']}: {exc}") from None
    c = _quiet_between(rows.columns(), planter, world.n, ("BIPARTITE", "STACK"))
    c = _no_background_inflow(c, planter, world.n, {("PASS_THROUGH", "intermediary"),
                                                    ("MULE_RING", "mule")})
    ids = account_ids(rng, world.n)
    n = c["src"].shape[0]
    order = np.lexsort((rng.random(n), c["t"]))
    txn_id = np.arange(1, n + 1, dtype=np.int64)
    src, dst = c["src"][order], c["dst"][order]
    inst = c["instance"][order]
    country = pl.Series(list(world.countries), dtype=pl.String)
    bank = pl.Series(list(world.banks), dtype=pl.String)
    raw = pl.DataFrame({
        "txn_id": txn_id,
        "ts": pl.Series((world.start_s + c["t"][order]) * 1_000_000).cast(schema.TS),
        "src_id": ids.gather(src), "dst_id": ids.gather(dst),
        "amount": c["amount"][order], "amount_orig": c["amount_orig"][order],
        "currency": pl.Series(list(CURRENCIES), dtype=pl.String).gather(c["currency"][order]),
        "channel": pl.Series(list(CHANNELS), dtype=pl.String).gather(c["channel"][order]),
        "src_bank": bank.gather(world.bank[src]), "dst_bank": bank.gather(world.bank[dst]),
        "src_country": country.gather(world.country[src]),
        "dst_country": country.gather(world.country[dst]),
        "label": (inst >= 0).astype(np.int8),
    }).select([pl.col(k).cast(v) for k, v in schema.RAW_COLUMNS.items()])
    instances = _truth(planter, ids)
    crime = np.flatnonzero(inst >= 0)
    inst_txns = (pl.DataFrame({
        "instance": pl.Series(planter.names, dtype=pl.String).gather(inst[crime]),
        "txn_id": txn_id[crime]}).sort("instance", "txn_id"))
    extra = pl.DataFrame({
        "account_id": ids, "bank": bank.gather(world.bank), "country": country.gather(world.country),
        "kind": pl.Series(list(KINDS), dtype=pl.String).gather(world.kind)})
    meta = {
        "source": "finflow generate", "generator_version": GENERATOR_VERSION,
        "scenario": sc, "base_currency": "EUR",
        "fx_rates_per_eur": {cur: float(r) for cur, r in zip(CURRENCIES, RATES)},
        "truth": {"instances": len(planter.names), "core_roles": {k: list(v) for k, v in
                                                                   CORE_ROLES.items()}},
    }
    ds = write_dataset(out, raw, meta=meta, accounts_extra=extra,
                       truth={"instances": instances, "instance_transactions": inst_txns})
    if ds.truth("instances")["account"].null_count():
        raise RuntimeError("generator bug: a truth account has no transaction")
    if csv:
        raw.write_csv(out / "raw.csv", datetime_format="%Y-%m-%dT%H:%M:%S%.f%z")
    return ds


def _quiet_between(c: dict, planter: Planter, n_accounts: int, typologies) -> dict:
    """Drop background rows between two accounts of one planted instance of ``typologies``
    (BIPARTITE requires its sides to be otherwise quiet with each other). O(E)."""
    group = np.full(n_accounts, -1, dtype=np.int64)
    inst = np.asarray(planter.role_inst, dtype=np.int64)
    acc = np.asarray(planter.role_acc, dtype=np.int64)
    typ = np.asarray(planter.typology_of, dtype=object)
    if inst.size == 0:
        return c
    keep_role = np.isin(typ[inst], list(typologies))
    group[acc[keep_role]] = inst[keep_role]
    g_src, g_dst = group[c["src"]], group[c["dst"]]
    drop = (c["instance"] < 0) & (g_src >= 0) & (g_src == g_dst)
    return {k: v[~drop] for k, v in c.items()}


def _no_background_inflow(c: dict, planter: Planter, n_accounts: int, roles) -> dict:
    """Drop background payments *into* accounts playing one of ``roles`` ((typology, role)
    pairs): pass-through accounts and mules keep a low balance (they still spend). O(E)."""
    mark = np.zeros(n_accounts, dtype=bool)
    typ = planter.typology_of
    for i, a, r in zip(planter.role_inst, planter.role_acc, planter.role_name):
        if (typ[i], r) in roles:
            mark[a] = True
    drop = (c["instance"] < 0) & mark[c["dst"]]
    return {k: v[~drop] for k, v in c.items()}


