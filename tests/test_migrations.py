"""Schema migrations (Alembic): a new database made at head, one made by the release before
migrations upgraded in place with its rows, audit seal and triggers, the gate that refuses a
database behind head, two processes creating one database at once, and `assistant db …`.

Every test runs on the data dir's own database: a SQLite file, or with
``ASSISTANT_TEST_DATABASE=postgres`` a PostgreSQL database of its own (tests/conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, MetaData, Table, insert, inspect, text

from assistant import audit_schema, schema
from assistant.audit import AuditLog
from assistant.cli import cli
from assistant.cli_db import upgrade_at_start
from assistant.cli_support import AppContext
from assistant.container import Container
from assistant.db import make_engine
from assistant.errors import AssistantError
from assistant.permissions import UserContext
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[1]
HEAD = schema.head()
OFFICER = UserContext("officer", "compliance", None)


def _url(data: Path) -> str:
    data.mkdir(parents=True, exist_ok=True)
    return make_settings(data).database_url


def _db(data: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "db", *args])
    return result.exit_code, result.output


def _old_release(engine: Engine) -> None:
    """A database as the release before migrations left it: its models' create_all (no
    cli_session yet), and the columns its own start-up code would have added still missing:
    an audit trail from before the hash chain, a ledger from before memos, and on PostgreSQL
    the 32-bit fingerprint columns of the first version."""
    md = MetaData()
    for table in schema.target_metadata().sorted_tables:
        if table.name not in ("cli_session", "audit_chain"):
            table.to_metadata(md)
    md.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP INDEX {audit_schema.SEQ_INDEX}")
        for name in audit_schema.CHAIN_COLUMNS:
            conn.exec_driver_sql(f"ALTER TABLE audit_record DROP COLUMN {name}")
        conn.exec_driver_sql("ALTER TABLE fraud_transfer DROP COLUMN memo")
        for name in ("kind", "place"):  # cash as ledger rows came with revision 0003
            conn.exec_driver_sql(f"ALTER TABLE fraud_transfer DROP COLUMN {name}")
        if engine.dialect.name == "postgresql":
            for name in ("size", "mtime_ns"):
                conn.exec_driver_sql(
                    f"ALTER TABLE model_fingerprint ALTER COLUMN {name} TYPE INTEGER"
                )
    # Rows of that day, written through the tables as they stand (reflected: no chain columns).
    old = MetaData()
    audit = Table("audit_record", old, autoload_with=engine)
    transfer = Table("fraud_transfer", old, autoload_with=engine)
    fingerprint = Table("model_fingerprint", old, autoload_with=engine)
    with engine.begin() as conn:
        for i in range(1, 4):
            conn.execute(
                insert(audit).values(
                    created_at=datetime(2024, 1, i, 8, tzinfo=UTC),
                    user_name="old",
                    user_role="compliance",
                    conversation_id=f"c{i}",
                    question=f"舊問題{i}",
                    agent="compliance",
                    route_method="only",
                    chunks=[{"law": "銀行法", "article": "45-2"}],
                    tool_calls=[{"name": "search_regulations", "args": {"q": i}, "ok": True}],
                    answer=f"舊回答{i}",
                    model="none",
                    model_sha256="",
                    generated=False,
                    no_basis=False,
                    refused=None,
                    llm_calls=0,
                    latency_ms=10 * i,
                    model_ms=0.0,
                )
            )
        conn.execute(
            insert(transfer).values(
                id="t1",
                ts=datetime(2024, 1, 1, 8),
                from_account="A1",
                to_account="B1",
                amount=1000.0,
                currency="TWD",
                channel="ATM",
                from_bank="822",
                to_bank="812",
                pattern=None,
            )
        )
        conn.execute(insert(fingerprint).values(path="/m.gguf", size=1, mtime_ns=1, sha256="ab"))


def _triggers(engine: Engine) -> int:
    with engine.connect() as conn:
        return audit_schema.trigger_count(conn)


# ---- a new database ---------------------------------------------------------------------


def test_a_new_database_is_made_at_head_and_matches_the_models(tmp_path: Path) -> None:
    engine = schema.open_engine(_url(tmp_path / "data"))
    try:
        st = schema.status(engine)
        assert (st.state, st.current, st.head) == ("current", (HEAD,), HEAD)
        # `alembic check`: what the migrations made is what the models describe.
        assert schema.describe(schema.differences(engine)) == []
        assert _triggers(engine) == 2
        log = AuditLog(engine)
        assert log.head().seq == 0 and log.head().sealed_through is None
        _record(log, 1)
        assert log.verify().ok
        # A second start is one look at alembic_version and nothing else.
        schema.ensure_schema(engine)
        assert schema.status(engine).current == (HEAD,)
    finally:
        engine.dispose()


def _record(log: AuditLog, i: int) -> int:
    return log.record_action(OFFICER, conversation_id=None, action="a", args={"i": i}, outcome="ok")


_START = """
import sys
from assistant.schema import open_engine, status
engine = open_engine(sys.argv[1])
print(status(engine).state)
"""


def test_processes_starting_together_on_a_new_database_all_start(tmp_path: Path) -> None:
    url = _url(tmp_path / "data")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _START, url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outs]
    assert [out.strip() for out, _ in outs] == ["current"] * 3
    engine = make_engine(url)
    try:
        assert schema.status(engine).current == (HEAD,) and _triggers(engine) == 2
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_chain")).scalar_one() == 1
    finally:
        engine.dispose()


# ---- a database made before migrations ----------------------------------------------------


def test_an_old_release_database_is_refused_then_upgraded_with_its_rows(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = make_engine(_url(data))
    try:
        _old_release(engine)
        assert schema.status(engine).state == "unversioned"
        diff = schema.describe(schema.differences(engine))
        assert "add_table cli_session" in diff and any("audit_record.seq" in d for d in diff)

        with pytest.raises(AssistantError) as refused:
            schema.ensure_schema(engine)
        message = str(refused.value)
        assert message.startswith("資料庫結構需要升級") and "assistant db upgrade" in message
        # Through the container, as every command meets it: exit 1 with the message.
        result = CliRunner().invoke(cli, ["--data-dir", str(data), "fraud", "status"])
        assert result.exit_code == 1 and "assistant db upgrade" in result.output

        code, out = _db(data, "upgrade", "--json")
        assert code == 0, out
        assert json.loads(out) | {"database": None} == {
            "from": None,
            "to": HEAD,
            "upgraded": True,
            "database": None,
        }

        assert schema.status(engine).state == "current"
        assert schema.describe(schema.differences(engine)) == []
        cols = {c["name"] for c in inspect(engine).get_columns("fraud_transfer")}
        assert {"memo", "kind", "place"} <= cols
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM fraud_transfer")).scalar_one() == 1
            # a row from before cash rows is a transfer
            assert conn.execute(text("SELECT kind FROM fraud_transfer")).scalar_one() == "transfer"
            assert conn.execute(text("SELECT sha256 FROM model_fingerprint")).scalar_one() == "ab"
        with engine.begin() as conn:  # BIGINT now (on PostgreSQL it was 32-bit)
            conn.execute(
                text("INSERT INTO model_fingerprint VALUES ('/big.gguf', :s, :m, 'cd')"),
                {"s": 5 * 2**30, "m": 1_700_000_000_000_000_000},
            )

        # The old records are sealed into the chain once, as they stood.
        log = AuditLog(engine)
        head = log.head()
        assert (head.seq, head.sealed_through) == (3, 3) and head.sealed_at is not None
        old = [log.get(i) for i in (1, 2, 3)]
        assert [r.seq for r in old] == [1, 2, 3] and all(r.kind == "answer" for r in old)
        assert old[0].question == "舊問題1" and old[2].latency_ms == 30.0
        new_id = _record(log, 4)
        assert log.get(new_id).seq == 4 and log.get(new_id).prev_hash == old[2].hash
        report = log.verify()
        assert report.ok and report.records == 4, report.to_dict()

        # The append-only triggers hold for the upgraded table.
        assert _triggers(engine) == 2
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_record WHERE id = 1"))

        # Upgrading again changes nothing: the seal happened once.
        code, out = _db(data, "upgrade")
        assert code == 0 and f"already at {HEAD}" in out
        assert AuditLog(engine).head() == log.head()
        assert (_db(data, "current")[1].split()[0], _db(data, "check")[0]) == (HEAD, 0)
    finally:
        engine.dispose()


def test_a_database_made_by_create_all_of_todays_models_is_adopted(tmp_path: Path) -> None:
    """The code between cli_session's model and the migrations made every table, cli_session
    too, on start: upgrading it creates only what the migrations add (head, triggers)."""
    engine = make_engine(_url(tmp_path / "data"))
    try:
        schema.target_metadata().create_all(engine)
        assert schema.status(engine).state == "unversioned"
        done = schema.upgrade(engine)
        assert (done.before, done.after, done.changed) == (None, HEAD, True)
        assert schema.describe(schema.differences(engine)) == []
        assert _triggers(engine) == 2 and AuditLog(engine).head().seq == 0
    finally:
        engine.dispose()


# ---- a database behind head ---------------------------------------------------------------


def test_a_database_behind_head_is_refused_until_upgraded(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = make_engine(_url(data))
    try:
        assert schema.upgrade(engine, "0001").after == "0001"
        assert not inspect(engine).has_table("cli_session")
        with pytest.raises(AssistantError, match=r"資料庫結構需要升級.*assistant db upgrade"):
            schema.ensure_schema(engine)
        container = Container(make_settings(data))
        with pytest.raises(AssistantError, match=r"at 0001, head " + HEAD):
            _ = container.engine
        container.close()
        code, out = _db(data, "current", "--json")
        assert code == 0 and json.loads(out)["state"] == "behind"
        code, out = _db(data, "check")
        assert code == 1 and "assistant db upgrade" in out

        # What `assistant serve` does first.
        upgrade_at_start(AppContext(make_settings(data)))
        assert schema.status(engine).current == (HEAD,)
        assert inspect(engine).has_table("cli_session")
        container = Container(make_settings(data))
        assert container.users.list() == []
        container.close()
    finally:
        engine.dispose()


def test_a_ledger_of_3_digit_banks_is_widened_for_other_countries_banks(tmp_path: Path) -> None:
    """0005: the bank columns made 3 characters wide by 0001 take another country's bank number
    or a SWIFT BIC after the upgrade, and the rows already there stay as they were."""
    engine = make_engine(_url(tmp_path / "data"))
    try:
        assert schema.upgrade(engine, "0004").after == "0004"
        width = {
            c["name"]: getattr(c["type"], "length", None)
            for c in inspect(engine).get_columns("fraud_transfer")
        }
        assert (width["from_bank"], width["to_bank"]) == (3, 3)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO fraud_bank (code, name) VALUES ('822', '中國信託')"))
            conn.execute(
                text(
                    "INSERT INTO fraud_transfer (id, ts, from_account, to_account, amount, "
                    "currency, channel, from_bank, to_bank, kind) VALUES ('t1', "
                    "'2024-01-05 01:00:00', 'A1', 'B1', 100, 'TWD', '', '822', '822', 'transfer')"
                )
            )
        assert schema.upgrade(engine, "head").after == HEAD
        assert schema.describe(schema.differences(engine)) == []
        for table, names in (
            ("fraud_bank", ("code",)),
            ("fraud_account", ("bank_code",)),
            ("fraud_transfer", ("from_bank", "to_bank")),
        ):
            cols = {
                c["name"]: getattr(c["type"], "length", None)
                for c in inspect(engine).get_columns(table)
            }
            assert [cols[n] for n in names] == [11] * len(names), table
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO fraud_bank (code, name) VALUES ('03208', '')"))
            conn.execute(text("INSERT INTO fraud_bank (code, name) VALUES ('CTCBTWTPXXX', '')"))
            rows = conn.execute(text("SELECT id, from_bank, to_bank FROM fraud_transfer")).all()
            codes = conn.execute(text("SELECT code FROM fraud_bank ORDER BY code")).scalars()
            assert sorted(codes) == ["03208", "822", "CTCBTWTPXXX"]
        assert [tuple(r) for r in rows] == [("t1", "822", "822")]
    finally:
        engine.dispose()


def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    engine = schema.open_engine(_url(tmp_path / "data"))
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
        st = schema.status(engine)
        assert st.state == "unknown"
        with pytest.raises(AssistantError, match=r"比本程式新.*newer than this release"):
            schema.ensure_schema(engine)
        with pytest.raises(AssistantError, match="newer than this release"):
            schema.upgrade(engine)
    finally:
        engine.dispose()


# ---- `assistant db check` ------------------------------------------------------------------


def test_db_check_lists_what_differs_and_exits_1(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out = _db(data, "check")  # a new data dir: made by the migrations, then compared
    assert code == 0 and "agree" in out
    engine = make_engine(_url(data))
    try:
        with engine.begin() as conn:  # what a hand edit (or a model without a migration) leaves
            conn.exec_driver_sql("DROP INDEX ix_fraud_action_status")
    finally:
        engine.dispose()
    code, out = _db(data, "check")
    assert code == 1 and "add_index ix_fraud_action_status on fraud_action (status)" in out
    code, out = _db(data, "check", "--json")
    assert code == 1 and json.loads(out)["ok"] is False


def test_the_migrations_have_one_head_and_ship_in_the_package() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(schema.alembic_config())
    assert scripts.get_heads() == [HEAD]
    assert [s.revision for s in scripts.walk_revisions("base", "heads")][::-1][:2] == [
        "0001",
        "0002",
    ]
    assert (schema.MIGRATIONS / "script.py.mako").is_file()
