"""`assistant fraud …`: the ledger, money-flow traces (and, with the scoring model, mule scores)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from assistant.cli_support import AppContext, emit_json, needs_user, pass_app
from assistant.dates import parse_date, taipei_minute
from assistant.errors import AssistantError
from assistant.permissions import UserContext


def _number(_ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """A number option read here, not by click's FLOAT type, whose error is English only."""
    if value is None:
        return None
    try:
        return float(value.replace(",", ""))
    except ValueError:
        name = (param.name or "").replace("_", "-")
        raise AssistantError(f"--{name} 不是數字 / not a number: {value!r}") from None


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return parse_date(text)
    except ValueError as exc:
        raise AssistantError(str(exc)) from exc


@click.group()
def fraud() -> None:
    """防詐 / the ledger, money-flow traces and mule scores (fraud investigators)."""


def _report(report: dict, as_json: bool) -> None:
    if as_json:
        emit_json(report)
        return
    for key, value in report.items():
        if key != "errors":
            click.echo(f"{key}: {value}")
    for error in report.get("errors", [])[:20]:
        click.echo(f"  line {error['line']}: {error['reason']}", err=True)


@needs_user
@fraud.command("import-amlsim")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@pass_app
def import_amlsim_cmd(app: AppContext, user: UserContext, folder: Path, as_json: bool) -> None:
    """FOLDER: an AMLSim output (nodes.csv, transactions.csv). Bad rows are reported by line."""
    _report(app.container.fraud_desk.import_amlsim(user, folder).as_dict(), as_json)


@needs_user
@fraud.command("import-amlgentex")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@pass_app
def import_amlgentex_cmd(app: AppContext, user: UserContext, path: Path, as_json: bool) -> None:
    """PATH: an AMLGentex run folder or its tx_log (.csv or .parquet); cash and pattern ids kept."""
    _report(app.container.fraud_desk.import_amlgentex(user, path).as_dict(), as_json)


@needs_user
@fraud.command("import-csv")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--map",
    "mapping",
    multiple=True,
    help="field=column (default: told from the header's names, and reported), e.g. --map "
    "ts=交易時間 --map from_account=轉出帳號 (ts, from_account, "
    "to_account, amount required; id, currency, channel, from_bank, to_bank, memo, kind, "
    "place optional; kind: transfer / cash_in (存款, Cash Deposit) / cash_out (提款, Cash "
    "Withdrawal), a payment-type column's other words read as transfers and counted); a date "
    "and a time in "
    "two columns: --map ts=交易日期+交易時間. UTF-8 or Big5; comma, tab, semicolon or bar; "
    "a .parquet file or an Excel workbook (.xlsx) is read through the same mapping.",
)
@click.option(
    "--sheet",
    help="Excel: the worksheet to read (default: the first holding the mapped columns).",
)
@click.option(
    "--date-format",
    help="strptime format of the time column (default: ISO, or 民國 113/01/05 09:30, 2024/1/5 9:30).",
)
@click.option(
    "--step-unit",
    type=click.Choice(["second", "minute", "hour", "day"]),
    help="The time column counts steps from --start, as simulators write it (PaySim: hour); "
    "without --map ts a column named step is read.",
)
@click.option(
    "--start",
    default="2024-01-01",
    show_default=True,
    help="With --step-unit: the time of step 0 (Taiwan time unless it says).",
)
@click.option(
    "--rate",
    "rates",
    multiple=True,
    metavar="CUR=NT$",
    help="NT$ per unit of a currency for this file (USD=31.5), before the FX desk's board "
    "rates; an amount in another currency is stored in NT$ at the rate of its day, the file's "
    "amount and currency kept beside it.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def import_csv_cmd(
    app: AppContext,
    user: UserContext,
    path: Path,
    mapping: tuple[str, ...],
    date_format: str | None,
    sheet: str | None,
    step_unit: str | None,
    start: str,
    rates: tuple[str, ...],
    as_json: bool,
) -> None:
    """PATH: a transfer CSV (or Parquet file, or Excel workbook) of any layout, read through a
    column mapping. In a workbook the header may sit below title rows; an account or bank code
    stored as a number is refused by row (Excel drops leading zeros), unless its cell format
    pads it with zeros."""
    from assistant.fraud.column_names import mapping_pairs
    from assistant.fraud.currencies import rate_pairs
    from assistant.fraud.importers import steps_from

    report = app.container.fraud_desk.import_csv(
        user,
        path,
        mapping_pairs(mapping),
        date_format=date_format,
        sheet=sheet,
        steps=steps_from(step_unit, start),
        rates=rate_pairs(rates),
        progress=lambda n: click.echo(f"已讀 {n:,} 行 / {n:,} rows read", err=True),
    )
    _report(report.as_dict(), as_json)


