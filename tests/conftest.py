from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


@pytest.fixture
def small_case(tmp_path) -> Path:
    """A private copy of sample_data/small.finflow (tests may add runs to it)."""
    src = SAMPLE / "small.finflow"
    if not src.is_dir():
        pytest.skip("sample_data/small.finflow not generated yet")
    dst = tmp_path / "small.finflow"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("results"))
    return dst
