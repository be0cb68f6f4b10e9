"""匯入帳務檔: a ledger or an account statement imported from the 防詐 tab.

Investigators receive transfer lists and statements (調閱的交易明細) as files from other banks
and branches; here one is uploaded and imported by the fraud desk with the logged-in user, as
`assistant fraud import-csv` and `import-statement` do: the columns told from the header unless
the options say (the CLI's ``--map``, ``--sheet``, ``--date-format``, ``--step-unit`` and
``--rate``), the rows read shown as the import goes, and the report shown (what was added,
what was read from which column, the currencies, the rows left out by line and why). The desk
checks the role (``fraud.ledger``) and writes the audit record; the page only shows what it
answered. Only a file in Gradio's upload folder is read (``uploaded``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.errors import AssistantError
from assistant.fraud.column_names import mapping_pairs
from assistant.fraud.currencies import rate_pairs
from assistant.fraud.importers import STEP_UNITS, steps_from
from ui.fraud_panel import error_line, md_escape
from ui.i18n import normalise, t

TRANSFERS, STATEMENT = "transfers", "statement"
FILE_TYPES = [".csv", ".tsv", ".txt", ".xlsx", ".xls", ".parquet"]
# Rows of the report's errors shown on the page; the CLI's --json gives all.
ERROR_ROWS = 20


def _kind_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"import_kind_{k}", lang), k) for k in (TRANSFERS, STATEMENT)]


def _unit_choices(lang: str) -> list[tuple[str, str]]:
    return [(t("import_steps_none", lang), "")] + [
        (t(f"import_steps_{u}", lang), u) for u in STEP_UNITS
    ]


def _items(text: str) -> list[str]:
    """One item a line, or several apart by ``;``."""
    parts = (text or "").replace("；", ";").splitlines()
    return [x for line in parts for x in line.split(";") if x.strip()]


def options(
    mapping: str,
    sheet: str,
    date_format: str,
    step_unit: str,
    start: str,
    kind: str,
    rates: str = "",
) -> tuple[dict[str, str], dict[str, Any]]:
    """The page's options as the desk's import takes them: the mapping (``field=column``)
    and the keyword arguments, the rates (``CUR=NT$``) among them; a step unit on a
    statement is refused (a statement's times are dates as the bank writes them)."""
    pairs = mapping_pairs(_items(mapping))
    kw: dict[str, Any] = {
        "sheet": (sheet or "").strip() or None,
        "date_format": (date_format or "").strip() or None,
        "rates": rate_pairs(_items(rates)),
    }
    if step_unit:
        if kind == STATEMENT:
            raise AssistantError(
                "交易明細的時間不以步數計，請清除「時間欄為步數」 / a statement's times are not "
                "steps: clear the step unit"
            )
        kw["steps"] = steps_from(step_unit, (start or "").strip() or "2024-01-01")
    return pairs, kw


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
    if report.get("time"):
        lines.append(f"{t('import_time', lang)}: {md_escape(report['time'])}")
    if report.get("currencies"):
        held = ", ".join(f"{c} {n:,}" for c, n in report["currencies"].items())
        lines.append(f"{t('import_currencies', lang)}: {md_escape(held)}")
    if report.get("converted"):
        held = ", ".join(f"{c} {n:,}" for c, n in report["converted"].items())
        lines.append(f"{t('import_converted', lang)}: {md_escape(held)}")
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
        with gr.Accordion(t("import_options", lang0), open=False) as more:
            mapping = gr.Textbox(
                label=t("import_map", lang0),
                placeholder="ts=交易時間\nfrom_account=轉出帳號",
                lines=3,
                elem_id="twfin-import-map",
            )
            with gr.Row():
                sheet = gr.Textbox(label=t("import_sheet", lang0), elem_id="twfin-import-sheet")
                date_format = gr.Textbox(
                    label=t("import_date_format", lang0),
                    placeholder="%Y%m%d %H%M%S",
                    elem_id="twfin-import-date-format",
                )
                step_unit = gr.Dropdown(
                    _unit_choices(lang0),
                    value="",
                    label=t("import_steps", lang0),
                    elem_id="twfin-import-steps",
                )
                start = gr.Textbox(
                    value="2024-01-01",
                    label=t("import_start", lang0),
                    elem_id="twfin-import-start",
                )
            rates = gr.Textbox(
                label=t("import_rates", lang0),
                placeholder="USD=31.5",
                lines=1,
                elem_id="twfin-import-rates",
            )
        with gr.Row():
            run = gr.Button(t("import_run", lang0), variant="primary", elem_id="twfin-import-run")
        result = gr.Markdown("", elem_id="twfin-import-result")

    def imported(
        file_value: Any,
        kind_value: str,
        account_value: str,
        lang_value: str,
        map_value: str,
        sheet_value: str,
        format_value: str,
        unit_value: str,
        start_value: str,
        rates_value: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008  (Gradio's way to ask for one)
    ) -> dict[Any, Any]:
        """The file through the fraud desk; its refusal or the file's own fault is said in
        both languages, with nothing imported. The rows read so far show as it goes."""
        lg = normalise(lang_value)
        if not file_value:
            return {result: error_line(AssistantError(t("import_pick_file", lg)), lg)}
        try:
            pairs, kw = options(
                map_value,
                sheet_value,
                format_value,
                unit_value,
                start_value,
                kind_value,
                rates_value,
            )
            user = user_of(request)
            path = uploaded(file_value)
            kw["progress"] = lambda n: progress(None, desc=t("import_read", lg, n=f"{n:,}"))
            if kind_value == STATEMENT:
                account_given = (account_value or "").strip() or None
                report = desk.import_statement(user, path, pairs, account=account_given, **kw)
            else:
                report = desk.import_csv(user, path, pairs, **kw)
        except AssistantError as exc:
            return {result: error_line(exc, lg)}
        return {result: report_text(report.as_dict(), lg)}

    run.click(
        imported,
        [file, kind, account, lang, mapping, sheet, date_format, step_unit, start, rates],
        [result],
        api_visibility="private",
    )

    def relabel(lg: str) -> dict[Any, Any]:
        return {
            box: gr.update(label=t("import_title", lg)),
            intro: t("import_intro", lg),
            file: gr.update(label=t("import_file", lg)),
            kind: gr.update(label=t("import_kind", lg), choices=_kind_choices(lg)),
            account: gr.update(label=t("import_account", lg)),
            more: gr.update(label=t("import_options", lg)),
            mapping: gr.update(label=t("import_map", lg)),
            sheet: gr.update(label=t("import_sheet", lg)),
            date_format: gr.update(label=t("import_date_format", lg)),
            step_unit: gr.update(label=t("import_steps", lg), choices=_unit_choices(lg)),
            start: gr.update(label=t("import_start", lg)),
            rates: gr.update(label=t("import_rates", lg)),
            run: gr.update(value=t("import_run", lg)),
        }

    parts = [box, intro, file, kind, account, more, mapping, sheet, date_format, step_unit, start]
    return relabel, [*parts, rates, run]
