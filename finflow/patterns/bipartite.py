"""BIPARTITE and STACK detectors: dense many-to-many blocks of new relationships, and their
chaining in time.

Definitions, algorithm, complexity and what the search can miss: finflow/_kernels/bipartite.py.
In short, a block is a set A of payers and a disjoint set B of payees (``>= min_side`` each)
inside one window whose *novel* pairs (a pays b at least ``min_pair_amount`` in total, b never
pays a, and a paid b nowhere outside the window) connect them and reach density
``>= min_density`` of ``|A| x |B|``, while every member is otherwise quiet in the window: it has
``>= max(min_member_degree, min_share * c)`` pairs in the block, c = its distinct counterparties
in the window. Payroll (one payer), merchants (one payee, many payers) and fans cannot form a
block; long-running relationships such as family transfers or regular customers are not novel.
BIPARTITE asks two pairs per member by default (a standalone tree of one-off payments is too
common by chance), and admits a *sparse* block (one pair per member suffices) only when its
transactions span at most ``sparse_span`` (1 day) and carry at least ``sparse_min_value_share``
(0.6) of its accounts' money: 2 * block amount / (sources' total outgoing + sinks' total
incoming amount in the dataset). STACK layers need one pair per member (the chaining is the
evidence); consecutive layers are ordered by the shared accounts' payments only. Each block
is reported with its pairs in its fullest window.

A block that chains with another block (under the BIPARTITE section's parameters) is not
reported as BIPARTITE: an analyst wants the layering scheme as one STACK case, not its layers
again. (STACK finds its layers with its own, looser, parameters, so a dense layer of a STACK
whose other layers are sparse can also appear as a BIPARTITE alert.)

Score (both typologies), a weighted mean of terms in [0, 1], each non-decreasing in its
evidence::

    density    pairs / (|A| |B|) (mean over layers for STACK)
    size       pairs / (pairs + 4)          (0.5 for a complete 2x2 block)
    speed      1 - span / (window * layers)  (span = last - first transaction)
    quiet      2 * block txns / (sum of sources' outgoing + sinks' incoming txns); for STACK
               summed over layers. 1 when the accounts did nothing but this
    similarity 1 / (1 + cv) of the transaction amounts (cv = std / mean)
    layers     (layers - 1) / layers  (STACK only; 0.5 for two layers)

    BIPARTITE: 0.2 density + 0.2 size + 0.2 speed + 0.25 quiet + 0.15 similarity
    STACK:     0.15 (density + size + speed + layers + similarity) + 0.25 quiet
"""
from __future__ import annotations

import dataclasses
import weakref

import numpy as np

from ..alerts import ROLE_CODE, AlertBatch, Detection, make_alerts
from ..config import BipartiteConfig, StackConfig
from ..graph import TemporalGraph
from ._common import group_unique, ranges
from .._kernels.bipartite import bipartite_blocks, chain_layers, drop_contained, novel_pairs

__all__ = ["detect_bipartite", "detect_stack", "find_blocks", "bipartite_candidates"]

#: evidence lists at most this many transactions per alert (alert_transactions has them all)
EVIDENCE_TXNS = 200


