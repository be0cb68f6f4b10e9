"""Reliability, short: the harnesses of evals/reliability on the tests' slice of the laws.

- Load: 4 chat sessions for 20 s against `assistant serve` in a subprocess with the tiny
  GGUF model (the requirement's full run is 20 sessions for 5 minutes:
  ``python -m evals.reliability.load``).
- Kill: the assistant killed (SIGKILL) in the middle of an answer, of a tool call and of an
  audit write; a restarted process resumes each conversation from its checkpoint and the
  audit chain verifies (``python -m evals.reliability.kill``).

Real parts throughout: SQLite files, Qdrant local mode, the bundled embedding model,
llama-cpp-python with a tiny random-weight model, Gradio and gradio_client.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.reliability import kill, load
from tests.conftest import PG_MODE


def _quiet(_line: str) -> None:
    pass


def test_concurrent_sessions_neither_fail_nor_cross(
    tmp_path: Path, small_law_files: tuple[Path, Path]
) -> None:
    f = load.run(tmp_path, sessions=4, seconds=20, laws=small_law_files[0], progress=_quiet)
    assert f["model"] == "tiny.gguf" and f["generated"] == f["turns"]
    assert f["errors"] == 0, f["first_errors"]
    assert f["crossings"] == 0, f["first_crossings"]
    assert f["database_locked"] == 0 and f["tracebacks"] == 0, f["first_traceback"]
    assert f["sessions_held"] == 4
    # Every session got turns through, not just the first to queue.
    assert f["turns_per_session_min"] >= 2
    assert f["audit_verified"] and f["records_lost"] == 0
    assert f["audit_records"] == f["turns"]
    assert f["server_stop"]["clean"], f["server_stop"]
    assert load.ok(f)


@pytest.mark.skipif(
    PG_MODE,
    reason=(
        "evals/reliability/kill.py is SQLite-only: it copies the prepared data dir as files for "
        "each fault point (a PostgreSQL database is not in the folder) and reads assistant.db "
        "with sqlite3"
    ),
)
def test_killed_mid_answer_tool_and_audit_write_resume(
    tmp_path: Path, small_law_files: tuple[Path, Path]
) -> None:
    f = kill.run(tmp_path, laws=small_law_files[0], progress=_quiet)
    assert set(f["points"]) == {"answer", "tool", "audit"}
    for point, r in f["points"].items():
        assert r["errors"] == [], (point, r["errors"])
        assert r["killed"], point
        assert r["resumed"], (point, r)
        assert r["audit_verified"], (point, r["verify_first_problem"])
        # The completed first turn kept its answer record; the killed turn left none behind.
        assert r["records_lost"] == 0
        assert r["records_before"] == r["records_at_restart"] == 1 and r["records_after"] == 2
        assert r["killed_turn_stored"] is False
        assert r["database_locked"] == 0
    assert f["points"]["answer"]["fault"].startswith("llm.stream")
    assert f["points"]["audit"]["fault"].startswith("AuditLog._append")
    # The follow-up named no account: it was read from the checkpoint's history.
    assert f["points"]["tool"]["follow_up_traced_first_account"]
    assert f["ok"]
