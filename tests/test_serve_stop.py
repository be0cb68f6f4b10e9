"""`assistant serve` stopped by SIGTERM (what systemd, a container runtime and `kill` send)
closes the web server and the container in order, as Ctrl-C does: exit code 0, and SQLite's
write-ahead log folded back into the database when its last connection closes."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLI = (sys.executable, "-m", "assistant.cli")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(proc: subprocess.Popen[str], url: str, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(encoding="utf-8")
        try:
            if httpx.get(url, timeout=2).status_code in (200, 401):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"not up after {timeout_s} s:\n{log.read_text(encoding='utf-8')}")


def test_sigterm_stops_the_server_cleanly(tmp_path: Path) -> None:
    data, log, port = tmp_path / "data", tmp_path / "serve.log", _free_port()
    with log.open("w", encoding="utf-8") as fh:
        proc = subprocess.Popen(
            [*CLI, "--data-dir", str(data), "serve", "--port", str(port)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        try:
            _wait_up(proc, f"http://127.0.0.1:{port}/", log)
            assert (data / "assistant.db-wal").exists()  # the server holds the database open
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text(encoding="utf-8")
    assert code == 0, text
    assert "已停止 / stopped" in text
    assert "Traceback" not in text
    assert not (data / "assistant.db-wal").exists(), "the database was not closed"
    # the transfer monitor's state, written by the clean stop (on an empty ledger the start
    # warms nothing and so writes nothing)
    assert (data / "fraud" / "monitor_state.json.gz").is_file(), text
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))
