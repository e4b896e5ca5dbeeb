"""TemporalGraph: the one graph structure every kernel reads.

Edges are transactions, indexed ``e = 0..E-1`` in the dataset's (ts, txn_id) order. Two CSR
views point into them: ``out_*`` rows by source account and ``in_*`` rows by destination
account; inside each row edges are in time order (a stable sort of time-sorted edges).

Arrays (E = transactions, N = accounts)::

    src, dst      int32[E]   account indices
    ts            int64[E]   seconds since the Unix epoch, UTC, non-decreasing
    amt           float64[E] amount in the base currency
    txn_id        int64[E]   the dataset's transaction id
    out_ptr       int64[N+1] row offsets; out_nbr int32, out_ts int64, out_amt float64,
                             out_eid int64 (edge index) share them; in_* likewise
    node_country, node_bank  int32[N] codes into ``countries`` / ``banks`` (-1 unknown)
    edge_currency            int32[E] codes into ``currencies`` (-1 unknown)
    edge_channel             int32[E] codes into ``channels`` (-1 unknown), e.g. wire, card
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from .errors import DatasetError

if TYPE_CHECKING:  # pragma: no cover
    from .dataset import Dataset

__all__ = ["TemporalGraph", "check_graph"]


def _csr(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row pointers and a stable permutation grouping edges by ``keys`` (int32 in [0, n)).

    The stable order is one plain sort of int64 ``key << 32 | edge`` (distinct values, so any
    sort is stable; numpy's int64 sort is several times faster than its stable int32 sort,
    a timsort). O(E log E); E >= 2**32 falls back to the stable argsort.
    """
    e = keys.shape[0]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=ptr[1:])
    if e >= 2**32:  # pragma: no cover - beyond 4G edges
        return ptr, np.argsort(keys, kind="stable").astype(np.int64)
    packed = keys.astype(np.int64)
    packed <<= 32
    packed |= np.arange(e, dtype=np.int64)
    packed.sort()
    packed &= 0xFFFFFFFF
    return ptr, packed


#: above this many distinct strings _codes hashes with the numba kernel instead of an Enum
_ENUM_MAX_CATEGORIES = 1 << 16


