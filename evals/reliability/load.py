"""Load: N concurrent chat sessions against one served assistant, with the tiny model.

The requirement: 20 concurrent chat sessions for 5 minutes against one server with the tiny
model: no errors, no answer crossing sessions, no 'database is locked'.

``run`` prepares a data dir of its own (a slice of the law database, a tiny random-weight GGUF
model, users of several roles), starts ``assistant serve`` as a subprocess (its output in
``server.log``), and runs one gradio_client session per user in threads. Each session keeps
its own conversation and asks questions carrying a marker of its own (``[s07-q012]``) until
the time is up. Checked per answer: no error, the session's own conversation, an audit id.
Checked at the end: each conversation's stored messages hold only that session's markers and
every answered one, each user lists only its own conversation, every answered turn has its
audit record (the session's user, conversation and marker), the audit chain verifies, and the
server log has no "database is locked" and no traceback. The server is stopped with SIGTERM,
as a service manager stops it.

    python -m evals.reliability.load --sessions 20 --seconds 300 --json load.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.support import law_subset

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LAWS = ROOT.parent / "shared" / "data" / "laws" / "ChLaw.json"
# The slice tests/conftest.py ingests: small enough to embed in seconds.
SUBSET_LAWS = ["銀行法", "洗錢防制法", "個人資料保護法", "管理外匯條例", "金融機構防制洗錢辦法"]
PASSWORD = "reliability-pass-42"
ROLES = ("compliance", "fx", "fraud", "credit", "auditor", "admin")
QUESTIONS = (
    "銀行法第32條的規定是什麼？",
    "銀行對疑似不法或顯屬異常交易的存款帳戶可以怎麼處理？",
    "洗錢防制法對大額通貨交易有什麼申報規定？",
    "行員可以收借款人的佣金嗎？",
    "金融機構確認客戶身分的時機有哪些？",
    "個人資料保護法對蒐集個人資料有什麼要求？",
)
MARKER = re.compile(r"\[s(\d+)-q(\d+)\]")
TURN_TIMEOUT_S = 600.0
SERVE = [sys.executable, "-m", "assistant.cli", "serve"]

Progress = Callable[[str], None]


# ---- shared preparation (kill.py uses it too) ------------------------------------------


def build_model(folder: Path) -> Path:
    """The tiny random-weight GGUF model the tests use too."""
    # Imported here: the gguf package is in the llm extra, needed only when a model is built.
    from evals.tiny_gguf import build_tiny_gguf

    folder.mkdir(parents=True, exist_ok=True)
    return build_tiny_gguf(folder / "tiny.gguf", n_ctx_train=2048)


def assistant_env(
    data_dir: Path, model: Path | None, *, answer_max_tokens: int = 32
) -> dict[str, str]:
    """The environment a server or child process runs with: this data dir, the tiny model on
    one thread, short answers, no telemetry, nothing fetched from a hub."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        {
            "ASSISTANT_DATA_DIR": str(data_dir),
            "ASSISTANT_LLM_BACKEND": "llama_cpp" if model else "none",
            "ASSISTANT_LLM_THREADS": "1",
            "ASSISTANT_LLM_CONTEXT_SIZE": "1024",
            "ASSISTANT_AGENTS_ANSWER_MAX_TOKENS": str(answer_max_tokens),
            "ASSISTANT_TELEMETRY_EXPORTER": "none",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "OMP_WAIT_POLICY": "PASSIVE",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
            ),
        }
    )
    if model:
        env["ASSISTANT_MODEL_PATH"] = str(model)
    # The database this process prepared the data dir in: dropped with the other ASSISTANT_
    # variables above, a PostgreSQL URL (ASSISTANT_DATABASE_URL, or the test suite's PostgreSQL
    # mode) would leave the child on an empty DATA_DIR/assistant.db instead.
    from assistant.settings import load_settings

    env["ASSISTANT_DATABASE_URL"] = load_settings(data_dir=data_dir).database_url
    if "ASSISTANT_SHARED_DATA" in os.environ:
        env["ASSISTANT_SHARED_DATA"] = os.environ["ASSISTANT_SHARED_DATA"]
    return env


