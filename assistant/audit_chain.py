"""The audit trail's hash chain: canonical form, record hashes, and the walk that checks them.

Plain functions over plain dicts, no database: ``AuditLog`` reads the rows and writes them, and
a regulator holding an export can run the same checks on the exported lines.

A record's hash is sha256 over the canonical JSON of every column except ``id`` (a storage
detail: the chain's order is ``seq``) and ``hash`` itself, so ``seq`` and ``prev_hash`` are
covered: a record cannot be renumbered or re-linked without changing its hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

# Version of the canonical form, hashed with every record: a future change of form can be told
# apart from tampering, and records of both forms can be checked side by side.
CHAIN_VERSION = 1
# prev_hash of seq 1: nothing comes before it.
GENESIS_HASH = "0" * 64

# Every hashed column and the type it is read back as. Values are coerced to these before
# hashing, because a value written as int 0 into a float column is read back as 0.0, and the
# hash must be the same on the way in and on the way out.
HASHED_FIELDS: dict[str, type] = {
    "seq": int,
    "prev_hash": str,
    "kind": str,
    "created_at": datetime,
    "user_name": str,
    "user_role": str,
    "conversation_id": str,
    "question": str,
    "agent": str,
    "route_method": str,
    "chunks": list,
    "tool_calls": list,
    "answer": str,
    "model": str,
    "model_sha256": str,
    "generated": bool,
    "no_basis": bool,
    "refused": str,
    "llm_calls": int,
    "latency_ms": float,
    "model_ms": float,
}

Reason = Literal["edited", "deleted", "reordered", "duplicate", "unchained"]

REASONS: dict[str, str] = {
    "edited": "內容與雜湊不符，紀錄遭修改 / hash mismatch: the record was edited",
    "deleted": "序號中斷，紀錄遭刪除 / gap in the sequence: records were deleted",
    "reordered": "與前一筆的雜湊連結不符，順序遭調換或有插入 / "
    "prev_hash mismatch: records were reordered or inserted",
    "duplicate": "序號重複，雜湊鏈分岔 / duplicate sequence number: the chain forked",
    "unchained": "紀錄不在雜湊鏈上 / record outside the chain (no seq or hash)",
}


def utc_naive(value: datetime) -> datetime:
    """UTC without tzinfo: one text for one instant, whether the value came in aware (as the
    columns return it), naive UTC (a raw sqlite3 read) or from an export line."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def json_safe(value: Any) -> Any:
    """``value`` as it comes back from a JSON column (tuples as lists, dates as text), so the
    stored form and the hashed form are the same."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text kept as is: one byte string per value."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest(value: Any) -> str:
    """sha256 of ``value``'s canonical JSON: what a tool call is summarised by in the trail."""
    return sha256_hex(canonical_json(json_safe(value)))


def tool_call_digest(name: str, args: Any, summary: Any, ok: bool) -> str:
    return digest({"name": name, "args": args, "summary": summary, "ok": ok})


def _coerce(name: str, value: Any) -> Any:
    if value is None:
        return None
    kind = HASHED_FIELDS[name]
    if kind is datetime:
        if isinstance(value, str):  # an exported line, or a raw sqlite3 read
            value = datetime.fromisoformat(value.replace(" ", "T"))
        return utc_naive(value).isoformat(timespec="microseconds")
    if kind is list:
        return json_safe(value)
    if kind is bool:
        return bool(value)
    if kind is int:
        return int(value)
    if kind is float:
        return float(value)
    return str(value)


def canonical_record(row: Mapping[str, Any]) -> str:
    """The text a record's hash is taken over. A missing column hashes as null."""
    body = {name: _coerce(name, row.get(name)) for name in HASHED_FIELDS}
    body["v"] = CHAIN_VERSION
    return canonical_json(body)


def record_hash(row: Mapping[str, Any]) -> str:
    return sha256_hex(canonical_record(row))


@dataclass
class Problem:
    reason: Reason
    seq: int | None
    record_id: int | None
    detail: str = ""

    @property
    def message(self) -> str:
        return REASONS[self.reason]


@dataclass
class ChainHead:
    seq: int
    hash: str
    sealed_through: int | None = None
    sealed_at: datetime | None = None


