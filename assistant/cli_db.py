"""`assistant db …`: the database schema (Alembic migrations, see ``assistant.schema``).

These commands open the database without the container's gate: upgrading a database the gate
refuses is what they are for.
"""

from __future__ import annotations

import click
from sqlalchemy.engine import Engine, make_url

from assistant import schema
from assistant.cli_support import AppContext, emit_json, pass_app
from assistant.db import make_engine


def _engine(app: AppContext) -> Engine:
    app.settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(app.settings.database_url, app.settings.database.busy_timeout_ms)


def _where(app: AppContext) -> str:
    return make_url(app.settings.database_url).render_as_string(hide_password=True)


@click.group("db")
def db() -> None:
    """資料庫結構與升級 / the database schema and its migrations."""


@db.command("upgrade")
@click.option("--json", "as_json", is_flag=True, help="Print the revisions as JSON.")
@pass_app
def db_upgrade(app: AppContext, as_json: bool) -> None:
    """升級資料庫結構到最新版 / bring the database schema to the latest revision.

    \b
    A new database is created; one made by an earlier release is upgraded in place, its
    rows kept (old audit records are sealed into the hash chain once).
    """
    engine = _engine(app)
    try:
        done = schema.upgrade(engine)
    finally:
        engine.dispose()
    if as_json:
        emit_json({**done.to_dict(), "database": _where(app)})
    elif done.changed:
        click.echo(
            f"資料庫結構已升級 / database schema upgraded: {done.before or '無 none'} → {done.after}"
        )
    else:
        click.echo(f"資料庫結構已是最新 / database schema already at {done.after}")


@db.command("current")
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
@pass_app
def db_current(app: AppContext, as_json: bool) -> None:
    """顯示資料庫結構版本 / show the database's schema revision and the latest one."""
    engine = _engine(app)
    try:
        st = schema.status(engine)
    finally:
        engine.dispose()
    if as_json:
        emit_json({**st.to_dict(), "database": _where(app)})
        return
    have = ",".join(st.current) or "無 none"
    notes = {
        "current": "最新 / up to date",
        "new": "新資料庫，首次使用時建立 / new: created on first use",
        "behind": "需要升級 / behind: run `assistant db upgrade`",
        "unversioned": "舊版建立，需要升級 / made before migrations: run `assistant db upgrade`",
        "unknown": "比本程式新 / newer than this release",
    }
    click.echo(f"{have} (head {st.head}): {notes[st.state]}")


@db.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@pass_app
def db_check(app: AppContext, as_json: bool) -> None:
    """比對資料表定義與遷移 / compare the models with the schema the migrations made.

    \b
    Exit 0 when they agree; 1 with the differences when a model changed without a
    migration (or someone altered the database by hand).
    """
    engine = _engine(app)
    try:
        schema.ensure_schema(engine)  # a new database is made by the migrations first
        lines = schema.describe(schema.differences(engine))
    finally:
        engine.dispose()
    if as_json:
        emit_json({"ok": not lines, "differences": lines, "head": schema.head()})
    elif lines:
        click.echo("資料表定義與遷移不一致 / the models and the migrations differ:")
        for line in lines:
            click.echo(f"  {line}")
    else:
        click.echo(f"資料表定義與遷移一致 / models and migrations agree (head {schema.head()})")
    if lines:
        click.get_current_context().exit(1)


def upgrade_at_start(app: AppContext) -> None:
    """For `assistant serve`: the operator who starts the server upgrades the schema."""
    done = schema.upgrade_database(app.settings.database_url, app.settings.database.busy_timeout_ms)
    if done.changed:
        click.echo(
            f"資料庫結構已升級 / database schema upgraded: {done.before or '無 none'} → {done.after}",
            err=True,
        )
