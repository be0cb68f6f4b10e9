"""The fraud tab: the investigator's queue of decisions the fraud agent proposed.

A thin shell over `FraudDesk`: the agent only ever *proposes* flagging an account (警示 or
衍生管制) or exporting a trace's evidence; a person confirms or rejects it here. Every read of
the queue and every decision goes to the desk with the logged-in user (never a name the browser
sends): the desk decides who may (the permission table) and writes the audit record, allowed
and refused alike, and the tab shows the desk's refusal as it is. The only decision taken here
is whether to show the tab at all, and that asks the same table (``fraud.read``). The same list
and decision are named API endpoints (``/fraud_actions``, ``/fraud_decide``) behind the same
login.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from assistant.dates import minute
from assistant.errors import AssistantError, AuthError
from ui.i18n import normalise, t

# The filter's values: the desk's own status, or everything.
PENDING, ALL = "proposed", "all"
# The table's columns, as i18n keys ("fraud_col_…").
_COLUMNS = (
    "id",
    "status",
    "kind",
    "account",
    "params",
    "reason",
    "proposed_by",
    "created",
    "decided_by",
    "result",
)
# Parameters with a name of their own in each language.
_PARAMS = ("status", "directions", "hops", "since", "until")


def localise(message: str, lang: str) -> str:
    """The user's half of a bilingual service message ("中文 / English")."""
    zh, sep, en = message.partition(" / ")
    if not sep:
        return message
    return en if lang == "en" else zh


def md_escape(text: str) -> str:
    """Plain text for a Markdown cell: record data is shown as written, never as markup."""
    return "".join(f"\\{ch}" if ch in _MD_SPECIAL else ch for ch in str(text))


_MD_SPECIAL = set("\\`*_{}[]<>()#|~!")


def error_line(exc: Exception, lang: str) -> str:
    """An error in the user's language; a desk's refusal as the desk wrote it, Chinese first
    and English, so whoever is asked to help reads the same words the audit recorded."""
    if isinstance(exc, AuthError):
        return f"<span class='twfin-error'>⛔ {html.escape(str(exc))}</span>"
    return f"<span class='twfin-error'>⚠ {html.escape(localise(str(exc), lang))}</span>"


def when(value: str | None) -> str:
    """An ISO time from the database (naive means UTC) in the server's local time."""
    return minute(value, None)


def status_word(status: str, lang: str) -> str:
    key = f"fraud_status_{status}"
    return t(key, lang) if status in ("proposed", "confirmed", "rejected") else status


def kind_word(kind: str, lang: str) -> str:
    return t(f"fraud_kind_{kind}", lang) if kind in ("flag", "export") else kind


def params_text(params: dict[str, Any], lang: str) -> str:
    parts = []
    for key, value in params.items():
        if key == "directions" and isinstance(value, list):
            value = "、".join(
                t(f"fraud_{d}", lang) if d in ("up", "down") else str(d) for d in value
            )
        label = t(f"fraud_param_{key}", lang) if key in _PARAMS else key
        parts.append(f"{label} {value}")
    return "；".join(parts) if lang != "en" else "; ".join(parts)


def result_text(action: dict[str, Any], lang: str) -> str:
    """What a decision did: the status change, or each exported file with its sha256."""
    r = action.get("result") or {}
    parts: list[str] = []
    if "status_after" in r:
        parts.append(f"{r.get('status_before') or '-'} → {r['status_after']}")
    for f in r.get("files") or []:
        parts.append(f"{Path(str(f.get('file', ''))).name}")
        parts.append(f"sha256 {f.get('sha256', '')}")
    if action.get("note"):
        parts.append(f"{t('fraud_note_label', lang)}：{action['note']}")
    return "\n".join(parts)


def table(actions: list[dict[str, Any]], lang: str) -> pd.DataFrame:
    """The queue as the page shows it: words for status and kind, local times."""
    rows = [
        [
            str(a["id"]),
            status_word(a["status"], lang),
            kind_word(a["kind"], lang),
            a["account"],
            params_text(a.get("params") or {}, lang),
            a.get("reason") or "",
            a.get("proposed_by") or "",
            when(a.get("created_at")),
            a.get("decided_by") or "",
            "\n".join(md_escape(line) for line in result_text(a, lang).splitlines()),
        ]
        for a in actions
    ]
    return pd.DataFrame(rows, columns=[t(f"fraud_col_{c}", lang) for c in _COLUMNS])


def pending_choices(actions: list[dict[str, Any]], lang: str) -> list[tuple[str, int]]:
    return [
        (f"#{a['id']} {kind_word(a['kind'], lang)} {a['account']}", int(a["id"]))
        for a in actions
        if a["status"] == "proposed"
    ]


