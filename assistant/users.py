"""Users and their roles. Passwords are stored as argon2id hashes, never in clear."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine
from sqlmodel import Session, select

from assistant.errors import AuthError, NotFound
from assistant.permissions import ROLES, UserContext
from assistant.records import UserRow

_NAME = re.compile(r"^[\w.@-]{1,64}$")
MIN_PASSWORD = 8


class UserStore:
    def __init__(self, engine: Engine, hasher: PasswordHasher | None = None) -> None:
        self._engine = engine
        self._hasher = hasher or PasswordHasher()
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

    def authenticate(self, name: str, password: str) -> UserContext | None:
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
