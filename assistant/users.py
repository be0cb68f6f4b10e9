"""Users and their roles. Passwords are stored as argon2id hashes, never in clear."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from assistant.errors import AuthError, NotFound
from assistant.permissions import ROLES, UserContext
from assistant.records import LoginAttemptRow, UserRow

_NAME = re.compile(r"^[\w.@-]{1,64}$")
MIN_PASSWORD = 8


class UserStore:
    def __init__(
        self,
        engine: Engine,
        hasher: PasswordHasher | None = None,
        *,
        max_failures: int = 5,
        lockout: timedelta = timedelta(minutes=15),
    ) -> None:
        self._engine = engine
        self._hasher = hasher or PasswordHasher()
        # A name with ``max_failures`` failed logins within ``lockout`` is refused without
        # checking the password until the window has passed: guessing is slowed to a crawl,
        # and the real user is locked out for minutes, not for good.
        self._max_failures = max_failures
        self._lockout = lockout
        # Verifying against this when the user does not exist keeps both paths equally slow,
        # so timing does not reveal which names exist.
        self._dummy = self._hasher.hash("not-a-password")

    def add(
        self, name: str, role: str, password: str | None, display_name: str = ""
    ) -> UserContext:
        if not _NAME.match(name):
            raise AuthError(f"使用者名稱只能用字母、數字與 ._@- / invalid user name: {name!r}")
        if role not in ROLES:
            raise AuthError(f"未知的角色 / unknown role {role!r}; roles: {', '.join(ROLES)}")
        if password is not None and len(password) < MIN_PASSWORD:
            raise AuthError(f"密碼至少 {MIN_PASSWORD} 個字元 / password too short")
        with Session(self._engine) as s:
            if s.exec(select(UserRow).where(UserRow.name == name)).first():
                raise AuthError(f"使用者已存在 / user already exists: {name}")
            row = UserRow(
                name=name,
                role=role,
                display_name=display_name,
                password_hash=self._hasher.hash(password) if password else None,
            )
            s.add(row)
            s.commit()
            s.refresh(row)
            return UserContext(row.name, row.role, row.id)

    def get(self, name: str) -> UserContext:
        with Session(self._engine) as s:
            row = s.exec(select(UserRow).where(UserRow.name == name)).first()
        if row is None or not row.active:
            raise NotFound(f"沒有這位使用者 / no such user: {name}")
        return UserContext(row.name, row.role, row.id)

    def ensure(self, name: str, role: str) -> UserContext:
        """The CLI's own account: created on first use, without a password (no UI login)."""
        try:
            return self.get(name)
        except NotFound:
            return self.add(name, role, None)

    def authenticate(self, name: str, password: str, source: str = "") -> UserContext | None:
        """The user, or None; every attempt is recorded (ok, failed, or locked)."""
        name = (name or "")[:64]
        if self.locked(name):
            self._attempt(name, "locked", source)
            return None
        user = self._check(name, password)
        self._attempt(name, "ok" if user else "failed", source)
        return user

    def locked(self, name: str) -> bool:
        """True while the name has ``max_failures`` failed logins within the lockout window
        and no successful one since the first of them."""
        since = datetime.now(UTC) - self._lockout
        with Session(self._engine) as s:
            last_ok = s.exec(
                select(func.max(LoginAttemptRow.at)).where(
                    LoginAttemptRow.user_name == name, LoginAttemptRow.outcome == "ok"
                )
            ).one()
            start = max(since, _aware(last_ok)) if last_ok else since
            failures = s.exec(
                select(func.count()).where(
                    LoginAttemptRow.user_name == name,
                    LoginAttemptRow.outcome == "failed",
                    col(LoginAttemptRow.at) > start,
                )
            ).one()
        return failures >= self._max_failures

    def attempts(self, limit: int = 50, outcome: str | None = None) -> list[LoginAttemptRow]:
        with Session(self._engine) as s:
            q = select(LoginAttemptRow).order_by(col(LoginAttemptRow.id).desc()).limit(limit)
            if outcome:
                q = q.where(LoginAttemptRow.outcome == outcome)
            return list(s.exec(q))

    def _attempt(self, name: str, outcome: str, source: str) -> None:
        with Session(self._engine) as s:
            s.add(LoginAttemptRow(user_name=name, outcome=outcome, source=source[:64]))
            s.commit()

    def _check(self, name: str, password: str) -> UserContext | None:
        with Session(self._engine) as s:
            row = s.exec(select(UserRow).where(UserRow.name == name)).first()
            stored = row.password_hash if row and row.active else None
            try:
                self._hasher.verify(stored or self._dummy, password)
            except (VerificationError, InvalidHashError):
                return None
            if stored is None or row is None:
                return None
            if self._hasher.check_needs_rehash(stored):
                row.password_hash = self._hasher.hash(password)
                s.add(row)
                s.commit()
            return UserContext(row.name, row.role, row.id)

    def set_password(self, name: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AuthError(f"密碼至少 {MIN_PASSWORD} 個字元 / password too short")
        with Session(self._engine) as s:
            row = s.exec(select(UserRow).where(UserRow.name == name)).first()
            if row is None:
                raise NotFound(f"沒有這位使用者 / no such user: {name}")
            row.password_hash = self._hasher.hash(password)
            s.add(row)
            s.commit()

    def list(self) -> list[UserRow]:
        with Session(self._engine) as s:
            return list(s.exec(select(UserRow).order_by(UserRow.name)))


def _aware(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
