"""`assistant credit …`: statements and ratios from a MOPS financial report, and
`assistant eval credit`.

Extraction needs no database or model, so these commands do not build the container: reading
a report stays fast and works on a fresh installation.
"""

from __future__ import annotations

from pathlib import Path

import click

from assistant.cli_support import emit_json
from assistant.errors import AssistantError

_PDF = click.Path(exists=True, dir_okay=False, path_type=Path)


def _fmt(v: float | int | None, per_share: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v:,.2f}" if per_share else f"{v:,.0f}"


@click.group()
def credit() -> None:
    """授信徵信 / credit analysis: statements and ratios from a MOPS IFRS report (PDF).

    \b
    Start with:
      assistant credit extract ../shared/data/statements/2301_202404_AI1.pdf
      assistant credit ratios ../shared/data/statements/2301_202404_AI1.pdf --json
    """


@credit.command("extract")
@click.argument("pdf", metavar="PDF", type=_PDF)
@click.option("--json", "as_json", is_flag=True, help="Print the extraction as JSON.")
def extract_cmd(pdf: Path, as_json: bool) -> None:
    """擷取三大報表 / extract the balance sheet, income statement and cash flow statement.

    Amounts are NT$ with the report's unit applied (仟元 × 1000); EPS is NT$ per share.
    Income and cash-flow figures are year to date at each period end; a quarterly report's
    quarter-only figures are under "quarter_values". A report that cannot be read (scanned,
    encrypted, no statements) exits with code 1 and says why.
    """
    from assistant.credit.statements import extract

    x = extract(pdf)
    if as_json:
        emit_json(x.to_dict())
        return
    click.echo(f"{x.company or x.file}  ({x.file}, {x.seconds:.2f} s, {x.pages_read} pages read)")
    for kind, s in x.statements.items():
        click.echo(f"  {s.title} {kind}: 第 {', '.join(map(str, s.pages))} 頁 pages, 單位 {s.unit}")
    periods = [p.isoformat() for p in x.periods]
    click.echo(f"{'item':34} {'page':>4} " + " ".join(f"{p:>18}" for p in periods))
    for name, item in x.items.items():
        cells = " ".join(f"{_fmt(v, item.per_share):>18}" for v in item.values)
        click.echo(f"{name:34} {item.page:>4} {cells}")
    if x.missing:
        click.echo(f"未擷取 not found: {', '.join(x.missing)}")
    for w in x.warnings:
        click.echo(f"! {w}", err=True)


@credit.command("ratios")
@click.argument("pdf", metavar="PDF", type=_PDF)
@click.option("--json", "as_json", is_flag=True, help="Print the ratios as JSON.")
def ratios_cmd(pdf: Path, as_json: bool) -> None:
    """財務比率 / liquidity, leverage, coverage, profitability, efficiency and cash-flow
    ratios, each with its formula and the pages of its inputs."""
    from assistant.credit.ratios import compute
    from assistant.credit.statements import extract

    report = compute(extract(pdf))
    if as_json:
        emit_json(report.to_dict())
        return
    click.echo(f"{report.company or report.file}")
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


@click.command("credit")
@click.argument("folder", metavar="DIR", type=click.Path(exists=True, file_okay=False,
                                                         path_type=Path))
@click.option("--expected", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON of expected values (default: DIR/expected.json, else the bundled "
                   "evals/credit_expected/statements.json).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--details", is_flag=True, help="Also list every figure that differs.")
def eval_credit(folder: Path, expected: Path | None, as_json: bool, details: bool) -> None:
    """DIR: folder of report PDFs; reports the share of figures extracted exactly."""
    from evals.credit import default_expected, evaluate

    try:
        report = evaluate(folder, expected or default_expected(folder))
    except ValueError as exc:
        raise AssistantError(str(exc)) from exc
    if as_json:
        if not details:
            for f in report["files"]:
                f.pop("mismatches", None)
        emit_json(report)
        return
    o = report["overall"]
    click.echo(f"{report['n_files']} files, {report['n_read']} read, {report['n_unreadable']} "
               f"unreadable, {report['n_unscored']} without expected values")
    click.echo(f"{'file':32} {'figures':>8} {'exact':>7} {'share':>7} {'totals':>7}")
    for f in report["files"]:
        if "error" in f:
            click.echo(f"{f['file']:32} 無法讀取 unreadable ({f['error_kind']}): {f['error']}")
            continue
        if f.get("figures") is None:
            click.echo(f"{f['file']:32} (沒有期望值 no expected values)")
            continue
        click.echo(f"{f['file']:32} {f['figures']:8d} {f['exact']:7d} {f['share']:7.3f} "
                   f"{f['totals_share'] if f['totals_share'] is not None else '—':>7}")
        if details:
            for m in f["mismatches"]:
                click.echo(f"    ✗ {m}")
    click.echo(f"{'all':32} {o['figures']:8d} {o['exact']:7d} {o['share']:7.3f} "
               f"{o['totals_share'] if o['totals_share'] is not None else '—':>7}")
