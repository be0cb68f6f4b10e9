"""What every desk does before it serves a request: check the caller's role, and record.

A desk (use-case service) is the one place that decides whether the calling user may perform an
operation (``assistant.permissions.OPERATIONS``) and that writes the audit record, allowed and
denied alike. The channels (chat graph, command line, page, HTTP API) call desks with the user;
the domain services below them never see a user.
"""

from __future__ import annotations

from typing import Any, Protocol

from assistant.errors import AuthError
from assistant.permissions import UserContext

LOGIN_REQUIRED = (
    "此操作需要登入：請以 --user 名稱 加上 --password-stdin 或 ASSISTANT_PASSWORD，或先執行 "
    "assistant login / this needs a user: give --user NAME with --password-stdin or "
    "ASSISTANT_PASSWORD, or run `assistant login` first"
)


class LoginRequired(AuthError):
    """A request that reads customer data or takes a decision came without a user."""

    def __init__(self, message: str = LOGIN_REQUIRED) -> None:
        super().__init__(message)


class AuditTrail(Protocol):
    """The part of the audit log a desk writes to (``assistant.audit.AuditLog``)."""

    def record_action(
        self,
        user: UserContext,
        *,
        conversation_id: str | None,
        action: str,
        args: dict[str, Any],
        outcome: str,
        agent: str = "",
    ) -> int: ...


class Desk:
    """Base of the desks: :meth:`allow` before the work, :meth:`record` after it."""

    #: The agent whose work this desk serves, written on its audit records.
    area = ""

    def __init__(self, audit: AuditTrail) -> None:
        self._audit = audit

    def allow(
        self,
        user: UserContext | None,
        operation: str,
        args: dict[str, Any] | None = None,
        *,
        conversation_id: str | None = None,
    ) -> UserContext:
        """The user, when their role may perform ``operation``; otherwise the refusal is
        recorded (who, what, with which arguments) and raised as :class:`AuthError`."""
        if user is None:
            raise LoginRequired()
        if not user.may(operation):
            self._audit.record_action(
                user,
                conversation_id=conversation_id,
                action="access_denied",
                args={"operation": operation, **(args or {})},
                outcome=f"角色 {user.role} 不得執行 {operation} / role may not {operation}",
                agent=self.area,
            )
            raise AuthError(
                f"你的角色（{user.role}）不能執行 {operation} / your role ({user.role}) may not "
                f"perform {operation}"
            )
        return user

    def record(
        self,
        user: UserContext,
        operation: str,
        args: dict[str, Any],
        outcome: str,
        *,
        conversation_id: str | None = None,
    ) -> int:
        """Record an allowed operation: who did what to which data, and what came of it."""
        return self._audit.record_action(
            user,
            conversation_id=conversation_id,
            action=operation,
            args=args,
            outcome=outcome,
            agent=self.area,
        )
