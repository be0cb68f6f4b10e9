"""`assistant fraud monitor` and `assistant fraud alerts`: the transfer monitor on the command
line (replay a CSV or the stored ledger, or tail a CSV as it grows), the alert queue, the rules."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from assistant.cli_support import AppContext, emit_json, needs_user, pass_app
from assistant.dates import taipei_minute
from assistant.errors import AssistantError
from assistant.permissions import UserContext
from assistant.textfiles import delimiter, open_text

CHUNK = 5_000  # rows per scored batch (one audit record each)


def _alert_line(d: dict[str, Any]) -> str:
    head = f"#{d['alert_id']} " if d.get("alert_id") else ""
    return (
        f"{head}{d['action']:5} {d['ts']}  {d['transfer_id']}  {d['from_account']} → "
        f"{d['to_account']}  {d['amount']:,.0f}  [{d['account']}]"
    )


def _print_decisions(result: dict[str, Any]) -> None:
    ids = iter(result.get("alert_ids", []))
    for d in result["decisions"]:
        if d["action"] == "pass":
            continue
        click.echo(_alert_line({**d, "alert_id": next(ids, None)}))
        for r in d["reasons"]:
            click.echo(f"    {r['zh']} / {r['en']}")
    for e in result["errors"][:50]:
        click.echo(f"  line {e['row']}: {e['reason']}", err=True)


def _tail(
    path: Path, interval: float, idle_s: float | None
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a CSV as lines are appended; only complete lines are read. Stops after
    ``idle_s`` seconds with nothing new (None: until interrupted)."""
    with open_text(path) as fh:
        first = fh.readline()
        sep = delimiter(first)
        header = next(csv.reader([first], delimiter=sep), None)
        if not header:
            raise AssistantError(f"CSV 沒有標題列 / the CSV has no header: {path}")
        from assistant.monitor.transfers import renamer

        ours = renamer(header)
        line, pending, idle = 1, "", 0.0
        while True:
            chunk = fh.readline()
            if chunk:
                pending += chunk
                if not pending.endswith("\n"):
                    continue
                line += 1
                values = next(csv.reader([pending], delimiter=sep), [])
                pending, idle = "", 0.0
                if values:
                    yield line, ours(values)
                continue
            if idle_s is not None and idle >= idle_s:
                return
            time.sleep(interval)
            idle += interval