def _codes(values: pl.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes into the sorted distinct non-null values (-1 for null), and those values.

    Strings with few distinct values (country, bank, currency, channel: the usual case) are
    coded by polars alone, a cast to the Enum of the sorted distinct values: O(n), and no
    numba kernel to load, which matters for the start-up of ``finflow detect``. Many distinct
    values go to dataset.sorted_string_codes (one 64-bit hash pass, about twice as fast there).
    """
    if values.dtype == pl.String:
        distinct = values.drop_nulls().unique().sort()
        if distinct.len() <= _ENUM_MAX_CATEGORIES:
            codes = values.cast(pl.Enum(distinct)).to_physical().cast(pl.Int32).fill_null(-1)
            return np.ascontiguousarray(codes.to_numpy(), dtype=np.int32), tuple(distinct.to_list())
        from .dataset import sorted_string_codes
        coded = sorted_string_codes(values)
        if coded is not None:
            codes, distinct = coded
            return codes, tuple(distinct.to_list())
    cats = tuple(sorted(v for v in values.unique().to_list() if v is not None))
    lookup = {c: i for i, c in enumerate(cats)}
    codes = values.replace_strict(lookup, default=-1, return_dtype=pl.Int32).to_numpy()
    return np.ascontiguousarray(codes, dtype=np.int32), cats


@dataclass(frozen=True, eq=False)
class TemporalGraph:
    n_nodes: int
    src: np.ndarray
    dst: np.ndarray
    ts: np.ndarray
    amt: np.ndarray
    txn_id: np.ndarray
    out_ptr: np.ndarray
    out_nbr: np.ndarray
    out_ts: np.ndarray
    out_amt: np.ndarray
    out_eid: np.ndarray
    in_ptr: np.ndarray
    in_nbr: np.ndarray
    in_ts: np.ndarray
    in_amt: np.ndarray
    in_eid: np.ndarray
    node_country: np.ndarray
    node_bank: np.ndarray
    edge_currency: np.ndarray
    edge_channel: np.ndarray
    countries: tuple[str, ...] = ()
    banks: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    account_ids: pl.Series | None = None

    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])

    @classmethod
    def from_arrays(cls, src, dst, ts, amt, txn_id=None, n_nodes: int | None = None, *,
                    node_country=None, node_bank=None, edge_currency=None,
                    edge_channel=None, countries=(), banks=(), currencies=(), channels=(),
                    account_ids=None) -> "TemporalGraph":
        """Build from edge arrays. Edges are re-sorted by (ts, original position) if needed."""
        src = np.asarray(src, dtype=np.int32)
        dst = np.asarray(dst, dtype=np.int32)
        ts = np.asarray(ts, dtype=np.int64)
        amt = np.asarray(amt, dtype=np.float64)
        e = src.shape[0]
        txn_id = np.arange(e, dtype=np.int64) if txn_id is None else np.asarray(txn_id, np.int64)
        if not (dst.shape[0] == ts.shape[0] == amt.shape[0] == txn_id.shape[0] == e):
            raise ValueError("src, dst, ts, amt and txn_id must have one length")
        if e and bool((ts[1:] < ts[:-1]).any()):
            order = np.argsort(ts, kind="stable")
            src, dst, ts, amt, txn_id = src[order], dst[order], ts[order], amt[order], txn_id[order]
            if edge_currency is not None:
                edge_currency = np.asarray(edge_currency)[order]
            if edge_channel is not None:
                edge_channel = np.asarray(edge_channel)[order]
        if n_nodes is None:
            n_nodes = int(max(src.max(initial=-1), dst.max(initial=-1)) + 1)
        if e and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n_nodes):
            raise ValueError("account index out of range [0, n_nodes)")
        out_ptr, out_eid = _csr(src, n_nodes)
        in_ptr, in_eid = _csr(dst, n_nodes)
        unknown_n = np.full(n_nodes, -1, dtype=np.int32)
        return cls(
            n_nodes=int(n_nodes), src=src, dst=dst, ts=ts, amt=amt, txn_id=txn_id,
            out_ptr=out_ptr, out_nbr=dst[out_eid], out_ts=ts[out_eid], out_amt=amt[out_eid],
            out_eid=out_eid,
            in_ptr=in_ptr, in_nbr=src[in_eid], in_ts=ts[in_eid], in_amt=amt[in_eid], in_eid=in_eid,
            node_country=unknown_n if node_country is None else np.asarray(node_country, np.int32),
            node_bank=unknown_n.copy() if node_bank is None else np.asarray(node_bank, np.int32),
            edge_currency=(np.full(e, -1, np.int32) if edge_currency is None
                           else np.asarray(edge_currency, np.int32)),
            edge_channel=(np.full(e, -1, np.int32) if edge_channel is None
                          else np.asarray(edge_channel, np.int32)),
            countries=tuple(countries), banks=tuple(banks), currencies=tuple(currencies),
            channels=tuple(channels),
            account_ids=None if account_ids is None else pl.Series("account_id", account_ids, pl.String),
        )

    @classmethod
    def from_dataset(cls, ds: "Dataset") -> "TemporalGraph":
        """Build from a dataset's transactions and accounts (columns read once, no row loop)."""
        tx = ds.transactions().select(
            "src", "dst", pl.col("ts").dt.epoch("s").alias("ts"), "amount", "txn_id",
            "currency", "channel").collect()
        acc = ds.accounts().select("account", "account_id", "bank", "country").collect()
        n = acc.height
        if not np.array_equal(acc["account"].to_numpy(), np.arange(n, dtype=np.int32)):
            raise DatasetError(f"{ds.path}: accounts.parquet is not a dense 0..N-1 index")
        country, countries = _codes(acc["country"])
        bank, banks = _codes(acc["bank"])
        currency, currencies = _codes(tx["currency"])
        channel, channels = _codes(tx["channel"])
        return cls.from_arrays(
            tx["src"].to_numpy(), tx["dst"].to_numpy(), tx["ts"].to_numpy(),
            tx["amount"].to_numpy(), tx["txn_id"].to_numpy(), n,
            node_country=country, node_bank=bank, edge_currency=currency, edge_channel=channel,
            countries=countries, banks=banks, currencies=currencies, channels=channels,
            account_ids=acc["account_id"])

    def account_id_of(self, accounts: np.ndarray) -> pl.Series:
        """Account id strings for an int array of account indices (a String Series named
        account_id). Detectors call this per alert, so it indexes the Series directly:
        ``Series.gather`` runs through polars' expression engine, ~0.2 ms a call."""
        idx = np.asarray(accounts, dtype=np.int64).ravel()
        if self.account_ids is None:
            return pl.Series("account_id", idx).cast(pl.String)
        ids = self.account_ids[idx]
        return ids if ids.name == "account_id" else ids.alias("account_id")


def check_graph(g: TemporalGraph) -> None:
    """Assert every structural invariant kernels rely on; raises AssertionError."""
    e, n = g.n_edges, g.n_nodes
    assert np.all(np.diff(g.ts) >= 0), "edges not sorted by time"
    for ptr, nbr, tsr, amt, eid, own, other in (
        (g.out_ptr, g.out_nbr, g.out_ts, g.out_amt, g.out_eid, g.src, g.dst),
        (g.in_ptr, g.in_nbr, g.in_ts, g.in_amt, g.in_eid, g.dst, g.src),
    ):
        assert ptr.shape == (n + 1,) and ptr[0] == 0 and ptr[-1] == e
        assert np.all(np.diff(ptr) >= 0)
        assert np.array_equal(np.sort(eid), np.arange(e))
        rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(ptr))
        assert np.array_equal(own[eid], rows)
        assert np.array_equal(other[eid], nbr)
        assert np.array_equal(g.ts[eid], tsr) and np.array_equal(g.amt[eid], amt)
        same_row = rows[1:] == rows[:-1]
        assert np.all(np.diff(tsr)[same_row] >= 0), "row not time-sorted"
