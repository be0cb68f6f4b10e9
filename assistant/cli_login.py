"""`assistant login`, `logout`, `whoami`: a command-line session like the page's login.

After `assistant login` the commands that read customer data or take a decision act as that
user until the session ends (``ui.session_hours`` after the login, or ``ui.idle_minutes``
without a command), without asking for the password each time.
"""

from __future__ import annotations

import click

from assistant.cli_support import AppContext, emit_json, pass_app
from assistant.errors import AuthError


@click.command()
@click.option("--user", "user_name", help="登入帳號 / the user name (asked for if not given).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--print-token",
    is_flag=True,
    help="Print the token (for ASSISTANT_SESSION in scripts) instead of keeping it in the "
    "session file.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def login(
    app: AppContext, user_name: str | None, password_stdin: bool, print_token: bool, as_json: bool
) -> None:
    """登入 / log in for this OS user; later commands act as you until the session ends."""
    c = app.container
    name = user_name or app._user_name or click.prompt("帳號 / user")
    password = app._read_password(password_stdin) or click.prompt(
        "密碼 / password", hide_input=True
    )
    user = c.users.authenticate(name, password, source="cli")
    if user is None:
        raise AuthError(
            "帳號或密碼錯誤，或因多次失敗暫時鎖定 / wrong user name or password, or locked for "
            "a while after repeated failures"
        )
    token = c.cli_sessions.start(user.name)
    if not print_token:
        c.token_file().put(token)
    ui = c.settings.ui
    out = {
        "user": user.name,
        "role": user.role,
        "hours": ui.session_hours,
        "idle_minutes": ui.idle_minutes,
    }
    if print_token:
        out["token"] = token
    if as_json:
        emit_json(out)
    elif print_token:
        click.echo(token)
    else:
        click.echo(
            f"已登入 {user.name}（{user.role}）：{ui.session_hours:g} 小時內有效，閒置 "
            f"{ui.idle_minutes:g} 分鐘結束 / logged in as {user.name} ({user.role}) for "
            f"{ui.session_hours:g} h, ending after {ui.idle_minutes:g} min idle"
        )


@click.command()
@pass_app
def logout(app: AppContext) -> None:
    """登出 / end this OS user's session."""
    token = app.session_token()
    ended = bool(token) and app.container.cli_sessions.end(token or "")
    app.container.token_file().put(None)
    click.echo("已登出 / logged out" if ended else "本來就未登入 / was not logged in")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_app
def whoami(app: AppContext, as_json: bool) -> None:
    """目前身分 / who the commands act as now."""
    user = app.user()
    if as_json:
        emit_json({"user": user.name, "role": user.role})
        return
    click.echo(f"{user.name}（{user.role}）")
