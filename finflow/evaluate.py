"""Score a run's alerts against a dataset's ground truth, per typology.

Truth is ``truth/instances.parquet`` (instance, typology, account, account_id, role) and
``truth/instance_transactions.parquet``; generated, AMLSim- and AMLworld-derived datasets all
write these. An instance's *core* accounts are those whose role is core for its typology
(:data:`CORE_ROLES`, documented in seeds/README.md); when an instance has none of them (truth
from another source with other roles) all its accounts are core.

Definitions (one row per typology, then ``TOTAL``):

instances           planted instances of the typology
found / recall      an instance is found when one alert of *its* typology covers >= 50% of
                    its core accounts; recall = found / instances
alerts              alerts of the typology in the run
correct / precision an alert is correct when it shares >= min(2, |alert accounts|, |core|)
                    accounts with the core of one planted instance of *any* typology (the
                    |core| term lets a one-account PASS_THROUGH instance be hit at all)
precision_same_typology  the same with the instance restricted to the alert's typology
p_at_10, p_at_20    precision of the k highest-scoring alerts (ties by alert_id); with fewer
                    than k alerts, of all of them
acc_precision, acc_recall  accounts named by alerts of the typology vs core accounts of its
                    instances (TOTAL: all alert accounts vs all core accounts)

A dataset with only a transaction ``label`` column (AMLworld without pattern files) gets
transaction-level scores instead: :func:`evaluate_labels`.
Cost: joins over alert accounts x core accounts, O((M + C) log(M + C)).
"""
from __future__ import annotations

import polars as pl

from .dataset import Dataset
from .errors import DatasetError
from .schema import CORE_ROLES
from .schema import TYPOLOGY_ORDER as ORDER

__all__ = ["evaluate", "evaluate_tables", "evaluate_labels", "core_accounts", "CORE_ROLES",
           "EVAL_SCHEMA"]

EVAL_SCHEMA: dict[str, pl.DataType] = {
    "typology": pl.String, "instances": pl.Int64, "found": pl.Int64, "recall": pl.Float64,
    "alerts": pl.Int64, "correct": pl.Int64, "precision": pl.Float64,
    "precision_same_typology": pl.Float64, "p_at_10": pl.Float64, "p_at_20": pl.Float64,
    "acc_precision": pl.Float64, "acc_recall": pl.Float64,
}
LABEL_SCHEMA: dict[str, pl.DataType] = {
    "typology": pl.String, "alerts": pl.Int64, "alert_transactions": pl.Int64,
    "labelled": pl.Int64, "hit": pl.Int64, "tx_precision": pl.Float64, "tx_recall": pl.Float64,
}


def core_accounts(truth: pl.DataFrame) -> pl.DataFrame:
    """(instance, typology, account) of every instance's core accounts (see module doc)."""
    rules = pl.DataFrame({"typology": list(CORE_ROLES), "role": [list(v) for v in CORE_ROLES.values()]},
                         schema={"typology": pl.String, "role": pl.List(pl.String)}
                         ).explode("role").with_columns(pl.lit(True).alias("_core"))
    t = truth.select("instance", "typology", "account", "role").join(
        rules, on=["typology", "role"], how="left").with_columns(pl.col("_core").fill_null(False))
    has_core = t.group_by("instance").agg(pl.col("_core").any().alias("_any"))
    t = t.join(has_core, on="instance").filter(pl.col("_core") | ~pl.col("_any"))
    return t.select("instance", "typology", "account").unique().sort("instance", "account")


def _ratio(num, den):
    return None if not den else num / den


def _p_at_k(alerts: pl.DataFrame, k: int) -> float | None:
    top = alerts.sort(["score", "alert_id"], descending=[True, False]).head(k)
    return _ratio(int(top["correct"].sum()), top.height)


