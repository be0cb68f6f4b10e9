"""The audit trail: one record per answer or decision, hash-chained and append-only, and the
feedback people give on answers.

Appends are serialised so the chain cannot fork: the head is read and the next record written
in one transaction that only one writer holds at a time. On SQLite that is ``BEGIN IMMEDIATE``
(the database's single write lock, taken before the head is read, so a second appender waits
on the busy timeout instead of reading a stale head). On PostgreSQL it is ``SELECT … FOR
UPDATE`` on the one-row ``audit_chain`` head table: it locks exactly what an append depends on,
is released by commit or rollback (nothing to leak), and unlike an advisory lock it cannot be
forgotten by a writer that goes through the table, and it shows a deleted tail on verify. The
unique index on ``seq`` backs both up: a fork fails to commit.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import Connection, Engine, Table, insert, select, update
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from assistant.answers import Answer
from assistant.audit_chain import (
    CHAIN_VERSION,
    HASHED_FIELDS,
    ChainHead,
    VerifyReport,
    canonical_json,
    json_safe,
    record_hash,
    tool_call_digest,
    utc_naive,
    verify_chain,
)
from assistant.dates import TAIPEI
from assistant.db import immediate
from assistant.errors import AssistantError, AuthError, NotFound
from assistant.permissions import UserContext
from assistant.records import (
    AuditChainRow,
    AuditRow,
    ConversationRow,
    FeedbackRow,
    ModelFingerprintRow,
)
from assistant.textfiles import spreadsheet_safe

AUDIT = cast(Table, AuditRow.__table__)
HEAD = cast(Table, AuditChainRow.__table__)

# Export ranges are the bank's calendar days. Taiwan has kept UTC+8 without DST since 1979.


ExportFormat = Literal["jsonl", "csv"]


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        # No schema work here: the chain's columns, head row and triggers come from the
        # migrations (assistant.audit_schema, run by `assistant db upgrade`).

    # ---- chain upkeep -------------------------------------------------------------------

    @contextmanager
    def _serialised(self) -> Iterator[Connection]:
        """A transaction that no other appender runs alongside (see the module docstring)."""
        with self._engine.connect() as conn:
            if not self._sqlite:
                with conn.begin():
                    yield conn
                return
            # The driver's own BEGIN is deferred: it would take the write lock only at the
            # INSERT, after the head was read, and two appenders could read the same head.
            with immediate(conn) as locked:
                yield locked

    def _append(self, fields: dict[str, Any]) -> int:
        """Write the next record of the chain; returns its id."""
        with self._serialised() as conn:
            head = conn.execute(
                select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1).with_for_update()
            ).first()
            if head is None:
                # The migrations make the head row; without it nothing can be chained onto.
                raise AssistantError(
                    "稽核鏈的起點紀錄（audit_chain）不存在，請執行 assistant audit verify 並通知"
                    "管理者 / the audit chain's head row is missing: run `assistant audit "
                    "verify` and tell the administrator"
                )
            seq = int(head.seq) + 1
            # Stamped under the lock, so time order and chain order agree.
            row = {
                **fields,
                "seq": seq,
                "prev_hash": head.hash,
                "created_at": datetime.now(UTC),
            }
            row["hash"] = record_hash(row)
            result = conn.execute(insert(AUDIT).values(**row))
            conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=seq, hash=row["hash"]))
            record_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
            assert record_id is not None
            return int(record_id)

    # ---- writing ------------------------------------------------------------------------

    def record(
        self,
        user: UserContext,
        question: str,
        answer: Answer,
        chunks: list[dict[str, Any]],
        model_sha256: str,
    ) -> int:
        tool_calls = []
        for t in answer.tool_calls:
            args = json_safe(t.args)
            tool_calls.append(
                {
                    "name": t.name,
                    "args": args,
                    "summary": t.summary,
                    "ok": t.ok,
                    # The summary is what the trail keeps of a result; the digest pins it.
                    "digest": tool_call_digest(t.name, args, t.summary, t.ok),
                }
            )
        return self._append(
            {
                "kind": "answer",
                "user_name": user.name,
                "user_role": user.role,
                "conversation_id": answer.conversation_id,
                "question": question,
                "agent": answer.agent,
                "route_method": answer.route_method,
                "chunks": json_safe(chunks),
                "tool_calls": tool_calls,
                "answer": answer.answer,
                "model": answer.model,
                "model_sha256": model_sha256,
                "generated": answer.generated,
                "no_basis": answer.no_basis,
                "refused": answer.refused,
                "llm_calls": int(answer.llm_calls),
                "latency_ms": float(round(answer.latency_ms, 1)),
                "model_ms": float(round(answer.model_ms, 1)),
            }
        )

    def record_action(
        self,
        user: UserContext,
        *,
        conversation_id: str | None,
        action: str,
        args: dict[str, Any],
        outcome: str,
        agent: str = "",
    ) -> int:
        """Record a decision a person took outside a chat answer (confirming an account flag,
        approving a credit memo), in the same chain as the answers it may rest on."""
        safe_args = json_safe(args)
        described = canonical_json(safe_args)
        if len(described) > 300:
            described = described[:300] + "…"
        return self._append(
            {
                "kind": "action",
                "user_name": user.name,
                "user_role": user.role,
                "conversation_id": conversation_id or "",
                "question": f"{action} {described}".replace("\n", " "),
                "agent": agent,
                "route_method": "action",
                "chunks": [],
                "tool_calls": [
                    {
                        "name": action,
                        "args": safe_args,
                        "digest": tool_call_digest(action, safe_args, outcome, True),
                        "ok": True,
                        "summary": outcome,
                    }
                ],
                "answer": outcome,
                "model": "",
                "model_sha256": "",
                "generated": False,
                "no_basis": False,
                "refused": None,
                "llm_calls": 0,
                "latency_ms": 0.0,
                "model_ms": 0.0,
            }
        )

    # ---- reading ------------------------------------------------------------------------

    def get(self, audit_id: int) -> AuditRow:
        with Session(self._engine) as s:
            row = s.get(AuditRow, audit_id)
        if row is None:
            raise NotFound(f"沒有這筆紀錄 / no such audit record: {audit_id}")
        return row

    def recent(self, limit: int = 50, user_name: str | None = None) -> list[AuditRow]:
        with Session(self._engine) as s:
            stmt = sm_select(AuditRow).order_by(col(AuditRow.id).desc()).limit(limit)
            if user_name:
                stmt = stmt.where(AuditRow.user_name == user_name)
            return list(s.exec(stmt))

    def head(self) -> ChainHead:
        with self._engine.connect() as conn:
            row = conn.execute(select(HEAD).where(HEAD.c.id == 1)).mappings().one()
        return ChainHead(
            seq=int(row["seq"]),
            hash=str(row["hash"]),
            sealed_through=row["sealed_through"],
            sealed_at=row["sealed_at"],
        )

    def verify(self, max_problems: int = 100) -> VerifyReport:
        """Walk the whole chain; see ``assistant.audit_chain.verify_chain``."""
        columns = [AUDIT.c.id, AUDIT.c.hash, *(AUDIT.c[name] for name in HASHED_FIELDS)]
        head = self.head()
        with self._engine.connect() as conn:
            chained = conn.execute(
                select(*columns).where(AUDIT.c.seq.is_not(None)).order_by(AUDIT.c.seq)
            ).mappings()
            unchained = (
                conn.execute(select(AUDIT.c.id).where(AUDIT.c.seq.is_(None)).order_by(AUDIT.c.id))
                .mappings()
                .all()
            )
            return verify_chain(chained, head, unchained, max_problems=max_problems)

    # ---- export -------------------------------------------------------------------------

    def export(
        self,
        out: Path,
        start: date,
        end: date,
        *,
        user: UserContext,
        fmt: ExportFormat = "jsonl",
        unmasked: bool = False,
    ) -> dict[str, Any]:
        """Write the records of ``start``–``end`` (Taipei calendar days, inclusive) to ``out``
        for a regulator, with a manifest first; returns the manifest plus the file's sha256.

        Customer identifiers are masked unless ``unmasked`` (the audit desk decides who may ask
        for that, and records the export). Masked records keep their original hashes: the links between them can still be checked,
        their own hashes only against the unmasked trail.
        """
        if end < start:
            raise ValueError(f"結束日早於開始日 / --to is before --from: {start} > {end}")
        lo = datetime.combine(start, time.min, TAIPEI).astimezone(UTC)
        hi = datetime.combine(end + timedelta(days=1), time.min, TAIPEI).astimezone(UTC)
        report = self.verify()
        head = report.head
        columns = [AUDIT.c.id, AUDIT.c.hash, *(AUDIT.c[name] for name in HASHED_FIELDS)]
        with self._engine.connect() as conn:
            rows = (
                conn.execute(
                    select(*columns)
                    .where(
                        AUDIT.c.seq.is_not(None),
                        # Nothing past the head the manifest names, even if appended meanwhile.
                        AUDIT.c.seq <= (head.seq if head else 0),
                        AUDIT.c.created_at >= lo,
                        AUDIT.c.created_at < hi,
                    )
                    .order_by(AUDIT.c.seq)
                )
                .mappings()
                .all()
            )
        records = [export_record(r, masked=not unmasked) for r in rows]
        body = _render(records, fmt)
        first = report.first
        manifest: dict[str, Any] = {
            "type": "manifest",
            "from": start.isoformat(),
            "to": end.isoformat(),
            "timezone": "Asia/Taipei (UTC+08:00)",
            "from_utc": utc_naive(lo).isoformat() + "Z",
            "to_utc_exclusive": utc_naive(hi).isoformat() + "Z",
            "count": len(records),
            "first_seq": records[0]["seq"] if records else None,
            "last_seq": records[-1]["seq"] if records else None,
            "chain_head": {"seq": head.seq, "hash": head.hash} if head else None,
            "sealed": {
                "through_seq": head.sealed_through,
                "at": utc_naive(head.sealed_at).isoformat() + "Z",
                "note": "這些紀錄於導入雜湊鏈時才串接 / records up to this seq were chained "
                "when the chain was introduced, not when they were written",
            }
            if head and head.sealed_through and head.sealed_at
            else None,
            "chain_verified": report.ok,
            "chain_first_problem": (
                {"seq": first.seq, "reason": first.reason, "message": first.message}
                if first
                else None
            ),
            "masked": not unmasked,
            "exported_at": utc_naive(datetime.now(UTC)).isoformat() + "Z",
            "exported_by": {"name": user.name, "role": user.role},
            "format": fmt,
            "hash_algorithm": "sha256",
            "canonical_form": (
                "hash = sha256(UTF-8 JSON, keys sorted, no spaces, ensure_ascii off) of the "
                f"fields in hashed_fields plus v={CHAIN_VERSION}; created_at as UTC "
                "YYYY-MM-DDTHH:MM:SS.ffffff without zone; prev_hash of seq 1 = 64 zeros"
            ),
            "hashed_fields": list(HASHED_FIELDS),
            "records_sha256": hashlib.sha256(body).hexdigest(),
        }
        head_line = canonical_json(manifest)
        data = (head_line if fmt == "jsonl" else "# " + head_line).encode("utf-8") + b"\n" + body
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        file_sha = hashlib.sha256(data).hexdigest()
        # sha256sum's format, so `sha256sum -c` checks the file against it.
        out.with_name(out.name + ".sha256").write_text(f"{file_sha}  {out.name}\n", "utf-8")
        return {**manifest, "file": str(out), "sha256": file_sha}

    # ---- feedback and fingerprints ------------------------------------------------------

    def feedback(self, user: UserContext, audit_id: int, rating: int, comment: str = "") -> int:
        if rating not in (1, -1):
            raise ValueError("rating must be +1 or -1")
        if user.user_id is None:
            raise AuthError(f"使用者未登記 / user is not registered: {user.name}")
        with Session(self._engine) as s:
            record = s.get(AuditRow, audit_id)
            conv = s.get(ConversationRow, record.conversation_id) if record else None
            # Feedback only on answers given to this user.
            if record is None or conv is None or conv.user_id != user.user_id:
                raise NotFound(f"沒有這則回答 / no such answer: {audit_id}")
            row = FeedbackRow(
                audit_id=audit_id, user_id=user.user_id, rating=rating, comment=comment.strip()
            )
            s.add(row)
            s.commit()
            s.refresh(row)
            assert row.id is not None
            return row.id

    def feedback_for(self, audit_id: int) -> list[FeedbackRow]:
        with Session(self._engine) as s:
            return list(s.exec(sm_select(FeedbackRow).where(FeedbackRow.audit_id == audit_id)))

    def fingerprint(self, path: Path) -> str:
        """sha256 of a model file, cached by (path, size, mtime): hashing GBs takes seconds."""
        stat = path.stat()
        key = str(path.resolve())
        with Session(self._engine) as s:
            row = s.get(ModelFingerprintRow, key)
            if row and row.size == stat.st_size and row.mtime_ns == stat.st_mtime_ns:
                return row.sha256
        with path.open("rb") as fh:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
        with Session(self._engine) as s:
            s.merge(
                ModelFingerprintRow(
                    path=key, size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=sha
                )
            )
            s.commit()
        return sha


def _mask_value(value: Any) -> Any:
    from assistant.pii import mask

    if isinstance(value, str):
        return mask(value, style="partial")
    if isinstance(value, list):
        return [_mask_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    return value


def mask_record(record: dict[str, Any]) -> dict[str, Any]:
    """Customer identifiers masked in the free text a record carries: the question, the answer,
    a refusal, tool arguments and summaries. Hashes, digests and staff names are left alone."""
    out = dict(record)
    for name in ("question", "answer", "refused"):
        if isinstance(out.get(name), str):
            out[name] = _mask_value(out[name])
    out["tool_calls"] = [
        {
            **call,
            **{k: _mask_value(call[k]) for k in ("args", "summary") if k in call},
        }
        for call in (out.get("tool_calls") or [])
    ]
    return out


def export_record(row: Any, *, masked: bool) -> dict[str, Any]:
    """A record as an export line: every hashed field, its id and hash, times in UTC with Z."""
    record: dict[str, Any] = {"type": "record", "id": row["id"]}
    for name in HASHED_FIELDS:
        record[name] = row[name]
    record["created_at"] = utc_naive(row["created_at"]).isoformat(timespec="microseconds") + "Z"
    record["chunks"] = json_safe(record["chunks"] or [])
    record["tool_calls"] = json_safe(record["tool_calls"] or [])
    record["hash"] = row["hash"]
    return mask_record(record) if masked else record


_CSV_JSON_COLUMNS = ("chunks", "tool_calls")


def _render(records: list[dict[str, Any]], fmt: ExportFormat) -> bytes:
    if fmt == "jsonl":
        return "".join(canonical_json(r) + "\n" for r in records).encode("utf-8")
    buf = io.StringIO()
    names = ["id", *HASHED_FIELDS, "hash"]
    writer = csv.DictWriter(buf, fieldnames=names, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in records:
        row = {**r, **{c: json.dumps(r[c], ensure_ascii=False) for c in _CSV_JSON_COLUMNS}}
        # a user's question or an answer opened in a spreadsheet is text, never a formula; the
        # JSONL export is the record exactly as hashed
        writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
    return buf.getvalue().encode("utf-8")
