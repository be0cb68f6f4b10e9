"""Turning answers, citations and steps into what the page shows.

Everything that came from the corpus, a tool or the model is escaped here: article text and
tool arguments are data, never markup. Pure functions over plain dicts (``Answer.to_dict()``
and a stored message's ``extra`` share the shape), so they are tested without a browser.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import urlsplit

from assistant.conversations import ConversationSummary, StoredMessage
from ui.i18n import t

# Inline styles: the HTML must look right wherever the Blocks is launched, and Gradio 6 takes
# custom CSS only at launch(), which a caller such as a test may not pass.
_CARD = (
    "border:1px solid rgba(128,128,128,.35);border-radius:8px;padding:8px 10px;margin:0 0 10px 0"
)
_TEXT = (
    "white-space:pre-wrap;margin:6px 0;padding:6px 8px;border-left:3px solid "
    "rgba(128,128,128,.5);max-height:16em;overflow:auto;font-size:.92em"
)
_MUTED = "opacity:.75;font-size:.88em"


def bracket(label: str) -> str:
    """〔銀行法第45-2條〕: the label as the answer cites it, whether or not it came bracketed."""
    label = label.strip()
    return label if label.startswith("〔") else f"〔{label}〕"


def safe_url(url: str | None) -> str | None:
    """Only web links become clickable: a ``javascript:`` URL in a record is not followed."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def sources_html(citations: Sequence[Mapping[str, Any]], lang: str) -> str:
    """One card per cited article: label, amendment date, article text and a link."""
    if not citations:
        return (
            f'<div id="twfin-sources-empty" style="{_MUTED}">{escape(t("no_sources", lang))}</div>'
        )
    cards = []
    for c in citations:
        label = escape(bracket(str(c.get("label") or f"{c.get('law', '')}{c.get('article', '')}")))
        head = f"<strong>{label}</strong>"
        if c.get("amended"):
            head += (
                f' <span style="{_MUTED}">{escape(t("amended", lang))} '
                f"{escape(str(c['amended']))}</span>"
            )
        body = f'<div style="{_TEXT}">{escape(str(c.get("text") or ""))}</div>'
        url = safe_url(c.get("url"))
        link = ""
        if url:
            link = (
                f'<a href="{escape(url, quote=True)}" target="_blank" '
                f'rel="noopener noreferrer">{escape(t("open_article", lang))} ↗</a>'
            )
        cards.append(f'<div class="twfin-citation" style="{_CARD}">{head}{body}{link}</div>')
    return "".join(cards)


def trace_html(
    steps: Iterable[Mapping[str, Any]],
    tool_calls: Iterable[Mapping[str, Any]],
    lang: str,
    *,
    thinking: str = "",
    steps_stored: bool = True,
) -> str:
    """The agent's steps and tool calls, for the closed-by-default accordion."""
    steps, tool_calls = list(steps), list(tool_calls)
    parts: list[str] = []
    if steps:
        rows = "".join(
            f"<li><code>{escape(str(s.get('node', '')))}</code> "
            f"{escape(str(s.get('detail', '')))} "
            f'<span style="{_MUTED}">{float(s.get("seconds") or 0):.2f} s</span></li>'
            for s in steps
        )
        parts.append(f"<h4>{escape(t('steps', lang))}</h4><ol>{rows}</ol>")
    elif not steps_stored and tool_calls:
        parts.append(f'<p style="{_MUTED}">{escape(t("steps_not_stored", lang))}</p>')
    if tool_calls:
        rows = "".join(_tool_row(c) for c in tool_calls)
        parts.append(f"<h4>{escape(t('tool_calls', lang))}</h4><ul>{rows}</ul>")
    if thinking.strip():
        parts.append(
            f"<details><summary>{escape(t('thinking', lang))}</summary>"
            f'<div style="{_TEXT}">{escape(thinking)}</div></details>'
        )
    if not parts:
        return f'<div style="{_MUTED}">{escape(t("no_trace", lang))}</div>'
    return f'<div class="twfin-trace">{"".join(parts)}</div>'


def _tool_row(call: Mapping[str, Any]) -> str:
    args = json.dumps(call.get("args") or {}, ensure_ascii=False, default=str)
    mark = "✓" if call.get("ok", True) else "✗"
    seconds = call.get("seconds")
    took = f' <span style="{_MUTED}">{float(seconds):.2f} s</span>' if seconds else ""
    return (
        f"<li>{mark} <code>{escape(str(call.get('name', '')))}</code>"
        f"<code style='{_MUTED}'>{escape(args)}</code><br>"
        f"→ {escape(str(call.get('summary') or ''))}{took}</li>"
    )


def answer_meta(answer: Mapping[str, Any], lang: str) -> str:
    """The line under an answer: which agent, which model (or none), how long, how many cited."""
    if answer.get("refused"):
        return f"⚠️ {t('refused', lang)}"
    model = answer.get("model") or "none"
    if not answer.get("generated"):
        note = t("no_model_used", lang)
        model = f"{model} ({note})" if lang == "en" else f"{model}（{note}）"
    parts = [
        f"{t('agent', lang)} {answer.get('agent') or '-'}",
        model,
        f"{float(answer.get('latency_ms') or 0):.0f} ms",
        t("citations_n", lang, n=len(answer.get("citations") or [])),
    ]
    line = " · ".join(parts)
    if answer.get("no_basis"):
        line = f"⚠️ {t('no_basis', lang)} · {line}"
    return line


def step_line(node: str, detail: str, lang: str) -> str:
    """Progress while an answer streams: the step just finished."""
    return f"⏳ {t('working', lang)} {node}" + (f"：{detail}" if detail else "")


def error_line(message: str, lang: str) -> str:
    return f"❌ **{t('error', lang)}**：{message}"


def history(messages: Iterable[StoredMessage]) -> list[dict[str, str]]:
    """Stored messages as the Chatbot's messages format (role and content)."""
    return [
        {"role": m.role, "content": m.content} for m in messages if m.role in ("user", "assistant")
    ]


def last_answer(messages: Sequence[StoredMessage]) -> StoredMessage | None:
    return next((m for m in reversed(messages) if m.role == "assistant"), None)


def conversation_choices(
    conversations: Iterable[ConversationSummary],
) -> list[tuple[str, str]]:
    """(shown, id) pairs for the conversation list: title, then when it was last used."""
    choices = []
    for c in conversations:
        when = c.updated_at.astimezone().strftime("%m-%d %H:%M") if c.updated_at else ""
        title = c.title or c.id[:8]
        choices.append((f"{title} · {when}" if when else title, c.id))
    return choices
