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


@given(st.lists(st.one_of(st.none(), st.text(alphabet="abcé€\x00 ", max_size=3)), max_size=60))
def test_enum_codes_match_the_hashing_kernel(values):
    """Both ways of coding strings (polars Enum for few distinct values, the numba hash
    kernel for many) give the same codes and categories, nulls -1, categories sorted."""
    import finflow.graph as graph_module
    from finflow.dataset import sorted_string_codes
    series = pl.Series(values, dtype=pl.String)
    codes, cats = graph_module._codes(series)
    kernel_codes, distinct = sorted_string_codes(series)
    assert codes.dtype == np.int32 and codes.tolist() == kernel_codes.tolist()
    assert cats == tuple(distinct.to_list())
    assert list(cats) == sorted(set(v for v in values if v is not None))
    assert [cats[c] if c >= 0 else None for c in codes.tolist()] == values


def test_many_distinct_strings_take_the_kernel_path(monkeypatch):
    import finflow.dataset
    import finflow.graph as graph_module
    calls = []
    real = finflow.dataset.sorted_string_codes
    monkeypatch.setattr(finflow.dataset, "sorted_string_codes",
                        lambda v: calls.append(len(v)) or real(v))
    values = pl.Series(["b", None, "a", "c", "a"])
    few = graph_module._codes(values)
    assert calls == []
    monkeypatch.setattr(graph_module, "_ENUM_MAX_CATEGORIES", 2)
    many = graph_module._codes(values)
    assert calls == [5]
    assert few[0].tolist() == many[0].tolist() == [1, -1, 0, 2, 0] and few[1] == many[1]


def _raw_rows():
    from finflow import schema
    return pl.DataFrame({
        "txn_id": [1], "ts": pl.Series([0], dtype=pl.Int64).cast(schema.TS),
        "src_id": ["a"], "dst_id": ["b"], "amount": [1.0], "amount_orig": [1.0],
        "currency": ["USD"], "channel": ["wire"], "src_bank": [None], "dst_bank": [None],
        "src_country": [None], "dst_country": [None],
        "label": pl.Series([None], dtype=pl.Int8),
    }).cast({c: t for c, t in schema.RAW_COLUMNS.items() if c != "ts"})


def test_write_dataset_refuses_to_replace_what_is_not_a_dataset(tmp_path):
    import pytest

    from finflow.dataset import write_dataset
    from finflow.errors import DatasetError
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("keep me")
    (project / "meta.json").write_text('{"name": "not finflow"}')
    with pytest.raises(DatasetError, match="not a finflow dataset"):
        write_dataset(project, _raw_rows(), meta={})
    assert (project / "notes.txt").read_text() == "keep me"
    a_file = tmp_path / "file.finflow"
    a_file.write_text("x")
    with pytest.raises(DatasetError, match="not a directory"):
        write_dataset(a_file, _raw_rows(), meta={})
    assert a_file.read_text() == "x"
    link = tmp_path / "link.finflow"
    link.symlink_to(project, target_is_directory=True)
    with pytest.raises(DatasetError, match="not a directory"):
        write_dataset(link, _raw_rows(), meta={})
    assert (project / "notes.txt").is_file()


def test_write_dataset_replaces_a_dataset_or_an_empty_directory(tmp_path):
    import pytest

    from finflow.dataset import write_dataset
    from finflow.errors import DatasetError
    case = tmp_path / "c.finflow"
    write_dataset(case, _raw_rows(), meta={})
    (case / "results").mkdir()
    ds = write_dataset(case, _raw_rows(), meta={"base_currency": "EUR"})
    assert ds.base_currency == "EUR" and not (case / "results").exists()
    with pytest.raises(DatasetError, match="exists"):
        write_dataset(case, _raw_rows(), meta={}, overwrite=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert write_dataset(empty, _raw_rows(), meta={}).meta["transactions"] == 1


def test_an_interrupted_write_can_be_replaced_and_a_finished_one_has_no_marker(tmp_path):
    """write_dataset marks its directory until meta.json is written; ingest and generate run
    the same check before any work (a project directory fails before staging)."""
    import pytest

    from finflow.dataset import INCOMPLETE_MARKER, write_dataset
    from finflow.errors import DatasetError
    from finflow.synth import generate
    case = tmp_path / "c.finflow"
    write_dataset(case, _raw_rows(), meta={})
    assert not (case / INCOMPLETE_MARKER).exists() and (case / "meta.json").is_file()
    (case / "meta.json").unlink()          # as if killed before meta.json was written ...
    (case / INCOMPLETE_MARKER).touch()     # ... with the marker still there
    assert write_dataset(case, _raw_rows(), meta={}).meta["transactions"] == 1
    assert not (case / INCOMPLETE_MARKER).exists()
    (case / "meta.json").unlink()          # parquet files but neither marker nor meta.json
    with pytest.raises(DatasetError, match="not a finflow dataset"):
        write_dataset(case, _raw_rows(), meta={})
    with pytest.raises(DatasetError, match="not a finflow dataset"):
        generate({"scenario": {"seed": 1}}, case)
