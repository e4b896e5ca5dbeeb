"""Public detectors, one module per typology family, and the runner behind ``finflow detect``.

Every detector has the signature ``detect_x(graph: TemporalGraph, cfg) -> Detection`` where
``cfg`` is the typology's section of :class:`finflow.config.DetectConfig`. Detectors compose
kernels from ``finflow._kernels``; they never read files.
"""
from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Callable, Sequence

from .. import __version__
from ..alerts import AlertBatch, Detection, combine
from ..config import DetectConfig
from ..errors import ConfigError

__all__ = ["TYPOLOGIES", "detector", "run_detectors", "available_typologies"]

#: typology -> "module:function" inside finflow.patterns, in report order
TYPOLOGIES: dict[str, str] = {
    "FAN_OUT": "fan:detect_fan_out",
    "FAN_IN": "fan:detect_fan_in",
    "CYCLE": "cycles:detect_cycles",
    "SCATTER_GATHER": "scatter_gather:detect_scatter_gather",
    "GATHER_SCATTER": "scatter_gather:detect_gather_scatter",
    "BIPARTITE": "bipartite:detect_bipartite",
    "STACK": "bipartite:detect_stack",
    "STRUCTURING": "structuring:detect_structuring",
    "PASS_THROUGH": "pass_through:detect_pass_through",
    "MULE_RING": "mule_ring:detect_mule_rings",
    "HAWALA_NETTING": "hawala:detect_hawala_netting",
    "HAWALA_MIRROR": "hawala:detect_hawala_mirror",
}


def detector(typology: str) -> Callable:
    """The detector function for ``typology`` (case-insensitive)."""
    key = typology.upper()
    if key not in TYPOLOGIES:
        raise ConfigError(f"unknown typology {typology!r}; known: {', '.join(TYPOLOGIES)}")
    mod_name, fn = TYPOLOGIES[key].split(":")
    try:
        mod = importlib.import_module(f"{__name__}.{mod_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{mod_name}":
            raise
        raise ConfigError(f"typology {key} is not available in this build") from None
    return getattr(mod, fn)


def available_typologies() -> list[str]:
    """Typologies whose detector module is present."""
    out = []
    for t in TYPOLOGIES:
        try:
            detector(t)
        except ConfigError:
            continue
        out.append(t)
    return out


def run_detectors(ds, typologies: Sequence[str] | None = None, config: DetectConfig | None = None,
                  *, progress: Callable[[str], None] | None = None) -> tuple[Path, AlertBatch, dict]:
    """Run detectors over a dataset and write a new results run.

    Returns (run directory, all alerts, run summary as written to run.json).
    """
    config = config or DetectConfig()
    chosen = [t.upper() for t in (typologies or available_typologies())]
    fns = {t: detector(t) for t in chosen}
    t0 = time.perf_counter()
    graph = ds.graph()
    sections = config.to_dict()
    summary = {"finflow_version": __version__, "dataset": str(ds.path),
               "graph_seconds": round(time.perf_counter() - t0, 3),
               "n_transactions": graph.n_edges, "n_accounts": graph.n_nodes,
               "typologies": chosen, "config": {t.lower(): sections[t.lower()] for t in chosen},
               "detectors": {}}
    batches = []
    for t in chosen:
        if progress:
            progress(t)
        t1 = time.perf_counter()
        det: Detection = fns[t](graph, config.section(t))
        batches.append(det.alerts)
        summary["detectors"][t] = {"alerts": len(det.alerts),
                                   "seconds": round(time.perf_counter() - t1, 3),
                                   **det.stats}
    alerts = combine(batches)
    run_dir = ds.new_run_dir()
    alerts.write(run_dir)
    summary["run_id"] = run_dir.name
    summary["total_seconds"] = round(time.perf_counter() - t0, 3)
    (run_dir / "run.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return run_dir, alerts, summary
