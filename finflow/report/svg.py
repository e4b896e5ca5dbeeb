"""Inline SVG pictures for the HTML report: alert flow diagrams, bar and line charts, timelines.

Everything here is pure string building from small lists (an alert has at most a few hundred
transactions); no browser-side script is needed to see a picture.
"""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timezone
from html import escape

__all__ = ["ROLE_COLOURS", "flow_diagram", "bar_chart", "line_chart", "timeline", "fmt_amount",
           "fmt_time"]

ROLE_COLOURS = {
    "source": "#2b6cb0", "sink": "#c53030", "intermediary": "#b7791f", "hub": "#6b46c1",
    "broker": "#2f855a", "mule": "#dd6b20", "controller": "#1a202c", "member": "#4a5568",
}
# left-to-right column of each role when an alert is drawn by role
_ROLE_RANK = {"controller": 0, "source": 1, "broker": 2, "hub": 2, "mule": 2,
              "intermediary": 2, "member": 2, "sink": 3}


def fmt_amount(x: float) -> str:
    x = float(x)
    if abs(x) >= 1e6:
        return f"{x / 1e6:.2f}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.1f}k"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def fmt_time(ts_seconds: int, with_year: bool = False) -> str:
    d = datetime.fromtimestamp(int(ts_seconds), tz=timezone.utc)
    return d.strftime("%Y-%m-%d %H:%M" if with_year else "%m-%d %H:%M")


def _short(label: str, n: int = 14) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def _has_cycle_through_all(nodes: list[int], edges: list[tuple[int, int]]) -> list[int] | None:
    """If the distinct edges form one directed cycle over all nodes, return it in order."""
    succ = defaultdict(set)
    for s, d in edges:
        if s != d:
            succ[s].add(d)
    if len(nodes) < 2 or any(len(succ[v]) != 1 for v in nodes):
        return None
    start = min(nodes)
    order, v = [start], next(iter(succ[start]))
    while v != start and len(order) <= len(nodes):
        order.append(v)
        v = next(iter(succ[v]))
    return order if v == start and len(order) == len(nodes) else None


def _layers(nodes: list[int], edges: list[tuple[int, int, int]], roles: dict[int, str]) -> dict[int, int]:
    """Longest-path layering over edges taken in time order, ignoring edges that close a loop.

    edges: (src, dst, ts). Role order breaks ties for isolated or looping nodes.
    """
    layer = {v: 0 for v in nodes}
    for v in nodes:
        r = roles.get(v, "member")
        if r in ("sink",):
            layer[v] = 1
    # relax in time order a few rounds; a back edge (dst already left of src) is skipped
    for _ in range(len(nodes)):
        changed = False
        for s, d, _t in edges:
            if s == d or s not in layer or d not in layer:
                continue
            if roles.get(d) in ("source", "controller") and roles.get(s) not in ("source", "controller"):
                continue
            if layer[d] < layer[s] + 1 and layer[s] + 1 < len(nodes) + 1:
                if _reaches(d, s, edges):  # keep loops flat
                    continue
                layer[d] = layer[s] + 1
                changed = True
        if not changed:
            break
    return layer


def _reaches(a: int, b: int, edges) -> bool:
    succ = defaultdict(set)
    for s, d, _t in edges:
        succ[s].add(d)
    seen, stack = {a}, [a]
    while stack:
        v = stack.pop()
        if v == b:
            return True
        for w in succ[v]:
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return False