@dataclass
class Prepared:
    data_dir: Path
    model: Path
    users: list[tuple[str, str]]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def prepare(
    workdir: Path,
    laws: Path,
    users: list[tuple[str, str]],
    *,
    progress: Progress = print,
    setup: Callable[[Any], dict[str, Any]] | None = None,
) -> Prepared:
    """A fresh data dir under ``workdir``: the law slice ingested, the users added (password
    ``PASSWORD``), ``setup(container)`` run if given; the container is closed before return
    (Qdrant local mode allows one process per folder)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from assistant.container import Container
    from assistant.settings import load_settings

    started = time.perf_counter()
    data_dir = workdir / "data"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    subset = law_subset(laws, workdir / "laws" / "ChLaw.json", SUBSET_LAWS)
    model = build_model(workdir / "model")
    c = Container(load_settings(data_dir=data_dir, llm={"backend": "none"}))
    try:
        report = c.ingestor.ingest_laws(subset)
        for name, role in users:
            c.users.add(name, role, PASSWORD)
        extra = setup(c) if setup else {}
    finally:
        c.close()
    progress(
        f"準備完成 / prepared {data_dir} ({len(users)} users, {report.chunks} chunks) "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return Prepared(data_dir, model, users, time.perf_counter() - started, extra)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_findings(text: str) -> dict[str, Any]:
    """What a process's log says about the run: locked databases and tracebacks."""
    lines = text.splitlines()
    tb = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    return {
        "database_locked": sum("database is locked" in line for line in lines),
        "tracebacks": len(tb),
        "first_traceback": "\n".join(lines[tb[0] : tb[0] + 40]) if tb else None,
    }


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# ---- the server ---------------------------------------------------------------------------