@dataclasses.dataclass
class Blocks:
    """Novel pairs (pa, pb, pf, pl, pedge_ptr, pedge) and blocks over them (CSR)."""
    pa: np.ndarray
    pb: np.ndarray
    pf: np.ndarray
    pl: np.ndarray
    pedge_ptr: np.ndarray
    pedge: np.ndarray
    block_ptr: np.ndarray
    block_pairs: np.ndarray
    block_t0: np.ndarray
    stats: dict

    def __len__(self) -> int:
        return self.block_ptr.shape[0] - 1

    def pairs(self, k: int) -> np.ndarray:
        return self.block_pairs[self.block_ptr[k]:self.block_ptr[k + 1]]

    def sides(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        p = self.pairs(k)
        return np.unique(self.pa[p]), np.unique(self.pb[p])

    def edges(self, k: int) -> np.ndarray:
        p = self.pairs(k)
        return np.sort(np.concatenate([self.pedge[self.pedge_ptr[q]:self.pedge_ptr[q + 1]]
                                       for q in p]))


#: novel pairs per graph (BIPARTITE and STACK share them when their pair rules agree)
_PAIRS: "weakref.WeakKeyDictionary[TemporalGraph, dict]" = weakref.WeakKeyDictionary()


def _novel_pairs(graph: TemporalGraph, window: int, max_degree: int,
                 min_pair_amount: float) -> tuple:
    """``novel_pairs`` of the graph, computed once per (graph, window, max_degree, floor)."""
    key = (window, max_degree, min_pair_amount)
    per_graph = _PAIRS.setdefault(graph, {})
    if key not in per_graph:
        per_graph.clear()  # keep one entry per graph: it holds O(E) arrays
        per_graph[key] = novel_pairs(
            graph.out_ptr, graph.in_ptr, graph.in_nbr, graph.in_ts, graph.in_amt, graph.in_eid,
            np.int64(window), np.int64(max_degree), np.float64(min_pair_amount))
    return per_graph[key]


#: blocks per graph (BIPARTITE's sparse search and STACK share them when their rules agree)
_BLOCKS: "weakref.WeakKeyDictionary[TemporalGraph, dict]" = weakref.WeakKeyDictionary()


def find_blocks(graph: TemporalGraph, window: int, min_side: int = 2, min_member_degree: int = 1,
                min_share: float = 0.5, min_density: float = 0.5, max_degree: int = 10_000,
                max_results: int = 100_000, min_pair_amount: float = 0.0,
                window_step: int = 1) -> Blocks:
    """Maximal blocks of novel pairs (kernel output plus counters). Units: window and
    window_step (grid of window starts; 1 = every second) in seconds. The result is cached
    per graph (two parameter sets at most) and must not be modified."""
    key = (int(window), int(min_side), int(min_member_degree), float(min_share),
           float(min_density), int(max_degree), int(max_results), float(min_pair_amount),
           int(window_step))
    per_graph = _BLOCKS.setdefault(graph, {})
    if key not in per_graph:
        if len(per_graph) >= 2:
            per_graph.pop(next(iter(per_graph)))
        per_graph[key] = _find_blocks(graph, *key)
    return per_graph[key]


def _find_blocks(graph: TemporalGraph, window: int, min_side: int, min_member_degree: int,
                 min_share: float, min_density: float, max_degree: int, max_results: int,
                 min_pair_amount: float, window_step: int) -> Blocks:
    if window_step < 1:
        raise ValueError("window_step >= 1 second")
    if min_side < 1 or min_member_degree < 1 or not 0.0 < min_density <= 1.0 \
            or not 0.0 <= min_share <= 1.0:
        raise ValueError("min_side, min_member_degree >= 1; min_density in (0, 1]; "
                         "min_share in [0, 1]")
    pa, pb, pf, pl, pedge_ptr, pedge, prev_same, next_same, n_hubs = _novel_pairs(
        graph, int(window), int(max_degree), float(min_pair_amount))
    (block_ptr, block_pairs, block_t0, n_windows, n_examined, n_components, n_reductions,
     n_emitted, cut) = bipartite_blocks(pa, pb, pf, pl, graph.src, graph.dst, graph.ts, prev_same,
                             next_same, np.int64(graph.n_nodes), np.int64(window),
                             np.int64(window_step), np.int64(min_side),
                             np.int64(min_member_degree), np.float64(min_share),
                             np.float64(min_density), np.int64(max_results))
    stats = {"novel_pairs": int(pa.shape[0]), "windows": int(n_windows),
             "examined_pairs": int(n_examined), "emitted": int(n_emitted),
             "candidates": int(n_components), "reductions": int(n_reductions),
             "blocks": int(block_ptr.shape[0] - 1), "hubs_skipped": int(n_hubs),
             "results_cut": int(cut)}
    return Blocks(pa, pb, pf, pl, pedge_ptr, pedge, block_ptr, block_pairs, block_t0, stats)


def _chains(blocks: Blocks, n_nodes: int, window: int, min_side: int, min_overlap: float,
            min_layers: int, max_results: int) -> tuple[np.ndarray, np.ndarray, int]:
    """STACK paths as CSR ``(stack_ptr, stack_blocks)`` over block indices, and starts cut."""
    if min_layers < 2:
        raise ValueError("a stack has min_layers >= 2")
    ptr, layers, cut = chain_layers(blocks.block_ptr, blocks.block_pairs, blocks.pa, blocks.pb,
                                    blocks.pf, blocks.pl, np.int64(n_nodes), np.int64(window),
                                    np.int64(min_side), np.float64(min_overlap),
                                    np.int64(min_layers), np.int64(max_results))
    return ptr, layers, int(cut)


def _group_ptr(labels: np.ndarray, n: int) -> np.ndarray:
    """CSR pointers of sorted group labels in ``[0, n)``."""
    return np.searchsorted(labels, np.arange(n + 1, dtype=np.int64)).astype(np.int64)


@dataclasses.dataclass
class _Layers:
    """Blocks ``block[l]`` seen as layers ``l = 0..L-1``: pairs, distinct sides and sorted
    transactions per layer, as CSR arrays (all vectorised: no loop over layers)."""
    block: np.ndarray
    n_pairs: np.ndarray
    a_ptr: np.ndarray
    a_acc: np.ndarray
    b_ptr: np.ndarray
    b_acc: np.ndarray
    edge_ptr: np.ndarray
    edges: np.ndarray


def _layers(blocks: Blocks, block: np.ndarray) -> _Layers:
    block = np.asarray(block, np.int64)
    n = block.shape[0]
    first = blocks.block_ptr[block]
    n_pairs = blocks.block_ptr[block + 1] - first
    pairs = blocks.block_pairs[ranges(first, first + n_pairs)[1]]
    layer_of_pair = np.repeat(np.arange(n, dtype=np.int64), n_pairs)
    a_ptr, a_acc = group_unique(layer_of_pair, blocks.pa[pairs], n)
    b_ptr, b_acc = group_unique(layer_of_pair, blocks.pb[pairs], n)
    e_first = blocks.pedge_ptr[pairs]
    e_len = blocks.pedge_ptr[pairs + 1] - e_first
    edges = blocks.pedge[ranges(e_first, e_first + e_len)[1]]
    edge_ptr, edges = group_unique(np.repeat(layer_of_pair, e_len), edges, n)  # time order
    return _Layers(block, n_pairs, a_ptr, a_acc, b_ptr, b_acc, edge_ptr, edges)


def _quiet_parts(graph: TemporalGraph, lay: _Layers) -> tuple[np.ndarray, np.ndarray]:
    """Per layer: transactions in the layer and the activity of its accounts (sources'
    outgoing plus sinks' incoming transactions over the whole graph), int64."""
    n = lay.block.shape[0]
    out_deg = np.diff(graph.out_ptr)
    in_deg = np.diff(graph.in_ptr)
    activity = np.zeros(n, np.int64)
    np.add.at(activity, np.repeat(np.arange(n), np.diff(lay.a_ptr)), out_deg[lay.a_acc])
    np.add.at(activity, np.repeat(np.arange(n), np.diff(lay.b_ptr)), in_deg[lay.b_acc])
    return np.diff(lay.edge_ptr), activity


def _sparse_blocks(graph: TemporalGraph, blocks: Blocks, max_span: int,
                   min_value_share: float) -> np.ndarray:
    """Indices of the blocks whose transactions span at most ``max_span`` seconds and carry
    at least ``min_value_share`` of their accounts' money: 2 * block amount / (sources' total
    outgoing + sinks' total incoming amount over the whole graph). O(E + block sizes)."""
    k = len(blocks)
    if k == 0:
        return np.zeros(0, np.int64)
    lay = _layers(blocks, np.arange(k))
    starts = lay.edge_ptr[:-1]
    times = graph.ts[lay.edges]
    span = np.maximum.reduceat(times, starts) - np.minimum.reduceat(times, starts)
    sent = np.bincount(graph.src, weights=graph.amt, minlength=graph.n_nodes)
    received = np.bincount(graph.dst, weights=graph.amt, minlength=graph.n_nodes)
    flows = (np.add.reduceat(sent[lay.a_acc], lay.a_ptr[:-1])
             + np.add.reduceat(received[lay.b_acc], lay.b_ptr[:-1]))
    moved = 2.0 * np.add.reduceat(graph.amt[lay.edges], starts)
    return np.flatnonzero((span <= max_span) & (moved >= min_value_share * flows))


def _merge(dense: Blocks, loose: Blocks, extra: np.ndarray, n_nodes: int) -> Blocks:
    """``dense``'s blocks plus ``loose``'s blocks ``extra`` (same novel pairs), without
    repeats or blocks contained in another (``drop_contained``; dense first on ties)."""
    if dense.pa is not loose.pa and not (np.array_equal(dense.pa, loose.pa)
                                         and np.array_equal(dense.pb, loose.pb)):
        raise ValueError("blocks over different novel pairs cannot be merged")
    first = loose.block_ptr[extra]
    lengths = loose.block_ptr[extra + 1] - first
    ptr = np.concatenate([dense.block_ptr, dense.block_ptr[-1] + np.cumsum(lengths)])
    pairs = np.concatenate([dense.block_pairs, loose.block_pairs[ranges(first, first + lengths)[1]]])
    t0 = np.concatenate([dense.block_t0, loose.block_t0[extra]])
    block_ptr, block_pairs, block_t0 = drop_contained(ptr.astype(np.int64), pairs, t0,
                                                      dense.pa, dense.pb, np.int64(n_nodes))
    return dataclasses.replace(dense, block_ptr=block_ptr, block_pairs=block_pairs,
                               block_t0=block_t0, stats=dict(dense.stats))


def _ids(graph: TemporalGraph, accounts: np.ndarray) -> list[str]:
    return graph.account_id_of(accounts).to_list()


def _iso_all(seconds: np.ndarray) -> list[str]:
    """ISO 8601 UTC strings ("2025-04-27T16:10:14Z") of int64 seconds, vectorised."""
    text = np.datetime_as_string(np.asarray(seconds, np.int64).astype("datetime64[s]"),
                                 unit="s")
    return [t + "Z" for t in text.tolist()]


def _split(values: list, ptr: np.ndarray) -> list[list]:
    bounds = ptr.tolist()
    return [values[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]


def _emit(graph: TemporalGraph, blocks: Blocks, group_ptr: np.ndarray, group_blocks: np.ndarray,
          typology: str, window: int, params: dict) -> AlertBatch:
    """One alert per group of blocks (CSR ``group_ptr`` over ``group_blocks``: the layers of a
    stack in order, or one block). Scores, members and evidence are computed for all groups
    at once with array operations, O((L + T) log (L + T)) for L layers and T transactions;
    only the evidence dictionaries are assembled per alert."""
    n_groups = group_ptr.shape[0] - 1
    if n_groups == 0:
        return make_alerts(graph, typology, np.zeros(0), [0], [], [], [0], [], params=params)
    stack = typology == "STACK"
    lay = _layers(blocks, group_blocks)
    n_lay = lay.block.shape[0]
    layers_in = np.diff(group_ptr)
    group_of_layer = np.repeat(np.arange(n_groups, dtype=np.int64), layers_in)
    step_of_layer = np.arange(n_lay, dtype=np.int64) - np.repeat(group_ptr[:-1], layers_in)
    # transactions: each group's layers are contiguous, each layer's edges sorted, so the
    # group's edges are in (layer, edge index) order
    edges = lay.edges
    edges_in_layer = np.diff(lay.edge_ptr)
    txn_ptr = lay.edge_ptr[group_ptr]
    n_tx = np.diff(txn_ptr)
    g_starts = txn_ptr[:-1]
    pos = np.arange(edges.shape[0], dtype=np.int64) - np.repeat(g_starts, n_tx)
    steps = (np.repeat(step_of_layer, edges_in_layer) if stack else pos).astype(np.int32)
    times = graph.ts[edges]
    amounts = graph.amt[edges]
    span = (np.maximum.reduceat(times, g_starts)
            - np.minimum.reduceat(times, g_starts)).astype(np.float64)
    mean = np.add.reduceat(amounts, g_starts) / n_tx
    dev = amounts - np.repeat(mean, n_tx)
    std = np.sqrt(np.add.reduceat(dev * dev, g_starts) / n_tx)
    cv = np.where(mean > 0, std / np.where(mean > 0, mean, 1.0), 0.0)
    n_a = np.diff(lay.a_ptr)
    n_b = np.diff(lay.b_ptr)
    density = lay.n_pairs / (n_a * n_b)
    layer_tx, layer_activity = _quiet_parts(graph, lay)
    activity = np.add.reduceat(layer_activity, group_ptr[:-1])
    pairs_total = np.add.reduceat(lay.n_pairs, group_ptr[:-1])
    parts = {
        "density": np.add.reduceat(density, group_ptr[:-1]) / layers_in,
        "size": pairs_total / (pairs_total + 4.0),
        "speed": np.clip(1.0 - span / np.maximum(float(window) * layers_in, 1.0), 0.0, 1.0),
        "quiet": np.minimum(1.0, 2.0 * n_tx / np.maximum(activity, 1)),
        "similarity": 1.0 / (1.0 + cv),
    }
    if stack:
        parts["layers"] = (layers_in - 1) / layers_in
        score = 0.15 * (parts["density"] + parts["size"] + parts["speed"] + parts["layers"]
                        + parts["similarity"]) + 0.25 * parts["quiet"]
    else:
        score = (0.2 * parts["density"] + 0.2 * parts["size"] + 0.2 * parts["speed"]
                 + 0.25 * parts["quiet"] + 0.15 * parts["similarity"])
    # members: first layer's sources, last layer's sinks, everyone else intermediary
    first_layer = group_ptr[:-1]
    last_layer = group_ptr[1:] - 1
    a_layer = np.repeat(np.arange(n_lay), n_a)
    b_layer = np.repeat(np.arange(n_lay), n_b)
    side_group = np.concatenate([group_of_layer[a_layer], group_of_layer[b_layer]])
    side_acc = np.concatenate([lay.a_acc, lay.b_acc])
    is_source = np.concatenate([a_layer == first_layer[group_of_layer[a_layer]],
                                np.zeros(b_layer.shape[0], np.bool_)])
    is_sink = np.concatenate([np.zeros(a_layer.shape[0], np.bool_),
                              b_layer == last_layer[group_of_layer[b_layer]]])
    key = (side_group << 32) | side_acc.astype(np.int64)
    order = np.argsort(key, kind="stable")
    key = key[order]
    head = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    any_source = np.maximum.reduceat(is_source[order], head)
    any_sink = np.maximum.reduceat(is_sink[order], head)
    mem_acc = (key[head] & 0xFFFFFFFF).astype(np.int32)
    mem_role = np.where(any_source, ROLE_CODE["source"],
                        np.where(any_sink, ROLE_CODE["sink"], ROLE_CODE["intermediary"]))
    mem_ptr = _group_ptr(key[head] >> 32, n_groups)
    # evidence: every per-layer and per-transaction value converted to Python lists once
    l_starts = lay.edge_ptr[:-1]
    l_times = graph.ts[edges]
    t0 = blocks.block_t0[lay.block]
    layer_rows = zip(
        _split(_ids(graph, lay.a_acc), lay.a_ptr), _split(_ids(graph, lay.b_acc), lay.b_ptr),
        lay.n_pairs.tolist(), density.tolist(), _iso_all(t0), _iso_all(t0 + window),
        _iso_all(np.minimum.reduceat(l_times, l_starts)),
        _iso_all(np.maximum.reduceat(l_times, l_starts)),
        np.add.reduceat(amounts, l_starts).tolist())
    layers_ev = [{"sources": a, "sinks": b, "pairs": p, "density": d, "window_start": ws,
                  "window_end": we, "first": f, "last": la, "amount": am}
                 for a, b, p, d, ws, we, f, la, am in layer_rows]
    shown = pos < EVIDENCE_TXNS
    shown_edges = edges[shown]
    shown_ptr = np.concatenate([[0], np.cumsum(np.minimum(n_tx, EVIDENCE_TXNS))])
    txn_rows = [{"txn_id": t, "src": s, "dst": d, "ts": w, "amount": a}
                for t, s, d, w, a in zip(graph.txn_id[shown_edges].tolist(),
                                         _ids(graph, graph.src[shown_edges]),
                                         _ids(graph, graph.dst[shown_edges]),
                                         _iso_all(graph.ts[shown_edges]),
                                         graph.amt[shown_edges].tolist())]
    part_lists = {name: v.tolist() for name, v in parts.items()}
    part_names = list(parts)
    group_layers = _split(layers_ev, group_ptr)
    group_txns = _split(txn_rows, shown_ptr)
    evidence = [{"layers": group_layers[i], "n_layers": n_l,
                 "score_parts": {name: part_lists[name][i] for name in part_names},
                 "amount_cv": c, "span_seconds": sp, "transactions": group_txns[i],
                 "transactions_shown": len(group_txns[i]), "transactions_total": n_t}
                for i, (n_l, c, sp, n_t) in enumerate(zip(layers_in.tolist(), cv.tolist(),
                                                         span.tolist(), n_tx.tolist()))]
    return make_alerts(graph, typology, score, mem_ptr, mem_acc, mem_role, txn_ptr, edges,
                       steps, evidence=evidence, params=params)


def bipartite_candidates(graph: TemporalGraph, cfg: BipartiteConfig) -> tuple[Blocks, dict]:
    """BIPARTITE's blocks (dense, plus the sparse ones admitted: see ``detect_bipartite``)
    and the kernel counters summed over the searches."""
    blocks = find_blocks(graph, cfg.window, cfg.min_side, cfg.min_member_degree, cfg.min_share,
                         cfg.min_density, cfg.max_degree, cfg.max_results, cfg.min_pair_amount,
                         cfg.window_step)
    st = dict(blocks.stats)
    st["sparse_blocks"] = 0
    if cfg.sparse_span > 0 and cfg.min_member_degree > 1:
        loose = find_blocks(graph, cfg.window, cfg.min_side, 1, cfg.min_share,
                            cfg.min_density, cfg.max_degree, cfg.max_results,
                            cfg.min_pair_amount, cfg.window_step)
        extra = _sparse_blocks(graph, loose, cfg.sparse_span, cfg.sparse_min_value_share)
        blocks = _merge(blocks, loose, extra, graph.n_nodes)
        for name in ("windows", "examined_pairs", "emitted", "candidates", "reductions",
                     "results_cut"):
            st[name] += loose.stats[name]
        st["sparse_blocks"] = int(extra.shape[0])
        st["blocks"] = len(blocks)
    return blocks, st


def detect_bipartite(graph: TemporalGraph, cfg: BipartiteConfig) -> Detection:
    """BIPARTITE alerts: maximal dense blocks A -> B of novel pairs that are not STACK layers.

    Blocks: every member has ``>= max(min_member_degree, min_share * c)`` pairs; and, when
    ``sparse_span > 0``, also the *sparse* blocks found with one pair per member whose
    transactions span at most ``sparse_span`` seconds and carry at least
    ``sparse_min_value_share`` of their accounts' money (2 * block amount / (sources' total
    outgoing + sinks' total incoming amount in the graph)): a tree-shaped block is evidence
    only when it is fast and is most of what its accounts move. Blocks contained in another
    are dropped.
    Roles: A ``source``, B ``sink``. Score: see the module doc. Work: see
    finflow/_kernels/bipartite.py (O(E log E) grouping plus output-sensitive window sweep,
    twice when sparse blocks are looked for).
    stats: ``candidates`` (components examined), ``budget_cut`` (hubs skipped + windows left
    + windows/components/blocks left out at ``max_results`` + stack start blocks left
    unexplored) and kernel counters (``windows`` grid windows examined, ``examined_pairs``
    pairs searched summed over windows, ``emitted`` blocks before deduplication);
    ``sparse_blocks`` sparse blocks admitted (before dropping contained blocks).
    """
    blocks, st = bipartite_candidates(graph, cfg)
    stack_ptr, stack_blocks, starts_cut = _chains(blocks, graph.n_nodes, cfg.window,
                                                  cfg.min_side, cfg.min_overlap,
                                                  cfg.min_layers, cfg.max_results)
    alone = np.ones(len(blocks), np.bool_)
    alone[stack_blocks] = False
    singles = np.flatnonzero(alone)
    alerts = _emit(graph, blocks, np.arange(singles.shape[0] + 1, dtype=np.int64), singles,
                   "BIPARTITE", cfg.window, dataclasses.asdict(cfg))
    stats = {**st, "stack_layers": int(len(blocks) - singles.shape[0]),
             "stack_starts_cut": starts_cut,
             "budget_cut": st["hubs_skipped"] + st["results_cut"] + starts_cut}
    return Detection(alerts, stats)


def detect_stack(graph: TemporalGraph, cfg: StackConfig) -> Detection:
    """STACK alerts: chains of >= min_layers blocks A -> B -> C ... in time order.

    Roles: first layer's sources ``source``, last layer's sinks ``sink``, the middle layers
    ``intermediary``; alert_transactions.step is the layer (0-based). Score: see module doc.
    stats as for BIPARTITE, ``candidates`` = blocks chained over.
    """
    blocks = find_blocks(graph, cfg.window, cfg.min_side, cfg.min_member_degree, cfg.min_share,
                         cfg.min_density, cfg.max_degree, cfg.max_results, cfg.min_pair_amount,
                         cfg.window_step)
    stack_ptr, stack_blocks, starts_cut = _chains(blocks, graph.n_nodes, cfg.window,
                                                  cfg.min_side, cfg.min_overlap,
                                                  cfg.min_layers, cfg.max_results)
    alerts = _emit(graph, blocks, stack_ptr, stack_blocks, "STACK", cfg.window,
                   dataclasses.asdict(cfg))
    st = blocks.stats
    stats = {**st, "candidates": len(blocks), "stacks": int(stack_ptr.shape[0] - 1),
             "stack_starts_cut": starts_cut,
             "budget_cut": st["hubs_skipped"] + st["results_cut"] + starts_cut}
    return Detection(alerts, stats)
