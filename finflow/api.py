"""Thin Python API functions that take paths or datasets (the CLI calls these)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .config import DetectConfig, load_config
from .dataset import Dataset, open_dataset

__all__ = ["detect", "as_dataset"]


def as_dataset(ds: Dataset | str | Path) -> Dataset:
    return ds if isinstance(ds, Dataset) else open_dataset(ds)


def detect(ds: Dataset | str | Path, typologies: Sequence[str] | None = None,
           config: DetectConfig | str | Path | None = None, *, progress=None):
    """Run detectors and write a results run. Returns (run_dir, AlertBatch, summary dict)."""
    from .patterns import run_detectors
    cfg = config if isinstance(config, DetectConfig) else load_config(config)
    return run_detectors(as_dataset(ds), typologies, cfg, progress=progress)
