"""The money-flow picture of a fraud trace: a Sankey diagram, sources on the left, the traced
account in the middle, where the money went on the right; link widths are attributed amounts.
A bank's reserved CASH account is drawn as 現金提領 (cash out: where the money left the banking
system and the trace ends) or 現金存入 (cash in), in its own colour."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from assistant.fraud.records import CASH_ACCOUNT, is_reserved

CASH_COLOR = "#27ae60"


def _label(name: str, cash_out: bool) -> str:
    if not (is_reserved(name) and name.startswith(CASH_ACCOUNT)):
        return name
    bank = name.removeprefix(CASH_ACCOUNT)
    where = f" {bank}" if bank else ""
    if cash_out:
        return f"現金提領{where}（離開銀行體系）/ cash out: left the banking system"
    return f"現金存入{where} / cash in"


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
    colors = [
        "#c0392b" if n == root else CASH_COLOR if is_reserved(n) else "#7f8c8d" for n in names
    ]
    receivers = {b for (_, b), _ in kept}
    labels = [_label(n, n in receivers) for n in names]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={"label": labels, "color": colors, "pad": 12, "thickness": 14},
            link={
                "source": [position[a] for (a, _), _ in kept],
                "target": [position[b] for (_, b), _ in kept],
                "value": [v for _, v in kept],
            },
        )
    )
    fig.update_layout(margin={"l": 8, "r": 8, "t": 8, "b": 8}, height=420, font={"size": 11})
    return fig
