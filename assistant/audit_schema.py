"""The audit trail's schema work, called by the migrations only (``assistant/migrations``).

What the chain needs from the database beyond plain tables: the chain columns an audit_record
made before the chain lacks, the sealing of the rows written before it, and the triggers that
refuse UPDATE and DELETE. ``AuditLog`` never calls any of this at run time: the schema belongs
to Alembic, and a store that altered it on start would race the other processes starting too.

The helpers take the tables as arguments: a migration passes its own frozen definitions, so
what it does stays the same when the models move on.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Connection, Table, insert, inspect, select, text, update

from assistant.audit_chain import GENESIS_HASH, record_hash

log = logging.getLogger(__name__)

AUDIT_TABLE = "audit_record"
# Columns the chain added to audit_record; an older database gets them by ALTER TABLE,
# nullable because the rows already there have no values until they are sealed.
CHAIN_COLUMNS = {
    "seq": "INTEGER",
    "prev_hash": "VARCHAR(64)",
    "hash": "VARCHAR(64)",
    "kind": "VARCHAR(16)",
}
SEQ_INDEX = "ix_audit_record_seq"  # the name the models give it, so both paths agree
APPEND_ONLY_MSG = "稽核紀錄只能新增，不能修改或刪除 / audit records are append-only"
_PG_FUNCTION = "audit_record_append_only"
_OPS = ("UPDATE", "DELETE")


def add_chain_columns(conn: Connection) -> list[str]:
    """Give an audit_record made before the chain its chain columns and the unique index on
    ``seq``; returns the columns added (none on a table made with them)."""
    names = {c["name"] for c in inspect(conn).get_columns(AUDIT_TABLE)}
    added = [name for name in CHAIN_COLUMNS if name not in names]
    for name in added:
        conn.exec_driver_sql(f"ALTER TABLE {AUDIT_TABLE} ADD COLUMN {name} {CHAIN_COLUMNS[name]}")
        log.info("audit_record: added column %s", name)
    conn.exec_driver_sql(f"CREATE UNIQUE INDEX IF NOT EXISTS {SEQ_INDEX} ON {AUDIT_TABLE} (seq)")
    return added


def has_head(conn: Connection, head: Table) -> bool:
    return conn.execute(select(head.c.id).where(head.c.id == 1)).first() is not None


def seal(conn: Connection, audit: Table, head: Table) -> int | None:
    """Create the chain's head row; chain the rows written before the chain, in id order.

    Returns the seq sealed through (None when there was nothing to seal). The head records up
    to which seq and when, because the chain can attest those rows only from that moment. The
    append-only triggers must not be in place yet: sealing writes the chain columns.
    """
    last = conn.execute(
        select(audit.c.seq, audit.c.hash)
        .where(audit.c.seq.is_not(None))
        .order_by(audit.c.seq.desc())
        .limit(1)
    ).first()
    # Chained rows without a head: the head row was removed. Take the chain up from its
    # last record; sealing anything now would pass later insertions off as old rows.
    seq, prev = (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)
    sealed_through: int | None = None
    now = datetime.now(UTC)
    if last is None:
        after = 0
        while True:
            batch = (
                conn.execute(
                    select(audit)
                    .where(audit.c.seq.is_(None), audit.c.id > after)
                    .order_by(audit.c.id)
                    .limit(500)
                )
                .mappings()
                .all()
            )
            if not batch:
                break
            for row in batch:
                seq += 1
                fields = {**row, "seq": seq, "prev_hash": prev, "kind": row["kind"] or "answer"}
                prev = record_hash(fields)
                conn.execute(
                    update(audit)
                    .where(audit.c.id == row["id"])
                    .values(seq=seq, prev_hash=fields["prev_hash"], hash=prev, kind=fields["kind"])
                )
            after = int(batch[-1]["id"])
        if seq:
            sealed_through = seq
            log.warning("audit_record: sealed %d records written before the chain", seq)
    conn.execute(
        insert(head).values(
            id=1,
            seq=seq,
            hash=prev,
            sealed_through=sealed_through,
            sealed_at=now if sealed_through else None,
            created_at=now,
        )
    )
    return sealed_through


def create_triggers(conn: Connection) -> None:
    """Refuse UPDATE and DELETE on audit records in the database itself.

    A person with the database file can drop the triggers; the hash chain is what shows the
    edit then. The triggers stop the honest mistakes: a script, an ORM merge, a cleanup.
    Idempotent on both dialects; other engines get none (the chain still shows edits).
    """
    dialect = conn.dialect.name
    if dialect == "sqlite":
        for op in _OPS:
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS {AUDIT_TABLE}_no_{op.lower()} "
                f"BEFORE {op} ON {AUDIT_TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MSG}'); END"
            )
    elif dialect == "postgresql":
        conn.exec_driver_sql(
            f"CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{APPEND_ONLY_MSG}'; END $$"
        )
        for op in _OPS:
            name = f"{AUDIT_TABLE}_no_{op.lower()}"
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {AUDIT_TABLE}")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {name} BEFORE {op} ON {AUDIT_TABLE} "
                f"FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}()"
            )


def drop_triggers(conn: Connection) -> None:
    """Take the append-only triggers away (to seal, or to go below the first revision)."""
    dialect = conn.dialect.name
    for op in _OPS:
        name = f"{AUDIT_TABLE}_no_{op.lower()}"
        if dialect == "sqlite":
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        elif dialect == "postgresql":
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {AUDIT_TABLE}")


def trigger_count(conn: Connection) -> int:
    """How many user triggers audit_record has (2 when it is append-only)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        sql = "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND tbl_name=:t"
    elif dialect == "postgresql":
        sql = (
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) "
            "AND NOT tgisinternal"
        )
    else:
        return 0
    return int(conn.execute(text(sql), {"t": AUDIT_TABLE}).scalar_one())