def evaluate_tables(truth: pl.DataFrame, alerts: pl.DataFrame,
                    alert_accounts: pl.DataFrame) -> pl.DataFrame:
    """The evaluation table from truth instances and a run's alerts / alert_accounts."""
    core = core_accounts(truth)
    n_core = core.group_by("instance", "typology").agg(pl.len().alias("n_core"))
    aa = alert_accounts.select("alert_id", "account").unique().join(
        alerts.select("alert_id", pl.col("typology").alias("a_typ")), on="alert_id")
    n_alert = aa.group_by("alert_id").agg(pl.len().alias("n_acc"))
    shared = (aa.join(core.rename({"typology": "i_typ"}), on="account")
              .group_by("alert_id", "a_typ", "instance", "i_typ").agg(pl.len().alias("shared"))
              .join(n_alert, on="alert_id")
              .join(n_core.rename({"typology": "i_typ"}), on=["instance", "i_typ"])
              .with_columns(
                  (pl.col("shared") >= pl.min_horizontal(2, "n_acc", "n_core")).alias("hit"),
                  (pl.col("shared") >= 0.5 * pl.col("n_core")).alias("covers")))
    found = (shared.filter(pl.col("covers") & (pl.col("a_typ") == pl.col("i_typ")))
             .select("instance").unique())
    hits = shared.filter("hit")
    alerts_c = alerts.select("alert_id", "typology", "score").with_columns(
        pl.col("alert_id").is_in(hits["alert_id"].implode()).alias("correct"),
        pl.col("alert_id").is_in(hits.filter(pl.col("a_typ") == pl.col("i_typ"))["alert_id"]
                                 .implode()).alias("correct_same"))
    inst = n_core.with_columns(pl.col("instance").is_in(found["instance"].implode()).alias("found"))
    seen = set(inst["typology"].to_list()) | set(alerts["typology"].to_list())
    typs = [t for t in ORDER if t in seen] + sorted(seen - set(ORDER))
    rows = []
    acc_alert = aa.select("a_typ", "account").unique()
    for t in typs:
        it = inst.filter(pl.col("typology") == t)
        al = alerts_c.filter(pl.col("typology") == t)
        a_acc = set(acc_alert.filter(pl.col("a_typ") == t)["account"].to_list())
        c_acc = set(core.filter(pl.col("typology") == t)["account"].to_list())
        rows.append(_row(t, it, al, a_acc, c_acc))
    rows.append(_row("TOTAL", inst, alerts_c, set(aa["account"].to_list()),
                     set(core["account"].to_list())))
    return pl.DataFrame(rows, schema=EVAL_SCHEMA, orient="row")


def _row(typ, inst, al, a_acc, c_acc) -> tuple:
    n_found = int(inst["found"].sum())
    correct = int(al["correct"].sum())
    both = len(a_acc & c_acc)
    return (typ, inst.height, n_found, _ratio(n_found, inst.height), al.height, correct,
            _ratio(correct, al.height), _ratio(int(al["correct_same"].sum()), al.height),
            _p_at_k(al, 10), _p_at_k(al, 20), _ratio(both, len(a_acc)), _ratio(both, len(c_acc)))


def evaluate_labels(labels: pl.DataFrame, alerts: pl.DataFrame,
                    alert_transactions: pl.DataFrame) -> pl.DataFrame:
    """Transaction-level scores when truth is only a per-transaction label (1 = illicit):
    alert transactions of each typology vs transactions labelled 1."""
    bad = set(labels.filter(pl.col("label") == 1)["txn_id"].to_list())
    at = alert_transactions.select("alert_id", "txn_id").join(
        alerts.select("alert_id", "typology"), on="alert_id")
    typs = [t for t in ORDER if t in set(at["typology"].to_list())] + sorted(
        set(at["typology"].to_list()) - set(ORDER))
    rows = []
    for t, sub in [(t, at.filter(pl.col("typology") == t)) for t in typs] + [("TOTAL", at)]:
        txns = set(sub["txn_id"].to_list())
        hit = len(txns & bad)
        n_al = alerts.height if t == "TOTAL" else alerts.filter(pl.col("typology") == t).height
        rows.append((t, n_al, len(txns), len(bad), hit, _ratio(hit, len(txns)),
                     _ratio(hit, len(bad))))
    return pl.DataFrame(rows, schema=LABEL_SCHEMA, orient="row")


def _run_tables(ds: Dataset, run: str | None):
    d = ds.run_dir(run, containing="alerts")
    return (pl.read_parquet(d / "alerts.parquet"), pl.read_parquet(d / "alert_accounts.parquet"),
            pl.read_parquet(d / "alert_transactions.parquet"), d.name)


def evaluate(ds: Dataset | str, run: str | None = None) -> pl.DataFrame:
    """Per-typology evaluation of run ``run`` (default: the latest) of ``ds`` (see module doc).

    Datasets with truth instances give the EVAL_SCHEMA table; datasets with only a
    transaction label give the LABEL_SCHEMA table (transaction-level precision/recall).
    Raises DatasetError when there is no truth or no run.
    """
    from .api import as_dataset
    ds = as_dataset(ds)
    alerts, accounts, transactions, _ = _run_tables(ds, run)
    if ds.has_truth():
        return evaluate_tables(ds.truth("instances"), alerts, accounts)
    labels = ds.transactions().select("txn_id", "label").collect()  # label: canonical column
    if labels["label"].fill_null(0).sum() > 0:
        return evaluate_labels(labels, alerts, transactions)
    raise DatasetError(f"{ds.path} has no ground truth (truth/instances.parquet or a "
                       "transaction label column with illicit rows); nothing to evaluate against")


from ._callable import make_module_callable  # noqa: E402

make_module_callable(__name__, "evaluate")