def _chunks(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for r in rows:
        chunk.append(r)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@needs_user
@click.command("monitor")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--ledger", "from_ledger", is_flag=True, help="Replay the stored ledger in time order."
)
@click.option("--follow", is_flag=True, help="Keep reading PATH as lines are appended (tail -f).")
@click.option(
    "--interval", default=1.0, show_default=True, help="Seconds between looks (--follow)."
)
@click.option(
    "--idle-exit",
    type=float,
    help="With --follow: stop after this many seconds with no new line (default: never).",
)
@click.option(
    "--warm",
    "warm_days",
    type=int,
    help="When the monitor starts without saved state, first feed the stored ledger's last N "
    "days through it (no alerts), so it knows each account's usual payees and volumes; from its "
    "saved state, first score what the ledger got since (at most N days, alerts stored).",
)
@click.option("--all", "show_all", is_flag=True, help="List passes too (--json).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def monitor_cmd(
    app: AppContext,
    user: UserContext,
    path: Path | None,
    from_ledger: bool,
    follow: bool,
    interval: float,
    idle_exit: float | None,
    warm_days: int | None,
    show_all: bool,
    as_json: bool,
) -> None:
    """即時監控 / score transfers as they arrive: PATH is a CSV (id, ts, from_account, to_account,
    amount[, kind, channel, memo], or a bank's own names for them: 交易序號, 交易日期 +
    交易時間, 轉出帳號 …); each alert or hold is stored in the alert queue with its reasons. A
    bad line is reported by number and the rest are scored."""
    from assistant.monitor.transfers import read_csv

    desk = app.container.fraud_monitor_desk
    if from_ledger == (path is not None):
        raise AssistantError("請給 CSV 檔或 --ledger（擇一）/ give a CSV file or --ledger (one)")
    if path is not None and not path.is_file():
        raise AssistantError(f"找不到檔案 / no such file: {path}")
    if warm_days is not None and not from_ledger:
        from assistant.cli_chat import start_lines

        for line in start_lines(desk.start(user, days=warm_days), warm_days):
            click.echo(line, err=True)
    if from_ledger:
        results = [desk.replay_ledger(user, keep_passes=show_all)]
    else:
        rows = _tail(path, interval, idle_exit) if follow else read_csv(path)  # type: ignore[arg-type]
        results = []
        for chunk in _chunks(rows, 1 if follow else CHUNK):
            r = desk.score_batch(user, chunk, source=str(path), keep_passes=show_all)
            if follow and not as_json:
                _print_decisions(r.to_dict())
            results.append(r)
    total: dict[str, Any] = {"rows": 0, "bad": 0, "pass": 0, "alert": 0, "hold": 0}
    decisions: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    alert_ids: list[int] = []
    for r in results:
        for k, v in r.counts().items():
            total[k] += v
        d = r.to_dict(passes=show_all)
        decisions += d["decisions"]
        errors += d["errors"]
        alert_ids += d["alert_ids"]
    out = {**total, "decisions": decisions, "errors": errors, "alert_ids": alert_ids}
    if as_json:
        emit_json(out)
        return
    if not follow:
        _print_decisions(out)
    click.echo(
        f"{total['rows']} 筆 transfers: 放行 pass {total['pass']}, 警示 alert {total['alert']}, "
        f"暫停 hold {total['hold']}, 錯誤 bad {total['bad']}"
    )
    if alert_ids:
        click.echo(
            f"警示佇列 / alert queue: assistant fraud alerts; 追查 / trace: assistant fraud "
            f"alerts trace {alert_ids[0]}"
        )


# ---- the alert queue -------------------------------------------------------------------------


_STATUS = click.Choice(["open", "confirmed", "dismissed", "all"])