def outcome_line(action: dict[str, Any], lang: str) -> str:
    """The status line after a decision, in the user's language."""
    r = action.get("result") or {}
    values = {"id": action["id"], "account": action["account"]}
    if action["status"] == "rejected":
        return f"✅ {t('fraud_done_reject', lang, kind=kind_word(action['kind'], lang), **values)}"
    if action["kind"] == "flag":
        line = t(
            "fraud_done_flag",
            lang,
            before=r.get("status_before") or "-",
            after=r.get("status_after"),
            **values,
        )
        return f"✅ {line}"
    files = "; ".join(
        f"`{Path(str(f.get('file', ''))).name}` (sha256 `{f.get('sha256', '')}`)"
        for f in r.get("files") or []
    )
    return f"✅ {t('fraud_done_export', lang, files=files, **values)}"


def _filter_choices(lang: str) -> list[tuple[str, str]]:
    return [(t("fraud_filter_pending", lang), PENDING), (t("fraud_filter_all", lang), ALL)]


def _status_arg(value: str | None) -> str | None:
    """The desk's status filter from the page's or an API caller's value."""
    if value is None:
        return None
    value = value.strip().lower()
    if value in ("", ALL):
        return None
    return {"pending": PENDING}.get(value, value)


# Whether the tab is shown to a user: the permission table's answer, asked only to hide what
# would be refused anyway (the data still come from the desk, which checks again).
VIEW = "fraud.read"


def build(
    desk: Any,
    user_of: Callable[[gr.Request], Any],
    lang0: str,
    *,
    lang: gr.Radio,
    demo: gr.Blocks,
    tab: gr.Tab | None = None,
) -> tuple[Callable[[str], dict[Any, Any]], list[Any]]:
    """Lay out the tab in the current Blocks context and wire it: the page's load shows the tab
    to the roles the permission table lets read the queue; opening the tab, refreshing,
    filtering and switching the language read the queue from the desk. Returns the function
    that relabels the components for a language, and the components it updates."""
    title = gr.Markdown(f"### {t('fraud_title', lang0)}")
    intro = gr.Markdown(t("fraud_intro", lang0), elem_id="twfin-fraud-intro")
    with gr.Row(equal_height=True):
        show = gr.Radio(
            _filter_choices(lang0),
            value=PENDING,
            label=t("fraud_filter", lang0),
            elem_id="twfin-fraud-filter",
            scale=2,
        )
        refresh = gr.Button(
            t("fraud_refresh", lang0), variant="secondary", scale=0, elem_id="twfin-fraud-refresh"
        )
    grid = gr.Dataframe(
        table([], lang0),
        label=t("fraud_table", lang0),
        interactive=False,
        wrap=True,
        # The result is Markdown (one exported file per line), escaped in `table`.
        datatype=["str"] * (len(_COLUMNS) - 1) + ["markdown"],
        column_widths=["5%", "7%", "8%", "12%", "11%", "13%", "7%", "10%", "7%", "20%"],
        elem_id="twfin-fraud-table",
    )
    with gr.Row(equal_height=False):
        pick = gr.Dropdown(
            [],
            value=None,
            label=t("fraud_pick", lang0),
            elem_id="twfin-fraud-pick",
            scale=2,
        )
        note = gr.Textbox(
            label=t("fraud_note", lang0),
            placeholder=t("fraud_note_placeholder", lang0),
            lines=1,
            elem_id="twfin-fraud-note",
            scale=3,
        )
    with gr.Row():
        confirm = gr.Button(t("fraud_confirm", lang0), variant="primary", elem_id="twfin-fraud-ok")
        reject = gr.Button(t("fraud_reject", lang0), variant="stop", elem_id="twfin-fraud-no")
    status = gr.Markdown("", elem_id="twfin-fraud-status")

    def _empty(line: str, lg: str) -> dict[Any, Any]:
        return {grid: table([], lg), pick: gr.update(choices=[], value=None), status: line}

    def _queue(user: Any, show_value: str, lg: str) -> dict[Any, Any]:
        listed = desk.actions(user, _status_arg(show_value), limit=200)
        pending = listed if show_value == PENDING else desk.actions(user, PENDING, limit=200)
        choices = pending_choices(pending, lg)
        return {
            grid: table(listed, lg),
            pick: gr.update(choices=choices, value=choices[0][1] if choices else None),
            status: "" if choices else f"ℹ️ {t('fraud_none_pending', lg)}",
        }

    def read(show_value: str, lang_value: str, request: gr.Request) -> dict[Any, Any]:
        """The queue from the desk; its refusal (role, no login) is what the tab shows."""
        lg = normalise(lang_value)
        try:
            return _queue(user_of(request), show_value, lg)
        except AssistantError as exc:
            return _empty(error_line(exc, lg), lg)

    def on_page_load(request: gr.Request) -> dict[Any, Any]:
        """Show the tab to the roles that may read the queue; it starts hidden, so a role that
        may not never sees an empty tab flash by. No data here: opening the tab reads them."""
        try:
            shown = bool(user_of(request).may(VIEW))
        except AssistantError:
            shown = False
        return {tab: gr.update(visible=shown)} if tab is not None else {}

    def relabelled(show_value: str, lang_value: str, request: gr.Request) -> dict[Any, Any]:
        """A language switch re-reads the queue for the words, where the tab is shown at all:
        switching the language is no request to read the fraud queue."""
        try:
            if not user_of(request).may(VIEW):
                return {}
        except AssistantError:
            return {}
        return read(show_value, lang_value, request)

    def decide(confirmed: bool) -> Callable[..., dict[Any, Any]]:
        return decision_handler(
            desk.decide, user_of, read, status, note, outcome_line, "fraud_pick_first", confirmed
        )

    queue_outputs = [grid, pick, status]
    if tab is not None:
        demo.load(on_page_load, None, [tab], api_visibility="private")
        tab.select(read, [show, lang], queue_outputs, api_visibility="private")
    for trigger in (refresh.click, show.change):
        trigger(read, [show, lang], queue_outputs, api_visibility="private")
    lang.change(relabelled, [show, lang], queue_outputs, api_visibility="private")
    for button, confirmed in ((confirm, True), (reject, False)):
        button.click(
            decide(confirmed),
            [pick, note, show, lang],
            [*queue_outputs, note],
            api_visibility="private",
        )

    def relabel(lg: str) -> dict[Any, Any]:
        return {
            title: f"### {t('fraud_title', lg)}",
            intro: t("fraud_intro", lg),
            show: gr.update(label=t("fraud_filter", lg), choices=_filter_choices(lg)),
            refresh: gr.update(value=t("fraud_refresh", lg)),
            grid: gr.update(label=t("fraud_table", lg)),
            pick: gr.update(label=t("fraud_pick", lg)),
            note: gr.update(label=t("fraud_note", lg), placeholder=t("fraud_note_placeholder", lg)),
            confirm: gr.update(value=t("fraud_confirm", lg)),
            reject: gr.update(value=t("fraud_reject", lg)),
        }

    return relabel, [title, intro, show, refresh, grid, pick, note, confirm, reject]


