"""The run's report: Markdown for the change ticket, one self-contained HTML page with charts
(inline SVG: no script, no CDN, opens on an offline machine), and the full result as JSON."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

# (section, key, heading, kind): kind "rate" prints 0.0–1.0 as a percentage.
METRICS: list[tuple[str, str, str, str]] = [
    ("exam", "accuracy", "考試正確率 exam accuracy", "rate"),
    ("exam", "no_answer_rate", "未作答率 no answer", "rate"),
    ("exam", "total", "題數 questions", "int"),
    ("regulation", "cited_gold", "引用正確條文 cited gold", "rate"),
    ("regulation", "grounded", "引用皆有據 grounded", "rate"),
    ("regulation", "invented_citations", "虛構引用 invented citations", "int"),
    ("regulation", "refused_when_no_basis", "無依據時拒答 refused (no basis)", "rate"),
    ("regulation", "refused_when_answerable", "可答卻拒答 refused (answerable)", "rate"),
    ("regulation", "simplified_share", "簡體字比例 Simplified share", "pct2"),
    ("regulation", "answers_with_simplified", "含簡體字回答 answers with Simplified", "int"),
    ("regulation", "model_refusals_dropped", "模型拒答被移除 model refusals dropped", "int"),
    ("regulation", "labels_from_memory_dropped", "憑記憶引用被移除 labels from memory", "int"),
    ("regulation", "loops_stopped", "重複迴圈中止 loops stopped", "int"),
    ("regulation", "mean_first_token_ms", "回答首字 first answer token ms", "num"),
    ("regulation", "mean_latency_ms", "平均延遲 latency ms", "num"),
    ("regulation", "p95_latency_ms", "延遲 p95 latency ms", "num"),
    ("cost", "load_s", "載入 load s", "num"),
    ("cost", "rss_delta_bytes", "記憶體 RSS Δ MiB", "mib"),
    ("cost", "time_to_first_token_s", "首字時間 TTFT s", "num"),
    ("cost", "prompt_tokens_per_s", "提示 prompt tok/s", "num"),
    ("cost", "generation_tokens_per_s", "生成 generation tok/s", "num"),
]
# Shares drawn on one 0–100 % chart; speeds on a second, each bar scaled to the fastest.
RATE_CHART = [m for m in METRICS if m[3] == "rate" and m[1] != "no_answer_rate"]
SPEED_CHART = [m for m in METRICS if m[1] in ("prompt_tokens_per_s", "generation_tokens_per_s")]
COLOURS = ["#1f5fa8", "#d9822b", "#2e8b57", "#a83271", "#6b5fa8", "#7f7f7f"]


def _value(model: dict[str, Any], section: str, key: str) -> Any:
    part = model.get(section)
    return part.get(key) if isinstance(part, dict) else None


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "pct2":  # a share that must read 0: two decimals so a trace of it shows
        return f"{value * 100:.2f}%"
    if kind == "mib":
        return f"{value / 2**20:.1f}"
    if kind == "int":
        return str(int(value))
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


def _size(n: int | None) -> str:
    if not n:
        return "–"
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _metric_rows(models: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    rows = []
    for section, key, heading, kind in METRICS:
        values = [_value(m, section, key) for m in models]
        if any(v is not None for v in values):
            rows.append((heading, [_fmt(v, kind) for v in values]))
    return rows


def _subjects(models: list[dict[str, Any]]) -> list[str]:
    names: set[str] = set()
    for m in models:
        names |= set((_value(m, "exam", "per_subject") or {}).keys())
    return sorted(names)


def to_markdown(result: dict[str, Any]) -> str:
    models = result["models"]
    corpus = result.get("corpus") or {}
    lines = [
        "# 模型評測報告 / Model evaluation report",
        "",
        f"- 評測編號 run: `{result['run_id']}`（{result['finished_at']}）",
        f"- 測驗 suites: {', '.join(result['suites'])}; 題數上限 limit: {result['limit'] or '–'}",
        f"- 法規庫 corpus: {corpus.get('documents', 0)} 部法規 documents, "
        f"{corpus.get('chunks', 0)} 段 chunks, 最新修正日 snapshot date "
        f"{corpus.get('snapshot_date') or '–'}, fingerprint `{corpus.get('fingerprint') or '–'}`",
        f"- 略過的格式錯誤題目 skipped malformed items: {len(result.get('skipped_items', []))}",
        "",
        "## 模型 / Models",
        "",
        "| 模型檔 file | 量化 quantization | 大小 size | sha256 |",
        "|---|---|---|---|",
    ]
    for m in models:
        lines.append(
            f"| {m['file']} | {m.get('quantization', '–')} | {_size(m.get('size_bytes'))} "
            f"| `{m['sha256']}` |"
        )
    lines += ["", "## 結果 / Results", ""]
    lines.append("| 指標 metric | " + " | ".join(m["file"] for m in models) + " |")
    lines.append("|---" * (len(models) + 1) + "|")
    for heading, values in _metric_rows(models):
        lines.append(f"| {heading} | " + " | ".join(values) + " |")
    for m in models:
        for section in ("exam", "regulation"):
            skipped = _value(m, section, "skipped")
            if skipped:
                lines.append(f"\n- {m['file']} {section}: {skipped}")
    skipped = result.get("skipped_items") or []
    if skipped:
        lines += ["", "## 略過的題目 / Skipped items", ""]
        lines += ["| 測驗 suite | 檔案 file | 題目 item | 原因 reason |", "|---|---|---|---|"]
        for s in skipped:
            cells = [s.get("suite", ""), s.get("file", ""), s["item"], s["reason"]]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    subjects = _subjects(models)
    if subjects:
        lines += ["", "## 各科正確率 / Accuracy per subject", ""]
        lines.append("| 科目 subject | " + " | ".join(m["file"] for m in models) + " |")
        lines.append("|---" * (len(models) + 1) + "|")
        for s in subjects:
            cells = []
            for m in models:
                per = (_value(m, "exam", "per_subject") or {}).get(s)
                cells.append(f"{per['accuracy'] * 100:.1f}% ({per['total']})" if per else "–")
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "速度與記憶體為本機同一行程內以相同固定提示量測，僅供相互比較。/ Speed and memory were "
        "measured on this machine, in one process, with the same fixed prompts: compare them "
        "with each other, not with other machines.",
        "",
    ]
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    # A reason quotes the file's own text: a pipe or newline in it would break the table.
    return text.replace("|", "\\|").replace("\n", " ")


def _bar_chart(
    title: str, models: list[dict[str, Any]], metrics: list[tuple[str, str, str, str]], rate: bool
) -> str:
    """Grouped horizontal bars: one group per metric, one bar per model."""
    groups = []
    for section, key, heading, kind in metrics:
        values = [_value(m, section, key) for m in models]
        if any(v is not None for v in values):
            groups.append((heading, kind, values))
    if not groups:
        return ""
    bar_h, gap, label_w, plot_w = 16, 14, 260, 420
    height = 40 + len(groups) * (len(models) * bar_h + gap) + 20 * len(models)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 90}" '
        f'height="{height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="0" y="18" font-weight="bold">{html.escape(title)}</text>',
    ]
    y = 34
    for heading, kind, values in groups:
        top = max((v for v in values if v is not None), default=0) or 1
        out.append(
            f'<text x="0" y="{y + bar_h * len(models) / 2 + 4}">{html.escape(heading)}</text>'
        )
        for i, v in enumerate(values):
            share = (v if rate else v / top) if v is not None else 0
            w = max(share, 0) * plot_w
            colour = COLOURS[i % len(COLOURS)]
            out.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{colour}"><title>{html.escape(models[i]["file"])}: '
                f"{_fmt(v, kind)}</title></rect>"
            )
            out.append(
                f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 4}" font-size="12">'
                f"{_fmt(v, kind)}</text>"
            )
            y += bar_h
        y += gap
    for i, m in enumerate(models):  # legend
        colour = COLOURS[i % len(COLOURS)]
        out.append(f'<rect x="0" y="{y}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="18" y="{y + 11}" font-size="12">{html.escape(m["file"])}</text>')
        y += 20
    out.append("</svg>")
    return "\n".join(out)


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def to_html(result: dict[str, Any]) -> str:
    models = result["models"]
    corpus = result.get("corpus") or {}
    names = [m["file"] for m in models]
    ident = _table(
        ["模型檔 file", "量化 quantization", "大小 size", "sha256"],
        [
            [m["file"], str(m.get("quantization", "–")), _size(m.get("size_bytes")), m["sha256"]]
            for m in models
        ],
    )
    metrics = _table(["指標 metric", *names], [[h, *v] for h, v in _metric_rows(models)])
    skipped = result.get("skipped_items") or []
    skipped_html = f"<h2>略過的題目 / Skipped items ({len(skipped)})</h2>" + (
        _table(
            ["測驗 suite", "檔案 file", "題目 item", "原因 reason"],
            [[s.get("suite", ""), s.get("file", ""), s["item"], s["reason"]] for s in skipped],
        )
        if skipped
        else "<p>無 / none</p>"
    )
    charts = _bar_chart("品質 quality (%)", models, RATE_CHART, rate=True) + _bar_chart(
        "速度 speed (tok/s, 相對最快者 relative to the fastest)", models, SPEED_CHART, rate=False
    )
    meta = (
        f"評測編號 run <code>{html.escape(result['run_id'])}</code> · "
        f"{html.escape(result['finished_at'])} · suites {html.escape(', '.join(result['suites']))}"
        f" · 法規庫 corpus {corpus.get('documents', 0)} documents / {corpus.get('chunks', 0)} "
        f"chunks, 最新修正日 snapshot date {html.escape(str(corpus.get('snapshot_date') or '–'))}"
        f", fingerprint <code>{html.escape(str(corpus.get('fingerprint') or '–'))}</code>"
    )
    style = (
        "body{font-family:'Noto Sans TC','PingFang TC','Microsoft JhengHei',sans-serif;"
        "margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f2f4f7}"
        "code{font-size:90%}svg{display:block;margin:1.5em 0}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh-Hant-TW"><head><meta charset="utf-8">'
        f"<title>模型評測報告 {html.escape(result['run_id'])}</title><style>{style}</style>"
        "</head><body>"
        "<h1>模型評測報告 / Model evaluation report</h1>"
        f"<p>{meta}</p><h2>模型 / Models</h2>{ident}<h2>結果 / Results</h2>{metrics}{charts}"
        f"{skipped_html}"
        "<p>速度與記憶體為本機同一行程內以相同固定提示量測，僅供相互比較。/ Speed and memory "
        "were measured on this machine with the same fixed prompts: compare them with each "
        "other.</p></body></html>\n"
    )


def write_reports(result: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """report.md, report.html and result.json in out_dir; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "markdown": out_dir / "report.md",
        "html": out_dir / "report.html",
        "json": out_dir / "result.json",
    }
    paths["markdown"].write_text(to_markdown(result), encoding="utf-8")
    paths["html"].write_text(to_html(result), encoding="utf-8")
    body = {**result, "report": {k: str(v) for k, v in paths.items()}}
    paths["json"].write_text(
        json.dumps(body, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    return paths