@needs_user
@fraud.command("import-statement")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--map",
    "mapping",
    multiple=True,
    help="field=column (default: told from the header's names, and reported): ts (a date "
    "and a time apart: ts=交易日期+交易時間); out_amount=支出 and "
    "in_amount=存入, or one signed amount=金額; counterparty=對方帳號, counterparty_bank, "
    "summary=摘要 (tells ATM提款 or 現金存款 from transfers), memo, id, channel, place, "
    "currency optional; account=帳號 when the file holds several accounts.",
)
@click.option(
    "--account",
    help="The statement's account (unless an account column is mapped, or a title line above "
    "the header names it: 帳號：0074-2512-076092).",
)
@click.option(
    "--bank",
    default="",
    help="The account's bank code (3 digits; another country's bank number or a SWIFT BIC).",
)
@click.option("--date-format", help="strptime format of the time column.")
@click.option("--sheet", help="Excel: the worksheet to read.")
@click.option(
    "--rate",
    "rates",
    multiple=True,
    metavar="CUR=NT$",
    help="NT$ per unit of a currency (USD=31.5), as import-csv takes it.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def import_statement_cmd(
    app: AppContext,
    user: UserContext,
    path: Path,
    mapping: tuple[str, ...],
    account: str | None,
    bank: str,
    date_format: str | None,
    sheet: str | None,
    rates: tuple[str, ...],
    as_json: bool,
) -> None:
    """PATH: one account's statement (存摺／交易明細, as a bank sends it when asked: CSV, Excel or
    Parquet). Each row is a movement of that account; a transfer already in the ledger (from
    the other party's statement) is counted, not doubled."""
    from assistant.fraud.column_names import mapping_pairs
    from assistant.fraud.currencies import rate_pairs

    report = app.container.fraud_desk.import_statement(
        user,
        path,
        mapping_pairs(mapping),
        account=account,
        bank=bank,
        date_format=date_format,
        sheet=sheet,
        rates=rate_pairs(rates),
        progress=lambda n: click.echo(f"已讀 {n:,} 行 / {n:,} rows read", err=True),
    )
    _report(report.as_dict(), as_json)


