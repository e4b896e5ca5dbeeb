import numpy as np
import polars as pl
from hypothesis import given

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
