import numpy as np
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from finflow.graph import TemporalGraph, check_graph
from tests.strategies import temporal_graphs


@given(temporal_graphs())
def test_random_graphs_satisfy_invariants(g):
    check_graph(g)


def test_unsorted_input_is_sorted_by_time_stably():
    g = TemporalGraph.from_arrays([0, 1, 2], [1, 2, 0], [30, 10, 10], [1.0, 2.0, 3.0], [7, 8, 9], 3)
    assert g.ts.tolist() == [10, 10, 30]
    assert g.txn_id.tolist() == [8, 9, 7]
    check_graph(g)


def test_out_rows_hold_each_accounts_edges_in_time_order():
    g = TemporalGraph.from_arrays([0, 0, 1, 0], [1, 2, 0, 3], [5, 6, 7, 8], [1.0] * 4, None, 4)
    row0 = slice(g.out_ptr[0], g.out_ptr[1])
    assert g.out_nbr[row0].tolist() == [1, 2, 3]
    assert g.out_ts[row0].tolist() == [5, 6, 8]
    assert g.in_nbr[g.in_ptr[0]:g.in_ptr[1]].tolist() == [1]


def test_account_ids_map_indices_to_strings():
    g = TemporalGraph.from_arrays([0], [1], [0], [1.0], None, 2, account_ids=["a", "b"])
    assert g.account_id_of(np.array([1, 0, 1])).to_list() == ["b", "a", "b"]


def test_index_out_of_range_is_rejected():
    import pytest
    with pytest.raises(ValueError):
        TemporalGraph.from_arrays([0], [5], [0], [1.0], None, 2)


@given(st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.integers(0, n - 1), max_size=200))))
def test_csr_is_a_stable_grouping(case):
    from finflow.graph import _csr
    n, keys = case
    keys = np.asarray(keys, dtype=np.int32)
    ptr, order = _csr(keys, n)
    assert ptr.dtype == np.int64 and order.dtype == np.int64
    assert ptr.tolist() == [0] + np.cumsum(np.bincount(keys, minlength=n)).tolist()
    assert order.tolist() == np.argsort(keys, kind="stable").tolist()


def test_codes_are_sorted_category_positions_with_minus_one_for_null():
    from finflow.graph import _codes
    codes, cats = _codes(pl.Series(["wire", None, "ach", "wire", ""]))
    assert cats == ("", "ach", "wire") and codes.dtype == np.int32
    assert codes.tolist() == [2, -1, 1, 2, 0]
    codes, cats = _codes(pl.Series([None, None], dtype=pl.String))
    assert cats == () and codes.tolist() == [-1, -1]
    codes, cats = _codes(pl.Series([None, None]))  # Null dtype: the general path
    assert cats == () and codes.tolist() == [-1, -1]


def test_from_dataset_codes_and_index(tmp_path):
    from finflow import schema
    from finflow.dataset import open_dataset, write_dataset
    raw = pl.DataFrame({
        "txn_id": [1, 2, 3], "ts": pl.Series([0, 5, 5], dtype=pl.Int64).cast(schema.TS),
        "src_id": ["b", "a", "c"], "dst_id": ["a", "c", "b"], "amount": [1.0, 2.0, 3.0],
        "amount_orig": [1.0, 2.0, 3.0], "currency": ["USD", "EUR", None],
        "channel": [None, "wire", "card"], "src_bank": ["B2", None, "B1"],
        "dst_bank": [None, None, None], "src_country": [None, "GB", None],
        "dst_country": ["US", None, None], "label": pl.Series([None] * 3, dtype=pl.Int8),
    }).cast({c: t for c, t in schema.RAW_COLUMNS.items() if c != "ts"})
    g = TemporalGraph.from_dataset(open_dataset(write_dataset(tmp_path / "c.finflow", raw,
                                                              meta={}).path))
    check_graph(g)
    assert g.account_ids.to_list() == ["a", "b", "c"]
    assert (g.src.tolist(), g.dst.tolist()) == ([1, 0, 2], [0, 2, 1])
    assert g.currencies == ("EUR", "USD") and g.edge_currency.tolist() == [1, 0, -1]
    assert g.channels == ("card", "wire") and g.edge_channel.tolist() == [-1, 1, 0]
    assert g.banks == ("B1", "B2") and g.node_bank.tolist() == [-1, 1, 0]
    assert g.countries == ("GB",) and g.node_country.tolist() == [0, -1, -1]  # GB < US


def test_api_names_shared_with_submodules_stay_callable():
    """Importing finflow.evaluate (a module) first must not break finflow.evaluate(...)."""
    import importlib

    import finflow
    for name in ("ingest", "sql", "trace", "features", "evaluate", "report"):
        importlib.import_module(f"finflow.{name}")
        assert callable(getattr(finflow, name)), name
