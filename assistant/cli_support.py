"""What every command shares: the application context, JSON output and progress reporting."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from assistant.container import Container
from assistant.desks.base import LoginRequired
from assistant.errors import AuthError, NotFound
from assistant.permissions import UserContext
from assistant.settings import Settings


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


_STAGES = {
    "download": "下載 downloading",
    "analyse": "斷詞 analysing",
    "embed": "向量 embedding",
    "index": "索引 indexing",
}


@contextmanager
def progress() -> Iterator[Any]:
    """Progress of long work on stderr: a bar on a terminal, a line per tenth in a log."""
    if not sys.stderr.isatty():
        shown: dict[str, int] = {}

        def log(stage: str, done: int, total: int) -> None:
            tenth = done * 10 // max(total, 1)
            if shown.get(stage, -1) < tenth:
                shown[stage] = tenth
                click.echo(f"{_STAGES.get(stage, stage)} {done}/{total}", err=True)

        yield log
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    tasks: dict[str, Any] = {}
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(_STAGES.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


class AppContext:
    """What a command runs with: the settings, the services (built on first use) and who is
    calling. The caller is resolved only by commands that need one (:func:`needs_user`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        user_name: str | None = None,
        password_stdin: bool = False,
        password: str | None = None,
        session: str | None = None,
    ) -> None:
        self.settings = settings
        self._container: Container | None = None
        self._user_name = user_name
        self._password_stdin = password_stdin
        self._password = password
        self._session = session
        self._stdin_password: str | None = None

    def _read_password(self, from_stdin: bool) -> str | None:
        if from_stdin or self._password_stdin:
            if self._stdin_password is None:
                self._stdin_password = sys.stdin.readline().rstrip("\n")
            return self._stdin_password
        return self._password

    def session_token(self) -> str | None:
        return self._session or self.container.token_file().get()

    def user(self, name: str | None = None, *, password_stdin: bool = False) -> UserContext:
        """The calling user: a name with its password (standard input or ASSISTANT_PASSWORD),
        or the session of `assistant login`. Without either: :class:`LoginRequired`."""
        c = self.container
        name = name or self._user_name
        token = self.session_token()
        if name:
            password = self._read_password(password_stdin)
            if password:
                user = c.users.authenticate(name, password, source="cli")
                if user is None:
                    raise AuthError(
                        "帳號或密碼錯誤，或因多次失敗暫時鎖定 / wrong user name or password, or "
                        "locked for a while after repeated failures"
                    )
                return user
            if token and c.cli_sessions.user(token) == name:
                return c.users.get(name)
            raise AuthError(
                f"需要 {name} 的密碼：--password-stdin 或 ASSISTANT_PASSWORD，或先 assistant "
                f"login / {name}'s password is needed: --password-stdin or ASSISTANT_PASSWORD, "
                "or `assistant login` first"
            )
        if token:
            who = c.cli_sessions.user(token)
            if who is None:
                raise AuthError(
                    "登入已結束（逾時或已登出），請重新執行 assistant login / the login has "
                    "ended (expired or logged out): run `assistant login` again"
                )
            try:
                return c.users.get(who)
            except NotFound:
                raise AuthError(f"帳號已停用 / the account is disabled: {who}") from None
        raise LoginRequired()

    @property
    def container(self) -> Container:
        if self._container is None:
            self._container = Container(self.settings)
        return self._container

    def close(self) -> None:
        if self._container is not None:
            self._container.close()


pass_app = click.make_pass_decorator(AppContext)

USER_HELP = (
    "以此使用者身分執行 / act as this user (password from --password-stdin or "
    "ASSISTANT_PASSWORD; without --user: the session of `assistant login`)"
)


def needs_user(cmd: click.Command) -> click.Command:
    """Mark a command that reads customer data or takes a decision: it gets ``--user`` and
    ``--password-stdin``, resolves the caller before doing anything, and receives it as
    ``user``. Without a user it stops with a clear message and changes nothing. Apply it above
    the ``@group.command`` decorator."""
    names = {p.name for p in cmd.params}
    if "user_name" not in names:
        cmd.params.append(click.Option(["--user", "user_name"], help=USER_HELP))
    if "password_stdin" not in names:
        cmd.params.append(
            click.Option(
                ["--password-stdin", "password_stdin"],
                is_flag=True,
                help="從標準輸入讀取密碼 / read the password from standard input.",
            )
        )
    inner: Callable[..., Any] = cmd.callback  # type: ignore[assignment]

    @functools.wraps(inner)
    def callback(*args: Any, **kwargs: Any) -> Any:
        app = click.get_current_context().find_object(AppContext)
        assert app is not None
        name = kwargs.pop("user_name", None)
        from_stdin = bool(kwargs.pop("password_stdin", False))
        kwargs["user"] = app.user(name, password_stdin=from_stdin)
        return inner(*args, **kwargs)

    cmd.callback = callback
    cmd.needs_user = True  # type: ignore[attr-defined]  # read by the channel-coverage test
    return cmd
