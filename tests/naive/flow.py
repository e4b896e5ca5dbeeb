"""Plain-Python twin of finflow._kernels.flow.pass_through_flow (the executable definition).

One account at a time: merge its inflows and outflows into one time-ordered event list
(inflows first at equal times, self-loops dropped), keep a FIFO list of lots, match every
outflow against the lots received at most ``max_dwell`` seconds earlier, and group lots
into episodes as documented in the kernel module.
"""
from __future__ import annotations

import math

import numpy as np


def pass_through_flow(g, max_dwell: int, min_ratio: float) -> dict:
    """Per-account dict and a list of episode dicts, keyed like the kernel's outputs."""
    accounts = []
    episodes = []
    for a in range(g.n_nodes):
        events = []
        for r in range(g.in_ptr[a], g.in_ptr[a + 1]):
            if g.in_nbr[r] != a:
                events.append((int(g.in_ts[r]), 0, r, float(g.in_amt[r])))
        for r in range(g.out_ptr[a], g.out_ptr[a + 1]):
            if g.out_nbr[r] != a:
                events.append((int(g.out_ts[r]), 1, r, float(g.out_amt[r])))
        events.sort()  # time, inflows first, then row order
        lots = []      # [row, ts, remaining, episode dict]
        mine = []
        current = None
        total_in = total_out = matched = balance = 0.0
        for t, kind, row, v in events:
            # only the open episode's lots can be matched; a closed episode's rest was kept
            waiting = [lot for lot in lots if lot[3] is current and lot[2] > 0
                       and t - lot[1] <= max_dwell]
            if kind == 0:
                if current is not None:
                    forwarded_enough = current["forwarded"] >= min_ratio * current["inflow"]
                    if forwarded_enough or not waiting:
                        current = None
                if current is None:
                    current = {"start": t, "end": t, "inflow": 0.0, "forwarded": 0.0,
                               "dwell_sum": 0.0, "in_lo": row, "in_hi": row + 1,
                               "out_lo": None, "out_hi": None}
                    mine.append(current)
                current["inflow"] += v
                current["in_hi"] = row + 1
                current["end"] = t
                lots.append([row, t, v, current])
                total_in += v
                balance += v
            else:
                need = v
                for lot in waiting:
                    if need <= 0:
                        break
                    take = min(lot[2], need)
                    if take > 0:
                        ep = lot[3]
                        ep["forwarded"] += take
                        ep["dwell_sum"] += take * (t - lot[1])
                        if ep["out_lo"] is None:
                            ep["out_lo"] = row
                        ep["out_hi"] = row + 1
                        ep["end"] = t
                        lot[2] -= take
                        need -= take
                        matched += take
                total_out += v
                balance = max(0.0, balance - v)
        dwells = []
        for ep in mine:
            if ep["out_lo"] is None:
                ep["out_lo"] = ep["out_hi"] = int(g.out_ptr[a])
            ep["dwell"] = ep["dwell_sum"] / ep["forwarded"] if ep["forwarded"] > 0 else 0.0
            ep["account"] = a
            if ep["inflow"] > 0 and ep["forwarded"] >= min_ratio * ep["inflow"]:
                dwells.append(ep["dwell"])
            del ep["dwell_sum"]
        episodes.extend(mine)
        accounts.append({"total_in": total_in, "total_out": total_out, "matched": matched,
                         "retained": balance, "n_qualifying": len(dwells),
                         "median_dwell": float(np.median(dwells)) if dwells else math.nan,
                         "n_episodes": len(mine)})
    return {"accounts": accounts, "episodes": episodes}
