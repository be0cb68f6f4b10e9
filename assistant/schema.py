"""The database schema, owned by the Alembic migrations in ``assistant/migrations``.

Stores never run DDL. The composition root passes each engine through ``ensure_schema`` once:

- a new database (none of the assistant's tables) is created by upgrading it to head, so a new
  data dir needs no extra step;
- a database at head costs one query and is left alone;
- anything else (behind head, or made by a release before the migrations existed) is refused
  with what to run: altering a bank's database, sealing its old audit records among it, is the
  operator's step (`assistant db upgrade`), not a side effect of whichever command runs first
  after an update. `assistant serve` runs that step itself at start.

Alembic is driven from code: the configuration is built here with ``script_location`` pointing
into the package, so an installed package needs no alembic.ini. A new revision is a new file in
``assistant/migrations/versions`` (``alembic.command.revision(alembic_config(), ...)`` writes one
from ``script.py.mako``); ``assistant db check`` then says whether the models and the migrations
agree.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, Engine, MetaData, inspect, text
from sqlalchemy.exc import DBAPIError

from assistant.db import immediate, make_engine
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
# A PostgreSQL advisory lock key: one schema change at a time across processes.
_PG_LOCK = "twfin_schema"

State = Literal["new", "current", "behind", "unversioned", "unknown"]

# Alembic's context and op are module-level proxies: two threads running migrations at once in
# one process would trample each other's, so this process runs one at a time.
_alembic_lock = threading.Lock()


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands against the migrations."""

    state: State
    current: tuple[str, ...]  # revisions stored in alembic_version; () when none
    head: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "current": ",".join(self.current) or None,
            "head": self.head,
        }


@dataclass(frozen=True)
class Upgrade:
    """What ``upgrade`` did: the revision before (None: no alembic_version) and after."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.before, "to": self.after, "upgraded": self.changed}


def target_metadata() -> MetaData:
    """Every table of the assistant as the models define them now."""
    # Importing the table modules registers them on SQLModel.metadata.
    from sqlmodel import SQLModel

    import assistant.credit.records
    import assistant.fraud.records
    import assistant.fx.records
    import assistant.modeleval.store
    import assistant.monitor.records
    import assistant.records  # noqa: F401
    import knowledge.catalog  # noqa: F401

    return SQLModel.metadata


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """For comparisons: only the assistant's tables. The conversation checkpointer keeps its
    own tables in the same database, and they are none of the migrations' business."""
    if type_ == "table":
        return name in target_metadata().tables
    return True


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code; env.py runs on ``connection``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    rev = _scripts().get_current_head()
    assert rev is not None, "no migrations found"
    return rev


def _current(conn: Connection) -> tuple[str, ...]:
    from alembic.migration import MigrationContext

    return tuple(MigrationContext.configure(conn).get_current_heads())


def status_on(conn: Connection) -> SchemaStatus:
    """Where the database behind ``conn`` stands; "new" means none of the assistant's tables
    (the checkpointer's own tables may already be there)."""
    revs = _current(conn)
    top = head()
    if revs:
        if revs == (top,):
            state: State = "current"
        elif all(_known(r) for r in revs):
            state = "behind"
        else:
            state = "unknown"  # written by a newer release than this one
    elif set(inspect(conn).get_table_names()) & set(target_metadata().tables):
        state = "unversioned"
    else:
        state = "new"
    return SchemaStatus(state, revs, top)


def _known(rev: str) -> bool:
    from alembic.util import CommandError

    try:
        return _scripts().get_revision(rev) is not None
    except CommandError:  # an id this release has no file for
        return False


def status(engine: Engine) -> SchemaStatus:
    with engine.connect() as conn:
        return status_on(conn)


