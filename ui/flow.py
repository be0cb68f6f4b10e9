"""The money-flow picture of a fraud trace: a Sankey diagram, sources on the left, the traced
account in the middle, where the money went on the right; link widths are attributed amounts."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go


def flow_figure(traces: list[dict[str, Any]], max_links: int = 120) -> go.Figure | None:
    """None when there is nothing to draw. Links are the traced transfers summed per (from, to),
    the largest ``max_links`` of them (the evidence table and CSV export hold every transfer)."""
    links: dict[tuple[str, str], float] = {}
    for tr in traces:
        for x in tr.get("transfers", []):
            key = (x["from"], x["to"])
            links[key] = links.get(key, 0.0) + float(x.get("attributed") or x["amount"])
    if not links:
        return None
    kept = sorted(links.items(), key=lambda kv: -kv[1])[:max_links]
    names: list[str] = []
    position: dict[str, int] = {}
    for (a, b), _ in kept:
        for n in (a, b):
            if n not in position:
                position[n] = len(names)
                names.append(n)
    root = traces[0].get("root")
    colors = ["#c0392b" if n == root else "#7f8c8d" for n in names]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={"label": names, "color": colors, "pad": 12, "thickness": 14},
            link={
                "source": [position[a] for (a, _), _ in kept],
                "target": [position[b] for (_, b), _ in kept],
                "value": [v for _, v in kept],
            },
        )
    )
    fig.update_layout(margin={"l": 8, "r": 8, "t": 8, "b": 8}, height=420, font={"size": 11})
    return fig
