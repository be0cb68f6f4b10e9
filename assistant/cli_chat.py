"""Commands that talk to the assistant: ask, serve, users, eval agents."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from assistant.cli_db import upgrade_at_start
from assistant.cli_support import AppContext, emit_json, needs_user, pass_app
from assistant.container import Container
from assistant.errors import AssistantError
from assistant.permissions import ROLES, UserContext

if TYPE_CHECKING:
    from assistant.desks.monitor import MonitorStart


@needs_user
@click.command()
@click.argument("question")
@click.option("--conversation", "conversation_id", help="Continue this conversation.")
@click.option(
    "--attach",
    "attachments",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="財報 PDF，隨問題送出 / a report (PDF) sent with the question (credit agent).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as JSON.")
@click.option("--steps", is_flag=True, help="Also print the agent's steps and tool calls.")
@pass_app
def ask(
    app: AppContext,
    question: str,
    user: UserContext,
    conversation_id: str | None,
    attachments: tuple[Path, ...],
    as_json: bool,
    steps: bool,
) -> None:
    """向助理提問 / ask the assistant; QUESTION '-' reads it from standard input.

    Goes through the same graph as the chat UI: guard, route, agent, answer, audit.
    """
    if question == "-":
        question = sys.stdin.read()
    c = app.container
    files = list(attachments) or None
    if as_json:
        emit_json(c.service.ask(user, question, conversation_id, files).to_dict())
        return
    answer = None
    for event in c.service.stream(user, question, conversation_id, files):
        if event.kind == "token":
            click.echo(event.text, nl=False)
        elif event.kind == "step" and steps and event.step:
            click.echo(f"· {event.step.node}: {event.step.detail}", err=True)
        elif event.kind == "answer":
            answer = event.answer
    click.echo()
    if answer is None:
        return
    if answer.citations:
        click.echo("\n出處 / sources:")
        for cit in answer.citations:
            date = f"（修正 {cit.amended}）" if cit.amended else ""
            click.echo(f"  〔{cit.label}〕{date} {cit.url or ''}".rstrip())
    if steps:
        for t in answer.tool_calls:
            click.echo(f"  tool {t.name} {t.args} → {t.summary}", err=True)
    if answer.pending:
        click.echo(
            f"\n待覆核 / awaiting review: assistant review {answer.conversation_id} "
            "--approve | --edit FILE.md | --reject --note 理由",
            err=True,
        )
    model = answer.model if answer.generated else f"{answer.model}（未使用模型 / no model）"
    click.echo(
        f"\n[{answer.agent or '-'} · {model} · {answer.latency_ms:.0f} ms · "
        f"conversation {answer.conversation_id}]",
        err=True,
    )


@needs_user
@click.command("review")
@click.argument("conversation_id", metavar="CONVERSATION")
@click.option("--approve", "action", flag_value="approve", help="核准草稿 / approve the draft.")
@click.option(
    "--edit",
    "edit",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="修改後核准：Markdown 檔為定稿 / approve this edited Markdown as the final text.",
)
@click.option("--reject", "action", flag_value="reject", help="退回草稿 / reject the draft.")
@click.option("--note", default="", help="覆核意見（退回必填）/ note (required to reject).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as JSON.")
@pass_app
def review(
    app: AppContext,
    conversation_id: str,
    action: str | None,
    edit: Path | None,
    note: str,
    user: UserContext,
    as_json: bool,
) -> None:
    """覆核對話中待覆核的徵信報告草稿 / decide on the credit memo a conversation waits on.

    Resumes the paused run (the same as the chat UI's buttons); the decision is audited.
    Without a decision option, shows what waits.
    """
    c = app.container
    if edit is not None:
        if action == "reject":
            raise click.UsageError("--edit 僅用於核准 / --edit goes with approving")
        action = "edit"
    if action is None:
        waiting = c.service.pending(user, conversation_id)
        if as_json:
            emit_json(waiting)
        elif waiting is None:
            click.echo("沒有待覆核的草稿 / nothing awaits review")
        else:
            click.echo(waiting["summary"])
            click.echo(
                f"\n草稿 draft #{waiting['draft_id']}：--approve | --edit FILE.md | --reject"
            )
        return
    markdown = edit.read_text(encoding="utf-8") if edit is not None else None
    answer = c.service.resume(
        user, conversation_id, {"action": action, "markdown": markdown, "note": note}
    )
    if as_json:
        emit_json(answer.to_dict())
        return
    click.echo(answer.answer)


@click.command()
@click.option("--host", help="Address to listen on (default: ui.host, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: ui.port, 7860).")
@pass_app
def serve(app: AppContext, host: str | None, port: int | None) -> None:
    """啟動聊天介面 / start the chat UI (log in with a user made by `assistant users add`)."""
    from ui.app import serve_ui

    upgrade_at_start(app)  # before the container's gate: serving is the operator's start
    c = app.container
    # the accounts the system makes for itself (evaluations, the monitor) cannot log in
    if not any(u.active and u.password_hash for u in c.users.list()):
        click.echo(
            "尚無使用者，請先執行 / no users yet: assistant users add NAME --role compliance",
            err=True,
        )
    # The monitor on a thread of its own, started first: it holds the monitor's lock from its
    # first look at the saved state to the end of a warm (seconds after this, while the server
    # is still starting), so a transfer sent meanwhile waits and is judged on the warm state.
    threading.Thread(target=_start_monitor, args=(c,), name="monitor-start", daemon=True).start()
    threading.Thread(target=_warm_up, args=(c,), name="warm-up", daemon=True).start()
    # A service manager (systemd, a container runtime, `kill`) stops with SIGTERM, whose default
    # ends the process on the spot: the server and the container (database, vector store,
    # traces) would not be closed. Here SIGTERM, like Ctrl-C, closes the server and then the
    # container. The signal only sets a flag, so one that arrives while the server is still
    # starting stops it once it has started, never half-way.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    demo = serve_ui(
        c,
        host=host or c.settings.ui.host,
        port=port or c.settings.ui.port,
        prevent_thread_lock=True,
    )
    try:
        while demo.is_running and not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
    click.echo("已停止 / stopped", err=True)


def _warm_up(c: Container) -> None:
    try:
        c.warm_up()
    except Exception as exc:  # the first question will report it properly; say it now too
        click.echo(f"預載失敗 / warm-up failed: {exc}", err=True)


def _start_monitor(c: Container) -> None:
    """The transfer monitor from its saved state, caught up on the ledger, or warmed on the
    ledger's last days (progress on stderr); a failure is reported and the monitor starts cold
    on the first transfer."""
    days = c.settings.monitor.warm_days

    def progress(n: int) -> None:
        click.echo(
            f"監控暖機／補算中 / monitor warming or catching up: {n:,} 筆 transfers", err=True
        )

    try:
        got = c.start_monitor(progress)
    except Exception as exc:
        click.echo(f"監控啟動失敗 / monitor start failed: {exc}", err=True)
        return
    for line in start_lines(got, days):
        click.echo(line, err=True)


def start_lines(got: MonitorStart, days: int) -> list[str]:
    """What the monitor's start says on the console, Chinese first."""
    if got.warmed:
        return [
            f"監控暖機完成 / monitor warmed on {got.warmed:,} 筆 transfers of the ledger's last "
            f"{days} days"
        ]
    if not got.restored:
        return []
    lines = ["監控：已由已存狀態開始 / monitor: started from its saved state"]
    caught = got.caught_up
    if caught is None:
        if days:
            lines.append(
                "已存狀態未記錄其最後一筆時間，未補算帳本 / the saved state does not say where it "
                "stopped: the ledger was not caught up"
            )
        return lines
    n = caught.counts()
    if not n["rows"]:
        lines.append(
            "監控：帳本自停機後無新交易 / monitor: the ledger got nothing new while it was down"
        )
        return lines
    lines.append(
        f"監控補算停機期間帳本新增 {n['rows']:,} 筆，警示 {n['alert']}、暫停 {n['hold']} / "
        f"caught up on {n['rows']:,} transfers the ledger got while it was down: "
        f"{n['alert']} alerts, {n['hold']} holds"
    )
    return lines


@click.group()
def users() -> None:
    """使用者與角色 / users and roles."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the user may do.")
@click.option("--display-name", default="", help="Name shown in the UI.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (scripts)."
)
@click.option("--exist-ok", is_flag=True, help="Succeed quietly if the user already exists.")
@pass_app
def users_add(
    app: AppContext,
    name: str,
    role: str,
    display_name: str,
    password_stdin: bool,
    exist_ok: bool,
) -> None:
    """Add a user who logs in with a password (stored as an argon2 hash). An administrator
    does this (`assistant --user ADMIN …` or after `assistant login`); the very first account,
    on a new installation, is an admin made without a login. With --password-stdin the acting
    admin's password, when read from standard input too, is the first line and the new
    user's the second."""
    c = app.container
    desk = c.admin_desk
    if exist_ok and any(u.name == name for u in c.users.list()):
        if password_stdin:
            sys.stdin.readline()
        click.echo(f"已存在 / exists: {name}")
        return
    acting = None if desk.needs_setup() else app.user()
    password = _read_password(password_stdin)
    user = desk.add_user(acting, name, role, password, display_name)
    click.echo(f"已新增 / added {user.name} ({user.role})")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_app
def users_passwd(app: AppContext, name: str, password_stdin: bool) -> None:
    """Set a user's password: your own, or anyone's as an administrator."""
    acting = app.user()
    app.container.admin_desk.set_password(acting, name, _read_password(password_stdin))
    click.echo(f"已更新密碼 / password changed for {name}")


@needs_user
@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def users_list(app: AppContext, user: UserContext, as_json: bool) -> None:
    """List users and their roles (administrators)."""
    rows = [
        {
            "name": u.name,
            "role": u.role,
            "display_name": u.display_name,
            "active": u.active,
            "can_log_in": u.password_hash is not None,
        }
        for u in app.container.admin_desk.users(user)
    ]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        login = "" if r["can_log_in"] else "  (no password)"
        click.echo(f"{r['name']:20} {r['role']:12}{login}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("密碼 / password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise AssistantError("密碼是空的 / empty password")
    return password


@click.command("agents")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--details", is_flag=True, help="Also list each question's outcome.")
@click.option(
    "--user", "user_name", help="Ask as this user (default: the evaluation account, ui.eval_user)."
)
@pass_app
def eval_agents(
    app: AppContext, file: Path, as_json: bool, details: bool, user_name: str | None
) -> None:
    """FILE: JSONL of {"id", "q", "gold"?, "agent"?}: routing accuracy and cited gold."""
    from assistant.modeleval.items import skipped_lines
    from evals.agents import evaluate, load_cases

    try:
        cases = load_cases(file)
    except ValueError as exc:
        raise AssistantError(str(exc)) from exc
    c = app.container
    report = evaluate(c.service, app.user(user_name) if user_name else c.eval_user(), cases)
    if not details:
        report.pop("cases")
    if as_json:
        emit_json(report)
        return
    click.echo(
        f"{report['n']} questions, {file.name}, model {report['model']}, "
        f"{report['n_skipped']} skipped"
    )
    for line in skipped_lines(report["skipped_items"]):
        click.echo(line)
    for key in (
        "routing_accuracy",
        "cited_gold",
        "no_basis_rate",
        "mean_latency_ms",
        "mean_model_calls",
    ):
        value = report[key]
        click.echo(f"{key:18} {'-' if value is None else f'{value:.3f}'}")
    for case in report.get("cases", []):
        click.echo(f"  {case['id']}: agent {case['agent']} cited {', '.join(case['cited'])}")
