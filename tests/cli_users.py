"""Logged-in command lines for tests: the CLI is a channel like the page and needs a user for
anything that reads customer data or decides."""

from __future__ import annotations

from pathlib import Path

from assistant.container import Container
from assistant.errors import AuthError
from tests.conftest import make_settings

PASSWORD = "test-password-1"


def add_user(data_dir: Path, role: str, name: str | None = None) -> str:
    """A user with ``role`` in the data dir's database (kept if it exists); its name."""
    name = name or f"cli-{role}"
    c = Container(make_settings(data_dir))
    try:
        c.users.add(name, role, PASSWORD)
    except AuthError:
        pass  # made by an earlier call
    finally:
        c.close()
    return name


def login_env(data_dir: Path, role: str = "admin", name: str | None = None) -> dict[str, str]:
    """Environment for `CliRunner().invoke(..., env=...)` acting as a user with ``role``."""
    return {"ASSISTANT_USER": add_user(data_dir, role, name), "ASSISTANT_PASSWORD": PASSWORD}
