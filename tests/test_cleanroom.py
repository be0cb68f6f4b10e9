"""The clean room: a private set intersection between two real processes over loopback (the
partner a subprocess with its own list, made in its own process), through the fraud desk, each
side learning the shared identifiers (or only their count) and the audit keeping what was
revealed without the identifiers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.cleanroom.psi import digest
from assistant.cleanroom.synthetic import phone_list
from assistant.container import Container
from assistant.errors import AuthError
from assistant.permissions import UserContext
from tests.conftest import make_settings

INV = UserContext("inv", "fraud")
BANK, PARTNER, SHARED, SEED = 2000, 300, 40, 11


@pytest.fixture
def c(tmp_path: Path) -> Iterator[Container]:
    container = Container(make_settings(tmp_path / "data"))
    yield container
    container.close()


def _partner(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant.cleanroom.partner",
            "--synthetic",
            f"{PARTNER}:{SHARED}:{SEED}",
            "--timeout",
            "60",
            *args,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def _expected() -> set[str]:
    return set(phone_list("bank", BANK, SHARED, SEED)) & set(
        phone_list("partner", PARTNER, SHARED, SEED)
    )


@pytest.mark.parametrize("mode", ["ids", "count"])
def test_the_bank_asks_a_partner_process_and_learns_only_what_the_mode_reveals(
    c: Container, mode: str
) -> None:
    partner = _partner("--mode", mode)
    try:
        port = json.loads(partner.stdout.readline())["port"]  # type: ignore[union-attr]
        bank = phone_list("bank", BANK, SHARED, SEED)
        report = c.cleanroom_desk.ask(INV, bank, "127.0.0.1", port, mode=mode, source="test")
        theirs = json.loads(partner.stdout.readline())  # type: ignore[union-attr]
    finally:
        assert partner.wait(timeout=60) == 0
    expected = _expected()
    assert len(expected) == SHARED
    assert report.count == SHARED and report.other_items == PARTNER and report.verified
    assert theirs["count"] == SHARED and theirs["other_items"] == BANK and theirs["verified"]
    if mode == "ids":
        assert set(report.shared or []) == expected
        assert theirs["shared_sha256"] == digest(expected)
    else:
        assert report.shared is None and theirs["shared_sha256"] is None
    # the partner printed what it learned: never the bank's other identifiers
    assert not any(x in json.dumps(theirs) for x in bank)
    rec = c.audit.recent(1)[0].tool_calls[0]
    assert rec["name"] == "fraud.cleanroom.ask" and rec["args"]["shared"] == SHARED
    assert rec["args"]["partner_items"] == PARTNER and rec["args"]["mode"] == mode
    assert not any(x in json.dumps(rec, ensure_ascii=False) for x in expected)


def test_the_bank_answers_and_the_partner_asks(c: Container) -> None:
    ports: list[int] = []
    ready = threading.Event()
    out: dict = {}

    def answer() -> None:
        out["r"] = c.cleanroom_desk.answer(
            INV,
            phone_list("bank", BANK, SHARED, SEED),
            0,
            on_listen=lambda p: (ports.append(p), ready.set()),
            timeout=60,
        )

    t = threading.Thread(target=answer)
    t.start()
    assert ready.wait(30)
    partner = _partner("--connect", f"127.0.0.1:{ports[0]}")
    theirs = json.loads(partner.stdout.readline())  # type: ignore[union-attr]
    assert partner.wait(timeout=60) == 0
    t.join(60)
    assert theirs["role"] == "client" and theirs["count"] == SHARED
    assert out["r"].role == "server" and set(out["r"].shared) == _expected()
    assert c.audit.recent(1)[0].tool_calls[0]["name"] == "fraud.cleanroom.answer"


def test_a_role_without_fraud_work_may_not_use_the_clean_room(c: Container) -> None:
    with pytest.raises(AuthError):
        c.cleanroom_desk.ask(UserContext("x", "credit"), ["0911000001"], "127.0.0.1", 9)
    assert c.audit.recent(1)[0].tool_calls[0]["name"] == "access_denied"
