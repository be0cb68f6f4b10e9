"""The admin tab: past model evaluations (``assistant eval models``), for administrators only.

A thin shell over the evaluation store: ``eval_runs()`` lists the runs (newest first, plain
dicts as `assistant.modeleval.store.list_runs` returns them) and ``eval_run(id)`` gives one.
Who may see them is checked in every handler from the logged-in user, not by hiding the tab:
any other role gets a clear "admins only" line and no data. The same lists are named API
endpoints (``/eval_runs``, ``/eval_run``) behind the same login and the same check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr
import pandas as pd

from assistant.errors import AssistantError, AuthError, NotFound
from ui.fraud_panel import error_line, md_escape, when
from ui.i18n import normalise, t

_COLUMNS = ("id", "status", "created", "finished", "suites", "models", "corpus", "items", "summary")

EvalRuns = Callable[[], list[dict[str, Any]]]
EvalRun = Callable[[str], dict[str, Any] | None]


def require_admin(user: Any) -> None:
    if not getattr(user, "is_admin", False):
        role = getattr(user, "role", "?")
        raise AuthError(f"僅限系統管理員，您的角色是 {role} / admins only; your role is {role}")


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


def build(
    eval_runs: EvalRuns,
    eval_run: EvalRun,
    user_of: Callable[[gr.Request], Any],
    lang0: str,
    *,
    lang: gr.Radio,
    demo: gr.Blocks,
    tab: gr.Tab | None = None,
) -> tuple[Callable[[str], dict[Any, Any]], list[Any]]:
    """Lay out the tab in the current Blocks context and wire it. Returns the function that
    relabels the components for a language, and the components it updates. Nothing but the
    labels is filled in before a handler has checked that the logged-in user is an admin."""
    title = gr.Markdown(f"### {t('eval_title', lang0)}")
    gate = gr.Markdown("", elem_id="twfin-admin-gate")
    with gr.Column(visible=False) as body:
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
            gate: error_line(exc, lg) if not isinstance(exc, AuthError) else t("admin_only", lg),
            body: gr.update(visible=False),
            grid: table([], lg),
            pick: gr.update(choices=[], value=None),
            detail: "",
        }

    def _detail(run_id: str | None, lg: str) -> str:
        if not run_id:
            return ""
        run = eval_run(run_id)
        if run is None:
            return error_line(AssistantError(t("eval_no_run", lg, id=run_id)), lg)
        return details(run, lg)

    def load(current: str | None, lang_value: str, request: gr.Request) -> dict[Any, Any]:
        lg = normalise(lang_value)
        try:
            require_admin(user_of(request))
            runs = eval_runs()
        except AssistantError as exc:
            return _refused(exc, lg)
        ids = [r["id"] for r in runs]
        # What was shown stays shown; first, the newest finished run (it has figures).
        done = [r["id"] for r in runs if r.get("status") == "done"]
        chosen = current if current in ids else next(iter(done or ids), None)
        return {
            gate: "" if runs else f"ℹ️ {t('eval_none', lg)}",
            body: gr.update(visible=True),
            grid: table(runs, lg),
            pick: gr.update(choices=ids, value=chosen),
            detail: _detail(chosen, lg),
        }

    def show(run_id: str | None, lang_value: str, request: gr.Request) -> dict[Any, Any]:
        lg = normalise(lang_value)
        try:
            require_admin(user_of(request))
            return {detail: _detail(run_id, lg)}
        except AssistantError as exc:
            return _refused(exc, lg)

    outputs = [gate, body, grid, pick, detail]
    demo.load(load, [pick, lang], outputs, api_visibility="private")
    for trigger in (refresh.click, lang.change):
        trigger(load, [pick, lang], outputs, api_visibility="private")
    if tab is not None:
        tab.select(load, [pick, lang], outputs, api_visibility="private")
    pick.input(show, [pick, lang], outputs, api_visibility="private")

    def relabel(lg: str) -> dict[Any, Any]:
        return {
            title: f"### {t('eval_title', lg)}",
            intro: t("eval_intro", lg),
            refresh: gr.update(value=t("eval_refresh", lg)),
            grid: gr.update(label=t("eval_table", lg)),
            pick: gr.update(label=t("eval_pick", lg)),
        }

    return relabel, [title, intro, refresh, grid, pick]


def register_api(
    eval_runs: EvalRuns, eval_run: EvalRun, user_of: Callable[[gr.Request | None], Any]
) -> None:
    """``/eval_runs`` and ``/eval_run`` for scripts: admins only, with the page's login."""

    def runs(request: gr.Request | None = None) -> list[dict[str, Any]]:
        """Past model evaluations, newest first, with their per-model summaries (admins)."""
        try:
            require_admin(user_of(request))
            return eval_runs()
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    def run(run_id: str, request: gr.Request | None = None) -> dict[str, Any]:
        """One model evaluation by its id (admins)."""
        try:
            require_admin(user_of(request))
            found = eval_run(str(run_id))
            if found is None:
                raise NotFound(f"沒有這筆評測 / no such run: {run_id}")
            return found
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    gr.api(runs, api_name="eval_runs")
    gr.api(run, api_name="eval_run")


def tab_label(lang: str) -> str:
    return t("tab_admin", lang)
