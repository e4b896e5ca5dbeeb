"""finflow._kernels.jit.kernel: cached machine code loads without numba's compiler set-up and
computes what the freshly compiled code computed.

Each check runs fresh processes: in this one numba's registries are set up long ago.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

#: modules that only numba's compiler set-up (target-context refresh) imports
SETUP_ONLY = ("numba.np.arraymath", "numba.np.linalg")

_MODULE = textwrap.dedent('''
    import numpy as np
    from numba import prange
    from finflow._kernels.jit import kernel

    @kernel(inline="always")
    def _count_below(x, t):
        n = 0
        for v in x:
            n += v < t
        return n

    @kernel(parallel=True)
    def sorted_counts(x, ts):
        """per t: sorted x, then the count of x below t (parallel over ts)"""
        s = np.sort(x)
        out = np.empty(ts.shape[0], np.int64)
        for i in prange(ts.shape[0]):
            out[i] = _count_below(s, ts[i])
        return s, out
''')

_CHILD = textwrap.dedent('''
    import json, sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import toy_kernels as k
    s, out = k.sorted_counts(np.array([5.0, -1.0, 3.5, 3.5, 9.0]), np.array([0.0, 3.5, 4.0, 10.0]))
    print(json.dumps({"sorted": s.tolist(), "counts": out.tolist(),
                      "hits": sum(k.sorted_counts.stats.cache_hits.values()),
                      "misses": sum(k.sorted_counts.stats.cache_misses.values()),
                      "setup_imported": [m for m in %r if m in sys.modules]}))
''' % (SETUP_ONLY,))


def _child(tmp_path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_cached_kernel_loads_without_compiler_setup(tmp_path):
    (tmp_path / "toy_kernels.py").write_text(_MODULE)
    cold = _child(tmp_path)
    warm = _child(tmp_path)
    assert cold["misses"] == 1 and cold["hits"] == 0  # compiled: numba's full path
    assert warm["hits"] == 1 and warm["misses"] == 0  # loaded from the cache
    expected = {"sorted": [-1.0, 3.5, 3.5, 5.0, 9.0], "counts": [1, 1, 3, 5]}
    for run in (cold, warm):
        assert {k: run[k] for k in expected} == expected
    assert warm["setup_imported"] == []
    assert set(cold["setup_imported"]) == set(SETUP_ONLY)  # the check above can fail


@pytest.mark.slow
def test_warm_detect_matches_and_skips_compiler_setup(small_case):
    """``finflow detect`` twice in fresh processes (the first may compile, the second loads
    every kernel from the cache): byte-identical alert files, and the second never set up
    numba's compiler."""
    code = textwrap.dedent('''
        import sys
        from finflow.api import detect
        run_dir, _, _ = detect(sys.argv[1])
        print(run_dir.name, [m for m in %r if m in sys.modules])
    ''' % (SETUP_ONLY,))
    runs = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code, str(small_case)], capture_output=True,
                             text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-2000:]
        runs.append(out.stdout.strip().splitlines()[-1])
    assert runs[1].endswith("[]"), runs[1]
    first, second = (small_case / "results" / r.split()[0] for r in runs)
    for name in ("alerts", "alert_accounts", "alert_transactions"):
        assert (first / f"{name}.parquet").read_bytes() == (second / f"{name}.parquet").read_bytes()
