"""The monitor's journal: transfers scored only through the API since the last save outlive a
crash. A process killed between two saves, restarted on the same folder, decides the next
transfers exactly as a monitor that never stopped; a snapshot that reached the disk is never
replayed twice; a journal cut short mid-line loses only that line; a journal whose snapshot is
gone is set aside, not replayed over a cold state. Real processes (the crash is SIGKILL), real
SQLite folders, real river models."""

from __future__ import annotations

import gzip
import json
import logging
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.monitor.journal import Journal
from assistant.monitor.state import FILE_NAME
from assistant.monitor.transfers import Transfer
from tests.test_monitor_state import _container, _decisions, _fast_model, _stream, never_stopped

REPO = Path(__file__).resolve().parents[1]
JOURNAL = FILE_NAME + ".journal"

# Scores the stream's first half through the desk in calls of 50, a save every 150 transfers,
# then dies without closing: what a crash leaves.
_CRASH = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from tests.test_monitor_state import _container, _decisions, _fast_model, _stream, never_stopped
    before, _ = _stream()
    c = _container(Path(sys.argv[1]), save_every=150, save_every_s=0)
    _fast_model(c)
    for k in range(0, len(before), 50):
        _decisions(c, before[k : k + 50])
        c.fraud_monitor.wait_saved()
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _crash(data: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CRASH, str(data)], cwd=REPO, capture_output=True, timeout=300
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]


def _seen(path: Path) -> int:
    return int(json.loads(gzip.decompress(path.read_bytes()))["seen"])


def test_a_crash_between_saves_loses_no_transfer_scored_through_the_api(tmp_path: Path) -> None:
    before, after = _stream()
    expected = never_stopped(tmp_path / "never")

    data = tmp_path / "crash"
    _crash(data)
    fraud = data / "fraud"
    saved = _seen(fraud / FILE_NAME)
    assert 0 < saved < len(before)  # the last save is behind: the journal holds the rest
    journaled = sum(
        len(p.read_text().splitlines()) for p in fraud.iterdir() if p.name.startswith(JOURNAL)
    )
    assert saved + journaled == len(before)

    again = _container(data)
    try:
        got = _decisions(again, after)
        assert again.fraud_monitor.restored()
        assert again.fraud_monitor.monitor().seen == len(before) + len(after)
    finally:
        again.close()
    assert got == expected
    fired = {d["transfer_id"]: {r["rule"] for r in d["reasons"]} for d in got}
    assert "pass_through_2h" in fired["OUT1"]  # the money in, scored after the last save
    # the clean stop's snapshot holds everything: no journal left to replay
    assert not [p for p in fraud.iterdir() if p.name.startswith(JOURNAL)]
    reopened = _container(data)
    try:
        assert reopened.fraud_monitor.monitor().seen == len(before) + len(after)
    finally:
        reopened.close()


def test_the_first_transfer_scored_has_a_snapshot_under_its_journal(tmp_path: Path) -> None:
    """A monitor that never warmed writes its (empty) state before it journals anything, so a
    crash before the first periodic save replays the journal over the state it followed."""
    before, _ = _stream()
    data = tmp_path / "data"
    c = _container(data, save_every=0, save_every_s=0)
    try:
        _decisions(c, before[:5])
        path = data / "fraud" / FILE_NAME
        assert path.is_file() and _seen(path) == 0
        assert len((data / "fraud" / JOURNAL).read_text().splitlines()) == 5
        _decisions(c, before[5:8])
        assert _seen(path) == 0  # written once, not per call
        assert len((data / "fraud" / JOURNAL).read_text().splitlines()) == 8
    finally:
        c.close()
    assert _seen(path) == 8 and not (data / "fraud" / JOURNAL).exists()


def _t(i: int) -> Transfer:
    return Transfer(f"T{i}", 1_700_000_000 + i, f"A{i}", f"B{i}", 100.0 + i, memo=f"備註{i}")


def test_segments_replay_after_their_snapshot_only(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL
    j = Journal(path)
    j.append([_t(0), _t(1)])
    first = j.rotate()  # a snapshot copied here holds T0, T1
    j.append([_t(2)])
    second = j.rotate()  # the next copy, whose write then failed: T2 stays in segment 2
    j.append([_t(3), _t(4)])
    j.close()
    assert (first, second) == (1, 2)
    assert [t.id for t in j.replay(after=first)] == ["T2", "T3", "T4"]
    assert [t.id for t in j.replay(after=0)] == ["T0", "T1", "T2", "T3", "T4"]
    assert next(j.replay(after=0)) == _t(0)  # every field back, the memo included
    j.settle(first)
    reopened = Journal(path)  # a new process finds where the numbering stood
    assert reopened.seq == 2
    assert [t.id for t in reopened.replay(after=first)] == ["T2", "T3", "T4"]
    reopened.settle(reopened.rotate())
    assert list(reopened.replay(after=0)) == []
    assert list(tmp_path.iterdir()) == []


def test_a_line_cut_short_by_a_crash_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / JOURNAL
    j = Journal(path)
    j.append([_t(0), _t(1)])
    j.close()
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"id":"T2","ts":17000')  # the write the crash interrupted
    with caplog.at_level(logging.WARNING, logger="assistant.monitor.journal"):
        got = [t.id for t in Journal(path).replay(after=0)]
    assert got == ["T0", "T1"]
    message = caplog.records[0].getMessage()
    assert message.index("第 3 行") < message.index("line 3")


def test_a_journal_without_its_snapshot_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, after = _stream()
    data = tmp_path / "data"
    _crash(data)
    fraud = data / "fraud"
    (fraud / FILE_NAME).unlink()  # the snapshot is gone (removed by hand, a restore of backups)
    journaled = sorted(p.name for p in fraud.iterdir() if p.name.startswith(JOURNAL))
    assert journaled
    with caplog.at_level(logging.WARNING, logger="assistant.monitor.service"):
        c = _container(data)
        try:
            _decisions(c, after[:3])
            assert not c.fraud_monitor.restored()
            assert c.fraud_monitor.monitor().seen == 3  # cold: nothing replayed over it
        finally:
            c.close()
    kept = sorted(p.name for p in fraud.iterdir() if ".bad-" in p.name)
    assert [k.split(".bad-")[0] for k in kept] == journaled
    assert any("監控日誌無法重播" in r.getMessage() for r in caplog.records)


def test_a_second_process_replays_the_owners_journal_without_writing(tmp_path: Path) -> None:
    before, _ = _stream()
    data = tmp_path / "data"
    owner = _container(data, save_every=100, save_every_s=0)
    try:
        _fast_model(owner)
        for k in range(0, 250, 50):
            _decisions(owner, before[k : k + 50])
            owner.fraud_monitor.wait_saved()
        journal = data / "fraud" / JOURNAL
        held = journal.read_bytes()
        other = _container(data)
        try:
            assert other.fraud_monitor.monitor().seen == 250  # the save at 200, then 50 journaled
            _decisions(other, before[250:260])
        finally:
            other.close()
        assert journal.read_bytes() == held  # nothing of the other process's in the owner's
    finally:
        owner.close()
