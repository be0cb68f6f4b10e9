"""Command-line logins: `assistant login` gives a token that ends like a page login.

The database keeps only the token's sha256, the user and when it was made and last used; the
token itself lives in the OS user's own file (mode 0600). A token past ``lifetime`` or unused for
``idle`` reads as no login, and is deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete
from sqlmodel import Session

from assistant.records import CliSessionRow


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class CliSessions:
    def __init__(self, engine: Engine, *, lifetime: timedelta, idle: timedelta) -> None:
        self._engine = engine
        self._lifetime = lifetime
        self._idle = idle

    def start(self, user_name: str) -> str:
        token = secrets.token_urlsafe(32)
        now = _now()
        with Session(self._engine) as s:
            s.add(
                CliSessionRow(
                    token_sha256=_digest(token), user_name=user_name, created_at=now, last_seen=now
                )
            )
            s.commit()
        return token

    def user(self, token: str) -> str | None:
        """The user a live token belongs to (its last use is moved to now), or None."""
        now = _now()
        with Session(self._engine) as s:
            row = s.get(CliSessionRow, _digest(token))
            if row is None:
                return None
            if (
                now - _aware(row.created_at) > self._lifetime
                or now - _aware(row.last_seen) > self._idle
            ):
                s.delete(row)
                s.commit()
                return None
            row.last_seen = now
            s.add(row)
            s.commit()
            return row.user_name

    def end(self, token: str) -> bool:
        with Session(self._engine) as s:
            done = s.execute(
                delete(CliSessionRow).where(CliSessionRow.token_sha256 == _digest(token))  # type: ignore[arg-type]
            )
            s.commit()
        return bool(done.rowcount)  # type: ignore[attr-defined]


class TokenFile:
    """This OS user's tokens, one per database (the key is a digest of its URL), so logins to
    two data folders do not mix."""

    def __init__(self, path: Path, database_url: str) -> None:
        self._path = path.expanduser()
        self._key = hashlib.sha256(database_url.encode("utf-8")).hexdigest()[:16]

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self._path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self) -> str | None:
        token = self._read().get(self._key)
        return token if isinstance(token, str) else None

    def put(self, token: str | None) -> None:
        data = self._read()
        if token is None:
            data.pop(self._key, None)
        else:
            data[self._key] = token
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".part")
        # Created readable by this user only, before the token is written into it.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        tmp.replace(self._path)
