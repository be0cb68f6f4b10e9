"""`assistant fx …`: board rates, conversion and declaration duties for the FX desk, and
`assistant eval fx`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from assistant.cli_support import AppContext, emit_json, pass_app
from assistant.errors import AssistantError
from assistant.fx.border import parse_cash
from assistant.fx.convert import CONVERT_KINDS, SIDES, Conversion, fmt, parse_amount
from assistant.fx.rates import KIND_ZH, KINDS, Rate
from assistant.fx.rules import CUSTOMER_ZH, CUSTOMERS, RULES, CheckResult

_SIDE_ZH = {"bank-sells": "本行賣出", "bank-buys": "本行買入", "cross": "交叉匯率"}
_YES_NO = {True: "是 yes", False: "否 no"}


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    from assistant.dates import parse_date

    try:
        return parse_date(text)
    except ValueError as exc:
        raise AssistantError(str(exc)) from exc


@click.group()
def fx() -> None:
    """外匯櫃台 / FX desk: board rates, conversion, declaration duties.

    \b
    Start with:
      assistant fx import-rates ../shared/data/fx/bot_usd_rates_20141001_20170930.csv
      assistant fx convert 70萬 USD --to TWD --side customer-buys
      assistant fx check --customer individual --amount 70萬 --currency USD --ytd-usd 450萬
    """


@fx.command("import-rates")
@click.argument("csv_file", metavar="CSV", type=click.Path(path_type=Path))
@click.option("--source", default="BOT", show_default=True, help="Name of the rate table.")
@click.option("--strict", is_flag=True, help="Refuse the whole file if any line is malformed.")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
@pass_app
def import_rates(app: AppContext, csv_file: Path, source: str, strict: bool, as_json: bool) -> None:
    """匯入牌告匯率 / import board rates from CSV (臺灣銀行 download format, or a bank's own
    table in the same shape).

    Re-importing is safe: unchanged days are skipped, changed ones updated. Malformed lines are
    reported with their line number and left out.
    """
    report = app.container.fx.import_rates(csv_file, source, strict=strict)
    if as_json:
        emit_json(report.as_dict())
        return
    r = report
    span = f"{r.first_date} – {r.last_date}" if r.first_date else "—"
    click.echo(
        f"{r.source}: {r.rows} 筆 quotes, {', '.join(r.currencies) or '—'}, {span} — "
        f"新增 added {r.added}, 更新 updated {r.updated}, 未變 unchanged {r.unchanged}, "
        f"錯誤 errors {len(r.errors)}"
    )
    for e in r.errors[:50]:
        click.echo(f"  第 {e.line} 行 line {e.line}: {e.reason}", err=True)
    if len(r.errors) > 50:
        click.echo(f"  … {len(r.errors) - 50} more", err=True)


def _print_rate(r: Rate) -> None:
    click.echo(f"{r.currency} {KIND_ZH[r.kind]} {r.kind}  {r.rate_date.isoformat()}  {r.source}")
    click.echo(f"  本行買入 bank buys : {r.bank_buys if r.bank_buys is not None else '—'}")
    click.echo(f"  本行賣出 bank sells: {r.bank_sells if r.bank_sells is not None else '—'}")
    if r.stale_days:
        click.echo(
            f"  {r.requested_date} 無牌告，採 {r.rate_date} 之匯率（相隔 {r.stale_days} 天） / no "
            f"quote on {r.requested_date}: the board of {r.rate_date} ({_days(r.stale_days)} before)"
        )


@fx.command("rate")
@click.argument("currency")
@click.option(
    "--date", "on", help="On this day (latest on or before); ISO or 民國. Default: latest."
)
@click.option("--kind", type=click.Choice(KINDS), default="spot", show_default=True)
@click.option("--source", help="Only this rate table (default: any, a bank's own first).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def rate(
    app: AppContext, currency: str, on: str | None, kind: str, source: str | None, as_json: bool
) -> None:
    """牌告匯率 / the board rate of CURRENCY, such as USD, on a day."""
    r = app.container.fx.rate(currency, _date(on), kind, source)
    if as_json:
        emit_json(r.to_dict())
    else:
        _print_rate(r)


@fx.command("history")
@click.argument("currency")
@click.option("--from", "start", help="First day (ISO or 民國).")
@click.option("--to", "end", help="Last day (ISO or 民國).")
@click.option("--kind", type=click.Choice(KINDS), default="spot", show_default=True)
@click.option("--source", help="Only this rate table.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def history(
    app: AppContext,
    currency: str,
    start: str | None,
    end: str | None,
    kind: str,
    source: str | None,
    as_json: bool,
) -> None:
    """歷史匯率 / the board rates of CURRENCY over a period, oldest first."""
    rows = app.container.fx.history(currency, kind, _date(start), _date(end), source)
    if as_json:
        emit_json([r.to_dict() for r in rows])
        return
    if not rows:
        click.echo("沒有匯率 / no rates")
    for r in rows:
        click.echo(
            f"{r.rate_date.isoformat()}  {r.bank_buys or '—':>10}  {r.bank_sells or '—':>10}"
        )


def _print_conversion(c: Conversion) -> None:
    click.echo(f"{fmt(c.from_amount)} {c.from_currency} → {fmt(c.amount)} {c.currency}")
    click.echo(
        f"  匯率 rate {c.rate}（{_SIDE_ZH[c.rate_side]} {c.rate_side}，{KIND_ZH[c.rate_kind]} "
        f"{c.rate_kind}）{c.rate_date.isoformat()}"
    )
    click.echo(f"  {c.formula}")
    if c.stale_days:
        click.echo(
            f"  {c.requested_date} 無牌告，採 {c.rate_date} 之匯率（相隔 {c.stale_days} 天） / no "
            f"quote on {c.requested_date}: the board of {c.rate_date} ({_days(c.stale_days)} before)"
        )


# A negative amount ("-100") is an argument to refuse with a reason, not an unknown option.
@fx.command("convert", context_settings={"ignore_unknown_options": True})
@click.argument("amount")
@click.argument("from_currency", metavar="FROM")
@click.option("--to", "to_currency", required=True, help="Target currency, e.g. TWD.")
@click.option(
    "--side",
    type=click.Choice(SIDES),
    help="What the customer does with the foreign currency (default: TWD→foreign buys, "
    "foreign→TWD sells, a cross sells FROM).",
)
@click.option("--kind", type=click.Choice(CONVERT_KINDS), default="spot", show_default=True)
@click.option("--date", "on", help="Rates of this day (latest on or before); ISO or 民國.")
@click.option("--source", help="Only this rate table.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def convert_cmd(
    app: AppContext,
    amount: str,
    from_currency: str,
    to_currency: str,
    side: str | None,
    kind: str,
    on: str | None,
    source: str | None,
    as_json: bool,
) -> None:
    """換算 / convert AMOUNT (700000, 600,000, 70萬, 1.5億) of FROM on the correct side."""
    c = app.container.fx.convert(
        parse_amount(amount),
        from_currency,
        to_currency,
        side=side,  # type: ignore[arg-type]
        kind=kind,  # type: ignore[arg-type]
        on=_date(on),
        source=source,
    )
    if as_json:
        emit_json(c.to_dict())
    else:
        _print_conversion(c)


def _print_check(r: CheckResult) -> None:
    usd = f"USD {fmt(r.amount_usd)}" if r.amount_usd is not None else "USD —"
    click.echo(
        f"{CUSTOMER_ZH[r.customer]} {r.customer}: {fmt(r.amount)} {r.currency} "
        f"(NT${fmt(r.amount_twd)}, {usd})"
    )
    click.echo(f"  應申報 declaration required        : {_YES_NO[r.declaration_required]}")
    click.echo(f"  應檢附證明文件 documents required   : {_YES_NO[r.documents_required]}")
    click.echo(f"  應經央行核准 approval required      : {_YES_NO[r.approval_required]}")
    click.echo(f"  得逕行結匯 direct settlement        : {_YES_NO[r.direct_settlement]}")
    click.echo(f"  等值基準 basis: {r.rate_basis}")
    click.echo("理由 / reasons:")
    for line in r.reasons:
        click.echo(f"  - {line}")
    click.echo("依據 / articles:")
    for a in r.articles:
        date_ = f"（修正 {a.amended}）" if a.amended else ""
        click.echo(f"  〔{a.label}〕{date_}「{a.quote}」")
    if r.notes:
        click.echo("注意 / notes:")
        for line in r.notes:
            click.echo(f"  - {line}")


@fx.command("check")
@click.option("--customer", required=True, type=click.Choice(CUSTOMERS))
@click.option("--amount", required=True, help="This transaction (700000, 70萬, 1.5億 …).")
@click.option("--currency", required=True, help="Currency of the amount, e.g. USD, JPY, TWD.")
@click.option("--ytd-usd", default="0", show_default=True, help="This year's settlements so far.")
@click.option("--date", "on", help="Rates of this day (latest on or before); ISO or 民國.")
@click.option("--side", type=click.Choice(SIDES), help="Use this side's rate for the TWD value.")
@click.option("--source", help="Only this rate table.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def check_cmd(
    app: AppContext,
    customer: str,
    amount: str,
    currency: str,
    ytd_usd: str,
    on: str | None,
    side: str | None,
    source: str | None,
    as_json: bool,
) -> None:
    """申報義務 / declaration duties of one TWD settlement, with the articles that impose them."""
    r = app.container.fx.check(
        customer=customer,  # type: ignore[arg-type]
        amount=parse_amount(amount),
        currency=currency,
        ytd_usd=parse_amount(ytd_usd, "當年累積金額 year-to-date amount"),
        on=_date(on),
        side=side,  # type: ignore[arg-type]
        source=source,
    )
    if as_json:
        emit_json(r.to_dict())
    else:
        _print_check(r)


@fx.command("carry")
@click.option(
    "--cash",
    "cash",
    multiple=True,
    required=True,
    help="Notes carried, AMOUNT CURRENCY (e.g. '1.5萬 USD', '15萬 TWD'); repeatable.",
)
@click.option("--date", "on", help="Rates of this day (latest on or before); ISO or 民國.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def carry_cmd(app: AppContext, cash: tuple[str, ...], on: str | None, as_json: bool) -> None:
    """旅客攜帶現鈔出入境 / cash carried across the border: must it be declared to customs?"""
    try:
        amounts = [parse_cash(item) for item in cash]
    except AssistantError as exc:
        raise click.BadParameter(str(exc), param_hint="--cash") from None
    r = app.container.fx.check_carry(amounts=amounts, on=_date(on))
    if as_json:
        emit_json(r.to_dict())
        return
    zh, en = r.answer
    click.echo(f"應向海關申報 declare to customs: {zh} {en}")
    for line in r.reasons + r.notes:
        click.echo(f"  - {line}")
    for a in r.articles:
        date_ = f"（修正 {a.amended}）" if a.amended else ""
        click.echo(f"  〔{a.label}〕{date_}")


@fx.command("rules")
@click.option("--json", "as_json", is_flag=True)
def rules_cmd(as_json: bool) -> None:
    """申報門檻表 / the declaration thresholds in force, with the wording they come from."""
    rows: list[dict[str, Any]] = [r.to_dict() for r in RULES]
    if as_json:
        emit_json(rows)
        return
    op = {"ge": "≥", "gt": ">", "le": "≤"}
    for r in RULES:
        who = "、".join(CUSTOMER_ZH[c] for c in CUSTOMERS if c in r.customers)
        click.echo(
            f"{r.id}: {who} {r.scope} {op[r.compare]} {r.currency} {fmt(r.threshold)} → "
            f"{r.consequence}  〔{r.label}〕「{r.wording}」"
        )


@click.command("fx")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--details", is_flag=True, help="Also list each case's outcome.")
@pass_app
def eval_fx(app: AppContext, file: Path, as_json: bool, details: bool) -> None:
    """FILE: JSONL of conversion and rule cases; reports the share computed correctly.

    Rate tables named in the file ({"rates": PATH} lines) are imported into a temporary store
    of their own, so the result does not depend on what this installation holds; without them
    the cases run against the installation's rates.
    """
    from assistant.modeleval.items import skipped_lines
    from evals.fx import evaluate_file

    try:
        report = evaluate_file(file, default=lambda: app.container.fx)
    except ValueError as exc:
        raise AssistantError(str(exc)) from exc
    if not details:
        report.pop("cases")
    if as_json:
        emit_json(report)
        return
    click.echo(
        f"{report['n']} cases, {file.name}: {report['correct']} correct, "
        f"{report['n_skipped']} skipped"
    )
    for line in skipped_lines(report["skipped_items"]):
        click.echo(line)
    click.echo(f"{'kind':10} {'n':>4} {'correct':>8} {'accuracy':>9}")
    for kind, m in report["by_kind"].items():
        click.echo(f"{kind:10} {m['n']:4d} {m['correct']:8d} {m['accuracy']:9.3f}")
    click.echo(f"{'all':10} {report['n']:4d} {report['correct']:8d} {report['accuracy']:9.3f}")
    for case in report.get("cases", []):
        mark = "✓" if case["ok"] else "✗"
        problems = "; ".join(case["mismatches"])
        click.echo(f"  {mark} {case['id']} ({case['kind']}) {problems}")
