"""Bad inputs get a clear error (Chinese first, then English, no traceback) and change nothing:
oversized, empty, corrupt, encrypted and bomb uploads, unknown accounts, impossible dates,
malformed amounts, questions longer than the guard allows or than a real (tiny) llama.cpp
model's context. One data dir for the module: evals.reliability.inputs builds it and plays
every case through the service, the desk services and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.reliability import inputs


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, small_law_files: tuple[Path, Path]) -> dict:
    return inputs.run(
        tmp_path_factory.mktemp("bad-inputs"), laws=small_law_files[0], progress=lambda *a: None
    )


def _case(report: dict, prefix: str) -> dict[str, Any]:
    found = [c for c in report["cases"] if c["name"].startswith(prefix)]
    assert found, f"no case {prefix!r}"
    return found[0]


def test_every_bad_input_is_refused_clearly_and_changes_nothing(report: dict) -> None:
    bad = [
        f"{c['name']} [{c['got']}]: {c['message'][:160]!r} {c['unclear']} {c['changed']}"
        for c in report["cases"]
        if not c["ok"]
    ]
    assert not bad, "\n".join(bad)
    assert report["n"] >= 45


@pytest.mark.parametrize(
    ("prefix", "says"),
    [
        ("upload: one byte over the limit", "檔案過大"),
        ("upload: empty file", "只接受 PDF"),
        ("upload: zip bomb (.zip)", "只接受 PDF"),
        ("upload: zip bomb renamed .docx", "只接受 PDF"),
        ("fraud CLI trace: unknown account", "查無帳戶"),
        ("fx CLI convert: -100", "金額看不懂"),
        ("fx convert: 10^20", "金額過大"),
        ("fraud CLI trace: --min-amount 1e309", "最低金額"),
    ],
)
def test_refused_before_anything_starts(report: dict, prefix: str, says: str) -> None:
    c = _case(report, prefix)
    assert c["got"] == "raised" and says in c["message"]
    assert c["changed"] == [] and c["recorded"] == []  # not even a conversation or audit row


@pytest.mark.parametrize(
    ("prefix", "says"),
    [
        ("upload: real report cut in half", "無法讀取 PDF"),
        ("upload: encrypted PDF", "已加密"),
        ("upload: deflate bomb", "壓縮炸彈"),
        ("upload: 5000 blank pages", "沒有文字層"),
        ("chat (fraud role): trace an unknown account", "查無帳戶"),
        ("chat (fx role): convert -100 USD", "金額須大於 0"),
        ("question longer than max_question_chars", "問題過長"),
    ],
)
def test_answered_turns_say_why_and_are_audited(report: dict, prefix: str, says: str) -> None:
    c = _case(report, prefix)
    assert c["got"] == "answered" and says in c["message"]
    assert c["changed"] == []
    assert "table:audit_record: " in "\n".join(c["recorded"])  # the refusal is audited


def test_the_bomb_is_read_bounded(report: dict) -> None:
    c = _case(report, "credit CLI: deflate bomb")
    assert "壓縮炸彈" in c["message"] and c["seconds"] < 10


def test_a_question_longer_than_the_models_context(report: dict) -> None:
    c = _case(report, "question longer than the model's context")
    assert c["ok"] and "上下文" in c["message"] and "context" in c["message"]
    follow = _case(report, "follow-up after the over-long turn")
    assert follow["ok"], follow["message"]


def test_clarity_rules() -> None:
    assert inputs.clarity("查無帳戶 1 / unknown account 1") == []
    assert inputs.clarity("unknown account") != []
    assert inputs.clarity("查无账户 / unknown account") != []  # Simplified
    assert inputs.clarity("錯誤 / ValueError: bad") != []  # a raw exception class
