"""finflow: find illicit-finance patterns in transaction data.

Python API (imports are lazy so that ``finflow --help`` starts fast)::

    import finflow
    ds = finflow.ingest(["tx.csv"], "case.finflow")          # or finflow.open_dataset(path)
    run_dir, alerts, summary = finflow.detect(ds)              # all typologies
    finflow.sql(ds, "select typology, count(*) from alerts group by 1")
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = [
    "__version__", "open_dataset", "ingest", "detect", "sql", "trace", "features",
    "generate", "evaluate", "report", "load_config", "Dataset", "TemporalGraph",
    "FinflowError", "InputError", "ConfigError",
]

_LAZY = {
    "open_dataset": ("finflow.dataset", "open_dataset"),
    "Dataset": ("finflow.dataset", "Dataset"),
    "TemporalGraph": ("finflow.graph", "TemporalGraph"),
    "load_config": ("finflow.config", "load_config"),
    "FinflowError": ("finflow.errors", "FinflowError"),
    "InputError": ("finflow.errors", "InputError"),
    "ConfigError": ("finflow.errors", "ConfigError"),
    "ingest": ("finflow.ingest", "ingest"),
    "detect": ("finflow.api", "detect"),
    "sql": ("finflow.sql", "query"),
    "trace": ("finflow.trace", "trace"),
    "features": ("finflow.features", "compute_features"),
    "generate": ("finflow.synth", "generate"),
    "evaluate": ("finflow.evaluate", "evaluate"),
    "report": ("finflow.report", "write_report"),
}

if TYPE_CHECKING:  # pragma: no cover
    from .dataset import Dataset, open_dataset  # noqa: F401
    from .graph import TemporalGraph  # noqa: F401


def __getattr__(name: str):
    if name in _LAZY:
        mod, attr = _LAZY[name]
        value = getattr(import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'finflow' has no attribute {name!r}")
