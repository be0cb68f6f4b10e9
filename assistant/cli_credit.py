"""`assistant credit …`: statements and ratios from a MOPS financial report, and
`assistant eval credit`.

Every command here reads a borrower's report or decides on a memo, so each goes through the
credit desk as a logged-in user (role credit or admin), and each is in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistant.cli_support import AppContext, emit_json, needs_user, pass_app, progress
from assistant.errors import AssistantError
from assistant.permissions import UserContext

if TYPE_CHECKING:
    from assistant.credit.crosscheck import CrossCheck
    from assistant.credit.statements import Extraction

_PDF = click.Path(exists=True, dir_okay=False, path_type=Path)


def _ocr_progress(report: Any, pdf: Path) -> Callable[[int, int], None]:
    """A report's scanned pages being read by OCR (seconds a page), on the progress hook."""
    return lambda page, count: report(f"OCR {pdf.name}", page, count)


def _fmt(v: float | int | None, per_share: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v:,.2f}" if per_share else f"{v:,.0f}"


@click.group()
def credit() -> None:
    """授信徵信 / credit analysis: statements, ratios and the 5P credit memo from a MOPS report.

    \b
    Start with:
      assistant credit extract ../shared/data/statements/2301_202404_AI1.pdf
      assistant credit ratios ../shared/data/statements/2301_202404_AI1.pdf --json
      assistant credit memo REPORT.pdf --amount 5000萬 --tenor-months 12 --out memo.docx
      assistant credit drafts
      assistant credit review 1 --approve
    """


