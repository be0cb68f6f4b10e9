"""The 警示 tab: the transfer monitor's alert queue, for the investigators who work it.

A thin shell over `FraudMonitorDesk` (and, for a ring, `FraudDesk`): the monitor stores each
transfer it alerted on or held; here an investigator lists them by transfer or by account,
confirms one as fraud or dismisses it (or an account's open alerts at once; the outcome counts
toward each rule's measured precision), and from an alert traces its account upstream
(前期金流), downstream, or expands its ring. Every call goes to a desk
with the logged-in user (never a name the browser sends): the desk decides who may and writes
the audit record, allowed and refused alike, and the tab shows the desk's refusal as it is. The
tab itself is shown to the roles the permission table lets read the queue (``fraud.read``),
asked the same way as the 防詐 tab. The same queue is named API endpoints behind the same
login (``register_api``): the queue, by account, decisions, traces, and transfers scored on
arrival.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import gradio as gr
import pandas as pd

from assistant.errors import AssistantError
from ui.flow import flow_figure
from ui.fraud_panel import VIEW, decision_handler, error_line, md_escape, when
from ui.i18n import normalise, t

# The filter's values: the desk's own statuses, or everything.
OPEN, ALL = "open", "all"
STATUSES = ("open", "confirmed", "dismissed")
# The queue's columns, as i18n keys ("alerts_col_…"); the last two are Markdown (several lines).
_COLUMNS = (
    "id",
    "status",
    "time",
    "account",
    "transfer",
    "action",
    "score",
    "reasons",
    "decided",
)
# The queue by account (``alerts_acol_…``): an investigator works an account, not a transfer.
_ACCOUNT_COLUMNS = ("account", "alerts", "holds", "first", "last", "largest", "rules", "latest")
TRANSFERS, ACCOUNTS = "transfers", "accounts"  # the two views of the queue
_TRACE_COLUMNS = ("hop", "time", "from", "to", "amount", "attributed", "id")
_RING_COLUMNS = ("account", "score", "hops", "reasons", "transfers")
# Rows a trace shows on the page: a hub's trace can hold thousands; the API returns them all.
TRACE_ROWS = 200
# Alerts one read lists: the newest first, enough for a shift's queue.
PAGE_ROWS = 200
MAX_LIMIT = 1000


# ---- words ---------------------------------------------------------------------------------


def status_word(status: str, lang: str) -> str:
    return t(f"alerts_status_{status}", lang) if status in STATUSES else status


def action_word(action: str, lang: str) -> str:
    return t(f"alerts_action_{action}", lang) if action in ("alert", "hold") else action


def reason_lines(reasons: list[Mapping[str, Any]], lang: str) -> list[str]:
    """Each reason in the user's language (the monitor writes both)."""
    key = "en" if lang == "en" else "zh"
    return [str(r.get(key) or r.get("rule") or "") for r in reasons]


def money(amount: Any) -> str:
    return f"{float(amount):,.0f}"


def transfer_text(alert: Mapping[str, Any]) -> str:
    """The alerted transfer as an investigator reads it: id, payer → payee, amount."""
    return (
        f"{alert['transfer_id']}: {alert['from_account']} → {alert['to_account']} "
        f"{money(alert['amount'])}"
    )


def decided_text(alert: Mapping[str, Any]) -> str:
    """Who decided and when, with their note; empty while the alert is open."""
    if not alert.get("decided_by"):
        return ""
    lines = [f"{alert['decided_by']} {when(alert.get('decided_at'))}"]
    if alert.get("note"):
        lines.append(str(alert["note"]))
    return "\n".join(lines)


def _markdown(lines: list[str]) -> str:
    """Record text in a Markdown cell: shown as written, one line each, never as markup."""
    return "\n".join(md_escape(line) for line in lines)


def table(alerts: list[dict[str, Any]], lang: str) -> pd.DataFrame:
    """The queue as the page shows it: words for status and action, local times, reasons in
    the user's language."""
    rows = [
        [
            str(a["id"]),
            status_word(a["status"], lang),
            when(a.get("ts")),
            a["account"],
            transfer_text(a),
            action_word(a["action"], lang),
            f"{float(a.get('score') or 0):.3f}",
            _markdown(reason_lines(a.get("reasons") or [], lang)),
            _markdown(decided_text(a).splitlines()),
        ]
        for a in alerts
    ]
    return pd.DataFrame(rows, columns=[t(f"alerts_col_{c}", lang) for c in _COLUMNS])


