"""Accumulates generated transactions as numpy column blocks (no per-row Python objects)."""
from __future__ import annotations

import numpy as np

from .world import CH, RATES, World

__all__ = ["Rows"]


class Rows:
    """Column blocks of transactions in population indices and seconds from the start.

    ``add`` takes arrays (or scalars broadcast to them). Amounts are in the base currency
    (EUR). ``exact`` rows keep their base amount to the cent (planted amounts that must sit in
    a band); other rows are re-expressed in the sender's currency first, optionally rounded to a
    nice local unit (``round_local``), and converted back, as a person would type them.
    """

    def __init__(self, world: World):
        self.world = world
        self.blocks: list[tuple] = []

    def add(self, src, dst, t, amount, channel, *, instance: int = -1, exact: bool = False,
            round_local=False) -> None:
        src = np.atleast_1d(np.asarray(src, dtype=np.int64))
        n = src.shape[0]
        if n == 0:
            return
        dst = np.broadcast_to(np.asarray(dst, dtype=np.int64), (n,))
        t = np.broadcast_to(np.asarray(t, dtype=np.int64), (n,))
        amount = np.broadcast_to(np.asarray(amount, dtype=np.float64), (n,))
        if isinstance(channel, str):
            channel = np.full(n, CH[channel], dtype=np.int8)
        channel = np.broadcast_to(np.asarray(channel, dtype=np.int8), (n,))
        rnd = np.broadcast_to(np.asarray(round_local, dtype=bool), (n,))
        self.blocks.append((src, dst, t, amount, channel, np.full(n, instance, np.int32),
                            np.full(n, exact, bool), rnd))

    def __len__(self) -> int:
        return sum(b[0].shape[0] for b in self.blocks)

    def columns(self) -> dict[str, np.ndarray]:
        """All rows as arrays, currency codes (into world.CURRENCIES) resolved and amounts in base and original currency."""
        cols = [np.concatenate([b[i] for b in self.blocks]) for i in range(8)]
        src, dst, t, amount, channel, instance, exact, rnd = cols
        w = self.world
        currency = w.currency_of(src)
        rate = RATES[currency]
        orig = amount * rate
        unit = 10.0 ** np.maximum(1.0, np.floor(np.log10(rate * 10.0)))
        cents = np.where(rate > 50.0, 0, 2)          # no cents in VND, IQD, ALL
        orig_r = np.where(cents == 0, np.round(orig), np.round(orig, 2))
        nice = np.maximum(unit, np.round(orig / unit) * unit)
        orig_r = np.where(rnd, nice, orig_r)
        base = np.where(exact, np.round(amount, 2), np.round(orig_r / rate, 2))
        orig_r = np.where(exact, np.round(amount * rate, 2), orig_r)
        return dict(src=src, dst=dst, t=t, amount=base, amount_orig=orig_r, currency=currency,
                    channel=channel, instance=instance)
