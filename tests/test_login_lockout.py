"""Failed logins are recorded and, after five in fifteen minutes, a name is locked: refused
without its password being checked, until the window has passed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher

from assistant.schema import open_engine
from assistant.users import UserStore

# Cheap hashing parameters: the rule under test is the lockout, not argon2's cost.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _store(tmp_path: Path, **kw: object) -> UserStore:
    return UserStore(open_engine(f"sqlite:///{tmp_path / 'u.db'}"), FAST, **kw)  # type: ignore[arg-type]


def test_every_attempt_is_recorded_and_five_failures_lock_the_name(tmp_path: Path) -> None:
    users = _store(tmp_path)
    users.add("amy", "compliance", "correct-horse")
    assert users.authenticate("amy", "correct-horse", source="10.0.0.5") is not None
    for _ in range(5):
        assert users.authenticate("amy", "wrong-guess") is None
    assert users.locked("amy")
    # Locked: even the right password is refused, and the refusal is recorded as such.
    assert users.authenticate("amy", "correct-horse") is None
    outcomes = [a.outcome for a in reversed(users.attempts())]
    assert outcomes == ["ok", *["failed"] * 5, "locked"]
    assert users.attempts(outcome="ok")[0].source == "10.0.0.5"
    # Another name is not affected.
    users.add("bob", "fx", "battery-staple")
    assert users.authenticate("bob", "battery-staple") is not None


def test_the_lock_lifts_when_the_window_passes(tmp_path: Path) -> None:
    users = _store(tmp_path, lockout=timedelta(seconds=0.5))
    users.add("amy", "compliance", "correct-horse")
    for _ in range(5):
        users.authenticate("amy", "nope-nope")
    assert users.locked("amy")
    import time

    time.sleep(0.6)
    assert not users.locked("amy")
    assert users.authenticate("amy", "correct-horse") is not None


def test_failures_before_a_success_do_not_count(tmp_path: Path) -> None:
    users = _store(tmp_path, max_failures=3)
    users.add("amy", "compliance", "correct-horse")
    for _ in range(2):
        users.authenticate("amy", "typo-typo")
    assert users.authenticate("amy", "correct-horse") is not None
    for _ in range(2):
        users.authenticate("amy", "typo-typo")
    assert not users.locked("amy")  # 2 since the last success, not 4
    users.authenticate("amy", "typo-typo")
    assert users.locked("amy")


def test_unknown_names_are_recorded_too(tmp_path: Path) -> None:
    users = _store(tmp_path)
    assert users.authenticate("mallory", "anything-at-all") is None
    assert users.attempts()[0].user_name == "mallory"
    assert users.attempts()[0].outcome == "failed"