def choices(alerts: list[dict[str, Any]], lang: str) -> list[tuple[str, int]]:
    """Every listed alert can be traced; the desk refuses deciding one already decided."""
    return [
        (
            f"#{a['id']} {status_word(a['status'], lang)} {action_word(a['action'], lang)} "
            f"{a['account']}",
            int(a["id"]),
        )
        for a in alerts
    ]


def account_table(groups: list[dict[str, Any]], lang: str) -> pd.DataFrame:
    """The queue by account (the desk's ``alert_accounts``): how many alerts and holds, the
    first and the latest, the largest amount, the rules that fired with their counts."""
    rows = [
        [
            g["account"],
            str(g["alerts"]),
            str(g["holds"]),
            when(g.get("first")),
            when(g.get("last")),
            money(g.get("max_amount") or 0),
            _markdown([f"{rule} × {n}" for rule, n in (g.get("rules") or {}).items()]),
            f"#{g['latest_id']}",
        ]
        for g in groups
    ]
    return pd.DataFrame(rows, columns=[t(f"alerts_acol_{c}", lang) for c in _ACCOUNT_COLUMNS])


def account_choices(groups: list[dict[str, Any]], lang: str) -> list[tuple[str, int]]:
    """By account, the pick is each account's latest alert: its trace and ring are the
    account's; confirming or dismissing decides the account's alerts up to it."""
    return [
        (
            t(
                "alerts_account_choice",
                lang,
                id=g["latest_id"],
                account=g["account"],
                n=g["alerts"],
            ),
            int(g["latest_id"]),
        )
        for g in groups
    ]


def outcome_line(alert: Mapping[str, Any], lang: str) -> str:
    key = "alerts_done_confirm" if alert["status"] == "confirmed" else "alerts_done_dismiss"
    return f"✅ {t(key, lang, id=alert['id'], account=alert['account'])}"


def account_outcome_line(done: Mapping[str, Any], lang: str) -> str:
    """What deciding an account's alerts did: how many, which."""
    key = "alerts_done_account_" + ("confirm" if done["status"] == "confirmed" else "dismiss")
    ids = "、".join(f"#{i}" for i in done["decided"])
    return f"✅ {t(key, lang, account=done['account'], n=len(done['decided']), ids=ids)}"


# ---- a trace and a ring, compactly ---------------------------------------------------------


def trace_summary(alert: Mapping[str, Any], trace: Mapping[str, Any], lang: str) -> str:
    """One line for the trace, then what the CLI says beside it: cash ends, truncated hubs."""
    direction = t("alerts_up" if trace["direction"] == "up" else "alerts_down", lang)
    lines = [
        "**"
        + md_escape(
            t(
                "alerts_trace_line",
                lang,
                id=alert["id"],
                account=trace["root"],
                direction=direction,
                hops=trace["hops"],
                accounts=len(trace["accounts"]),
                transfers=len(trace["transfers"]),
            )
        )
        + "**"
    ]
    if len(trace["transfers"]) > TRACE_ROWS:
        lines.append(md_escape(t("alerts_trace_more", lang, shown=TRACE_ROWS)))
    for c in trace.get("cash") or []:
        key = "alerts_cash_out" if c["kind"] == "cash_out" else "alerts_cash_in"
        values = {"account": c["account"], "count": c["count"], "amount": money(c["amount"])}
        lines.append(f"- {md_escape(t(key, lang, **values))}")
    for cut in trace.get("truncated") or []:
        line = t(
            "alerts_truncated",
            lang,
            account=cut["account"],
            hop=cut["hop"],
            kept=cut["kept"],
            dropped=cut["dropped"],
            amount=money(cut["dropped_amount"]),
        )
        lines.append(f"- {md_escape(line)}")
    return "\n".join(lines)


def trace_table(trace: Mapping[str, Any], lang: str) -> pd.DataFrame:
    """The traced transfers in hop then time order, as the evidence table lists them."""
    rows = [
        [
            str(x["hop"]),
            when(x["ts"]),
            x["from"],
            x["to"],
            money(x["amount"]),
            money(x["attributed"]),
            str(x["id"]),
        ]
        for x in trace["transfers"][:TRACE_ROWS]
    ]
    return pd.DataFrame(rows, columns=[t(f"alerts_trace_col_{c}", lang) for c in _TRACE_COLUMNS])


