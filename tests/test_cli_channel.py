"""The command line is a channel like the page: every command that reads customer data or
takes a decision needs a user, and stops, changing nothing, without one.

The test walks the whole command tree, so a new command must be classified here: marked with
``needs_user`` (it reaches a desk with the caller) or listed as open with the reason."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from assistant.cli import _register, cli
from tests.conftest import make_settings

# Commands that touch no customer data and decide nothing: the knowledge base of public law,
# public board rates, the ledger's counts, settings, schema, evaluations of files given to them.
OPEN = {
    "ingest laws": "public law text",
    "ingest docs": "the bank's own policies, not customer data",
    "search": "regulations",
    "status": "what is indexed",
    "config show": "settings",
    "serve": "the page asks for a login itself",
    "login": "makes the login",
    "logout": "ends it",
    "whoami": "says who is logged in (and needs a session to say it)",
    "users add": "the first account on a new installation; later an admin (checked in the desk)",
    "users passwd": "one's own password, or an admin's change (checked in the desk)",
    "fx import-rates": "public board rates",
    "fx rate": "public board rates",
    "fx history": "public board rates",
    "fx convert": "arithmetic on public rates",
    "fx check": "the declaration rules for an amount, no customer named",
    "fx carry": "the customs rules for the cash carried, no customer named",
    "fx rules": "the rule table",
    "fraud status": "counts only",
    "db upgrade": "schema",
    "db current": "schema",
    "db check": "schema",
    # Model files, like the schema: install-time acts of whoever operates the machine (the
    # files, the selection in the data folder), no customer data, no decision on anyone.
    "model install": "installs a model file, like db upgrade",
    "model list": "the model files",
    "model use": "selects the model file for later runs, like db upgrade",
    "model path": "a model file's path",
    "model remove": "deletes a model file, like db upgrade",
}
OPEN_GROUPS = {"eval"}  # evaluations read the files given to them, as the evaluation account


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            out += _commands(cmd, path + " ")
        else:
            out.append((path, cmd))
    return out


_register()
COMMANDS = _commands(cli)
PROTECTED = [(p, c) for p, c in COMMANDS if getattr(c, "needs_user", False)]


def test_every_command_is_classified() -> None:
    unclassified = [
        p
        for p, c in COMMANDS
        if not getattr(c, "needs_user", False) and p not in OPEN and p.split()[0] not in OPEN_GROUPS
    ]
    assert unclassified == [], f"classify these commands (needs_user or OPEN): {unclassified}"
    # Marked commands are not also listed as open, and the open list names real commands.
    names = {p for p, _ in COMMANDS}
    assert not [p for p, _ in PROTECTED if p in OPEN]
    assert {p for p in OPEN if p.split()[0] != "db"} <= names
    # The commands the issue names are protected.
    protected = {p for p, _ in PROTECTED}
    assert {
        "ask",
        "review",
        "fraud trace",
        "fraud account",
        "fraud score",
        "fraud confirm",
        "credit extract",
        "credit memo",
        "credit review",
        "audit export",
        "audit list",
        "admin model",
    } <= protected


def _argument(param: click.Parameter, tmp: Path) -> str:
    """A value click accepts for ``param``: the command must get as far as asking who calls."""
    t = param.type
    if isinstance(t, click.Path):
        if t.dir_okay and not t.file_okay:
            folder = tmp / f"dir-{param.name}"
            folder.mkdir(exist_ok=True)
            return str(folder)
        f = tmp / f"file-{param.name}.pdf"
        f.write_bytes(b"%PDF-1.4\n")
        return str(f)
    if isinstance(t, click.Choice):
        return str(t.choices[0])
    if isinstance(t, (click.types.IntParamType, click.types.FloatParamType)):
        return "1"
    if param.callback is not None:  # options read by a callback here are dates
        return "2024-01-01"
    return "0123456789012"


def _args_for(cmd: click.Command, tmp: Path) -> list[str]:
    args: list[str] = []
    for p in cmd.params:
        if isinstance(p, click.Argument):
            args.append(_argument(p, tmp))
        elif isinstance(p, click.Option) and p.required:
            args += [p.opts[0], _argument(p, tmp)]
    return args


@pytest.mark.parametrize("path", [p for p, _ in PROTECTED])
def test_without_a_user_a_protected_command_stops_and_changes_nothing(
    path: str, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from assistant.schema import open_engine

    cmd = dict(COMMANDS)[path]
    data = tmp_path / "data"
    env = {
        "ASSISTANT_USER": "",
        "ASSISTANT_PASSWORD": "",
        "ASSISTANT_SESSION": "",
        "ASSISTANT_UI_CLI_SESSION_FILE": str(tmp_path / "no-sessions.json"),
    }
    args = ["--data-dir", str(data), *path.split(), *_args_for(cmd, tmp_path)]
    result = CliRunner().invoke(cli, args, env=env, input="")
    assert result.exit_code == 1, (path, result.output)
    assert "需要登入" in result.output and "needs a user" in result.output, result.output
    # Through the gate: a command that stopped before the database leaves none to read yet.
    engine = open_engine(make_settings(data).database_url)
    try:
        with engine.connect() as db:
            assert db.execute(text("SELECT count(*) FROM audit_record")).scalar() == 0
            assert db.execute(text("SELECT count(*) FROM fraud_transfer")).scalar() == 0
            assert db.execute(text("SELECT count(*) FROM credit_memo")).scalar() == 0
    finally:
        engine.dispose()
