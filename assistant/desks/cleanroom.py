"""The clean room through the fraud desk: a private set intersection with a partner, every run
recorded with what it revealed (how many identifiers were shared, their sha256, the size of the
partner's list), never the identifiers themselves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assistant.cleanroom.psi import PsiReport, listen, query, serve
from assistant.desks.base import AuditTrail, Desk
from assistant.permissions import UserContext


class CleanRoomDesk(Desk):
    area = "fraud"

    def __init__(self, audit: AuditTrail) -> None:
        super().__init__(audit)

    def _recorded(self, user: UserContext, what: str, args: dict[str, Any], r: PsiReport) -> None:
        self.record(
            user,
            what,
            {
                **args,
                "role": r.role,
                "own_items": r.own_items,
                "partner_items": r.other_items,
                "shared": r.count,
                "shared_sha256": r.to_dict()["shared_sha256"],
                "verified": r.verified,
                "bytes_sent": r.bytes_sent,
            },
            f"揭露 / revealed: {r.revealed}",
        )

    def ask(
        self,
        user: UserContext | None,
        identifiers: Sequence[str],
        host: str,
        port: int,
        *,
        mode: str = "ids",
        source: str = "",
        timeout: float = 300.0,
    ) -> PsiReport:
        """Ask the partner at ``host:port`` which of ``identifiers`` it holds too (``ids``) or
        how many (``count``)."""
        args = {"partner": f"{host}:{port}", "mode": mode, "source": source}
        u = self.allow(user, "fraud.cleanroom", args)
        report = query(host, port, identifiers, mode=mode, timeout=timeout)
        self._recorded(u, "fraud.cleanroom.ask", args, report)
        return report

    def answer(
        self,
        user: UserContext | None,
        identifiers: Sequence[str],
        port: int,
        *,
        host: str = "127.0.0.1",
        mode: str = "ids",
        source: str = "",
        timeout: float = 300.0,
        on_listen: Any = None,
    ) -> PsiReport:
        """Answer one partner's query on ``host:port`` (port 0: any free one, told to
        ``on_listen``)."""
        args = {"listen": f"{host}:{port}", "mode": mode, "source": source}
        u = self.allow(user, "fraud.cleanroom", args)
        with listen(host, port) as listener:
            if on_listen is not None:
                on_listen(listener.getsockname()[1])
            report = serve(listener, identifiers, mode=mode, timeout=timeout)
        self._recorded(u, "fraud.cleanroom.answer", args, report)
        return report