def ring_summary(alert: Mapping[str, Any], ring: Mapping[str, Any], lang: str) -> str:
    if ring.get("walk") == "paths":
        if ring.get("member_model"):
            basis = t("alerts_ring_members", lang)
        else:
            basis = t("alerts_ring_steps" if ring.get("steps") else "alerts_ring_paths", lang)
    else:
        basis = t("alerts_ring_scored" if ring.get("scored") else "alerts_ring_unscored", lang)
    line = t(
        "alerts_ring_line",
        lang,
        id=alert["id"],
        account=ring["seed"],
        members=len(ring["members"]),
        considered=ring["considered"],
        basis=basis,
    )
    return f"**{md_escape(line)}**"


def _joined(parts: list[str], lang: str) -> str:
    return ("; " if lang == "en" else "；").join(parts)


def ring_table(ring: Mapping[str, Any], lang: str) -> pd.DataFrame:
    rows = [
        [
            m["account"],
            f"{float(m['score']):.3f}",
            str(m.get("hops", "")),
            _joined(reason_lines(m.get("reasons") or [], lang), lang),
            ", ".join(m.get("transfers") or []),
        ]
        for m in ring["members"]
    ]
    return pd.DataFrame(rows, columns=[t(f"alerts_ring_col_{c}", lang) for c in _RING_COLUMNS])


# ---- what a caller sends -------------------------------------------------------------------


def status_arg(value: str | None) -> str | None:
    """The desk's status filter from the page's or an API caller's value; the desk refuses an
    unknown one in its own words."""
    if value is None:
        return OPEN
    value = str(value).strip().lower()
    return None if value in ("", ALL) else value


