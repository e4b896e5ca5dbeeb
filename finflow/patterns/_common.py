"""Helpers shared by detectors (score shaping)."""
from __future__ import annotations

import numpy as np

__all__ = ["saturate", "speed_score"]


def saturate(x, half: float):
    """Map x >= 0 to [0, 1): x / (x + half); equals 0.5 at x == half. Monotone."""
    x = np.maximum(np.asarray(x, np.float64), 0.0)
    return x / (x + half)


def speed_score(span_seconds, window_seconds: float):
    """1 for an instantaneous pattern, falling linearly to 0 at the full window."""
    s = np.asarray(span_seconds, np.float64)
    return np.clip(1.0 - s / max(float(window_seconds), 1.0), 0.0, 1.0)
