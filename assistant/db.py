"""Database engine: SQLite by default (WAL, busy timeout), PostgreSQL or any SQLAlchemy URL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, create_engine


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
    # Importing the table modules registers them on SQLModel.metadata.
    import assistant.credit.records
    import assistant.fraud.records
    import assistant.fx.records
    import assistant.modeleval.store
    import assistant.records  # noqa: F401
    import knowledge.catalog  # noqa: F401

    SQLModel.metadata.create_all(engine)
    _widen_fingerprint(engine)
    return engine


def _widen_fingerprint(engine: Engine) -> None:
    """A PostgreSQL database made when the model fingerprint's size and mtime were plain
    INTEGER (32-bit there: every insert overflowed) gets them as BIGINT. SQLite is 64-bit."""
    if engine.dialect.name != "postgresql":
        return
    from sqlalchemy import BigInteger, inspect

    cols = {c["name"]: c["type"] for c in inspect(engine).get_columns("model_fingerprint")}
    narrow = [n for n in ("size", "mtime_ns") if n in cols and not isinstance(cols[n], BigInteger)]
    if narrow:
        with engine.begin() as conn:
            for name in narrow:
                conn.exec_driver_sql(
                    f"ALTER TABLE model_fingerprint ALTER COLUMN {name} TYPE BIGINT"
                )