@click.group("alerts", invoke_without_command=True)
@click.option("--status", type=_STATUS, default="open", show_default=True)
@click.option("--account", help="Only alerts about this account.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--user", "user_name", help="The investigator (as for every protected command).")
@click.option("--password-stdin", is_flag=True)
@click.pass_context
def alerts(ctx: click.Context, **options: Any) -> None:
    """警示佇列 / the monitor's alerts: list (the default), confirm, dismiss, trace, outcomes,
    rules."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd, **options)


def _stored_line(a: dict[str, Any]) -> str:
    decided = (
        f" — {a['decided_by']} {taipei_minute(a['decided_at'])}" if a.get("decided_by") else ""
    )
    return (
        f"#{a['id']} {a['status']:9} {a['action']:5} {taipei_minute(a['ts'])} {a['account']}  "
        f"{a['from_account']} → {a['to_account']} {a['amount']:,.0f} ({a['transfer_id']}, "
        f"rules {a['rules_version']}){decided}"
    )


@needs_user
@alerts.command("list")
@click.option("--status", type=_STATUS, default="open", show_default=True)
@click.option("--account", help="Only alerts about this account.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_cmd(
    app: AppContext,
    user: UserContext,
    status: str = "open",
    account: str | None = None,
    limit: int = 50,
    as_json: bool = False,
) -> None:
    """警示清單，最新在前 / alerts, newest first, with their reasons."""
    rows = app.container.fraud_monitor_desk.alerts(
        user, None if status == "all" else status, limit, account
    )
    if as_json:
        emit_json(rows)
        return
    for a in rows:
        click.echo(_stored_line(a))
        for r in a["reasons"]:
            click.echo(f"    {r['zh']} / {r['en']}")
    if not rows:
        click.echo("（沒有 / none）")


def _decide(
    app: AppContext, user: UserContext, alert_id: int, note: str, confirm: bool, as_json: bool
) -> None:
    out = app.container.fraud_monitor_desk.decide(user, alert_id, confirm=confirm, note=note)
    if as_json:
        emit_json(out)
    else:
        click.echo(_stored_line(out))


@needs_user
@alerts.command("accounts")
@click.option("--status", type=_STATUS, default="open", show_default=True)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def accounts_cmd(
    app: AppContext, user: UserContext, status: str, limit: int, as_json: bool
) -> None:
    """依帳戶彙整，警示最多者在前 / the queue by account, the most alerted first."""
    rows = app.container.fraud_monitor_desk.alert_accounts(
        user, None if status == "all" else status, limit
    )
    if as_json:
        emit_json(rows)
        return
    for g in rows:
        rules = ", ".join(f"{k}×{v}" for k, v in g["rules"].items())
        click.echo(
            f"{g['account']}  {g['alerts']} 筆警示 alerts（暫停 holds {g['holds']}）  "
            f"{taipei_minute(g['first'])} → {taipei_minute(g['last'])}  "
            f"最大 max {g['max_amount']:,.0f}  #{g['latest_id']}  [{rules}]"
        )
    if not rows:
        click.echo("（沒有 / none）")


@needs_user
@alerts.command("confirm")
@click.argument("alert_id", type=int)
@click.option("--note", default="", help="Why, for the audit trail.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def confirm_cmd(
    app: AppContext, user: UserContext, alert_id: int, note: str, as_json: bool
) -> None:
    """確認為詐騙 / confirm alert ALERT_ID (it was fraud)."""
    _decide(app, user, alert_id, note, True, as_json)


@needs_user
@alerts.command("dismiss")
@click.argument("alert_id", type=int)
@click.option("--note", default="", help="Why, for the audit trail.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def dismiss_cmd(
    app: AppContext, user: UserContext, alert_id: int, note: str, as_json: bool
) -> None:
    """排除 / dismiss alert ALERT_ID (not fraud)."""
    _decide(app, user, alert_id, note, False, as_json)


def _decide_account(
    app: AppContext,
    user: UserContext,
    account: str,
    up_to: int | None,
    note: str,
    confirm: bool,
    as_json: bool,
) -> None:
    out = app.container.fraud_monitor_desk.decide_account(
        user, account, confirm=confirm, note=note, up_to=up_to
    )
    if as_json:
        emit_json(out)
        return
    word = "確認為詐騙 confirmed" if confirm else "排除 dismissed"
    ids = ", ".join(f"#{i}" for i in out["decided"])
    click.echo(f"帳戶 account {out['account']}：{len(out['decided'])} 則警示 alerts {word} ({ids})")


_UP_TO = click.option(
    "--up-to",
    type=int,
    help="Only alerts up to this id (the newest you looked at); later ones stay open.",
)


@needs_user
@alerts.command("confirm-account")
@click.argument("account")
@_UP_TO
@click.option("--note", default="", help="Why, for the audit trail.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def confirm_account_cmd(
    app: AppContext, user: UserContext, account: str, up_to: int | None, note: str, as_json: bool
) -> None:
    """帳戶的待處理警示全部確認為詐騙 / confirm every open alert of ACCOUNT (it was fraud)."""
    _decide_account(app, user, account, up_to, note, True, as_json)


@needs_user
@alerts.command("dismiss-account")
@click.argument("account")
@_UP_TO
@click.option("--note", default="", help="Why, for the audit trail.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def dismiss_account_cmd(
    app: AppContext, user: UserContext, account: str, up_to: int | None, note: str, as_json: bool
) -> None:
    """帳戶的待處理警示全部排除 / dismiss every open alert of ACCOUNT (not fraud)."""
    _decide_account(app, user, account, up_to, note, False, as_json)


@needs_user
@alerts.command("trace")
@click.argument("alert_id", type=int)
@click.option(
    "--direction",
    type=click.Choice(["up", "down"]),
    default="up",
    show_default=True,
    help="up: where the money came from (前期金流); down: where it went.",
)
@click.option("--hops", default=3, show_default=True, type=click.IntRange(1, 6))
@click.option("--json", "as_json", is_flag=True)
@pass_app
def trace_cmd(
    app: AppContext, user: UserContext, alert_id: int, direction: str, hops: int, as_json: bool
) -> None:
    """追查警示帳戶的金流 / the money-flow trace of alert ALERT_ID's account."""
    alert, result = app.container.fraud_monitor_desk.alert_trace(user, alert_id, direction, hops)
    if as_json:
        emit_json({"alert": alert, "trace": result.to_dict()})
        return
    click.echo(_stored_line(alert))
    click.echo(
        f"{result.root} {'上游 upstream' if direction == 'up' else '下游 downstream'} {hops} 層: "
        f"{len(result.accounts)} accounts, {len(result.transfers)} transfers"
    )
    for t in result.transfers[:200]:
        click.echo(
            f"  hop {t.hop}  {t.ts}  {t.from_account} → {t.to_account}  {t.amount:,.0f}  {t.id}"
        )