def register_api(desk: Any, user_of: Callable[[gr.Request | None], Any]) -> None:
    """``/fraud_actions`` and ``/fraud_decide`` for scripts, with the page's login: both are
    the desk's, called with the logged-in user."""

    def fraud_actions(
        status: str | None = None, request: gr.Request | None = None
    ) -> list[dict[str, Any]]:
        """The fraud agent's proposals and their decisions, newest first: status "proposed",
        "confirmed", "rejected", or empty / "all" for every one."""
        try:
            return desk.actions(user_of(request), _status_arg(status), limit=200)
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    def fraud_decide(
        action_id: int, confirm: bool, note: str = "", request: gr.Request | None = None
    ) -> dict[str, Any]:
        """Confirm (carry out) or reject a proposed action. Returns the decided action with
        its result (the status change or the exported files)."""
        try:
            user = user_of(request)
            return desk.decide(user, int(action_id), confirm=bool(confirm), note=note or "")
        except (AssistantError, ValueError) as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    gr.api(fraud_actions, api_name="fraud_actions")
    gr.api(fraud_decide, api_name="fraud_decide")


def decision_handler(
    decide: Callable[..., dict[str, Any]],
    user_of: Callable[[gr.Request | None], Any],
    read: Callable[[str, str, gr.Request], dict[Any, Any]],
    status: Any,
    note: Any,
    outcome_line: Callable[[Any, str], str],
    pick_first: str,
    confirmed: bool,
) -> Callable[..., dict[Any, Any]]:
    """A queue's confirm or dismiss button (proposals here, the monitor's alerts in the 警示
    tab): the desk decides with the logged-in user; its refusal is said with nothing changed,
    any other error with the queue as it now is."""

    def handler(
        item_id: int | None,
        text: str,
        show_value: str,
        lang_value: str,
        request: gr.Request,
    ) -> dict[Any, Any]:
        lg = normalise(lang_value)
        if item_id is None:
            return {status: error_line(AssistantError(t(pick_first, lg)), lg)}
        try:
            user = user_of(request)
            done = decide(user, int(item_id), confirm=confirmed, note=text or "")
        except AuthError as exc:
            # Refused by the desk (and recorded there): said, nothing changed, no queue.
            return {status: error_line(exc, lg)}
        except AssistantError as exc:
            # Already decided, unknown id: said, with the queue as it now is.
            out = read(show_value, lang_value, request)
            out[status] = error_line(exc, lg)
            return out
        out = read(show_value, lang_value, request)
        out[status] = outcome_line(done, lg)
        out[note] = ""
        return out

    return handler


def tab_label(lang: str) -> str:
    return t("tab_fraud", lang)
