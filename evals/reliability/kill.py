"""Kill: the assistant killed in the middle of an answer, of a tool call and of an audit write.

The requirement: kill the server in the middle of an answer, of a tool call and of an audit
write; after restart every conversation resumes from its checkpoint and the audit chain
verifies.

For each fault point a child process (``--child POINT``) opens the prepared data dir through
the composition root, as the server does, answers one turn normally (history, a checkpoint and
an audit record), then asks a second question in the same conversation with the fault point
armed. Reaching it, the child writes a marker file and sleeps; the parent sees the marker and
SIGKILLs it. The points:

- ``answer``: inside the model's streaming (the container's LLM ``stream``), after the first
  piece of answer text;
- ``tool``: inside the fraud desk's ``fraud_trace`` tool call (``FraudService.trace``), for a
  fraud-role user on a small generated ledger;
- ``audit``: inside the audit chain's append transaction (SQLite ``BEGIN IMMEDIATE`` held),
  after the record's hash is computed and its row inserted, before the chain head is updated
  and the transaction committed.

A second child (``--restart POINT``) then opens the same data dir and checks: the conversation
is listed and shows the first turn; its checkpoint holds the first turn's history; a follow-up
in the same conversation id is answered (and reads that history: the fraud follow-up names no
account and must trace the one of the first turn); the audit chain verifies, before and after
the follow-up, with a record for every turn that was completed.

    python -m evals.reliability.kill --workdir reliability-kill --json kill.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

from evals.reliability.load import (
    DEFAULT_LAWS,
    ROOT,
    Progress,
    assistant_env,
    log_findings,
    prepare,
)

POINTS = ("answer", "tool", "audit")
USERS = {"answer": "kill-compliance", "tool": "kill-fraud", "audit": "kill-auditor"}
ROLES = {"kill-compliance": "compliance", "kill-fraud": "fraud", "kill-auditor": "auditor"}
FAULT_SLEEP_S = 600.0
MARKER_TIMEOUT_S = 300.0
RESTART_TIMEOUT_S = 400.0


def questions(point: str, mule: str) -> tuple[str, str, str]:
    """First turn, the turn that is killed, the follow-up after the restart."""
    if point == "tool":
        return (
            f"追查帳戶 {mule} 的前兩層金流",
            f"再追查帳戶 {mule} 往下三層的金流",
            "這個帳戶往下追查兩層金流",  # no account: the checkpoint's history names it
        )
    return (
        "銀行法第32條的規定是什麼？",
        "銀行對疑似不法或顯屬異常交易的存款帳戶可以怎麼處理？",
        "那罰則呢？",
    )


# ---- the children -----------------------------------------------------------------------


def _container() -> Any:
    from assistant.container import Container
    from assistant.settings import load_settings

    return Container(load_settings())  # everything from the environment the parent set


def _mule(data_dir: Path) -> str:
    db = sqlite3.connect(data_dir / "assistant.db")
    try:
        row = db.execute(
            "SELECT id FROM fraud_account WHERE pattern LIKE '%/mule' ORDER BY id LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    if row is None:
        raise RuntimeError("the generated ledger has no mule account")
    return str(row[0])


def _history(c: Any, conv: str) -> list[str]:
    snapshot = c.graph.get_state({"configurable": {"thread_id": conv}})
    return [t["question"] for t in (snapshot.values or {}).get("history", [])]


def _arm(c: Any, point: str, marker: Path, armed: threading.Event) -> None:
    """Wrap the function at the fault point: once armed, reaching it writes the marker and
    sleeps until the parent kills the process."""

    def fault(where: str) -> None:
        marker.write_text(json.dumps({"point": point, "where": where, "pid": os.getpid()}))
        time.sleep(FAULT_SLEEP_S)

    if point == "answer":
        llm = c.llm
        inner = llm.stream

        def stream(*args: Any, **kwargs: Any) -> Any:
            for pieces, piece in enumerate(inner(*args, **kwargs), start=1):
                yield piece
                if armed.is_set():
                    fault(f"llm.stream after {pieces} piece(s)")
            if armed.is_set():
                fault("llm.stream at its end")  # a model that wrote nothing still streamed

        llm.stream = stream
    elif point == "tool":
        svc = c.fraud
        trace = svc.trace

        def traced(*args: Any, **kwargs: Any) -> Any:
            if armed.is_set():
                fault(f"FraudService.trace {kwargs.get('direction', '')} {kwargs.get('hops', '')}")
            return trace(*args, **kwargs)

        svc.trace = traced
    elif point == "audit":
        import assistant.audit as audit_mod

        build_update = audit_mod.update

        def update(table: Any, *args: Any, **kwargs: Any) -> Any:
            # _append builds the head's UPDATE after the record's INSERT has run, inside the
            # BEGIN IMMEDIATE transaction: the record is written, uncommitted, lock held.
            if armed.is_set() and table is audit_mod.HEAD:
                fault("AuditLog._append after INSERT, before head update and COMMIT")
            return build_update(table, *args, **kwargs)

        audit_mod.update = update  # type: ignore[assignment]
    else:
        raise ValueError(f"unknown fault point {point!r}")


def _answers(c: Any) -> int:
    """Answer records in the trail. A turn also leaves the desks' access records (who looked at
    which account), and one killed mid-tool keeps those of the reads it did: they happened."""
    from sqlalchemy import text

    with c.engine.connect() as db:
        return int(
            db.execute(text("SELECT count(*) FROM audit_record WHERE kind = 'answer'")).scalar_one()
        )


def child(point: str, state_file: Path, marker: Path) -> int:
    c = _container()
    user = c.users.get(USERS[point])
    data_dir = Path(c.settings.data_dir)
    q1, q2, _ = questions(point, _mule(data_dir) if point == "tool" else "")
    armed = threading.Event()
    _arm(c, point, marker, armed)
    first = c.service.ask(user, q1)
    state = {
        "point": point,
        "user": user.name,
        "conversation_id": first.conversation_id,
        "questions": [q1, q2],
        "completed_audit_ids": [first.audit_id],
        "first_answer_generated": first.generated,
        "first_tool_calls": [t.name for t in first.tool_calls],
        "records_before": _answers(c),
        "history_before": _history(c, first.conversation_id),
    }
    state_file.write_text(json.dumps(state, ensure_ascii=False))
    armed.set()
    second = c.service.ask(user, q2, first.conversation_id)
    # Not killed: the fault point was never reached.
    state["unexpected"] = f"the second turn completed (audit #{second.audit_id})"
    state_file.write_text(json.dumps(state, ensure_ascii=False))
    c.close()
    return 3


def restart(point: str, state_file: Path, out: Path) -> int:
    state = json.loads(state_file.read_text())
    c = _container()
    result: dict[str, Any] = {"errors": []}
    try:
        user = c.users.get(state["user"])
        conv = state["conversation_id"]
        q1, q2 = state["questions"]
        _, _, q3 = questions(point, "")
        before = c.audit.verify()
        result["verified_at_restart"] = before.ok
        result["records_at_restart"] = _answers(c)
        result["conversation_listed"] = conv in [x.id for x in c.conversations.list(user)]
        msgs = c.service.messages(user, conv)
        asked = [m.content for m in msgs if m.role == "user"]
        result["messages_at_restart"] = asked
        result["first_turn_shown"] = bool(asked) and asked[0] == q1
        result["killed_turn_stored"] = q2 in asked
        lost = []
        for audit_id in state["completed_audit_ids"]:
            try:
                c.audit.get(audit_id)
            except Exception:
                lost.append(audit_id)
        result["checkpoint_history"] = _history(c, conv)
        follow = c.service.ask(user, q3, conv)
        result["follow_up"] = {
            "conversation_id": follow.conversation_id,
            "audit_id": follow.audit_id,
            "agent": follow.agent,
            "refused": follow.refused,
            "generated": follow.generated,
            "tool_calls": [{"name": t.name, "args": t.args, "ok": t.ok} for t in follow.tool_calls],
            "answer": follow.answer[:300],
        }
        for audit_id in [follow.audit_id]:
            try:
                c.audit.get(audit_id)
            except Exception:
                lost.append(audit_id)
        result["records_lost"] = len(lost)
        result["history_after"] = _history(c, conv)
        after = c.audit.verify()
        result["verified_after"] = after.ok
        result["verify_first_problem"] = (
            after.first.message if after.first else before.first.message if before.first else None
        )
        result["records_after"] = _answers(c)
        resumed = (
            result["conversation_listed"]
            and result["first_turn_shown"]
            and result["checkpoint_history"][:1] == [q1]
            and follow.conversation_id == conv
            and follow.audit_id is not None
            and not follow.refused
            and result["history_after"][-1:] == [q3]
            and q1 in result["history_after"]
        )
        if point == "tool":
            # The follow-up names no account: it traced the first turn's, read from history.
            mule = _mule(Path(c.settings.data_dir))
            traced = [t for t in follow.tool_calls if t.name == "fraud_trace"]
            result["follow_up_traced_first_account"] = bool(traced) and all(
                t.args.get("account") == mule and t.ok for t in traced
            )
            resumed = resumed and result["follow_up_traced_first_account"]
        result["resumed"] = bool(resumed)
    except Exception as exc:
        result["errors"].append(f"{type(exc).__name__}: {exc}")
        result["resumed"] = False
        raise
    finally:
        out.write_text(json.dumps(result, ensure_ascii=False, default=str))
        c.close()
    return 0


# ---- the parent ---------------------------------------------------------------------------


def _setup_ledger(c: Any) -> dict[str, Any]:
    # Small: the trace index of a few thousand transfers builds in a second.
    return c.fraud.generate(
        accounts=400, transfers=3000, seed=7, start=date(2024, 1, 1), days=14, rings=2
    )


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "evals.reliability.kill", *args],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )


def _one(point: str, template: Path, model: Path, folder: Path, progress: Progress) -> dict:
    if folder.exists():
        shutil.rmtree(folder)
    data = folder / "data"
    shutil.copytree(template, data)
    env = assistant_env(data, model)
    state_file, marker, out = folder / "state.json", folder / "fault.json", folder / "restart.json"
    log = folder / "child.log"
    report: dict[str, Any] = {"point": point, "errors": []}
    t0 = time.monotonic()
    proc = _spawn(["--child", point, "--state", str(state_file), "--marker", str(marker)], env, log)
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() - t0 > MARKER_TIMEOUT_S:
            break
        time.sleep(0.2)
    reached = marker.exists()
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    report["killed"] = reached and proc.returncode == -signal.SIGKILL
    report["fault"] = json.loads(marker.read_text()).get("where") if reached else None
    if not reached:
        report["errors"].append(
            f"fault point not reached (child exit {proc.returncode}): "
            + log.read_text(errors="replace")[-1500:]
        )
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    report["records_before"] = state.get("records_before")
    report["kill_s"] = round(time.monotonic() - t0, 1)
    progress(f"  {point}: killed {report['killed']} at {report['fault']} ({report['kill_s']} s)")
    if not state:
        report.update(resumed=False, audit_verified=False, records_lost=None)
        return report
    t0 = time.monotonic()
    proc = _spawn(["--restart", point, "--state", str(state_file), "--out", str(out)], env, log)
    try:
        proc.wait(RESTART_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        report["errors"].append("restart timed out")
    result = json.loads(out.read_text()) if out.exists() else {}
    if proc.returncode != 0:
        report["errors"].append(
            f"restart exit {proc.returncode}: " + log.read_text(errors="replace")[-1500:]
        )
    report["errors"] += result.get("errors", [])
    findings = log_findings(log.read_text(errors="replace"))
    report.update(
        {
            "resumed": bool(result.get("resumed")),
            "audit_verified": bool(
                result.get("verified_at_restart") and result.get("verified_after")
            ),
            "records_at_restart": result.get("records_at_restart"),
            "records_after": result.get("records_after"),
            "records_lost": result.get("records_lost"),
            "killed_turn_stored": result.get("killed_turn_stored"),
            "checkpoint_history": result.get("checkpoint_history"),
            "history_after": result.get("history_after"),
            "follow_up": result.get("follow_up"),
            "verify_first_problem": result.get("verify_first_problem"),
            "database_locked": findings["database_locked"],
            "restart_s": round(time.monotonic() - t0, 1),
        }
    )
    if point == "tool":
        report["follow_up_traced_first_account"] = result.get("follow_up_traced_first_account")
    progress(
        f"  {point}: resumed {report['resumed']}, audit verified {report['audit_verified']}, "
        f"records {report['records_before']} → {report['records_at_restart']} → "
        f"{report['records_after']}, lost {report['records_lost']} ({report['restart_s']} s)"
    )
    return report


def run(
    workdir: Path,
    *,
    laws: Path = DEFAULT_LAWS,
    progress: Progress = print,
    points: tuple[str, ...] = POINTS,
) -> dict[str, Any]:
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    prep = prepare(
        workdir / "template",
        Path(laws),
        list(ROLES.items()),
        progress=progress,
        setup=_setup_ledger,
    )
    results = {p: _one(p, prep.data_dir, prep.model, workdir / p, progress) for p in points}
    figures = {"points": results, "ok": all(_point_ok(r) for r in results.values())}
    progress(summary(figures))
    return figures


def _point_ok(r: dict[str, Any]) -> bool:
    return bool(
        r.get("killed")
        and r.get("resumed")
        and r.get("audit_verified")
        and r.get("records_lost") == 0
        and not r.get("errors")
        and not r.get("database_locked")
    )


def summary(figures: dict[str, Any]) -> str:
    verdict = "通過 / PASS" if figures["ok"] else "未通過 / FAIL"
    lines = [f"中斷測試 / kill: {verdict}"]
    for p, r in figures["points"].items():
        lines.append(
            f"  {p:7} 已中斷 killed {r.get('killed')}；續接 resumed {r.get('resumed')}；"
            f"稽核鏈 verified {r.get('audit_verified')}；紀錄 records {r.get('records_before')}"
            f" → {r.get('records_after')}；遺失 lost {r.get('records_lost')}"
        )
        for e in r.get("errors", [])[:2]:
            lines.append(f"    ! {e[:500]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.reliability.kill", description=__doc__)
    p.add_argument("--workdir", type=Path, default=Path("reliability-kill"))
    p.add_argument("--laws", type=Path, default=DEFAULT_LAWS)
    p.add_argument("--points", nargs="+", choices=POINTS, default=list(POINTS))
    p.add_argument("--json", dest="json_out", type=Path, help="Write the figures here as JSON.")
    # The children's modes (used by run, not by people).
    p.add_argument("--child", choices=POINTS, help=argparse.SUPPRESS)
    p.add_argument("--restart", choices=POINTS, help=argparse.SUPPRESS)
    p.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--marker", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child, args.state, args.marker)
    if args.restart:
        return restart(args.restart, args.state, args.out)
    figures = run(args.workdir, laws=args.laws, points=tuple(args.points))
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, ensure_ascii=False, indent=2), "utf-8")
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