@needs_user
@alerts.command("outcomes")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def outcomes_cmd(app: AppContext, user: UserContext, as_json: bool) -> None:
    """各規則的確認與排除數 / confirmed and dismissed alerts per rule (the measured precision)."""
    out = app.container.fraud_monitor_desk.outcomes(user)
    if as_json:
        emit_json(out)
        return
    for rule, c in out.items():
        click.echo(
            f"{rule}: confirmed {c['confirmed']}, dismissed {c['dismissed']}, "
            f"precision {c['precision']:.2f}"
        )
    if not out:
        click.echo("（沒有 / none）")


@needs_user
@alerts.command("rules")
@click.option(
    "--set",
    "new_rules",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON rule set with a new version, put in force (an audited decision).",
)
@click.option("--note", default="", help="Why the rules change, for the audit trail.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def rules_cmd(
    app: AppContext, user: UserContext, new_rules: Path | None, note: str, as_json: bool
) -> None:
    """監控規則 / the rules in force (with their history), or --set a new version."""
    desk = app.container.fraud_monitor_desk
    if new_rules is None:
        out = desk.rules(user)
        if as_json:
            emit_json(out)
            return
        click.echo(f"version {out['version']}: {out['note']}")
        for r in out["rules"]:
            click.echo(f"  {r['id']:24} {r['kind']:18} {r['action']:5} {r['params']}")
        click.echo(f"  anomaly: {out['anomaly']}")
        mule = out.get("mule_model")
        if mule is None:
            click.echo(
                "  mule_score: 尚未訓練模型，不評分（assistant fraud train）/ no model trained "
                "yet, scores nothing (assistant fraud train)"
            )
        else:
            click.echo(
                f"  mule_score: {mule['file']} ({mule.get('mules')} mules of "
                f"{mule.get('accounts')} accounts, {mule.get('at')}), alert at {mule['alert_at']}"
            )
        return
    try:
        doc = json.loads(new_rules.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AssistantError(f"無法讀取規則檔 / cannot read the rules file: {exc}") from exc
    out = desk.set_rules(user, doc, note)
    if as_json:
        emit_json(out)
        return
    click.echo(f"規則 {out['from']} → {out['to']}: {', '.join(out['changes']) or '-'}")


# ---- the clean room --------------------------------------------------------------------------


@click.group("cleanroom")
def cleanroom() -> None:
    """金融無塵室 / match identifiers with a partner without handing lists over (PSI)."""


def _identifiers(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AssistantError(f"無法讀取識別碼清單 / cannot read the identifiers: {exc}") from exc


def _psi_out(report: Any, as_json: bool, out: Path | None) -> None:
    d = report.to_dict(with_ids=True)
    if out is not None and report.shared is not None:
        out.write_text("".join(x + "\n" for x in report.shared), encoding="utf-8")
    if as_json:
        emit_json(d)
        return
    click.echo(
        f"共有 shared {d['count']}（我方 own {d['own_items']}，對方 partner {d['other_items']}）"
        f" {d['seconds']:.1f}s, verified={d['verified']}"
    )
    click.echo(d["revealed"])


@needs_user
@cleanroom.command("ask")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--partner", required=True, help="HOST:PORT where the partner answers.")
@click.option("--mode", type=click.Choice(["ids", "count"]), default="ids", show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the shared identifiers here (mode ids).",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def ask_cmd(
    app: AppContext,
    user: UserContext,
    path: Path,
    partner: str,
    mode: str,
    out: Path | None,
    as_json: bool,
) -> None:
    """PATH: identifiers, one a line (phone numbers, LINE IDs, wallets); ask the partner which
    it holds too (ids) or how many (count)."""
    host, _, port = partner.rpartition(":")
    if not host or not port.isdigit():
        raise AssistantError(f"--partner 須為 HOST:PORT / --partner must be HOST:PORT: {partner}")
    report = app.container.cleanroom_desk.ask(
        user, _identifiers(path), host, int(port), mode=mode, source=str(path)
    )
    _psi_out(report, as_json, out)


@needs_user
@cleanroom.command("answer")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--port", default=7700, show_default=True, help="0: any free port (printed).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--mode", type=click.Choice(["ids", "count"]), default="ids", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def answer_cmd(
    app: AppContext, user: UserContext, path: Path, port: int, host: str, mode: str, as_json: bool
) -> None:
    """Answer one partner's query over PATH's identifiers (the side with the longer list
    answering is faster)."""
    report = app.container.cleanroom_desk.answer(
        user,
        _identifiers(path),
        port,
        host=host,
        mode=mode,
        source=str(path),
        on_listen=lambda p: click.echo(json.dumps({"port": p}), err=True),
    )
    _psi_out(report, as_json, None)


# ---- outside lists ---------------------------------------------------------------------------


@click.group("signals", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--user", "user_name", help="The investigator (as for every protected command).")
@click.option("--password-stdin", is_flag=True)
@click.pass_context
def signals(ctx: click.Context, **options: Any) -> None:
    """外部清單 / outside lists the monitor reads (165 open data, scam wallets): list, import."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(signals_list_cmd, **options)


@needs_user
@signals.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def signals_list_cmd(app: AppContext, user: UserContext, as_json: bool = False) -> None:
    """Each list with its source, licence, date, rows and version."""
    rows = app.container.fraud_monitor_desk.signals(user)
    if as_json:
        emit_json(rows)
        return
    for t in rows:
        click.echo(
            f"{t['name']} ({t['kind']}) v{t['version']}: {t['entries']} entries from {t['rows']} "
            f"rows, as of {t['as_of']}; {t['source']}; licence: {t['licence']}"
        )
    if not rows:
        click.echo("（沒有 / none）")


@needs_user
@signals.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="The list's name, e.g. 165-sites.")
@click.option(
    "--kind", type=click.Choice(["domain", "phone", "line_id", "account", "wallet"]), required=True
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["165-sites", "list"]),
    default="list",
    show_default=True,
    help="165-sites: WEBSITE_NM,WEBURL,CNT,STA_SDATE,STA_EDATE.",
)
@click.option("--source", required=True, help="Where the file came from (URL, publisher).")
@click.option("--licence", required=True, help="The licence it is published under.")
@click.option("--as-of", help="The date the data speaks for (165-sites: its latest period).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def signals_import_cmd(
    app: AppContext,
    user: UserContext,
    path: Path,
    name: str,
    kind: str,
    fmt: str,
    source: str,
    licence: str,
    as_of: str | None,
    as_json: bool,
) -> None:
    """Import PATH as the outside list NAME (replacing its previous version); bad rows are
    reported by line and the rest kept."""
    out = app.container.fraud_monitor_desk.import_signals(
        user, path, name=name, kind=kind, fmt=fmt, source=source, licence=licence, as_of=as_of
    )
    if as_json:
        emit_json(out)
        return
    click.echo(
        f"{out['name']} v{out['version']}: {out['entries']} entries from {out['rows']} rows "
        f"({out['bad']} bad), as of {out['as_of']}"
    )
    for e in out["errors"][:20]:
        click.echo(f"  line {e['line']}: {e['reason']}", err=True)
