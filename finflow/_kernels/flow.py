"""Pass-through kernel: FIFO matching of each account's inflows to its later outflows.

Definitions (the executable version is ``tests/naive/flow.py``)
------------------------------------------------------------------
For one account ``a`` take its in-row and out-row of the TemporalGraph (time-sorted),
ignoring self-loops ``a -> a`` (they move no value). Events are processed in time order; at
equal timestamps inflows come first (money received at second ``t`` may leave at ``t``), and
within one side the CSR row order (dataset order) is kept.

* **Lot**: every inflow is a lot with a remaining value, initially its amount.
* **Matching (FIFO within the dwell limit)**: an outflow of value ``v`` at time ``t`` first
  drops every lot received before ``t - max_dwell`` (expired: its remaining value is kept by
  the account and never matched), then consumes the oldest remaining lots until ``v`` is
  covered or no lot is left. The consumed value is *matched*; each matched piece has a dwell
  ``t - t_lot`` (seconds, 0 <= dwell <= max_dwell). Value not covered by lots is paid from
  the unknown opening balance (assumed 0, so it is simply not matched).
* **Episode**: lots are grouped, in arrival order, into episodes. An inflow opens a new
  episode unless the current episode is still *active*: not yet forwarded (forwarded <
  ``min_ratio`` x inflow) and with value still waiting (some lot of it neither consumed nor
  expired at the new inflow's time). When an episode closes, the value its lots still hold
  is retired: the account kept it, and it can no longer absorb later outflows (otherwise a
  mule keeping a 10% cut would see each cut eat into the next episode's forwarding under
  FIFO). So outflows only ever consume lots of the open episode. Per episode:
  inflow ``I`` (sum of its lot amounts), forwarded ``F`` (matched value of its lots), dwell
  (value-weighted mean dwell of its matched pieces), start (first lot time), end (last lot
  or last matching outflow time), the in-row range of its lots and the out-row range of the
  outflows that consumed its lots (both contiguous).
* **Qualifying episode**: ``I > 0`` and ``F >= min_ratio * I``.
* **Retained balance**: the running balance from an opening balance of 0, floored at 0
  after every outflow (an outflow exceeding the known balance is paid from unknown funds),
  at the account's last event.

Complexity: O(E + N) time and O(E) memory after the CSR sort; every lot is appended once and
leaves the FIFO once.
"""
from __future__ import annotations

import numpy as np

from .jit import kernel

__all__ = ["pass_through_flow"]