@needs_user
@fraud.command("generate")
@click.option("--accounts", default=20_000, show_default=True)
@click.option("--transfers", default=200_000, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--start", default="2024-01-01", show_default=True, help="First day (ISO or 民國).")
@click.option("--days", default=60, show_default=True)
@click.option("--rings", default=40, show_default=True, help="Planted fraud rings.")
@click.option(
    "--rented",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of mules that are rented accounts with years of ordinary history (人頭帳戶).",
)
@click.option(
    "--reuse",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Chance that a layering or cash-out account is a hub an earlier ring used.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def generate_cmd(
    app: AppContext,
    user: UserContext,
    accounts: int,
    transfers: int,
    seed: int,
    start: str,
    days: int,
    rings: int,
    rented: float,
    reuse: float,
    as_json: bool,
) -> None:
    """A synthetic ledger with everyday flows and planted fraud (seeded, reproducible)."""
    first = _day(start)
    assert first is not None
    try:
        out = app.container.fraud_desk.generate(
            user,
            accounts=accounts,
            transfers=transfers,
            seed=seed,
            start=first,
            days=days,
            rings=rings,
            rented=rented,
            reuse=reuse,
        )
    except ValueError as exc:
        raise AssistantError(str(exc)) from exc
    _report(out, as_json)


def _engine_option(f: Any) -> Any:
    return click.option(
        "--engine",
        type=click.Choice(["local", "spark"]),
        help="Which engine computes (default: the setting fraud.engine).",
    )(f)


def _use_engine(app: AppContext, engine: str | None) -> None:
    if engine:
        app.container.use_fraud_engine(engine)


@needs_user
@fraud.command("trace")
@click.argument("account")
@click.option(
    "--direction",
    type=click.Choice(["up", "down"]),
    default="down",
    show_default=True,
    help="up: where the money came from (前期金流); down: where it went.",
)
@click.option("--hops", default=3, show_default=True, type=click.IntRange(1, 6))
@click.option("--since", help="First day of hop 1 (ISO or 民國).")
@click.option("--until", help="Last day of hop 1.")
@click.option(
    "--window-hours",
    callback=_number,
    help="Each hop within this many hours of the last.",
)
@click.option(
    "--min-amount",
    default="0",
    show_default=True,
    callback=_number,
    help="最低金額 minimum amount.",
)
@click.option(
    "--limit",
    "per_hop_limit",
    default=50,
    show_default=True,
    help="Transfers kept per account per hop (hubs are truncated, and say so).",
)
@click.option(
    "--order",
    type=click.Choice(["amount", "time"]),
    default="amount",
    show_default=True,
    help="Which transfers a truncation keeps.",
)
@click.option(
    "--attribution",
    type=click.Choice(["proportional", "fifo"]),
    default="proportional",
    show_default=True,
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the evidence table (one row per transfer) to this CSV file.",
)
@click.option("--json", "as_json", is_flag=True)
@_engine_option
@pass_app
def trace_cmd(
    app: AppContext,
    user: UserContext,
    account: str,
    direction: str,
    hops: int,
    since: str | None,
    until: str | None,
    window_hours: float | None,
    min_amount: float,
    per_hop_limit: int,
    order: str,
    attribution: str,
    csv_path: Path | None,
    as_json: bool,
    engine: str | None,
) -> None:
    """追查金流 / trace ACCOUNT's money hop by hop in time order, with transfer ids."""
    _use_engine(app, engine)
    result = app.container.fraud_desk.trace(
        user,
        account,
        direction,
        hops,
        since=_day(since),
        until=_day(until),
        window_hours=window_hours,
        min_amount=min_amount,
        per_hop_limit=per_hop_limit,
        order=order,
        attribution=attribution,
    )
    if csv_path is not None:
        ids = [t.id for t in result.transfers]
        result.to_csv(csv_path, app.container.fraud_desk.evidence(user, ids))
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(
        f"{result.root} {'上游 upstream' if direction == 'up' else '下游 downstream'} "
        f"{hops} 層: {len(result.accounts)} accounts, {len(result.transfers)} transfers, "
        f"{result.elapsed_ms:.1f} ms"
    )
    for t in result.transfers[:200]:
        click.echo(
            f"  hop {t.hop}  {t.ts}  {t.from_account} → {t.to_account}  "
            f"{t.amount:,.0f}  (attributed {t.attributed:,.0f})  {t.id}"
        )
    for c in result.cash:
        out = c["kind"] == "cash_out"
        click.echo(
            f"  於 {c['account']} 現金{'提領' if out else '存入'} {c['count']} 筆 "
            f"{c['amount']:,.0f}（追查款項 attributed {c['attributed']:,.0f}）："
            f"{'款項在此離開銀行體系' if out else '款項以現金進入銀行體系'}"
            f" / cash {'withdrawn' if out else 'deposited'}: the money "
            f"{'left' if out else 'came into'} the banking system here; the trace ends"
        )
    for cut in result.truncated:
        click.echo(
            f"  truncated: {cut.account} hop {cut.hop}: kept {cut.kept}, dropped {cut.dropped} "
            f"({cut.dropped_amount:,.0f})",
            err=True,
        )


@needs_user
@fraud.command("account")
@click.argument("account")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def account_cmd(app: AppContext, user: UserContext, account: str, as_json: bool) -> None:
    """帳戶資料 / what the ledger knows of ACCOUNT."""
    _report(app.container.fraud_desk.account(user, account), as_json)


@needs_user
@fraud.command("ring")
@click.argument("account")
@click.option(
    "--hops",
    type=click.IntRange(1, 6),
    help="Neighbourhood radius (default 3 with a member model, else 2).",
)
@click.option(
    "--window-days",
    callback=_number,
    help="Follow a link within this many days of the one that reached its account (default 14 "
    "with a link model, 7 without).",
)
@click.option(
    "--threshold",
    callback=_number,
    help="A member's least ring score, 0–1, as a share of the strongest tie (default: the "
    "evaluated one for the walk in use).",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@pass_app
def ring_cmd(
    app: AppContext,
    user: UserContext,
    account: str,
    hops: int | None,
    window_days: float | None,
    threshold: float | None,
    limit: int,
    as_json: bool,
) -> None:
    """這個帳戶的同夥有哪些 / the other accounts of ACCOUNT's ring, ranked, with reasons and the
    transfers that tie them."""
    out = app.container.fraud_desk.ring(
        user, account, hops=hops, window_days=window_days, threshold=threshold, limit=limit
    )
    if as_json:
        emit_json(out)
        return
    if out.get("walk") == "paths" and out.get("member_model"):
        basis = "步進走訪，成員模型判定 / the step walk's candidates judged by the member model"
    elif out.get("walk") == "paths" and out.get("steps"):
        basis = "連結與步進模型路徑機率 / path probability over the link and step models"
    elif out.get("walk") == "paths":
        basis = "連結模型路徑機率 / path probability over the link model"
    elif out["scored"]:
        basis = "人頭分數加權 / weighted by mule scores"
    else:
        basis = "未用評分 / label-free"
    click.echo(
        f"{out['seed']}: {len(out['members'])} 個同夥帳戶 / ring accounts "
        f"({out['considered']} considered, {basis})"
    )
    for m in out["members"]:
        why = "; ".join(f"{r['zh']} / {r['en']}" for r in m["reasons"])
        click.echo(f"  {m['account']}  {m['score']:.3f}  {why}")
        if m["transfers"]:
            click.echo(f"    transfers: {', '.join(m['transfers'][:5])}")
    if not out["members"]:
        click.echo("（沒有 / none）")


@fraud.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def status_cmd(app: AppContext, as_json: bool) -> None:
    """How many banks, accounts and transfers the ledger holds (no customer data)."""
    _report(app.container.fraud_desk.counts(), as_json)


@needs_user
@fraud.command("train")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def train_cmd(app: AppContext, user: UserContext, as_json: bool) -> None:
    """Fit the mule scorer on the ledger's labelled accounts (calibrated), the monitor's mule
    score beside it and, where the ledger marks laundering transfers, the ring walk's link
    model; save them."""
    _report(app.container.fraud_desk.train(user), as_json)


@needs_user
@fraud.command("score")
@click.argument("account", required=False)
@click.option("--top", "top_n", type=int, help="The N accounts with the highest scores.")
@click.option("--json", "as_json", is_flag=True)
@_engine_option
@pass_app
def score_cmd(
    app: AppContext,
    user: UserContext,
    account: str | None,
    top_n: int | None,
    as_json: bool,
    engine: str | None,
) -> None:
    """人頭／水房風險 / ACCOUNT's mule score with its reasons, or --top N accounts."""
    _use_engine(app, engine)
    desk = app.container.fraud_desk
    if account is None and top_n is None:
        raise AssistantError("請給帳號或 --top N / give an ACCOUNT or --top N")
    if account is not None:
        out = desk.score(user, account)
        if as_json:
            emit_json(out)
            return
        click.echo(f"{out['account']}: {out['score']:.3f}")
        for r in out["reasons"]:
            click.echo(f"  {r['zh']} / {r['en']} = {r['value']:.3g} ({r['contribution']:+.3f})")
        if out.get("model"):
            click.echo(f"  模型 / model: {out['model']['zh']} / {out['model']['en']}")
        return
    rows = desk.top(user, top_n or 20)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        click.echo(f"{r['account']}  {r['score']:.3f}")
    model = desk.model(user)
    click.echo(f"模型 / model: {model['zh']} / {model['en']}")


def _action_line(a: dict) -> str:
    decided = (
        f" — {a['decided_by']} {taipei_minute(a['decided_at'])}" if a.get("decided_by") else ""
    )
    return (
        f"#{a['id']} {a['status']:9} {a['kind']:6} {a['account']} {a['params']} "
        f"(proposed by {a['proposed_by']} {taipei_minute(a['created_at'])}){decided}"
    )


@needs_user
@fraud.command("actions")
@click.option(
    "--status", type=click.Choice(["proposed", "confirmed", "rejected"]), help="Only these."
)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def actions_cmd(
    app: AppContext, user: UserContext, status: str | None, limit: int, as_json: bool
) -> None:
    """待確認與已決定的動作 / proposed flags and evidence exports, and the decisions on them."""
    rows = app.container.fraud_desk.actions(user, status, limit)
    if as_json:
        emit_json(rows)
        return
    for a in rows:
        click.echo(_action_line(a))
    if not rows:
        click.echo("（沒有 / none）")


def _decide(
    app: AppContext, user: UserContext, action_id: int, note: str, confirm: bool, as_json: bool
) -> None:
    out = app.container.fraud_desk.decide(user, action_id, confirm=confirm, note=note)
    if as_json:
        emit_json(out)
        return
    click.echo(_action_line(out))
    for f in out["result"].get("files", []):
        click.echo(f"  {f['file']}  sha256 {f['sha256']}  ({f['transfers']} transfers)")


@needs_user
@fraud.command("confirm")
@click.argument("action_id", type=int)
@click.option("--note", default="", help="Why, for the audit trail.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def confirm_cmd(
    app: AppContext, user: UserContext, action_id: int, note: str, as_json: bool
) -> None:
    """確認並執行 / carry out proposal ACTION_ID (flag the account, or export the evidence)."""
    _decide(app, user, action_id, note, True, as_json)


@needs_user
@fraud.command("reject")
@click.argument("action_id", type=int)
@click.option("--note", default="", help="Why, for the audit trail.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def reject_cmd(
    app: AppContext, user: UserContext, action_id: int, note: str, as_json: bool
) -> None:
    """駁回 / turn proposal ACTION_ID down; nothing is changed, the decision is audited."""
    _decide(app, user, action_id, note, False, as_json)


@click.command("fraud")
@click.option(
    "--amlsim",
    "amlsim",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="An AMLSim output folder (nodes.csv, transactions.csv); repeatable.",
)
@click.option(
    "--amlgentex",
    "amlgentex",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="An AMLGentex run folder or tx_log (make amlgentex writes them); repeatable.",
)
@click.option(
    "--product",
    "product",
    multiple=True,
    type=int,
    help="A seed of the product's own synthetic ledger (20,000 accounts); repeatable.",
)
@click.option(
    "--csv",
    "csv_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A labelled transfer file of any generator or bank (CSV, Parquet, .xlsx), read as "
    "import-csv reads it; its label column (Is Laundering, isSAR, label …) marks the "
    "laundering transfers; repeatable.",
)
@click.option(
    "--csv-map",
    "csv_map",
    multiple=True,
    help="field=column for the --csv files (default: told from the header), e.g. "
    "--csv-map label=Is Laundering.",
)
@click.option("--folds", default=5, show_default=True)
@click.option("--seed", default=0, show_default=True, help="Seed of the folds and the models.")
@click.option(
    "--rings/--no-rings",
    default=True,
    show_default=True,
    help="Ring expansion from one member of each pattern: fitted and tuned on the first "
    "--amlgentex run, measured on the others (needs two or more).",
)
@click.option(
    "--reference/--no-reference",
    default=True,
    show_default=True,
    help="Also score each ledger as a bank without labels would: with the reference scorer "
    "(fitted on generated ledgers), beside label-free alternatives.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def eval_fraud(
    app: AppContext,
    amlsim: tuple[Path, ...],
    amlgentex: tuple[Path, ...],
    product: tuple[int, ...],
    csv_files: tuple[Path, ...],
    csv_map: tuple[str, ...],
    folds: int,
    seed: int,
    rings: bool,
    reference: bool,
    as_json: bool,
) -> None:
    """Mule scoring per ledger by cross-validation (ROC AUC, precision at k, degree-only and
    degree-and-amount baselines, per typology), across ledgers (trained on one, tested on
    another; held out; pooled), and how much of each planted pattern a 2-hop trace reaches."""
    from assistant.fraud.column_names import mapping_pairs
    from assistant.fraud.features import CashRules
    from evals.fraud import (
        evaluate_generators,
        load_amlgentex,
        load_amlsim,
        load_csv,
        load_product,
    )

    if not (amlsim or amlgentex or product or csv_files):
        raise AssistantError(
            "請至少指定一個帳務資料：--amlsim、--amlgentex、--product 或 --csv / give at least "
            "one ledger: --amlsim, --amlgentex, --product or --csv"
        )
    fs = app.settings.fraud
    rules = CashRules(fs.report_threshold, fs.structuring_band)
    ledgers = [load_product(s, rules) for s in product]
    ledgers += [load_amlsim(f, rules) for f in amlsim]
    agx = [load_amlgentex(f, rules) for f in amlgentex]
    ledgers += agx
    ledgers += [load_csv(f, mapping_pairs(csv_map), rules) for f in csv_files]
    report = evaluate_generators(ledgers, folds=folds, seed=seed)
    if rings and len(agx) > 1:
        from evals.rings import evaluate_rings

        report["rings"] = evaluate_rings(agx[0], agx[1:], seed=seed)
    if reference:
        from evals.fraud import evaluate_reference

        report["reference"] = evaluate_reference(
            ledgers, app.container.fraud_reference, rules=rules
        )
    if as_json:
        emit_json(report)
        return
    click.echo(
        f"{'ledger':24} {'accounts':>8} {'fraud':>6} {'AUC':>6} {'P@k':>6} "
        f"{'deg+amt':>7} {'P@k':>6} {'trace':>6}"
    )
    for r in report["ledgers"]:
        click.echo(
            f"{r['ledger']:24} {r['n_accounts']:>8} {r['n_fraud']:>6} {r['auc']:>6.3f} "
            f"{r['precision_at_k']:>6.3f} {r['degree_amount_auc']:>7.3f} "
            f"{r['degree_amount_precision_at_k']:>6.3f} {r['trace_recall']:>6.3f}"
        )
    for r in report["cross"] + report["held_out"]:
        train = r.get("train", "(all others)")
        click.echo(
            f"{train} → {r['test']}: AUC {r['auc']:.3f} (degree+amount "
            f"{r['degree_amount_auc']:.3f})"
        )
    if report["pooled"]:
        p = report["pooled"]
        click.echo(f"pooled: AUC {p['auc']:.3f} (degree+amount {p['degree_amount_auc']:.3f})")
    if "reference" in report:
        click.echo(
            "without labels (reference scorer / degree+amount on the same / isolation "
            "forest / degree):"
        )
        for r in report["reference"]["ledgers"]:
            click.echo(
                f"  {r['ledger']:24} AUC {r['auc']:.3f} / {r['degree_amount_auc']:.3f} / "
                f"{r['isolation_forest_auc']:.3f} / {r['degree_auc']:.3f}"
            )
    if "rings" in report:
        from evals.rings import table

        click.echo("rings from one account (recall / precision of the pattern's accounts):")
        click.echo(table(report["rings"]))