def whole(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """A whole number an API caller sent (the API hands values over as sent), or a clear
    refusal in both languages instead of Python's own words."""
    if isinstance(value, bool):
        raise AssistantError(f"{name} 須為整數 / {name} must be a whole number: {value!r}")
    try:
        number = int(value)
        if isinstance(value, float) and number != value:
            raise ValueError(value)
    except (TypeError, ValueError, OverflowError):
        raise AssistantError(
            f"{name} 須為整數 / {name} must be a whole number: {value!r}"
        ) from None
    if (low is not None and number < low) or (high is not None and number > high):
        raise AssistantError(
            f"{name} 須介於 {low} 到 {high} / {name} must be between {low} and {high}: {number}"
        )
    return number


def flag(value: Any, name: str) -> bool:
    """A yes/no an API caller sent: JSON true/false (or the words), never any truthy value."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise AssistantError(f"{name} 須為 true 或 false / {name} must be true or false: {value!r}")


def transfer_body(value: Any) -> Any:
    """One transfer as the API caller sent it: a JSON object, or its text decoded. Whether it
    is one (an object with the fields) is the monitor's to say (``parse_transfer``)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


MAX_BATCH = 10_000  # transfers in one batch call; a feed sends more as more calls


def transfer_batch(value: Any) -> list[Any]:
    """A batch as a JSON array of transfer objects (or its text). A bad item is the monitor's
    to report by its position; only a body that is no array at all is refused here."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = None
    if not isinstance(value, list) or not value:
        raise AssistantError(
            "請送出轉帳的 JSON 陣列 / send the transfers as a non-empty JSON array of objects"
        )
    if len(value) > MAX_BATCH:
        raise AssistantError(
            f"一次最多 {MAX_BATCH:,} 筆 / at most {MAX_BATCH:,} transfers a call: {len(value):,}"
        )
    return value


# ---- the tab -------------------------------------------------------------------------------


def _filter_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"alerts_filter_{s}", lang), s) for s in (*STATUSES, ALL)]


def _view_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"alerts_view_{v}", lang), v) for v in (TRANSFERS, ACCOUNTS)]


def build(
    monitor: Any,
    fraud: Any | None,
    user_of: Callable[[gr.Request], Any],
    lang0: str,
    *,
    lang: gr.Radio,
    demo: gr.Blocks,
    tab: gr.Tab | None = None,
) -> tuple[Callable[[str], dict[Any, Any]], list[Any]]:
    """Lay out the tab in the current Blocks context and wire it. ``monitor`` is the
    `FraudMonitorDesk`; ``fraud`` (a `FraudDesk`, optional) adds the ring button. Returns the
    function that relabels the components for a language, and the components it updates."""
    title = gr.Markdown(f"### {t('alerts_title', lang0)}")
    intro = gr.Markdown(t("alerts_intro", lang0), elem_id="twfin-alerts-intro")
    # Which account each listed alert is about, kept on the server from the desk's answer: the
    # ring is asked for that account, never for one the browser names.
    accounts = gr.State({})
    with gr.Row(equal_height=True):
        show = gr.Radio(
            _filter_choices(lang0),
            value=OPEN,
            label=t("alerts_filter", lang0),
            elem_id="twfin-alerts-filter",
            scale=3,
        )
        view = gr.Radio(
            _view_choices(lang0),
            value=TRANSFERS,
            label=t("alerts_view", lang0),
            elem_id="twfin-alerts-view",
            scale=2,
        )
        refresh = gr.Button(
            t("alerts_refresh", lang0),
            variant="secondary",
            scale=0,
            elem_id="twfin-alerts-refresh",
        )
    grid = gr.Dataframe(
        table([], lang0),
        label=t("alerts_table", lang0),
        interactive=False,
        wrap=True,
        datatype=["str"] * (len(_COLUMNS) - 2) + ["markdown", "markdown"],
        column_widths=["5%", "7%", "10%", "11%", "20%", "7%", "6%", "24%", "10%"],
        elem_id="twfin-alerts-table",
    )
    by_account = gr.Dataframe(
        account_table([], lang0),
        label=t("alerts_accounts_table", lang0),
        interactive=False,
        wrap=True,
        datatype=["str"] * 6 + ["markdown", "str"],
        visible=False,
        elem_id="twfin-alerts-accounts",
    )
    with gr.Row(equal_height=False):
        pick = gr.Dropdown(
            [], value=None, label=t("alerts_pick", lang0), elem_id="twfin-alerts-pick", scale=2
        )
        note = gr.Textbox(
            label=t("alerts_note", lang0),
            placeholder=t("alerts_note_placeholder", lang0),
            lines=1,
            elem_id="twfin-alerts-note",
            scale=3,
        )
    with gr.Row():
        confirm = gr.Button(
            t("alerts_confirm", lang0), variant="stop", elem_id="twfin-alerts-confirm"
        )
        dismiss = gr.Button(
            t("alerts_dismiss", lang0), variant="secondary", elem_id="twfin-alerts-dismiss"
        )
    status = gr.Markdown("", elem_id="twfin-alerts-status")
    with gr.Row(equal_height=True):
        hops = gr.Slider(
            1, 6, value=3, step=1, label=t("alerts_hops", lang0), elem_id="twfin-alerts-hops"
        )
        up = gr.Button(t("alerts_trace_up", lang0), elem_id="twfin-alerts-up")
        down = gr.Button(t("alerts_trace_down", lang0), elem_id="twfin-alerts-down")
        ring = gr.Button(
            t("alerts_ring", lang0), elem_id="twfin-alerts-ring", visible=fraud is not None
        )
    detail = gr.Markdown("", elem_id="twfin-alerts-detail")
    detail_grid = gr.Dataframe(
        trace_table({"transfers": []}, lang0),
        label=t("alerts_detail", lang0),
        interactive=False,
        wrap=True,
        visible=False,
        elem_id="twfin-alerts-detail-table",
    )
    flow = gr.Plot(visible=False, show_label=False, elem_id="twfin-alerts-flow")

    def _listed(user: Any, show_value: str, view_value: str, lg: str) -> dict[Any, Any]:
        if view_value == ACCOUNTS:
            groups = monitor.alert_accounts(user, status_arg(show_value), PAGE_ROWS)
            picks = account_choices(groups, lg)
            known = {int(g["latest_id"]): g["account"] for g in groups}
            shown = {
                grid: gr.update(visible=False),
                by_account: gr.update(value=account_table(groups, lg), visible=True),
            }
        else:
            rows = monitor.alerts(user, status_arg(show_value), PAGE_ROWS)
            picks = choices(rows, lg)
            known = {int(a["id"]): a["account"] for a in rows}
            shown = {
                grid: gr.update(value=table(rows, lg), visible=True),
                by_account: gr.update(visible=False),
            }
        return {
            **shown,
            pick: gr.update(choices=picks, value=picks[0][1] if picks else None),
            accounts: known,
            status: "" if picks else f"ℹ️ {t('alerts_none', lg)}",
        }

    def read(
        show_value: str, lang_value: str, request: gr.Request, view_value: str = TRANSFERS
    ) -> dict[Any, Any]:
        """The queue from the desk, by transfer or by account; its refusal (role, no login)
        is what the tab shows."""
        lg = normalise(lang_value)
        try:
            return _listed(user_of(request), show_value, view_value, lg)
        except AssistantError as exc:
            return {
                grid: gr.update(value=table([], lg)),
                by_account: gr.update(value=account_table([], lg)),
                pick: gr.update(choices=[], value=None),
                accounts: {},
                status: error_line(exc, lg),
            }

    def on_page_load(request: gr.Request) -> dict[Any, Any]:
        """Show the tab to the roles that may read the queue; it starts hidden. No data here:
        opening the tab reads them."""
        try:
            shown = bool(user_of(request).may(VIEW))
        except AssistantError:
            shown = False
        return {tab: gr.update(visible=shown)} if tab is not None else {}

    def relabelled(
        show_value: str, lang_value: str, request: gr.Request, view_value: str = TRANSFERS
    ) -> dict[Any, Any]:
        """A language switch re-reads the queue for the words, where the tab is shown at all."""
        try:
            if not user_of(request).may(VIEW):
                return {}
        except AssistantError:
            return {}
        return read(show_value, lang_value, request, view_value)

    def decide(confirmed: bool) -> Callable[..., dict[Any, Any]]:
        def decided(
            item_id: int | None,
            text: str,
            show_value: str,
            lang_value: str,
            request: gr.Request,
            view_value: str = TRANSFERS,
            known: dict[int, str] | None = None,
        ) -> dict[Any, Any]:
            # By account, the decision is the account's: its open alerts up to the newest
            # listed (the pick), one audit record naming each; by transfer, the one alert.
            account = (known or {}).get(int(item_id)) if item_id is not None else None
            by_account = view_value == ACCOUNTS and account is not None

            def decide_account(user: Any, up_to: int, **kw: Any) -> dict[str, Any]:
                return monitor.decide_account(user, account, up_to=up_to, **kw)

            handler = decision_handler(
                decide_account if by_account else monitor.decide,
                user_of,
                # the queue re-read after the decision is the view being worked
                lambda s, lg, r: read(s, lg, r, view_value),
                status,
                note,
                account_outcome_line if by_account else outcome_line,
                "alerts_pick_first",
                confirmed,
            )
            return handler(item_id, text, show_value, lang_value, request)

        return decided

    def _detail_error(exc: AssistantError, lg: str) -> dict[Any, Any]:
        return {
            detail: error_line(exc, lg),
            detail_grid: gr.update(visible=False),
            flow: gr.update(value=None, visible=False),
        }

    def trace(direction: str) -> Callable[..., dict[Any, Any]]:
        def traced(
            alert_id: int | None, hop_count: float, lang_value: str, request: gr.Request
        ) -> dict[Any, Any]:
            lg = normalise(lang_value)
            if alert_id is None:
                return _detail_error(AssistantError(t("alerts_pick_first", lg)), lg)
            try:
                alert, result = monitor.alert_trace(
                    user_of(request), int(alert_id), direction, int(hop_count)
                )
            except AssistantError as exc:
                return _detail_error(exc, lg)
            shown = result.to_dict()
            figure = flow_figure([shown])
            return {
                detail: trace_summary(alert, shown, lg),
                detail_grid: gr.update(value=trace_table(shown, lg), visible=True),
                flow: gr.update(value=figure, visible=figure is not None),
            }

        return traced

    def expand(
        alert_id: int | None, known: dict[int, str], lang_value: str, request: gr.Request
    ) -> dict[Any, Any]:
        """The ring around the alert's account, by the fraud desk (which checks and records)."""
        lg = normalise(lang_value)
        account = (known or {}).get(int(alert_id)) if alert_id is not None else None
        if fraud is None or account is None:
            return _detail_error(AssistantError(t("alerts_pick_first", lg)), lg)
        try:
            out = fraud.ring(user_of(request), account)
        except AssistantError as exc:
            return _detail_error(exc, lg)
        return {
            detail: ring_summary({"id": alert_id}, out, lg),
            detail_grid: gr.update(value=ring_table(out, lg), visible=True),
            flow: gr.update(value=None, visible=False),
        }

    queue_outputs = [grid, by_account, pick, accounts, status]
    detail_outputs = [detail, detail_grid, flow]
    if tab is not None:
        demo.load(on_page_load, None, [tab], api_visibility="private")
        tab.select(read, [show, lang, view], queue_outputs, api_visibility="private")
    for trigger in (refresh.click, show.change, view.change):
        trigger(read, [show, lang, view], queue_outputs, api_visibility="private")
    lang.change(relabelled, [show, lang, view], queue_outputs, api_visibility="private")
    for button, confirmed in ((confirm, True), (dismiss, False)):
        button.click(
            decide(confirmed),
            [pick, note, show, lang, view, accounts],
            [*queue_outputs, note],
            api_visibility="private",
        )
    for button, direction in ((up, "up"), (down, "down")):
        button.click(trace(direction), [pick, hops, lang], detail_outputs, api_visibility="private")
    ring.click(expand, [pick, accounts, lang], detail_outputs, api_visibility="private")

    def relabel(lg: str) -> dict[Any, Any]:
        return {
            title: f"### {t('alerts_title', lg)}",
            intro: t("alerts_intro", lg),
            show: gr.update(label=t("alerts_filter", lg), choices=_filter_choices(lg)),
            view: gr.update(label=t("alerts_view", lg), choices=_view_choices(lg)),
            by_account: gr.update(label=t("alerts_accounts_table", lg)),
            refresh: gr.update(value=t("alerts_refresh", lg)),
            grid: gr.update(label=t("alerts_table", lg)),
            pick: gr.update(label=t("alerts_pick", lg)),
            note: gr.update(
                label=t("alerts_note", lg), placeholder=t("alerts_note_placeholder", lg)
            ),
            confirm: gr.update(value=t("alerts_confirm", lg)),
            dismiss: gr.update(value=t("alerts_dismiss", lg)),
            hops: gr.update(label=t("alerts_hops", lg)),
            up: gr.update(value=t("alerts_trace_up", lg)),
            down: gr.update(value=t("alerts_trace_down", lg)),
            ring: gr.update(value=t("alerts_ring", lg)),
            detail_grid: gr.update(label=t("alerts_detail", lg)),
        }

    components = [title, intro, show, view, refresh, grid, by_account, pick, note, confirm, dismiss]
    return relabel, [*components, hops, up, down, ring, detail_grid]


# ---- the named API -------------------------------------------------------------------------


def register_api(monitor: Any, user_of: Callable[[gr.Request | None], Any]) -> None:
    """``/fraud_alerts``, ``/fraud_alert_accounts``, ``/fraud_alert_decide``,
    ``/fraud_alert_decide_account``,
    ``/fraud_alert_trace`` and ``/fraud_monitor_score`` for scripts and feeds, with the page's
    login: each is the
    monitor desk's, called with the logged-in user. Values arrive as the caller sent them, so
    each is checked here into the desk's words (Chinese first), never a stack trace."""

    def fraud_alerts(
        status: str | None = OPEN,
        limit: int = 50,
        account: str | None = None,
        request: gr.Request | None = None,
    ) -> list[dict[str, Any]]:
        """The monitor's alerts, newest first: status "open" (the default), "confirmed",
        "dismissed", or "all"; at most ``limit``; only ``account``'s, if given."""
        try:
            user = user_of(request)
            count = whole(limit, "limit", 1, MAX_LIMIT)
            return monitor.alerts(user, status_arg(status), count, account or None)
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    def fraud_alert_accounts(
        status: str | None = OPEN, limit: int = 50, request: gr.Request | None = None
    ) -> list[dict[str, Any]]:
        """The queue by account, the most alerted first: each account's alerts and holds, the
        first and the latest, the largest amount, the rules that fired, the latest alert's id."""
        try:
            user = user_of(request)
            count = whole(limit, "limit", 1, MAX_LIMIT)
            return monitor.alert_accounts(user, status_arg(status), count)
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    def fraud_alert_decide(
        alert_id: int, confirm: bool, note: str = "", request: gr.Request | None = None
    ) -> dict[str, Any]:
        """Confirm (fraud: true) or dismiss (not fraud: false) an open alert, with a note.
        Returns the alert as decided."""
        try:
            user = user_of(request)
            number = whole(alert_id, "alert_id")
            return monitor.decide(
                user, number, confirm=flag(confirm, "confirm"), note=str(note or "")
            )
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    def fraud_alert_decide_account(
        account: str,
        confirm: bool,
        note: str = "",
        up_to: int | None = None,
        request: gr.Request | None = None,
    ) -> dict[str, Any]:
        """Confirm (fraud: true) or dismiss (false) every open alert of ``account``, those up
        to alert ``up_to`` if given (the newest the caller looked at). Returns the account,
        its outcome and the alerts decided."""
        try:
            user = user_of(request)
            last = None if up_to in (None, "") else whole(up_to, "up_to")
            return monitor.decide_account(
                user,
                str(account or ""),
                confirm=flag(confirm, "confirm"),
                note=str(note or ""),
                up_to=last,
            )
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    def fraud_alert_trace(
        alert_id: int, direction: str = "up", hops: int = 3, request: gr.Request | None = None
    ) -> dict[str, Any]:
        """The alert and the money-flow trace of its account: direction "up" (前期金流, where
        the money came from) or "down" (where it went), 1 to 6 hops."""
        try:
            user = user_of(request)
            alert, result = monitor.alert_trace(
                user, whole(alert_id, "alert_id"), str(direction), whole(hops, "hops")
            )
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc
        return {"alert": alert, "trace": result.to_dict()}

    def fraud_monitor_score(
        transfer: dict[str, Any] | str, request: gr.Request | None = None
    ) -> dict[str, Any]:
        """Score one transfer on arrival: a JSON object with id, ts (ISO; without a zone it is
        Taiwan time), from_account, to_account, amount, and optionally kind (transfer |
        cash_in | cash_out), channel, memo. Returns its decision (pass / alert / hold) with
        the reasons, and the id of the stored alert (null for a pass)."""
        try:
            user = user_of(request)
            return monitor.score(user, transfer_body(transfer))
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    def fraud_monitor_batch(
        transfers: list[dict[str, Any]] | str, request: gr.Request | None = None
    ) -> dict[str, Any]:
        """Score transfers in arrival order: a JSON array of transfer objects (as for
        ``/fraud_monitor_score``). A bad item is reported by its position (1-based) with the
        reason and the others are scored; returns the counts, the alerts and holds with their
        reasons, the errors and the stored alerts' ids."""
        try:
            user = user_of(request)
            rows = transfer_batch(transfers)
            result = monitor.score_batch(
                user, enumerate(rows, start=1), source="api", keep_passes=False
            )
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc
        return result.to_dict(passes=False)

    def fraud_monitor_warm(days: int = 30, request: gr.Request | None = None) -> dict[str, Any]:
        """Feed the stored ledger's last ``days`` (1 to 400) through this server's monitor, so
        that transfers scored next are judged against each account's usual (a server starts
        cold). No alerts are raised; returns how many transfers it read."""
        try:
            user = user_of(request)
            count = whole(days, "days", 1, 400)
            n = monitor.warm(user, days=count)
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc
        return {"transfers": n, "days": count}

    gr.api(fraud_alerts, api_name="fraud_alerts")
    gr.api(fraud_alert_accounts, api_name="fraud_alert_accounts")
    gr.api(fraud_alert_decide, api_name="fraud_alert_decide")
    gr.api(fraud_alert_decide_account, api_name="fraud_alert_decide_account")
    gr.api(fraud_alert_trace, api_name="fraud_alert_trace")
    gr.api(fraud_monitor_score, api_name="fraud_monitor_score")
    gr.api(fraud_monitor_batch, api_name="fraud_monitor_batch")
    gr.api(fraud_monitor_warm, api_name="fraud_monitor_warm")


def tab_label(lang: str) -> str:
    return t("tab_alerts", lang)
