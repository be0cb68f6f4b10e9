"""Database engine: SQLite by default (WAL, busy timeout), PostgreSQL or any SQLAlchemy URL.

An engine is only a connection pool: the schema comes from the migrations (``assistant.schema``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import create_engine


def make_engine(url: str, busy_timeout_ms: int = 10_000) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            # WAL lets readers go on while one writer writes; the busy timeout makes writers
            # queue instead of failing with "database is locked".
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    # No DDL here: the schema is the migrations' (assistant.schema); stores only read and
    # write rows.
    return engine


@contextmanager
def immediate(conn: Connection) -> Iterator[Connection]:
    """A SQLite transaction that holds the write lock from its first statement. pysqlite's own
    BEGIN is deferred (and skipped before DDL), so a reader that means to write could read
    first and be overtaken; BEGIN IMMEDIATE makes a second writer wait on the busy timeout."""
    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    conn.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.exec_driver_sql("COMMIT")
    except BaseException:
        conn.exec_driver_sql("ROLLBACK")
        raise