class Server:
    """``assistant serve`` in a subprocess on a free port, output to ``log``."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        self._fh = log.open("wb")
        self.proc = subprocess.Popen(
            [*SERVE, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
        )

    def wait_up(self, timeout_s: float = 300.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}"
                )
            try:
                # The login page answers 200; everything else 401 until logged in.
                if httpx.get(self.url, timeout=5).status_code in (200, 401):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"server not up after {timeout_s:.0f} s:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        if not self._fh.closed:
            self._fh.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """SIGTERM (Gradio closes, then the CLI closes the container; what a service manager
        sends, and unlike SIGINT not ignored by a server started in the background), then
        SIGKILL. Clean: it exited by itself with code 0."""
        how = "already exited"
        if self.proc.poll() is None:
            how = "SIGTERM"
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                how = "SIGKILL"
                self.proc.kill()
                self.proc.wait()
        self._fh.close()
        clean = how == "SIGTERM" and self.proc.returncode == 0
        return {"stopped_by": how, "returncode": self.proc.returncode, "clean": clean}


# ---- the sessions -------------------------------------------------------------------------


@dataclass
class Session:
    idx: int
    user: str
    role: str
    conversation: str | None = None
    answered: list[tuple[str, int, float]] = field(default_factory=list)  # marker, audit, s
    asked: int = 0
    errors: list[str] = field(default_factory=list)
    crossings: list[str] = field(default_factory=list)
    refused: int = 0
    generated: int = 0
    held: bool = False
    listed: list[str] = field(default_factory=list)
    stored_markers: list[str] = field(default_factory=list)

    def marker(self, n: int) -> str:
        return f"[s{self.idx:02d}-q{n:03d}]"


def _client(url: str, user: str) -> Any:
    from gradio_client import Client

    last: Exception | None = None
    for attempt in range(3):
        try:
            return Client(url, auth=(user, PASSWORD), verbose=False)
        except Exception as exc:  # counted by the caller if all tries fail
            last = exc
            time.sleep(1 + attempt)
    assert last is not None
    raise last


@dataclass
class Clock:
    """Sessions log in first; the clock starts when all have, and stops them together."""

    logged_in: threading.Barrier
    started: threading.Event = field(default_factory=threading.Event)
    deadline: float = 0.0


def _session(s: Session, url: str, clock: Clock) -> None:
    try:
        client = _client(url, s.user)
    except Exception as exc:
        s.errors.append(f"login: {type(exc).__name__}: {exc}")
        clock.logged_in.wait()
        return
    clock.logged_in.wait()
    clock.started.wait()
    n = 0
    while time.monotonic() < clock.deadline:
        marker = s.marker(n)
        question = QUESTIONS[(s.idx + n) % len(QUESTIONS)] + marker
        n += 1
        s.asked += 1
        began = time.perf_counter()
        try:
            job = client.submit(question, s.conversation, api_name="/ask")
            ans = job.result(timeout=TURN_TIMEOUT_S)
        except Exception as exc:
            s.errors.append(f"{marker} {type(exc).__name__}: {str(exc)[:300]}")
            time.sleep(1)  # a server that is down is not hammered
            continue
        took = time.perf_counter() - began
        conv = ans.get("conversation_id")
        if s.conversation is None:
            s.conversation = conv
        if conv != s.conversation:
            s.crossings.append(f"{marker}: answer in conversation {conv}, not {s.conversation}")
        if not isinstance(ans.get("audit_id"), int):
            s.errors.append(f"{marker}: no audit id")
            continue
        s.refused += bool(ans.get("refused"))
        s.generated += bool(ans.get("generated"))
        s.answered.append((marker, ans["audit_id"], took))
    # The end: what the server stored for this session, read through the same login.
    try:
        listed = client.predict(api_name="/conversations")
        s.listed = [c["id"] for c in listed]
        if s.conversation and s.listed != [s.conversation]:
            s.crossings.append(f"conversation list {s.listed}, expected [{s.conversation}]")
        if s.conversation:
            msgs = client.predict(s.conversation, api_name="/messages")
            for m in msgs:
                if m["role"] == "user":
                    s.stored_markers += [x.group(0) for x in MARKER.finditer(m["content"])]
            own = f"[s{s.idx:02d}-"
            foreign = [m for m in s.stored_markers if not m.startswith(own)]
            if foreign:
                s.crossings.append(f"foreign questions in the conversation: {foreign[:5]}")
            missing = {a[0] for a in s.answered} - set(s.stored_markers)
            if missing:
                s.errors.append(f"answered but not stored: {sorted(missing)[:5]}")
            stored_audits = {m["audit_id"] for m in msgs if m["role"] == "assistant"}
            if not {a[1] for a in s.answered} <= stored_audits:
                s.crossings.append("an answered audit id is not in the session's conversation")
        s.held = True
    except Exception as exc:
        s.errors.append(f"final check: {type(exc).__name__}: {str(exc)[:300]}")


def _audit_check(data_dir: Path, sessions: list[Session], env: dict[str, str]) -> dict[str, Any]:
    """The chain through `assistant audit verify`, and each answered turn's record."""
    verify = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "audit", "verify", "--json"],
        cwd=ROOT,
        env={**env, "ASSISTANT_USER": "load-auditor", "ASSISTANT_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        report = json.loads(verify.stdout)
    except json.JSONDecodeError:
        report = {"ok": False, "stdout": verify.stdout[-2000:], "stderr": verify.stderr[-2000:]}
    from assistant.container import Container
    from assistant.errors import NotFound
    from assistant.settings import load_settings

    lost: list[str] = []
    crossed: list[str] = []
    c = Container(load_settings(data_dir=data_dir, llm={"backend": "none"}))
    try:
        for s in sessions:
            for marker, audit_id, _ in s.answered:
                try:
                    r = c.audit.get(audit_id)
                except NotFound:
                    lost.append(marker)
                    continue
                if (
                    marker not in r.question
                    or r.user_name != s.user
                    or r.conversation_id != s.conversation
                ):
                    crossed.append(f"{marker}: audit #{audit_id} is {r.user_name} {r.question!r}")
        head = c.audit.head()
        marked = sum(
            1
            for r in c.audit.recent(limit=1_000_000)
            if r.kind == "answer" and MARKER.search(r.question)
        )
    finally:
        c.close()
    return {
        "verify_exit": verify.returncode,
        "verified": verify.returncode == 0 and bool(report.get("ok")),
        "verify_report": {k: report.get(k) for k in ("ok", "records", "first")},
        "head_seq": head.seq,
        "marked_records": marked,
        "records_lost": len(lost),
        "lost_markers": lost[:10],
        "audit_crossings": len(crossed),
        "first_audit_crossings": crossed[:10],
    }


def run(
    workdir: Path,
    *,
    sessions: int = 20,
    seconds: float = 300,
    laws: Path = DEFAULT_LAWS,
    progress: Progress = print,
) -> dict[str, Any]:
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    users = [(f"load-{i:02d}", ROLES[i % len(ROLES)]) for i in range(sessions)]
    users.append(("load-warmup", "compliance"))
    users.append(("load-auditor", "auditor"))  # checks the chain at the end, as an auditor would
    prep = prepare(workdir, Path(laws), users, progress=progress)
    env = assistant_env(prep.data_dir, prep.model)
    server = Server(env, workdir / "server.log")
    figures: dict[str, Any] = {"sessions": sessions, "seconds": seconds}
    stop: dict[str, Any] = {}
    runs: list[Session] = []
    try:
        t0 = time.perf_counter()
        server.wait_up()
        progress(f"伺服器已啟動 / server up at {server.url} in {time.perf_counter() - t0:.0f} s")
        # One question first, so the model and indexes are loaded before the clock starts.
        t0 = time.perf_counter()
        warm = _client(server.url, "load-warmup").predict(
            "銀行法第1條的規定是什麼？", None, api_name="/ask"
        )
        figures["warmup_s"] = round(time.perf_counter() - t0, 1)
        figures["model"] = warm.get("model")
        progress(f"暖機完成 / warm-up answered by {warm.get('model')} in {figures['warmup_s']} s")
        runs = [Session(i, name, role) for i, (name, role) in enumerate(users[:sessions])]
        clock = Clock(threading.Barrier(len(runs) + 1))
        threads = [
            threading.Thread(
                target=_session, args=(s, server.url, clock), name=f"session-{s.idx:02d}"
            )
            for s in runs
        ]
        for th in threads:
            th.start()
        clock.logged_in.wait()
        clock.deadline = time.monotonic() + seconds
        clock.started.set()
        progress(f"{len(runs)} 個工作階段開始 / sessions started, {seconds:.0f} s")
        started = time.monotonic()
        while alive := [th for th in threads if th.is_alive()]:
            alive[0].join(timeout=min(30.0, max(5.0, seconds / 10)))
            done = sum(len(s.answered) for s in runs)
            progress(f"  {time.monotonic() - started:5.0f} s: {done} turns answered")
        figures["wall_s"] = round(time.monotonic() - started, 1)
    finally:
        stop = server.stop()
    logs = log_findings(server.log_text() if server.log.is_file() else "")
    audit = _audit_check(prep.data_dir, runs, env) if runs else {}
    latencies = sorted(t for s in runs for *_, t in s.answered)
    errors = [e for s in runs for e in s.errors]
    crossings = [x for s in runs for x in s.crossings] + audit.get("first_audit_crossings", [])
    turns = len(latencies)
    figures.update(
        {
            "sessions_held": sum(s.held and not s.errors for s in runs),
            "turns_asked": sum(s.asked for s in runs),
            "turns": turns,
            "turns_per_session_min": min((len(s.answered) for s in runs), default=0),
            "generated": sum(s.generated for s in runs),
            "refused": sum(s.refused for s in runs),
            "errors": len(errors),
            "first_errors": errors[:5],
            "crossings": sum(len(s.crossings) for s in runs) + audit.get("audit_crossings", 0),
            "first_crossings": crossings[:5],
            "database_locked": logs["database_locked"],
            "tracebacks": logs["tracebacks"],
            "first_traceback": logs["first_traceback"],
            "p50_s": round(percentile(latencies, 50) or 0, 2),
            "p95_s": round(percentile(latencies, 95) or 0, 2),
            "max_s": round(max(latencies, default=0), 2),
            "audit_verified": audit.get("verified", False),
            "audit_records": audit.get("marked_records", 0),
            "audit_head_seq": audit.get("head_seq"),
            "records_lost": audit.get("records_lost", 0),
            "server_stop": stop,
            "server_log": str(server.log),
        }
    )
    progress(summary(figures))
    return figures


def ok(figures: dict[str, Any]) -> bool:
    return (
        figures["errors"] == 0
        and figures["crossings"] == 0
        and figures["database_locked"] == 0
        and figures["tracebacks"] == 0
        and figures["sessions_held"] == figures["sessions"]
        and figures["audit_verified"]
        and figures["records_lost"] == 0
        and figures["turns"] > 0
    )


def summary(f: dict[str, Any]) -> str:
    verdict = "通過 / PASS" if ok(f) else "未通過 / FAIL"
    lines = [
        f"負載測試 / load: {f['sessions']} 個工作階段 sessions × {f['seconds']:.0f} s — {verdict}",
        f"  撐到最後 held to the end {f['sessions_held']}/{f['sessions']}；"
        f"回答 turns {f['turns']}（每階段最少 min per session {f['turns_per_session_min']}）",
        f"  錯誤 errors {f['errors']}；串線 crossings {f['crossings']}；"
        f"database is locked {f['database_locked']}；Traceback {f['tracebacks']}",
        f"  延遲 latency p50 {f['p50_s']} s，p95 {f['p95_s']} s，max {f['max_s']} s",
        f"  稽核 audit: 鏈驗證 verified {f['audit_verified']}；紀錄 records {f['audit_records']}"
        f"；遺失 lost {f['records_lost']}",
        f"  伺服器停止 server stop: {f['server_stop'].get('stopped_by')} "
        f"(exit {f['server_stop'].get('returncode')})",
    ]
    for e in f["first_errors"][:3] + f["first_crossings"][:3]:
        lines.append(f"  ! {e}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.reliability.load", description=__doc__)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--workdir", type=Path, default=Path("reliability-load"))
    p.add_argument(
        "--laws",
        type=Path,
        default=DEFAULT_LAWS,
        help="ChLaw.json (the tests' slice of it is taken) or a subset file (used whole).",
    )
    p.add_argument("--json", dest="json_out", type=Path, help="Write the figures here as JSON.")
    args = p.parse_args(argv)
    figures = run(args.workdir, sessions=args.sessions, seconds=args.seconds, laws=args.laws)
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, ensure_ascii=False, indent=2), "utf-8")
    return 0 if ok(figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