def refusal(st: SchemaStatus) -> str:
    """The message for a database the gate will not open, Chinese first."""
    have = ",".join(st.current) or "無版本紀錄 / none"
    if st.state == "unknown":
        return (
            f"資料庫結構版本（{have}）比本程式新，請更新程式 / the database schema ({have}) is "
            f"newer than this release knows (head {st.head}): update the assistant"
        )
    return (
        f"資料庫結構需要升級，請先執行 assistant db upgrade（目前 {have}，最新 {st.head}）"
        f" / the database schema is out of date: run `assistant db upgrade` "
        f"(at {have}, head {st.head})"
    )


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[Connection]:
    """One transaction that holds the database's write lock from its first statement, so two
    processes cannot both decide a database is new and both create it, and a failed upgrade
    leaves nothing half-made (SQLite and PostgreSQL both roll DDL back)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            with immediate(conn) as locked:
                yield locked
            return
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": _PG_LOCK})
            yield conn


def _run_upgrade(conn: Connection, target: str) -> None:
    """Run the migrations on ``conn``, inside the caller's transaction (env.py sees it is
    already in one and leaves the commit to the caller)."""
    from alembic import command

    with _alembic_lock:
        command.upgrade(alembic_config(conn), target)


def upgrade(engine: Engine, target: str = "head") -> Upgrade:
    """Bring the database to ``target`` (head): create a new one, upgrade an old one."""
    from alembic.util import CommandError

    with _schema_lock(engine) as conn:
        st = status_on(conn)
        if st.state == "unknown":
            raise AssistantError(refusal(st))
        before = ",".join(st.current) or None
        try:
            _run_upgrade(conn, target)
        except CommandError as exc:
            raise AssistantError(f"資料庫升級失敗 / database upgrade failed: {exc}") from exc
        after = ",".join(_current(conn)) or None
    return Upgrade(before, after)


def upgrade_database(url: str, busy_timeout_ms: int = 10_000) -> Upgrade:
    """``upgrade`` on a database by URL, with an engine of its own that is closed after."""
    engine = make_engine(url, busy_timeout_ms)
    try:
        return upgrade(engine)
    finally:
        engine.dispose()


def ensure_schema(engine: Engine) -> None:
    """The gate: a new database is created at head, one at head passes, any other is refused
    with an ``AssistantError`` that says to run `assistant db upgrade`."""
    if status(engine).state == "current":
        return
    # Anything else is looked at again under the lock: the first look is two reads, and a
    # process creating the database may have committed between them (no version table yet,
    # then tables), which is neither new nor old.
    try:
        with _schema_lock(engine) as conn:
            st = status_on(conn)
            if st.state == "new":
                _run_upgrade(conn, "head")
                return
    except DBAPIError:
        # Lost a race the lock did not cover (a busy timeout ran out, a driver that does not
        # lock): whoever won has made it; look once more before giving up.
        st = status(engine)
        if st.state != "current":
            raise
    if st.state != "current":
        raise AssistantError(refusal(st))


def open_engine(url: str, busy_timeout_ms: int = 10_000) -> Engine:
    """An engine on a database whose schema is at head (see ``ensure_schema``)."""
    engine = make_engine(url, busy_timeout_ms)
    try:
        ensure_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def differences(engine: Engine) -> list[Any]:
    """What autogenerate would write to go from the database to the models: empty when the
    migrations made what the models describe (`alembic check`'s comparison)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_name": include_name, "compare_type": True}
        )
        return list(compare_metadata(ctx, target_metadata()))


def describe(diff: Sequence[Any]) -> list[str]:
    """One readable line per difference ``differences`` found."""
    lines: list[str] = []
    for item in diff:
        if isinstance(item, list):  # column changes come grouped
            lines.extend(describe(item))
            continue
        op = item[0]
        if op in ("add_table", "remove_table"):
            lines.append(f"{op} {item[1].name}")
        elif op in ("add_column", "remove_column"):
            lines.append(f"{op} {item[2]}.{item[3].name} {item[3].type}")
        elif op in ("add_index", "remove_index"):
            ix = item[1]
            cols = ", ".join(c.name for c in ix.columns)
            lines.append(f"{op} {ix.name} on {ix.table.name} ({cols})")
        elif op.startswith("modify_"):
            _, _, table, column, _, old, new = item
            lines.append(f"{op} {table}.{column}: {old} -> {new}")
        else:
            obj = item[1]
            table = getattr(getattr(obj, "table", None), "name", "")
            lines.append(f"{op} {getattr(obj, 'name', None) or obj} {table}".rstrip())
    return lines
