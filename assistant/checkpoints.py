"""The LangGraph checkpointer on the assistant's own database: one thread per conversation."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy.engine import make_url


def make_checkpointer(database_url: str, busy_timeout_ms: int) -> tuple[Any, Any]:
    """(checkpointer, resource to close). SQLite shares the app's file; PostgreSQL its server."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        from langgraph.checkpoint.sqlite import SqliteSaver

        # The saver serialises its own access with a lock, so one connection serves all threads.
        conn = sqlite3.connect(
            url.database or ":memory:", check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # durable at each WAL checkpoint, as the app
        saver = SqliteSaver(conn)
        saver.setup()
        return saver, conn
    if url.get_backend_name() == "postgresql":
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise RuntimeError(
                "PostgreSQL 需要 langgraph-checkpoint-postgres / install "
                "langgraph-checkpoint-postgres and psycopg[pool]"
            ) from exc
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        pool = ConnectionPool(
            conninfo,
            max_size=8,
            open=True,  # connect now: a wrong URL fails at start, not on the first answer
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        saver = PostgresSaver(pool)
        saver.setup()
        return saver, pool
    raise RuntimeError(f"不支援的資料庫 / unsupported database for conversations: {url.drivername}")
