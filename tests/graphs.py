"""Named toy graphs, each a small story with a known answer.

Times are hours from T0; amounts in base currency.
"""
from __future__ import annotations

import numpy as np

from finflow.graph import TemporalGraph

T0 = 1_700_000_000
H = 3600


def graph(edges, n=None) -> TemporalGraph:
    """edges: list of (src, dst, hour, amount)."""
    if not edges:
        return TemporalGraph.from_arrays([], [], [], [], None, n or 1)
    s, d, h, a = zip(*edges)
    return TemporalGraph.from_arrays(np.array(s), np.array(d), T0 + np.array(h) * H,
                                     np.array(a, dtype=float), None, n)


def triangle_round_trip() -> TemporalGraph:
    """0 -> 1 -> 2 -> 0 within 3 hours keeping 95% each hop: one CYCLE of length 3."""
    return graph([(0, 1, 0, 1000.0), (1, 2, 1, 950.0), (2, 0, 2, 900.0)])


def triangle_out_of_order() -> TemporalGraph:
    """The same triangle with the closing edge before the first: no temporal cycle."""
    return graph([(2, 0, 0, 900.0), (0, 1, 1, 1000.0), (1, 2, 2, 950.0)])


def fan_out_star(k: int = 6) -> TemporalGraph:
    """Account 0 pays k distinct accounts within k hours: one FAN_OUT of degree k."""
    return graph([(0, i + 1, i, 100.0) for i in range(k)])


def diamond(k: int = 3) -> TemporalGraph:
    """Source 0 pays k intermediaries 1..k, each pays target k+1 an hour later: SCATTER_GATHER."""
    e = [(0, i, i, 500.0) for i in range(1, k + 1)]
    e += [(i, k + 1, k + i, 480.0) for i in range(1, k + 1)]
    return graph(e)
