"""匯入帳務檔: a ledger or an account statement imported from the 防詐 tab.

Investigators receive transfer lists and statements (調閱的交易明細) as files from other banks
and branches; here one is uploaded and imported by the fraud desk with the logged-in user, as
`assistant fraud import-csv` and `import-statement` do: the columns told from the header, the
report shown (what was added, what was read from which column, the rows left out by line and
why). The desk checks the role (``fraud.ledger``) and writes the audit record; the page only
shows what it answered. Only a file in Gradio's upload folder is read (``uploaded``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.errors import AssistantError
from ui.fraud_panel import error_line, md_escape
from ui.i18n import normalise, t

TRANSFERS, STATEMENT = "transfers", "statement"
FILE_TYPES = [".csv", ".tsv", ".txt", ".xlsx", ".parquet"]
# Rows of the report's errors shown on the page; the CLI's --json gives all.
ERROR_ROWS = 20


def _kind_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"import_kind_{k}", lang), k) for k in (TRANSFERS, STATEMENT)]


def report_text(report: dict[str, Any], lang: str) -> str:
    """The import's report as the page shows it: the counts, the columns read, the caveats
    and the first rows left out (text from the file is escaped, never read as markup)."""
    lines = [
        "✅ "
        + t(
            "import_done",
            lang,
            added=f"{report['added']:,}",
            cash=f"{report['cash']:,}",
            skipped=f"{report['skipped']:,}",
            accounts=f"{report['accounts']:,}",
        )
    ]
    if report.get("mapping"):
        read = ", ".join(f"{f} ← {c}" for f, c in report["mapping"].items())
        lines.append(f"{t('import_mapping', lang)}: {md_escape(read)}")
    for reason, n in {**report.get("omitted", {}), **report.get("noted", {})}.items():
        lines.append(f"- {md_escape(reason)}: {n:,}")
    errors = report.get("errors", [])
    if errors:
        lines.append(t("import_errors", lang, shown=min(len(errors), ERROR_ROWS), n=len(errors)))
        lines += [f"- {e['line']}: {md_escape(e['reason'])}" for e in errors[:ERROR_ROWS]]
    return "\n".join(lines)


def build(
    desk: Any,
    user_of: Callable[[gr.Request], Any],
    uploaded: Callable[[Any], Path],
    lang0: str,
    *,
    lang: gr.Radio,
) -> tuple[Callable[[str], dict[Any, Any]], list[Any]]:
    """Lay out the import in the current Blocks context (inside the 防詐 tab) and wire it.
    ``desk``: the `FraudDesk`; ``uploaded``: the server-side path of an uploaded file, refusing
    any other. Returns the function that relabels the components, and the components."""
    with gr.Accordion(t("import_title", lang0), open=False, elem_id="twfin-import") as box:
        intro = gr.Markdown(t("import_intro", lang0), elem_id="twfin-import-intro")
        with gr.Row(equal_height=False):
            file = gr.File(
                label=t("import_file", lang0),
                file_types=FILE_TYPES,
                type="filepath",
                elem_id="twfin-import-file",
                scale=3,
            )
            with gr.Column(scale=2):
                kind = gr.Radio(
                    _kind_choices(lang0),
                    value=TRANSFERS,
                    label=t("import_kind", lang0),
                    elem_id="twfin-import-kind",
                )
                account = gr.Textbox(
                    label=t("import_account", lang0),
                    placeholder="00742512076092",
                    lines=1,
                    elem_id="twfin-import-account",
                )
                run = gr.Button(
                    t("import_run", lang0), variant="primary", elem_id="twfin-import-run"
                )
        result = gr.Markdown("", elem_id="twfin-import-result")

    def imported(
        file_value: Any, kind_value: str, account_value: str, lang_value: str, request: gr.Request
    ) -> dict[Any, Any]:
        """The file through the fraud desk; its refusal or the file's own fault is said in
        both languages, with nothing imported."""
        lg = normalise(lang_value)
        if not file_value:
            return {result: error_line(AssistantError(t("import_pick_file", lg)), lg)}
        try:
            user = user_of(request)
            path = uploaded(file_value)
            if kind_value == STATEMENT:
                report = desk.import_statement(
                    user, path, {}, account=(account_value or "").strip() or None
                )
            else:
                report = desk.import_csv(user, path, {})
        except AssistantError as exc:
            return {result: error_line(exc, lg)}
        return {result: report_text(report.as_dict(), lg)}

    run.click(imported, [file, kind, account, lang], [result], api_visibility="private")

    def relabel(lg: str) -> dict[Any, Any]:
        return {
            box: gr.update(label=t("import_title", lg)),
            intro: t("import_intro", lg),
            file: gr.update(label=t("import_file", lg)),
            kind: gr.update(label=t("import_kind", lg), choices=_kind_choices(lg)),
            account: gr.update(label=t("import_account", lg)),
            run: gr.update(value=t("import_run", lg)),
        }

    return relabel, [box, intro, file, kind, account, run]