@dataclass
class VerifyReport:
    ok: bool
    records: int
    head: ChainHead | None
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False  # more problems than were kept

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        head = None
        if self.head is not None:
            head = asdict(self.head)
            if self.head.sealed_at is not None:
                head["sealed_at"] = utc_naive(self.head.sealed_at).isoformat() + "Z"
        first = self.first
        return {
            "ok": self.ok,
            "records": self.records,
            "head": head,
            "first_bad_seq": first.seq if first else None,
            "first_reason": first.reason if first else None,
            "problems": [{**asdict(p), "message": p.message} for p in self.problems],
            "problems_truncated": self.truncated,
        }


def _lookahead(rows: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], Any]]:
    """Each row with the next one (None after the last), reading one row ahead only."""
    it = iter(rows)
    try:
        cur = next(it)
    except StopIteration:
        return
    for nxt in it:
        yield cur, nxt
        cur = nxt
    yield cur, None


def verify_chain(
    chained: Iterable[Mapping[str, Any]],
    head: ChainHead | None,
    unchained: Iterable[Mapping[str, Any]] = (),
    max_problems: int = 100,
) -> VerifyReport:
    """Walk ``chained`` (rows in ``seq`` order, each with ``id``) and report what is wrong.

    Per record, the first of: a gap before it (deleted), a repeated seq (forked), its own hash
    (edited), its link to the one before (reordered or inserted), or a storage order that
    disagrees with the chain's (rows swapped wholesale, which keeps every hash and link valid:
    ``id`` is assigned in append order under the same lock as ``seq``). A gap already explains
    the broken link after it, so that link is not reported again. ``head`` catches a deleted
    tail, which leaves no gap behind.
    """
    problems: list[Problem] = []
    truncated = False

    def add(p: Problem) -> None:
        nonlocal truncated
        if len(problems) < max_problems:
            problems.append(p)
        else:
            truncated = True

    count = 0
    prev: Mapping[str, Any] | None = None
    for row, nxt in _lookahead(chained):
        count += 1
        seq = int(row["seq"])
        rid = row.get("id")
        expected = int(prev["seq"]) + 1 if prev is not None else 1
        after_gap = False
        if seq > expected:
            add(
                Problem(
                    "deleted",
                    expected,
                    None,
                    f"seq {expected}–{seq - 1} 不存在 / missing"
                    if seq - 1 > expected
                    else f"seq {expected} 不存在 / missing",
                )
            )
            after_gap = True
        if prev is not None and seq == int(prev["seq"]):
            add(Problem("duplicate", seq, rid, f"records {prev.get('id')} and {rid}"))
            continue  # keep the first of the two as the chain's
        expected_prev = str(prev["hash"]) if prev is not None else GENESIS_HASH
        if record_hash(row) != row.get("hash"):
            add(Problem("edited", seq, rid, f"stored {str(row.get('hash'))[:12]}…"))
        elif not after_gap and row.get("prev_hash") != expected_prev:
            add(
                Problem(
                    "reordered",
                    seq,
                    rid,
                    f"prev_hash {str(row.get('prev_hash'))[:12]}… ≠ {expected_prev[:12]}…",
                )
            )
        elif rid is not None and (
            (prev is not None and prev.get("id") is not None and rid < prev["id"])
            or (nxt is not None and nxt.get("id") is not None and rid > nxt["id"])
        ):
            add(Problem("reordered", seq, rid, "儲存順序與鏈序不符 / stored out of chain order"))
        prev = row
    if head is not None:
        last_seq = int(prev["seq"]) if prev is not None else 0
        last_hash = str(prev["hash"]) if prev is not None else GENESIS_HASH
        if head.seq > last_seq:
            add(
                Problem(
                    "deleted",
                    last_seq + 1,
                    None,
                    f"鏈首為 seq {head.seq}，最後一筆為 {last_seq} / "
                    f"the head says seq {head.seq}, the last record is {last_seq}",
                )
            )
        elif head.seq < last_seq:
            add(
                Problem(
                    "reordered",
                    head.seq + 1,
                    None,
                    f"seq {head.seq + 1}–{last_seq} 不在鏈首之內 / appended past the head",
                )
            )
        elif head.hash != last_hash:
            add(Problem("edited", last_seq, None, "鏈首雜湊不符 / the head's hash differs"))
    for row in unchained:
        add(Problem("unchained", None, row.get("id")))
    return VerifyReport(
        ok=not problems and not truncated,
        records=count,
        head=head,
        problems=problems,
        truncated=truncated,
    )