@kernel
def pass_through_flow(in_ptr, in_nbr, in_ts, in_amt, out_ptr, out_nbr, out_ts, out_amt,
                      max_dwell, min_ratio):
    """FIFO inflow->outflow matching within ``max_dwell`` seconds, per account.

    Inputs are the TemporalGraph in_* and out_* CSR arrays (int64 ptr, int32 nbr, int64 ts
    seconds, float64 amounts in base currency). Returns two groups of arrays:

    per account (length N): total_in, total_out, matched (float64), retained (float64,
    floored running balance), n_qualifying (int64), median_dwell (float64 seconds, median of
    the qualifying episodes' dwell; NaN when none), ep_ptr (int64[N+1], episode CSR);

    per episode (length P, grouped by account, in time order): ep_start, ep_end (int64),
    ep_inflow, ep_forwarded, ep_dwell (float64; dwell in seconds, 0 when nothing matched),
    ep_in_lo, ep_in_hi, ep_out_lo, ep_out_hi (int64 row ranges into in_* / out_*; the out
    range is empty when nothing matched; ranges may contain self-loop rows, to be skipped).
    """
    n = in_ptr.shape[0] - 1
    n_in_rows = in_ts.shape[0]
    total_in = np.zeros(n, np.float64)
    total_out = np.zeros(n, np.float64)
    matched = np.zeros(n, np.float64)
    retained = np.zeros(n, np.float64)
    n_qualifying = np.zeros(n, np.int64)
    median_dwell = np.full(n, np.nan, np.float64)
    ep_ptr = np.zeros(n + 1, np.int64)

    ep_start = np.empty(n_in_rows, np.int64)
    ep_end = np.empty(n_in_rows, np.int64)
    ep_inflow = np.empty(n_in_rows, np.float64)
    ep_forwarded = np.empty(n_in_rows, np.float64)
    ep_dwell_sum = np.empty(n_in_rows, np.float64)
    ep_in_lo = np.empty(n_in_rows, np.int64)
    ep_in_hi = np.empty(n_in_rows, np.int64)
    ep_out_lo = np.empty(n_in_rows, np.int64)
    ep_out_hi = np.empty(n_in_rows, np.int64)
    remaining = np.zeros(n_in_rows, np.float64)   # lot value not yet matched
    dwell_buf = np.empty(n_in_rows, np.float64)   # scratch for the per-account median

    n_ep = 0
    for a in range(n):
        i, i_end = in_ptr[a], in_ptr[a + 1]
        o, o_end = out_ptr[a], out_ptr[a + 1]
        head = i          # oldest lot that may still hold value
        cur = -1          # open episode
        bal = 0.0
        first_ep = n_ep
        while True:
            while i < i_end and in_nbr[i] == a:
                i += 1
            while o < o_end and out_nbr[o] == a:
                o += 1
            if i >= i_end and o >= o_end:
                break
            if o >= o_end or (i < i_end and in_ts[i] <= out_ts[o]):
                t = in_ts[i]
            else:
                t = out_ts[o]
            # drop consumed / expired lots from the front of the FIFO
            while head < i and (remaining[head] <= 0.0 or t - in_ts[head] > max_dwell):
                head += 1
            if o >= o_end or (i < i_end and in_ts[i] <= out_ts[o]):
                v = in_amt[i]
                if cur >= 0 and (ep_forwarded[cur] >= min_ratio * ep_inflow[cur] or head == i):
                    cur = -1
                if cur < 0:
                    head = i  # retire what the closed episode still holds: the account kept it
                    cur = n_ep
                    n_ep += 1
                    ep_start[cur] = t
                    ep_inflow[cur] = 0.0
                    ep_forwarded[cur] = 0.0
                    ep_dwell_sum[cur] = 0.0
                    ep_in_lo[cur] = i
                    ep_out_lo[cur] = -1
                    ep_out_hi[cur] = -1
                ep_inflow[cur] += v
                ep_in_hi[cur] = i + 1
                ep_end[cur] = t
                remaining[i] = v
                total_in[a] += v
                bal += v
                i += 1
            else:
                v = out_amt[o]
                need = v
                k = head
                while need > 0.0 and k < i:
                    take = remaining[k] if remaining[k] < need else need
                    if take > 0.0:
                        e = cur   # only the open episode's lots are in the FIFO
                        ep_forwarded[e] += take
                        ep_dwell_sum[e] += take * (t - in_ts[k])
                        if ep_out_lo[e] < 0:
                            ep_out_lo[e] = o
                        ep_out_hi[e] = o + 1
                        ep_end[e] = t
                        remaining[k] -= take
                        need -= take
                        matched[a] += take
                    if remaining[k] <= 0.0:
                        k += 1
                head = k
                total_out[a] += v
                bal -= v
                if bal < 0.0:
                    bal = 0.0
                o += 1
        retained[a] = bal
        nq = 0
        for e in range(first_ep, n_ep):
            if ep_out_lo[e] < 0:
                ep_out_lo[e] = out_ptr[a]   # empty range: nothing matched
                ep_out_hi[e] = out_ptr[a]
            if ep_inflow[e] > 0.0 and ep_forwarded[e] >= min_ratio * ep_inflow[e]:
                dwell_buf[nq] = (ep_dwell_sum[e] / ep_forwarded[e]) if ep_forwarded[e] > 0.0 else 0.0
                nq += 1
        n_qualifying[a] = nq
        if nq > 0:
            s = np.sort(dwell_buf[:nq])
            if nq % 2 == 1:
                median_dwell[a] = s[nq // 2]
            else:
                median_dwell[a] = 0.5 * (s[nq // 2 - 1] + s[nq // 2])
        ep_ptr[a + 1] = n_ep

    ep_dwell = np.zeros(n_ep, np.float64)
    for e in range(n_ep):
        if ep_forwarded[e] > 0.0:
            ep_dwell[e] = ep_dwell_sum[e] / ep_forwarded[e]
    return (total_in, total_out, matched, retained, n_qualifying, median_dwell, ep_ptr,
            ep_start[:n_ep].copy(), ep_end[:n_ep].copy(), ep_inflow[:n_ep].copy(),
            ep_forwarded[:n_ep].copy(), ep_dwell, ep_in_lo[:n_ep].copy(),
            ep_in_hi[:n_ep].copy(), ep_out_lo[:n_ep].copy(), ep_out_hi[:n_ep].copy())
