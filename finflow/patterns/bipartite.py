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
common by chance); STACK layers need one (the chaining is the evidence).

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
from datetime import datetime, timezone

import numpy as np

from ..alerts import ROLE_CODE, AlertBatch, Detection, make_alerts
from ..config import BipartiteConfig, StackConfig
from ..graph import TemporalGraph
from .._kernels.bipartite import bipartite_blocks, chain_layers, novel_pairs

__all__ = ["detect_bipartite", "detect_stack", "find_blocks"]

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


def find_blocks(graph: TemporalGraph, window: int, min_side: int = 2, min_member_degree: int = 1,
                min_share: float = 0.5, min_density: float = 0.5, max_degree: int = 10_000,
                max_results: int = 100_000, min_pair_amount: float = 0.0,
                window_step: int = 1) -> Blocks:
    """Maximal blocks of novel pairs (kernel output plus counters). Units: window and
    window_step (grid of window starts; 1 = every second) in seconds."""
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
            min_layers: int, max_results: int) -> tuple[list[np.ndarray], int]:
    if min_layers < 2:
        raise ValueError("a stack has min_layers >= 2")
    ptr, layers, cut = chain_layers(blocks.block_ptr, blocks.block_pairs, blocks.pa, blocks.pb,
                                    blocks.pf, blocks.pl, np.int64(n_nodes), np.int64(window),
                                    np.int64(min_side), np.float64(min_overlap),
                                    np.int64(min_layers), np.int64(max_results))
    return [layers[ptr[i]:ptr[i + 1]] for i in range(ptr.shape[0] - 1)], int(cut)


