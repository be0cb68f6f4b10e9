"""The admin desk: switches that act for everyone, the login record, user accounts and the
record of model evaluations."""

from __future__ import annotations

from typing import Any, Protocol

from assistant.desks.base import AuditTrail, Desk, LoginRequired
from assistant.errors import AuthError, NotFound
from assistant.permissions import UserContext
from assistant.switches import Switches
from assistant.users import UserStore

SETUP = UserContext("setup", "admin")  # who the audit names for the very first account


class EvalRuns(Protocol):
    """The part of the evaluation store the desk reads (``assistant.modeleval.store.EvalStore``)."""

    def list_runs(self, limit: int = 50) -> list[dict[str, Any]]: ...

    def get_run(self, run_id: str, items: bool = True) -> dict[str, Any] | None: ...


class AdminDesk(Desk):
    area = "admin"

    def __init__(
        self,
        users: UserStore,
        switches: Switches,
        audit: AuditTrail,
        *,
        evals: EvalRuns | None = None,
    ) -> None:
        super().__init__(audit)
        self._users = users
        self._switches = switches
        self._evals = evals

    # ---- switches ---------------------------------------------------------------------

    def switch(self, name: str) -> dict[str, Any]:
        """A switch's state: shown on every page's banner, so open to all."""
        return self._switches.state(name)

    def set_switch(
        self, user: UserContext | None, name: str, enabled: bool, reason: str = ""
    ) -> dict[str, Any]:
        args = {"switch": name, "enabled": enabled, "reason": reason.strip()}
        u = self.allow(user, "admin.switch", args)
        state = self._switches.set(u.name, name, enabled, reason)
        self.record(
            u,
            f"admin.{name}.{'on' if enabled else 'off'}",
            args,
            f"{name} {'開啟 on' if enabled else '關閉 off'}",
        )
        return state

    # ---- logins and users -------------------------------------------------------------

    def logins(
        self, user: UserContext | None, limit: int = 50, *, failed: bool = False
    ) -> list[dict[str, Any]]:
        args = {"limit": limit, "failed": failed}
        u = self.allow(user, "admin.logins", args)
        rows = self._users.attempts(limit * 2 if failed else limit)
        if failed:
            rows = [r for r in rows if r.outcome != "ok"][:limit]
        self.record(u, "admin.logins", args, f"{len(rows)} attempts")
        return [
            {"at": r.at.isoformat(), "user": r.user_name, "outcome": r.outcome, "source": r.source}
            for r in rows
        ]

    def needs_setup(self) -> bool:
        """No account can log in yet: the first one is made without a login."""
        return not any(r.password_hash and r.active for r in self._users.list())

    def add_user(
        self,
        user: UserContext | None,
        name: str,
        role: str,
        password: str | None,
        display_name: str = "",
    ) -> UserContext:
        args = {"name": name, "role": role}
        if user is None:
            if not self.needs_setup():
                raise LoginRequired()
            if role != "admin" or not password:
                raise AuthError(
                    "第一個帳號須為有密碼的管理員 / the first account must be an admin with a "
                    "password"
                )
            u = SETUP
        else:
            u = self.allow(user, "admin.users", args)
        added = self._users.add(name, role, password, display_name)
        self.record(u, "admin.user_add", args, f"{name} ({role})")
        return added

    def users(self, user: UserContext | None) -> list[Any]:
        u = self.allow(user, "admin.users")
        rows = self._users.list()
        self.record(u, "admin.users", {}, f"{len(rows)} users")
        return rows

    def set_password(self, user: UserContext | None, name: str, password: str) -> None:
        """Anyone may change their own password; an admin anyone's."""
        if user is None:
            raise LoginRequired()
        u = user if user.name == name else self.allow(user, "admin.users", {"name": name})
        self._users.set_password(name, password)
        self.record(u, "admin.passwd", {"name": name}, "password changed")

    # ---- model evaluations ------------------------------------------------------------

    def eval_runs(self, user: UserContext | None, limit: int = 50) -> list[dict[str, Any]]:
        """Past model evaluations, newest first, with their per-model summaries."""
        args = {"limit": limit}
        u = self.allow(user, "admin.evals", args)
        rows = self._evals.list_runs(limit) if self._evals is not None else []
        self.record(u, "admin.evals", args, f"{len(rows)} runs")
        return rows

    def eval_run(self, user: UserContext | None, run_id: str) -> dict[str, Any]:
        """One evaluation by its id, without its per-item results (those stay in the store)."""
        args = {"run": run_id}
        u = self.allow(user, "admin.evals", args)
        found = self._evals.get_run(run_id, items=False) if self._evals is not None else None
        if found is None:
            raise NotFound(f"沒有這筆評測 / no such run: {run_id}")
        self.record(u, "admin.eval", args, str(found.get("status")))
        return found
