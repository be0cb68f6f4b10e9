"""`assistant audit …`: check the hash-chained audit trail, export it, read it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import cast

import click

from assistant.audit import ExportFormat
from assistant.audit_chain import VerifyReport
from assistant.cli_support import AppContext, emit_json, needs_user, pass_app
from assistant.permissions import UserContext


def _date(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    from assistant.dates import parse_date

    try:
        return parse_date(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from exc


@click.group()
def audit() -> None:
    """稽核軌跡 / the audit trail: verify the hash chain, export, show and list records."""


def _print_report(report: VerifyReport) -> None:
    head = report.head
    if head is not None and head.sealed_through and head.sealed_at:
        click.echo(
            f"註：seq 1–{head.sealed_through} 為導入雜湊鏈前的紀錄，於 "
            f"{head.sealed_at:%Y-%m-%d %H:%M:%S} UTC 串接 / records up to seq "
            f"{head.sealed_through} predate the chain and were chained at migration then"
        )
    if report.ok:
        where = f"，鏈首 head seq {head.seq} {head.hash}" if head else ""
        click.echo(f"稽核鏈完整 / audit chain intact: {report.records} 筆 records{where}")
        return
    first = report.first
    assert first is not None
    at = f"seq {first.seq}" if first.seq is not None else f"record id {first.record_id}"
    click.echo(f"稽核鏈已遭破壞 / audit chain broken at {at}: {first.message}")
    for p in report.problems:
        where = f"seq {p.seq}" if p.seq is not None else f"id {p.record_id}"
        click.echo(f"  {where}: {p.reason} {p.detail}".rstrip())
    if report.truncated:
        click.echo("  … 其餘問題未列出 / more problems not listed")


@needs_user
@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
@click.pass_context
def audit_verify(ctx: click.Context, app: AppContext, user: UserContext, as_json: bool) -> None:
    """檢查雜湊鏈 / walk the chain; exit code 1 if a record was edited, deleted or reordered."""
    report = app.container.audit_desk.verify(user)
    if as_json:
        emit_json(report.to_dict())
    else:
        _print_report(report)
    if not report.ok:
        ctx.exit(1)


@needs_user
@audit.command("export")
@click.option("--from", "start", required=True, callback=_date, help="First day, ISO or 民國.")
@click.option("--to", "end", required=True, callback=_date, help="Last day (inclusive).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: audit-FROM-TO.FORMAT here).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option(
    "--unmasked", is_flag=True, help="Keep customer identifiers (roles admin and auditor only)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@pass_app
def audit_export(
    app: AppContext,
    user: UserContext,
    start: date,
    end: date,
    out: Path | None,
    fmt: str,
    unmasked: bool,
    as_json: bool,
) -> None:
    """匯出稽核紀錄供主管機關查核 / export records of a date range (Taipei days) for a regulator.

    The first line is a manifest: the range, the count, the chain head at export time and the
    sha256 of the records that follow; the sha256 of the whole file is printed and written next
    to it as FILE.sha256. The export itself is recorded in the trail.
    """
    out = out or Path(f"audit-{start:%Y%m%d}-{end:%Y%m%d}.{fmt}")
    try:
        manifest = app.container.audit_desk.export(
            user, out, start, end, fmt=cast(ExportFormat, fmt), unmasked=unmasked
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if as_json:
        emit_json(manifest)
        return
    click.echo(
        f"已匯出 {manifest['count']} 筆 / exported {manifest['count']} records → {manifest['file']}"
        f"{'（已遮罩 masked）' if manifest['masked'] else '（未遮罩 UNMASKED）'}"
    )
    if not manifest["chain_verified"]:
        problem = manifest["chain_first_problem"]
        click.echo(
            f"警告：稽核鏈已遭破壞 / warning: the chain is broken at seq {problem['seq']}: "
            f"{problem['message']}",
            err=True,
        )
    head = manifest["chain_head"]
    click.echo(f"鏈首 chain head: seq {head['seq']} {head['hash']}")
    click.echo(f"sha256 {manifest['sha256']}")


@needs_user
@audit.command("show")
@click.argument("record_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@pass_app
def audit_show(app: AppContext, user: UserContext, record_id: int, as_json: bool) -> None:
    """顯示一筆稽核紀錄 / show one record with its chain hashes."""
    record = app.container.audit_desk.show(user, record_id)
    if as_json:
        emit_json(record)
        return
    for key in (
        "id",
        "seq",
        "kind",
        "created_at",
        "user_name",
        "user_role",
        "conversation_id",
        "agent",
        "route_method",
        "model",
        "model_sha256",
    ):
        click.echo(f"{key}: {record[key]}")
    click.echo(f"question: {record['question']}")
    for c in record["chunks"]:
        click.echo(f"  chunk {c}")
    for t in record["tool_calls"]:
        click.echo(f"  tool {t.get('name')} {t.get('args')} → {t.get('summary')}")
        if t.get("digest"):
            click.echo(f"       digest {t['digest']}")
    click.echo(f"answer: {record['answer']}")
    click.echo(f"prev_hash: {record['prev_hash']}")
    click.echo(f"hash: {record['hash']}")


@needs_user
@audit.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--of", "of_user", help="Only this user's records.")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
@pass_app
def audit_list(
    app: AppContext, user: UserContext, limit: int, of_user: str | None, as_json: bool
) -> None:
    """最近的稽核紀錄 / the latest records, newest first."""
    records = app.container.audit_desk.recent(user, limit, of_user)
    if as_json:
        emit_json(records)
        return
    if not records:
        click.echo("沒有紀錄 / no records")
    for r in records:
        question = r["question"].replace("\n", " ")
        if len(question) > 40:
            question = question[:40] + "…"
        click.echo(
            f"{r['id']:>6} seq {r['seq'] if r['seq'] is not None else '-':>6}  "
            f"{r['created_at'][:19]}  {r['user_name']}({r['user_role']})  "
            f"{r['kind'] or '-'}/{r['agent'] or '-'}  {question}"
        )