def _iso(seconds) -> str:
    return datetime.fromtimestamp(int(seconds), tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _ids(graph: TemporalGraph, accounts: np.ndarray) -> list[str]:
    return graph.account_id_of(accounts).to_list()


def _emit(graph: TemporalGraph, blocks: Blocks, groups: list[np.ndarray], typology: str,
          window: int, params: dict) -> AlertBatch:
    """One alert per group of blocks (a group is the layers of a stack, or one block)."""
    out_deg = np.diff(graph.out_ptr)
    in_deg = np.diff(graph.in_ptr)
    scores, mem_ptr, mem_acc, mem_role, txn_ptr, txn_edge, txn_step, evidence = \
        [], [0], [], [], [0], [], [], []
    stack = typology == "STACK"
    for group in groups:
        n_layers = len(group)
        sides = [blocks.sides(k) for k in group]
        layer_edges = [blocks.edges(k) for k in group]
        edges = np.concatenate(layer_edges)
        steps = np.concatenate([np.full(e.shape[0], i, np.int32)
                                for i, e in enumerate(layer_edges)])
        order = np.lexsort((edges, steps)) if stack else np.argsort(edges, kind="stable")
        edges, steps = edges[order], steps[order]
        amounts = graph.amt[edges]
        times = graph.ts[edges]
        n_pairs = [blocks.pairs(k).shape[0] for k in group]
        densities = [n_pairs[i] / (sides[i][0].shape[0] * sides[i][1].shape[0])
                     for i in range(n_layers)]
        activity = sum(int(out_deg[a].sum()) + int(in_deg[b].sum()) for a, b in sides)
        span = float(times.max() - times.min())
        mean = float(amounts.mean())
        cv = float(amounts.std() / mean) if mean > 0 else 0.0
        parts = {
            "density": float(np.mean(densities)),
            "size": sum(n_pairs) / (sum(n_pairs) + 4.0),
            "speed": float(np.clip(1.0 - span / max(float(window) * n_layers, 1.0), 0.0, 1.0)),
            "quiet": min(1.0, 2.0 * edges.shape[0] / max(activity, 1)),
            "similarity": 1.0 / (1.0 + cv),
        }
        if stack:
            parts["layers"] = (n_layers - 1) / n_layers
            score = 0.15 * (parts["density"] + parts["size"] + parts["speed"] + parts["layers"]
                            + parts["similarity"]) + 0.25 * parts["quiet"]
        else:
            score = (0.2 * parts["density"] + 0.2 * parts["size"] + 0.2 * parts["speed"]
                     + 0.25 * parts["quiet"] + 0.15 * parts["similarity"])
        scores.append(score)
        # members: first layer's sources, last layer's sinks, everyone else intermediary
        first_src = sides[0][0]
        last_snk = sides[-1][1]
        everyone = np.unique(np.concatenate([np.concatenate(s) for s in sides]))
        for acc in everyone:
            if acc in first_src:
                role = "source"
            elif acc in last_snk:
                role = "sink"
            else:
                role = "intermediary"
            mem_acc.append(int(acc))
            mem_role.append(ROLE_CODE[role])
        mem_ptr.append(len(mem_acc))
        txn_edge.append(edges)
        txn_step.append(steps if stack else np.arange(edges.shape[0], dtype=np.int32))
        txn_ptr.append(txn_ptr[-1] + edges.shape[0])
        layers_ev = []
        for i, k in enumerate(group):
            t0 = int(blocks.block_t0[k])
            layers_ev.append({
                "sources": _ids(graph, sides[i][0]), "sinks": _ids(graph, sides[i][1]),
                "pairs": n_pairs[i], "density": densities[i],
                "window_start": _iso(t0), "window_end": _iso(t0 + window),
                "first": _iso(graph.ts[layer_edges[i]].min()),
                "last": _iso(graph.ts[layer_edges[i]].max()),
                "amount": float(graph.amt[layer_edges[i]].sum()),
            })
        shown = edges[:EVIDENCE_TXNS]
        ev = {"layers": layers_ev, "n_layers": n_layers, "score_parts": parts,
              "amount_cv": cv, "span_seconds": span,
              "transactions": [
                  {"txn_id": int(graph.txn_id[e]), "src": s, "dst": d, "ts": _iso(graph.ts[e]),
                   "amount": float(graph.amt[e])}
                  for e, s, d in zip(shown, _ids(graph, graph.src[shown]),
                                     _ids(graph, graph.dst[shown]))],
              "transactions_shown": int(shown.shape[0]),
              "transactions_total": int(edges.shape[0])}
        evidence.append(ev)
    if not groups:
        return make_alerts(graph, typology, np.zeros(0), [0], [], [], [0], [], params=params)
    return make_alerts(graph, typology, np.array(scores), np.array(mem_ptr), np.array(mem_acc),
                       np.array(mem_role), np.array(txn_ptr), np.concatenate(txn_edge),
                       np.concatenate(txn_step), evidence=evidence, params=params)


def detect_bipartite(graph: TemporalGraph, cfg: BipartiteConfig) -> Detection:
    """BIPARTITE alerts: maximal dense blocks A -> B of novel pairs that are not STACK layers.

    Roles: A ``source``, B ``sink``. Score: see the module doc. Work: see
    finflow/_kernels/bipartite.py (O(E log E) grouping plus output-sensitive window sweep).
    stats: ``candidates`` (components examined), ``budget_cut`` (hubs skipped + windows left
    + windows/components/blocks left out at ``max_results`` + stack start blocks left
    unexplored) and kernel counters (``windows`` grid windows examined, ``examined_pairs``
    pairs searched summed over windows, ``emitted`` blocks before deduplication).
    """
    blocks = find_blocks(graph, cfg.window, cfg.min_side, cfg.min_member_degree, cfg.min_share,
                         cfg.min_density, cfg.max_degree, cfg.max_results, cfg.min_pair_amount,
                         cfg.window_step)
    chains, starts_cut = _chains(blocks, graph.n_nodes, cfg.window, cfg.min_side,
                                 cfg.min_overlap, cfg.min_layers, cfg.max_results)
    in_stack = set(int(k) for c in chains for k in c)
    groups = [np.array([k]) for k in range(len(blocks)) if k not in in_stack]
    alerts = _emit(graph, blocks, groups, "BIPARTITE", cfg.window, dataclasses.asdict(cfg))
    st = blocks.stats
    stats = {**st, "stack_layers": len(in_stack), "stack_starts_cut": starts_cut,
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
    chains, starts_cut = _chains(blocks, graph.n_nodes, cfg.window, cfg.min_side,
                                 cfg.min_overlap, cfg.min_layers, cfg.max_results)
    alerts = _emit(graph, blocks, chains, "STACK", cfg.window, dataclasses.asdict(cfg))
    st = blocks.stats
    stats = {**st, "candidates": len(blocks), "stacks": len(chains),
             "stack_starts_cut": starts_cut,
             "budget_cut": st["hubs_skipped"] + st["results_cut"] + starts_cut}
    return Detection(alerts, stats)
