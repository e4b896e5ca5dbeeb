"""The kernel test modules once more with numba's JIT off (NUMBA_DISABLE_JIT=1), in a child
process: every kernel body then runs as the plain Python it is written in, and must pass the
same twin, property and toy-graph tests as its compiled self (shared/DESIGN.md). A kernel
leaning on numba-only behaviour (integer wrap-around, typed-container quirks) fails here.

Excluded: tests marked ``slow`` or ``large`` (10^5+ transactions take minutes as Python).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: the modules that test kernels against their twins in tests/naive
KERNEL_TEST_MODULES = ["test_bipartite.py", "test_cycles.py", "test_fan.py", "test_features.py",
                       "test_graph.py", "test_hawala.py", "test_mule_ring.py",
                       "test_pass_through.py", "test_scatter_gather.py", "test_structuring.py",
                       "test_trace.py"]


@pytest.mark.slow
def test_kernel_tests_pass_with_the_jit_disabled():
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        pytest.skip("this run already has the JIT disabled")
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", *(f"tests/{m}" for m in KERNEL_TEST_MODULES),
         "-m", "not slow and not large", "-p", "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    tail = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-2000:]
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in tail and "failed" not in tail, tail
