"""The admin tab: the language model switch, the login record and past model evaluations
(``assistant eval models``).

A thin shell over `AdminDesk`: every read and the switch go to the desk with the logged-in user,
and the desk decides who may (the permission table) and writes the audit record, allowed and
refused alike; the tab shows the desk's refusal as it is. The only decision taken here is
whether to show the tab at all, and that asks the same table (``admin.evals``). The evaluations
are also named API endpoints (``/eval_runs``, ``/eval_run``) behind the same login.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr
import pandas as pd

from assistant.errors import AssistantError
from ui.fraud_panel import error_line, md_escape, when
from ui.i18n import normalise, t

_COLUMNS = ("id", "status", "created", "finished", "suites", "models", "corpus", "items", "summary")

_LOGIN_COLUMNS = ("at", "user", "outcome", "source")
# Whether the tab is shown to a user: the permission table's answer, asked only to hide what
# would be refused anyway (the data still come from the desk, which checks again).
VIEW = "admin.evals"
SWITCH = "model"


def _pct(value: Any) -> str:
    return f"{float(value) * 100:.1f}%" if isinstance(value, int | float) else "—"


def _cell(value: Any) -> str:
    """A value in a Markdown table cell: escaped, and on one line."""
    return md_escape(str(value).replace("\n", " "))


def model_name(m: dict[str, Any], lang: str) -> str:
    """file (quantization, sha256 prefix); the `none` run says it had no model."""
    if m.get("sha256") == "none":
        return f"none（{t('eval_no_model', lang)}）" if lang != "en" else "none (no model)"
    quant = m.get("quantization") or "?"
    return f"{m.get('file', '?')} ({quant}, {str(m.get('sha256', ''))[:12]})"


def _figures(m: dict[str, Any], lang: str) -> str:
    """A model's headline figures: exam accuracy, regulation cited gold and grounded."""
    parts = []
    exam = m.get("exam") or {}
    if "accuracy" in exam:
        parts.append(f"{t('eval_exam', lang)} {_pct(exam['accuracy'])}")
    reg = m.get("regulation") or {}
    if reg:
        parts.append(f"{t('eval_cited_gold', lang)} {_pct(reg.get('cited_gold'))}")
        parts.append(f"{t('eval_grounded', lang)} {_pct(reg.get('grounded'))}")
    return " · ".join(parts)