def flow_diagram(nodes: list[tuple[int, str, str]], txns: list[tuple[int, int, int, float]],
                 width: int = 720, max_nodes: int = 40,
                 labels: dict[int, str] | None = None, by_role: bool = False) -> str:
    """SVG of one alert: accounts as coloured nodes, transactions as labelled arrows.

    nodes: (account, label, role); txns: (src, dst, ts seconds, amount). A set of transactions
    forming one cycle is drawn as a ring; everything else left to right in flow layers (so a
    scatter-gather shows as a diamond and a fan as a star). Parallel transactions between the
    same pair are drawn as one arrow labelled with count and total. ``by_role`` puts accounts
    in columns by role (controller, source | hub, mule, intermediary | sink) instead.
    """
    roles = {a: r for a, _, r in nodes}
    labels = {**(labels or {}), **{a: lab for a, lab, _ in nodes}}
    # keep the accounts carrying most value when the alert is too large to draw legibly
    note = ""
    if len(nodes) > max_nodes:
        value = defaultdict(float)
        for s, d, _t, amt in txns:
            value[s] += amt
            value[d] += amt
        keep = set(sorted(roles, key=lambda a: (-value[a], a))[:max_nodes])
        note = f"showing {max_nodes} of {len(nodes)} accounts (largest by value)"
        roles = {a: r for a, r in roles.items() if a in keep}
    for s, d, _t, _a in txns:  # counterparties that are not members still get drawn
        for a in (s, d):
            if a not in roles and len(roles) < max_nodes + 2:
                roles[a] = "member"
                labels.setdefault(a, str(a))
    pairs: dict[tuple[int, int], list[tuple[int, float]]] = defaultdict(list)
    for s, d, t, amt in txns:
        if s in roles and d in roles:
            pairs[(s, d)].append((t, amt))
    node_list = sorted(roles)
    ring = _has_cycle_through_all(node_list, list(pairs))
    pos: dict[int, tuple[float, float]] = {}
    if ring:
        n = len(ring)
        r = 60 + 22 * n
        height = 2 * r + 80
        cx, cy = width / 2, height / 2
        for i, a in enumerate(ring):
            ang = -math.pi / 2 + 2 * math.pi * i / n
            pos[a] = (cx + r * math.cos(ang), cy + r * math.sin(ang))
    else:
        timed = sorted(((s, d, min(t for t, _ in v)) for (s, d), v in pairs.items()),
                       key=lambda e: e[2])
        if by_role:
            ranks = sorted({_ROLE_RANK.get(roles[a], 2) for a in node_list})
            layer = {a: ranks.index(_ROLE_RANK.get(roles[a], 2)) for a in node_list}
        else:
            layer = _layers(node_list, timed, roles)
        # nodes with no flow fall back to role order
        cols: dict[int, list[int]] = defaultdict(list)
        for a in node_list:
            cols[layer[a]].append(a)
        depth = max(cols) + 1 if cols else 1
        tallest = max((len(v) for v in cols.values()), default=1)
        height = max(160, 40 + 54 * tallest)
        xs = [80 + (width - 160) * (i / max(depth - 1, 1)) for i in range(depth)] if depth > 1 else [width / 2]
        for c, members in cols.items():
            members.sort(key=lambda a: (_ROLE_RANK.get(roles[a], 1), a))
            gap = height / (len(members) + 1)
            for j, a in enumerate(members):
                pos[a] = (xs[c], gap * (j + 1))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {int(height)}" '
           f'width="100%" role="img" class="flow">',
           '<defs><marker id="arr" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
           'fill="#555"/></marker></defs>']
    node_r = 13
    for (s, d), items in sorted(pairs.items()):
        if s == d:
            continue
        (x1, y1), (x2, y2) = pos[s], pos[d]
        dx, dy = x2 - x1, y2 - y1
        dist = math.hypot(dx, dy) or 1.0
        bend = 18 if (d, s) in pairs else 0  # opposite arrows curve apart
        ux, uy = dx / dist, dy / dist
        sx, sy = x1 + ux * node_r, y1 + uy * node_r
        ex, ey = x2 - ux * (node_r + 2), y2 - uy * (node_r + 2)
        mx, my = (sx + ex) / 2 - uy * bend, (sy + ey) / 2 + ux * bend
        total = sum(a for _, a in items)
        first = min(t for t, _ in items)
        label = (f"{fmt_amount(total)} · {fmt_time(first)}" if len(items) == 1
                 else f"{len(items)}× {fmt_amount(total)} · from {fmt_time(first)}")
        width_px = 1.2 + min(3.0, math.log10(1 + len(items)) * 2)
        out.append(f'<path d="M{sx:.1f},{sy:.1f} Q{mx:.1f},{my:.1f} {ex:.1f},{ey:.1f}" '
                   f'fill="none" stroke="#777" stroke-width="{width_px:.1f}" marker-end="url(#arr)">'
                   f'<title>{escape(labels.get(s, str(s)))} → {escape(labels.get(d, str(d)))}: '
                   f'{escape(label)}</title></path>')
        if len(pairs) <= 30:
            lx, ly = (sx + 2 * mx + ex) / 4, (sy + 2 * my + ey) / 4 - 4
            out.append(f'<text x="{lx:.1f}" y="{ly:.1f}" class="elabel">{escape(label)}</text>')
    for a in node_list:
        x, y = pos[a]
        colour = ROLE_COLOURS.get(roles[a], "#4a5568")
        out.append(f'<g><circle cx="{x:.1f}" cy="{y:.1f}" r="{node_r}" fill="{colour}">'
                   f'<title>{escape(labels.get(a, str(a)))} ({roles[a]})</title></circle>'
                   f'<text x="{x:.1f}" y="{y + node_r + 12:.1f}" class="nlabel">'
                   f'{escape(_short(labels.get(a, str(a))))}</text></g>')
    if note:
        out.append(f'<text x="8" y="14" class="note">{escape(note)}</text>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(items: list[tuple[str, float]], width: int = 560, bar_h: int = 20) -> str:
    """Horizontal bars, one per (label, value)."""
    if not items:
        return ""
    top = max(v for _, v in items) or 1.0
    height = bar_h * len(items) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" class="bars">']
    for i, (label, v) in enumerate(items):
        y = 5 + i * bar_h
        w = (width - 260) * v / top
        out.append(f'<text x="150" y="{y + bar_h * 0.7:.0f}" text-anchor="end" class="blabel">'
                   f'{escape(label)}</text><rect x="156" y="{y + 3}" width="{max(w, 1):.1f}" '
                   f'height="{bar_h - 6}" fill="#2b6cb0"/><text x="{160 + w:.1f}" '
                   f'y="{y + bar_h * 0.7:.0f}" class="blabel">{v:,.0f}</text>')
    out.append("</svg>")
    return "".join(out)


def line_chart(series: dict[str, list[float]], width: int = 560, height: int = 150,
               x_label: str = "bucket", band: tuple[int, int] | None = None,
               band_label: str = "") -> str:
    """A small multi-series line chart (e.g. a hawala broker pair's bucket series), with an
    optional shaded band over buckets ``[band[0], band[1])`` (e.g. the tracking window)."""
    series = {k: [float(x) for x in v] for k, v in series.items() if len(v) >= 2}
    if not series:
        return ""
    colours = ["#2b6cb0", "#c53030", "#2f855a", "#b7791f"]
    n = max(len(v) for v in series.values())
    top = max(max(v) for v in series.values()) or 1.0
    pad = 30

    def x_of(j: float) -> float:
        return pad + (width - pad - 10) * j / max(n - 1, 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" class="chart"><line x1="{pad}" y1="{height - pad}" x2="{width - 8}" '
           f'y2="{height - pad}" stroke="#999"/><line x1="{pad}" y1="8" x2="{pad}" '
           f'y2="{height - pad}" stroke="#999"/>'
           f'<text x="{pad}" y="{height - 10}" class="blabel">{escape(x_label)} 0..{n - 1}</text>'
           f'<text x="2" y="16" class="blabel">{fmt_amount(top)}</text>']
    if band is not None:
        lo, hi = max(band[0], 0), min(band[1], n)
        if hi > lo:
            x0, x1 = x_of(lo), x_of(max(hi - 1, lo))
            out.append(f'<rect class="band" x="{x0:.1f}" y="8" width="{max(x1 - x0, 2):.1f}" '
                       f'height="{height - pad - 8}" fill="#f6e05e" fill-opacity="0.25"/>'
                       f'<text x="{x0 + 4:.1f}" y="20" class="blabel">'
                       f'{escape(band_label)}</text>')
    for i, (name, vals) in enumerate(sorted(series.items())):
        pts = " ".join(
            f"{x_of(j):.1f},"
            f"{height - pad - (height - pad - 12) * v / top:.1f}" for j, v in enumerate(vals))
        c = colours[i % len(colours)]
        out.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="1.8"/>'
                   f'<text x="{width - 150}" y="{16 + 14 * i}" fill="{c}" class="blabel">'
                   f'{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def timeline(rows: list[tuple[str, str]], txns: list[tuple[str, str, int, float]],
             width: int = 720) -> str:
    """One lane per account (label, role); each transaction a dot on its sender's and receiver's
    lane (out: filled, in: hollow), joined by a thin line, so that pass-through bursts show."""
    if not rows or not txns:
        return ""
    lane = {lab: i for i, (lab, _) in enumerate(rows)}
    t0 = min(t for _, _, t, _ in txns)
    t1 = max(t for _, _, t, _ in txns)
    span = max(t1 - t0, 1)
    left, lane_h = 150, 22
    height = lane_h * len(rows) + 36
    x = lambda t: left + (width - left - 16) * (t - t0) / span  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" class="timeline">']
    for lab, i in lane.items():
        role = rows[i][1]
        y = 14 + i * lane_h
        out.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end" class="blabel" '
                   f'fill="{ROLE_COLOURS.get(role, "#333")}">{escape(_short(lab, 20))}</text>'
                   f'<line x1="{left}" y1="{y}" x2="{width - 10}" y2="{y}" stroke="#eee"/>')
    for s, d, t, amt in txns:
        xs = x(t)
        if s in lane and d in lane:
            out.append(f'<line x1="{xs:.1f}" y1="{14 + lane[s] * lane_h}" x2="{xs:.1f}" '
                       f'y2="{14 + lane[d] * lane_h}" stroke="#bbb"/>')
        tip = f"{fmt_time(t, True)} {fmt_amount(amt)}"
        if s in lane:
            out.append(f'<circle cx="{xs:.1f}" cy="{14 + lane[s] * lane_h}" r="4" fill="#c53030">'
                       f'<title>out {escape(tip)}</title></circle>')
        if d in lane:
            out.append(f'<circle cx="{xs:.1f}" cy="{14 + lane[d] * lane_h}" r="4" fill="white" '
                       f'stroke="#2b6cb0" stroke-width="2"><title>in {escape(tip)}</title></circle>')
    out.append(f'<text x="{left}" y="{height - 6}" class="blabel">{fmt_time(t0, True)}</text>'
               f'<text x="{width - 10}" y="{height - 6}" text-anchor="end" class="blabel">'
               f'{fmt_time(t1, True)}</text></svg>')
    return "".join(out)