@needs_user
@credit.command("extract")
@click.argument("pdfs", metavar="PDF...", type=_PDF, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the extraction as JSON.")
@pass_app
def extract_cmd(app: AppContext, user: UserContext, pdfs: tuple[Path, ...], as_json: bool) -> None:
    """擷取三大報表 / extract the balance sheet, income statement and cash flow statement.

    Amounts are NT$ with the report's unit applied (仟元 × 1000); EPS is NT$ per share.
    Income and cash-flow figures are year to date at each period end; a quarterly report's
    quarter-only figures are under "quarter_values", and "period_labels" says what each
    period is. Statement pages that are scanned images are read by OCR (seconds a page,
    progress on stderr); those statements say so ("ocr": true) and their figures count only
    where the checks hold. A report that cannot be read (encrypted, no statements, scans the
    OCR cannot read) exits with code 1 and says why.

    Several reports of one company given together are checked against each other: the same
    date's figure must agree (a quarter's prior year-end against the annual report); a
    disagreement is flagged with both figures and both reports. JSON: {"reports": [...],
    "unread": [{"file", "error"}], "cross_check": {...}}. One unreadable report among several
    is named with its reason and the others are still extracted and checked (exit code 1).
    """
    from assistant.credit.pdftext import StatementError

    desk = app.container.credit_desk
    xs: list[Extraction] = []
    unread: list[dict[str, str]] = []
    with progress() as report_progress:
        for pdf in pdfs:
            try:
                xs.append(desk.extract(user, pdf, progress=_ocr_progress(report_progress, pdf)))
            except StatementError as exc:
                if len(pdfs) == 1:
                    raise
                unread.append({"file": pdf.name, "error": str(exc)})
    check = desk.cross_check(user, xs) if len(xs) > 1 else None
    if as_json:
        if len(pdfs) == 1:
            emit_json(xs[0].to_dict())
        else:
            emit_json(
                {
                    "reports": [x.to_dict() for x in xs],
                    "unread": unread,
                    "cross_check": check.to_dict() if check is not None else None,
                }
            )
    else:
        for x in xs:
            _print_extraction(x)
        if check is not None:
            _print_cross_check(check)
    for u in unread:
        click.echo(f"無法讀取 unreadable：{u['file']}：{u['error']}", err=True)
    if unread:
        raise click.exceptions.Exit(1)


def _print_cross_check(check: CrossCheck) -> None:
    click.echo(
        f"跨報告勾稽 cross-report check：{check.compared} 個數字比對 figures compared，"
        f"{check.agreed} 相符 agree，{len(check.disagreements)} 不符 disagree"
    )
    for d in check.disagreements:
        click.echo(f"  ≠ {d.text}")
    for why in check.not_compared:
        click.echo(f"  未比對 not compared：{why}")


def _print_extraction(x: Extraction) -> None:
    click.echo(f"{x.company or x.file}  ({x.file}, {x.seconds:.2f} s, {x.pages_read} pages read)")
    for kind, s in x.statements.items():
        click.echo(f"  {s.title} {kind}: 第 {', '.join(map(str, s.pages))} 頁 pages, 單位 {s.unit}")
    for p in x.period_info:
        spans = "；".join(s for s in (p.ytd_label, p.quarter_label) if s)
        click.echo(f"  {p.label}" + (f"：{spans}" if spans else ""))
    periods = [p.isoformat() for p in x.periods]
    click.echo(f"{'item':34} {'page':>4} " + " ".join(f"{p:>18}" for p in periods))
    for name, item in x.items.items():
        cells = " ".join(f"{_fmt(v, item.per_share):>18}" for v in item.values)
        click.echo(f"{name:34} {item.page:>4} {cells}")
    if x.missing:
        click.echo(f"未擷取 not found: {', '.join(x.missing)}")
    for w in x.warnings:
        click.echo(f"! {w}", err=True)


@needs_user
@credit.command("ratios")
@click.argument("pdf", metavar="PDF", type=_PDF)
@click.option("--json", "as_json", is_flag=True, help="Print the ratios as JSON.")
@pass_app
def ratios_cmd(app: AppContext, user: UserContext, pdf: Path, as_json: bool) -> None:
    """財務比率 / liquidity, leverage, coverage, profitability, efficiency and cash-flow
    ratios, each with its formula and the pages of its inputs."""
    desk = app.container.credit_desk
    report = desk.ratios(user, desk.extract(user, pdf))
    if as_json:
        emit_json(report.to_dict())
        return
    click.echo(f"{report.company or report.file}")
    for label in report.period_labels:
        click.echo(f"  {label}")
    click.echo(f"{'ratio':30} " + " ".join(f"{p:>16}" for p in report.periods))
    for r in report.ratios:
        suffix = {"percent": "%", "days": " d", "times": "x", "amount": ""}[r.kind]
        cells = []
        for v in r.values:
            if v is None:
                cells.append(f"{'—':>16}")
            elif r.kind == "amount":
                cells.append(f"{v:>16,.0f}")
            else:
                cells.append(f"{f'{v:.2f}{suffix}':>16}")
        mark = " *" if r.annualised else ""
        click.echo(f"{r.zh + ' ' + r.name:30} " + " ".join(cells) + mark)
    click.echo("* 已年化 annualised")
    for note in report.notes:
        click.echo(f"- {note}")


def parse_amount(text: str) -> Decimal:
    """An amount as analysts write it: 5000萬, 1.5億, 3億2千萬, NT$50,000,000, 50000000."""
    from assistant.extract import find_amounts

    found = find_amounts(text)
    if len(found) != 1 or found[0].raw.strip() != text.strip():
        raise click.BadParameter(
            f"看不懂的金額 / not an amount: {text!r}（例 e.g. 5000萬、1.5億、50000000）"
        )
    if found[0].currency not in (None, "TWD"):
        raise click.BadParameter(f"金額須為新臺幣 / the amount must be in NT$: {text!r}")
    return found[0].value


def _amount(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Decimal | None:
    return None if value is None else parse_amount(value)


def _facility_type(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
    from assistant.credit.rules import facility_type

    if value is None:
        return "other"
    try:
        return facility_type(value)
    except AssistantError as exc:
        raise click.BadParameter(str(exc)) from exc


@needs_user
@credit.command("memo")
@click.argument("pdf", metavar="PDF", type=_PDF)
@click.option("--amount", callback=_amount, help="申請金額 NT$: 5000萬, 1.5億, 50000000.")
@click.option("--purpose", default="", help="資金用途 / purpose of the funds.")
@click.option("--tenor-months", type=click.IntRange(min=1), help="期限（月）/ tenor in months.")
@click.option("--collateral", default="", help="擔保品 / collateral (blank: unsecured).")
@click.option("--guarantor", "guarantors", multiple=True, help="保證人 / guarantor (repeatable).")
@click.option(
    "--related-party",
    is_flag=True,
    help="借款戶為本行利害關係人 / the borrower is a related party of the bank.",
)
@click.option(
    "--facility-type",
    callback=_facility_type,
    help="working_capital (短期營運週轉金) | medium_long_term (中長期) | housing (購置住宅) | other.",
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="DOCX to write."
)
@click.option(
    "--markdown",
    "markdown_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the memo as Markdown.",
)
@click.option(
    "--compare",
    "compare",
    multiple=True,
    type=_PDF,
    help="另一份同公司報告，核對同日數字 / another report of the company whose figures for the "
    "same dates must agree (repeatable); disagreeing figures are flagged in the memo.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the draft as JSON.")
@pass_app
def memo_cmd(
    app: AppContext,
    user: UserContext,
    pdf: Path,
    amount: Decimal | None,
    purpose: str,
    tenor_months: int | None,
    collateral: str,
    guarantors: tuple[str, ...],
    related_party: bool,
    facility_type: str,
    out: Path,
    markdown_out: Path | None,
    compare: tuple[Path, ...],
    as_json: bool,
) -> None:
    """徵信報告草稿 / draft the 5P credit memo from a statement PDF and the facility terms.

    The draft waits for a person's decision: `assistant credit review ID --approve`.
    """
    desk = app.container.credit_desk
    x = check = None
    if compare:
        x = desk.extract(user, pdf)
        check = desk.cross_check(user, [x, *(desk.extract(user, c) for c in compare)])
    from assistant.credit.rules import Facility

    facility = Facility(
        amount=amount,
        purpose=purpose.strip(),
        tenor_months=tenor_months,
        collateral=collateral.strip(),
        guarantors=tuple(g.strip() for g in guarantors if g.strip()),
        related_party=related_party,
        facility_type=facility_type,
    )
    d = desk.draft(user, pdf, facility, docx_path=out, markdown_path=markdown_out, extraction=x)
    missing = list(
        dict.fromkeys(f"{r.rule.law}第{r.rule.article}條" for r in d.rules if not r.source.found)
    )
    if as_json:
        extra = {"cross_check": check.to_dict()} if check is not None else {}
        emit_json({**d.to_dict(text=False), **extra, "audited": True})
        return
    if check is not None:
        _print_cross_check(check)
    click.echo(f"草稿 draft {d.id}：{d.company or d.file_name}（狀態 status: draft）")
    click.echo(f"  DOCX      {d.docx_path}")
    if d.markdown_path:
        click.echo(f"  Markdown  {d.markdown_path}")
    click.echo(f"  警示 flags {len(d.flags)}")
    for f in d.flags:
        click.echo(f"    ! {f.text}")
    click.echo(f"  適用條文 rules  {', '.join(dict.fromkeys(r.rule.label for r in d.rules))}")
    if missing:
        click.echo(f"  知識庫未收錄 not in the knowledge base: {', '.join(missing)}")
    click.echo(f"覆核 review: assistant credit review {d.id} --approve | --reject --note TEXT")


@needs_user
@credit.command("drafts")
@click.option(
    "--status",
    type=click.Choice(["draft", "approved", "rejected"]),
    help="Only memos with this status.",
)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def drafts_cmd(
    app: AppContext, user: UserContext, status: str | None, limit: int, as_json: bool
) -> None:
    """徵信報告草稿清單 / credit memo drafts and decisions, latest first."""
    rows = app.container.credit_desk.drafts(user, status, limit)
    if as_json:
        emit_json([r.to_dict() for r in rows])
        return
    if not rows:
        click.echo("尚無徵信報告草稿 / no credit memos yet")
        return
    click.echo(f"{'id':>5} {'status':9} {'created (UTC)':16} {'maker':12} {'checker':12} file")
    for r in rows:
        click.echo(
            f"{r.id:>5} {r.status:9} {r.created_at.strftime('%Y-%m-%d %H:%M'):16} "
            f"{r.created_by:12} {r.decided_by or '—':12} {r.company or ''} {r.file_name}"
        )


@needs_user
@credit.command("review")
@click.argument("memo_id", metavar="ID", type=int)
@click.option("--approve", "decision", flag_value="approve", help="核准 / approve the draft.")
@click.option("--reject", "decision", flag_value="reject", help="退件 / reject the draft.")
@click.option(
    "--edit",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Markdown file with the text as edited: it becomes the final text.",
)
@click.option("--note", default="", help="覆核意見 / note (required to reject).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def review_cmd(
    app: AppContext,
    user: UserContext,
    memo_id: int,
    decision: str | None,
    edit: Path | None,
    note: str,
    as_json: bool,
) -> None:
    """覆核徵信報告草稿 / approve or reject a credit memo draft (maker-checker)."""
    if decision is None:
        raise click.UsageError("請指定 --approve 或 --reject / give --approve or --reject")
    if edit is not None and decision == "reject":
        raise click.UsageError("--edit 僅用於核准 / --edit goes with --approve")
    desk = app.container.credit_desk
    if decision == "approve" and edit is not None:
        edited = edit.read_text(encoding="utf-8")
        d = desk.decide(user, memo_id, "edit", markdown=edited, note=note).decision
    else:
        d = desk.decide(user, memo_id, decision, note=note).decision
    if as_json:
        emit_json({**d.to_dict(), "audited": True})
        return
    word = "核准 approved" if d.status == "approved" else "退件 rejected"
    click.echo(f"草稿 draft {d.id}：{word}（覆核人 checker {d.checker}，製作人 maker {d.maker}）")
    if d.edited:
        click.echo("  定稿採用修改後內容 / the final text is the edited one")
    if d.note:
        click.echo(f"  意見 note：{d.note}")


@click.command("credit")
@click.argument(
    "folder", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--expected",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON of expected values (default: DIR/expected.json, else the bundled "
    "evals/credit_expected/statements.json).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--details", is_flag=True, help="Also list every figure that differs.")
def eval_credit(folder: Path, expected: Path | None, as_json: bool, details: bool) -> None:
    """DIR: folder of report PDFs; reports the share of figures extracted exactly, and per
    statement the share of reports extracted and balanced, with every failure's reason."""
    from evals.credit import default_expected, evaluate

    try:
        with progress() as report_progress:
            report = evaluate(
                folder,
                expected or default_expected(folder),
                progress=lambda pdf: _ocr_progress(report_progress, pdf),
            )
    except ValueError as exc:
        raise AssistantError(str(exc)) from exc
    if as_json:
        if not details:
            for f in report["files"]:
                f.pop("mismatches", None)
        emit_json(report)
        return
    o = report["overall"]
    click.echo(
        f"{report['n_files']} files, {report['n_read']} read, {report['n_unreadable']} "
        f"unreadable, {report['n_unscored']} without expected values"
    )
    click.echo(f"{'file':32} {'figures':>8} {'exact':>7} {'share':>7} {'totals':>7}")
    for f in report["files"]:
        if "error" in f:
            click.echo(f"{f['file']:32} 無法讀取 unreadable ({f['error_kind']}): {f['error']}")
            continue
        if f.get("figures") is None:
            click.echo(f"{f['file']:32} (沒有期望值 no expected values)")
            continue
        click.echo(
            f"{f['file']:32} {f['figures']:8d} {f['exact']:7d} {f['share']:7.3f} "
            f"{f['totals_share'] if f['totals_share'] is not None else '—':>7}"
        )
        if details:
            for m in f["mismatches"]:
                click.echo(f"    ✗ {m}")
    click.echo(
        f"{'all':32} {o['figures']:8d} {o['exact']:7d} {o['share']:7.3f} "
        f"{o['totals_share'] if o['totals_share'] is not None else '—':>7}"
    )
    n = report["n_files"]
    click.echo(f"{'statement':18} {'extracted':>12} {'balanced':>12}")
    for kind, v in report["statements"].items():
        click.echo(
            f"{kind:18} {v['extracted']:>4}/{n} {v['share_extracted']:5.1%} "
            f"{v['balanced']:>4}/{n} {v['share_balanced']:5.1%}"
        )
        for f in v["failures"]:
            click.echo(f"    ✗ {f['file']}: {f['reason']}")
        for c in v["failed_checks"]:
            diffs = ", ".join(
                f"{p} {d}" for p, d in zip(c["periods"], c["differences"], strict=False) if d
            )
            click.echo(f"    ≠ {c['file']}: {c['description']} ({diffs})")
    ocr = report["ocr"]
    if ocr["reports"]:
        balanced = ", ".join(f"{k} {v}" for k, v in ocr["balanced"].items())
        click.echo(
            f"OCR：{len(ocr['reports'])} 份掃描報告 scanned reports，{ocr['pages']} 頁 pages，"
            f"{ocr['seconds_per_page']} 秒/頁 s/page；以 OCR 讀取且勾稽相符 read by OCR and "
            f"balanced: {balanced}"
        )
    cross = report["cross_report"]
    click.echo(
        f"跨報告勾稽 cross-report：{cross['pairs']} 對同公司報告 pairs of one company，"
        f"{cross['compared']} 個數字比對 figures compared，{cross['agreed']} 相符 agree"
    )
    for d in cross["disagreements"]:
        click.echo(f"    ≠ {d['text']}")
    for w in cross["not_compared"]:
        click.echo(f"    未比對 not compared：{w}")
    read = report["n_read"]
    if read:
        click.echo(f"項目 item（{read} 份可讀報告中讀到的份數 / of {read} reports read）")
        for name, count in report["items"].items():
            click.echo(f"  {name:34} {count:>4}/{read} {count / read:6.1%}")
    skipped = report.get("skipped_items") or []
    if skipped:
        from assistant.modeleval.items import skipped_lines

        click.echo(f"略過 {len(skipped)} 筆期望值 / {len(skipped)} expected entries skipped")
        for line in skipped_lines(skipped):
            click.echo(line)