def _summary_models(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-model results of a finished run; for an unfinished one, only what was asked."""
    return list((run.get("summary") or {}).get("models") or run.get("models") or [])


def table(runs: list[dict[str, Any]], lang: str) -> pd.DataFrame:
    rows = []
    for r in runs:
        models = _summary_models(r)
        corpus = r.get("corpus") or {}
        rows.append(
            [
                r["id"],
                t(f"eval_status_{r['status']}", lang)
                if r.get("status") in ("running", "done")
                else str(r.get("status")),
                when(r.get("created_at")),
                when(r.get("finished_at")),
                ", ".join(r.get("suites") or []),
                "\n".join(md_escape(model_name(m, lang)) for m in models),
                corpus.get("snapshot_date") or "",
                str(r.get("items_done", "")),
                "\n".join(
                    md_escape(f"{m.get('file', '?')}: {_figures(m, lang)}")
                    for m in models
                    if _figures(m, lang)
                ),
            ]
        )
    return pd.DataFrame(rows, columns=[t(f"eval_col_{c}", lang) for c in _COLUMNS])


def details(run: dict[str, Any], lang: str) -> str:
    """One run as Markdown: what it ran on, a row of figures per model, its report files."""
    status = run.get("status")
    head = [
        f"#### {t('eval_pick', lang)} `{run['id']}`",
        "",
        f"- {t('eval_col_status', lang)}：{t(f'eval_status_{status}', lang)}"
        if status in ("running", "done")
        else f"- {t('eval_col_status', lang)}：{status}",
        f"- {t('eval_col_created', lang)}：{when(run.get('created_at'))}"
        + (
            f" · {t('eval_col_finished', lang)}：{when(run.get('finished_at'))}"
            if run.get("finished_at")
            else ""
        ),
        f"- {t('eval_col_suites', lang)}：{', '.join(run.get('suites') or []) or '—'}",
    ]
    corpus = run.get("corpus") or {}
    if corpus:
        line = t(
            "eval_corpus_line",
            lang,
            date=corpus.get("snapshot_date") or "—",
            documents=corpus.get("documents", "—"),
            chunks=corpus.get("chunks", "—"),
            fingerprint=corpus.get("fingerprint") or "—",
        )
        head.append(f"- {t('eval_corpus', lang)}：{line}")
    if "items_done" in run:
        head.append(f"- {t('eval_col_items', lang)}：{run['items_done']}")
    parts = ["\n".join(head)]

    summary = run.get("summary") or {}
    models = summary.get("models") or []
    if models:
        cols = [
            t("eval_model", lang),
            t("eval_quant", lang),
            "sha256",
            t("eval_exam", lang),
            t("eval_answered", lang),
            t("eval_cited_gold", lang),
            t("eval_grounded", lang),
            t("eval_invented", lang),
            t("eval_refused_nobasis", lang),
            t("eval_refused_answerable", lang),
            t("eval_latency", lang),
            t("eval_load", lang),
        ]
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for m in models:
            exam = m.get("exam") or {}
            reg = m.get("regulation") or {}
            cost = m.get("cost") or {}
            answered = (
                f"{exam['answered']}/{exam['total']}"
                if "answered" in exam and "total" in exam
                else "—"
            )
            latency = reg.get("mean_latency_ms")
            row = [
                m.get("file", "?"),
                m.get("quantization") or "—",
                str(m.get("sha256", ""))[:16],
                _pct(exam.get("accuracy")),
                answered,
                _pct(reg.get("cited_gold")),
                _pct(reg.get("grounded")),
                str(reg.get("invented_citations", "—")),
                _pct(reg.get("refused_when_no_basis")),
                _pct(reg.get("refused_when_answerable")),
                f"{float(latency):.0f} ms" if isinstance(latency, int | float) else "—",
                f"{float(cost['load_s']):.1f} s" if "load_s" in cost else "—",
            ]
            lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
        parts.append("\n".join(lines))
    else:
        parts.append(f"ℹ️ {t('eval_no_summary', lang)}")

    files = summary.get("report") or {}
    if files or run.get("report_dir"):
        lines = [f"**{t('eval_reports', lang)}**"]
        lines += [f"- {name}: `{path}`" for name, path in files.items()]
        if not files:
            lines.append(f"- {t('eval_report_dir', lang)}: `{run['report_dir']}`")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def logins_table(rows: list[dict[str, Any]], lang: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            [when(r.get("at")), r.get("user") or "", r.get("outcome") or "", r.get("source") or ""]
            for r in rows
        ],
        columns=[t(f"logins_col_{c}", lang) for c in _LOGIN_COLUMNS],
    )


def switch_line(state: dict[str, Any], lang: str) -> str:
    """The switch as it stands, and who set it why."""
    word = t("switch_on" if state.get("enabled", True) else "switch_off", lang)
    line = f"**{t('switch_state', lang, state=word)}**"
    if state.get("changed_by"):
        line += " " + md_escape(
            t(
                "switch_changed",
                lang,
                by=state["changed_by"],
                at=when(state.get("changed_at")),
                reason=state.get("reason") or "—",
            )
        )
    return line


def _switch_choices(lang: str) -> list[tuple[str, str]]:
    return [(t("switch_on", lang), "on"), (t("switch_off", lang), "off")]


def build(
    desk: Any,
    user_of: Callable[[gr.Request], Any],
    lang0: str,
    *,
    lang: gr.Radio,
    demo: gr.Blocks,
    tab: gr.Tab | None = None,
) -> tuple[Callable[[str], dict[Any, Any]], list[Any]]:
    """Lay out the tab in the current Blocks context and wire it. Returns the function that
    relabels the components for a language, and the components it updates. Nothing but the
    labels is filled in before the desk has answered for the logged-in user."""
    gate = gr.Markdown("", elem_id="twfin-admin-gate")
    with gr.Column(visible=False) as body:
        sw_title = gr.Markdown(f"### {t('switch_title', lang0)}")
        sw_state = gr.Markdown("", elem_id="twfin-admin-switch-state")
        with gr.Row(equal_height=True):
            sw_choice = gr.Radio(
                _switch_choices(lang0),
                value="on",
                show_label=False,
                elem_id="twfin-admin-switch",
                scale=2,
            )
            sw_reason = gr.Textbox(
                label=t("switch_reason", lang0), lines=1, elem_id="twfin-admin-reason", scale=3
            )
            sw_apply = gr.Button(
                t("switch_apply", lang0), variant="stop", scale=0, elem_id="twfin-admin-apply"
            )
        sw_status = gr.Markdown("", elem_id="twfin-admin-switch-status")

        lg_title = gr.Markdown(f"### {t('logins_title', lang0)}")
        with gr.Row(equal_height=True):
            lg_failed = gr.Checkbox(
                value=False, label=t("logins_failed", lang0), elem_id="twfin-admin-failed"
            )
            lg_refresh = gr.Button(
                t("logins_refresh", lang0), variant="secondary", size="sm", scale=0
            )
        lg_grid = gr.Dataframe(
            logins_table([], lang0), interactive=False, elem_id="twfin-admin-logins"
        )

        title = gr.Markdown(f"### {t('eval_title', lang0)}")
        intro = gr.Markdown(t("eval_intro", lang0))
        refresh = gr.Button(
            t("eval_refresh", lang0), variant="secondary", size="sm", elem_id="twfin-admin-refresh"
        )
        grid = gr.Dataframe(
            table([], lang0),
            label=t("eval_table", lang0),
            interactive=False,
            wrap=True,
            # Models and figures: one model per line (Markdown, escaped in `table`).
            datatype=["str"] * 5 + ["markdown", "str", "str", "markdown"],
            column_widths=["9%", "6%", "10%", "10%", "8%", "22%", "8%", "6%", "21%"],
            elem_id="twfin-admin-runs",
        )
        pick = gr.Dropdown([], value=None, label=t("eval_pick", lang0), elem_id="twfin-admin-pick")
        detail = gr.Markdown("", elem_id="twfin-admin-detail")

    def _refused(exc: Exception, lg: str) -> dict[Any, Any]:
        return {
            gate: error_line(exc, lg),
            body: gr.update(visible=False),
            sw_state: "",
            lg_grid: logins_table([], lg),
            grid: table([], lg),
            pick: gr.update(choices=[], value=None),
            detail: "",
        }

    def _detail(user: Any, run_id: str | None, lg: str) -> str:
        if not run_id:
            return ""
        try:
            return details(desk.eval_run(user, run_id), lg)
        except AssistantError as exc:
            return error_line(exc, lg)

    def read(
        current: str | None, failed: bool, lang_value: str, request: gr.Request
    ) -> dict[Any, Any]:
        """The switch, the login record and the evaluations, each from the desk."""
        lg = normalise(lang_value)
        try:
            user = user_of(request)
            runs = desk.eval_runs(user)
            logins = desk.logins(user, 50, failed=bool(failed))
            state = desk.switch(SWITCH)
        except AssistantError as exc:
            return _refused(exc, lg)
        ids = [r["id"] for r in runs]
        # What was shown stays shown; first, the newest finished run (it has figures).
        done = [r["id"] for r in runs if r.get("status") == "done"]
        chosen = current if current in ids else next(iter(done or ids), None)
        return {
            gate: "" if runs else f"ℹ️ {t('eval_none', lg)}",
            body: gr.update(visible=True),
            sw_state: switch_line(state, lg),
            lg_grid: logins_table(logins, lg),
            grid: table(runs, lg),
            pick: gr.update(choices=ids, value=chosen),
            detail: _detail(user, chosen, lg),
        }

    def on_page_load(request: gr.Request) -> dict[Any, Any]:
        """Show the tab to the roles that may read it; it starts hidden. No data here."""
        try:
            shown = bool(user_of(request).may(VIEW))
        except AssistantError:
            shown = False
        return {tab: gr.update(visible=shown)} if tab is not None else {}

    def relabelled(
        current: str | None, failed: bool, lang_value: str, request: gr.Request
    ) -> dict[Any, Any]:
        """A language switch re-reads for the words, where the tab is shown at all."""
        try:
            if not user_of(request).may(VIEW):
                return {}
        except AssistantError:
            return {}
        return read(current, failed, lang_value, request)

    def show(run_id: str | None, lang_value: str, request: gr.Request) -> dict[Any, Any]:
        lg = normalise(lang_value)
        try:
            return {detail: _detail(user_of(request), run_id, lg)}
        except AssistantError as exc:
            return _refused(exc, lg)

    def logins(failed: bool, lang_value: str, request: gr.Request) -> dict[Any, Any]:
        lg = normalise(lang_value)
        try:
            rows = desk.logins(user_of(request), 50, failed=bool(failed))
        except AssistantError as exc:
            return _refused(exc, lg)
        return {lg_grid: logins_table(rows, lg)}

    def set_switch(
        choice: str, reason: str, lang_value: str, request: gr.Request
    ) -> dict[Any, Any]:
        lg = normalise(lang_value)
        enabled = choice != "off"
        try:
            state = desk.set_switch(user_of(request), SWITCH, enabled, reason or "")
        except AssistantError as exc:
            # Refused by the desk and recorded there: said, and the switch is as it was.
            return {sw_status: error_line(exc, lg)}
        word = t("switch_on" if state["enabled"] else "switch_off", lg)
        return {
            sw_state: switch_line(state, lg),
            sw_status: f"✅ {t('switch_done', lg, state=word)}",
            sw_reason: "",
        }

    outputs = [gate, body, sw_state, lg_grid, grid, pick, detail]
    inputs = [pick, lg_failed, lang]
    if tab is not None:
        demo.load(on_page_load, None, [tab], api_visibility="private")
        tab.select(read, inputs, outputs, api_visibility="private")
    refresh.click(read, inputs, outputs, api_visibility="private")
    lang.change(relabelled, inputs, outputs, api_visibility="private")
    pick.input(show, [pick, lang], outputs, api_visibility="private")
    for trigger in (lg_refresh.click, lg_failed.input):
        trigger(logins, [lg_failed, lang], outputs, api_visibility="private")
    sw_apply.click(
        set_switch,
        [sw_choice, sw_reason, lang],
        [sw_state, sw_status, sw_reason],
        api_visibility="private",
    )

    def relabel(lg: str) -> dict[Any, Any]:
        return {
            sw_title: f"### {t('switch_title', lg)}",
            sw_choice: gr.update(choices=_switch_choices(lg)),
            sw_reason: gr.update(label=t("switch_reason", lg)),
            sw_apply: gr.update(value=t("switch_apply", lg)),
            lg_title: f"### {t('logins_title', lg)}",
            lg_failed: gr.update(label=t("logins_failed", lg)),
            lg_refresh: gr.update(value=t("logins_refresh", lg)),
            title: f"### {t('eval_title', lg)}",
            intro: t("eval_intro", lg),
            refresh: gr.update(value=t("eval_refresh", lg)),
            grid: gr.update(label=t("eval_table", lg)),
            pick: gr.update(label=t("eval_pick", lg)),
        }

    return relabel, [
        sw_title,
        sw_choice,
        sw_reason,
        sw_apply,
        lg_title,
        lg_failed,
        lg_refresh,
        title,
        intro,
        refresh,
        grid,
        pick,
    ]


def register_api(desk: Any, user_of: Callable[[gr.Request | None], Any]) -> None:
    """``/eval_runs`` and ``/eval_run`` for scripts, with the page's login: both are the
    desk's, called with the logged-in user."""

    def runs(request: gr.Request | None = None) -> list[dict[str, Any]]:
        """Past model evaluations, newest first, with their per-model summaries."""
        try:
            return desk.eval_runs(user_of(request))
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    def run(run_id: str, request: gr.Request | None = None) -> dict[str, Any]:
        """One model evaluation by its id."""
        try:
            return desk.eval_run(user_of(request), str(run_id))
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    gr.api(runs, api_name="eval_runs")
    gr.api(run, api_name="eval_run")


def tab_label(lang: str) -> str:
    return t("tab_admin", lang)
