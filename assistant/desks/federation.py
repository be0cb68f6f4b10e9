"""The federation desk (金融盾): starting the coordinator, a bank joining, federated runs and
deploying their model, for every channel.

Every change is checked against the permission table (``fraud.ledger``: the same people who may
train the local scorer) and recorded. A run leaves one audit record per round (who took part,
who was refused and why, when, the model's hash, the metrics each bank reported) and one for
the model it produced, so the trail says which model version scored an account and how it
was made.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.desks.base import AuditTrail, Desk
from assistant.errors import AssistantError
from assistant.federation.processes import Federation, Tls, read_run
from assistant.federation.runconfig import RunSettings
from assistant.fraud.service import FraudService
from assistant.permissions import UserContext


class FederationDesk(Desk):
    area = "fraud"

    def __init__(
        self,
        federation: Federation,
        fraud: FraudService,
        audit: AuditTrail,
        defaults: dict[str, Any] | None = None,
        ledger: str | None = None,
    ) -> None:
        """``defaults``: run settings every run starts from (the cash rules of the settings,
        so every bank computes the structuring features against the same threshold);
        ``ledger``: the database a bank joins with when it names none (this installation's)."""
        super().__init__(audit)
        self._ledger = ledger
        self._fed = federation
        self._fraud = fraud
        self._defaults = dict(defaults or {})

    def status(self, user: UserContext | None) -> dict[str, Any]:
        """The coordinator, the banks that joined here and the runs so far (no customer data,
        but only people who work the ledger need it)."""
        self.allow(user, "fraud.read")
        runs = []
        folder = self._fed.workdir / "runs"
        if folder.is_dir():
            for p in sorted(folder.iterdir(), key=lambda q: int(q.name) if q.name.isdigit() else 0):
                if (p / "summary.json").is_file():
                    r = read_run(p)
                    runs.append({"run": p.name, **r["summary"], "model": r["model"]})
                elif p.name.isdigit():
                    runs.append({"run": p.name, "status": "running or interrupted"})
        return {
            "folder": str(self._fed.workdir),
            "coordinator": self._fed.coordinator(),
            "banks": self._fed.banks(),
            "runs": runs,
        }

    def start(
        self,
        user: UserContext | None,
        host: str = "127.0.0.1",
        tls: Tls | None = None,
        port: int | None = None,
    ) -> dict[str, Any]:
        args = {"host": host, "port": port, "tls": bool(tls and tls.cert)}
        u = self.allow(user, "fraud.ledger", args)
        info = self._fed.start_coordinator(host, tls, port=port)
        self.record(u, "federation.start", args, f"SuperLink {info['fleet']} pid {info['pid']}")
        return info

    def register(self, user: UserContext | None, bank: str, public_key: str) -> dict[str, Any]:
        """Allow ``bank``'s SuperNode to connect: its public key registered at the
        coordinator (node authentication); who registered which key is on the audit trail."""
        args = {"bank": bank, "public_key": public_key}
        u = self.allow(user, "fraud.ledger", args)
        try:
            out = self._fed.register(bank, public_key)
        except AssistantError as exc:
            self.record(u, "federation.register", args, f"失敗 / failed: {exc}")
            raise
        self.record(u, "federation.register", args, f"node {out['node_id']}")
        return out

    def join(
        self,
        user: UserContext | None,
        bank: str,
        ledger: str | None = None,
        superlink: str | None = None,
        tls: Tls | None = None,
        connect_s: float = 30.0,
    ) -> dict[str, Any]:
        ledger = ledger or self._ledger
        if not ledger:
            raise AssistantError("請指定帳務資料庫 / name the ledger database")
        args = {"bank": bank, "ledger": _safe_ledger(ledger), "superlink": superlink}
        u = self.allow(user, "fraud.ledger", args)
        try:
            info = self._fed.join(bank, ledger, superlink, tls, connect_s)
        except AssistantError as exc:
            # a refused bank is worth a record too: which key or CA was turned away, when
            self.record(u, "federation.join", args, f"失敗 / failed: {exc}")
            raise
        self.record(
            u, "federation.join", args, f"SuperNode {bank} pid {info['pid']} node {info['node_id']}"
        )
        return info

    def leave(self, user: UserContext | None, bank: str) -> bool:
        u = self.allow(user, "fraud.ledger", {"bank": bank})
        was = self._fed.leave(bank)
        self.record(u, "federation.leave", {"bank": bank}, "stopped" if was else "not running")
        return was

    def stop(self, user: UserContext | None) -> None:
        u = self.allow(user, "fraud.ledger")
        self._fed.stop()
        self.record(u, "federation.stop", {}, "coordinator and banks stopped")

    def run(self, user: UserContext | None, **settings: Any) -> dict[str, Any]:
        """A federated run of ``settings`` (``RunSettings`` fields but ``out``); every round
        and the model go to the audit trail, a failed round with its reason."""
        args = {k: v for k, v in settings.items() if v is not None}
        u = self.allow(user, "fraud.ledger", args)
        # wait for every bank started here (others may join from elsewhere: min_banks)
        joined = sum(1 for b in self._fed.banks() if b["running"])
        try:
            # checked before any run folder exists: settings it refuses (secure aggregation
            # with fewer than three banks) start nothing
            run_settings = RunSettings(out="", **{"expect_banks": joined, **self._defaults, **args})
        except AssistantError as exc:
            self.record(u, "federation.run", args, f"拒絕 / refused: {exc}")
            raise
        out = self._fed.next_run_dir()
        run_settings = replace(run_settings, out=str(out))
        try:
            result = self._fed.run(run_settings)
        except AssistantError as exc:
            self.record(u, "federation.run", {**args, "run": out.name}, f"失敗 / failed: {exc}")
            raise
        for rec in result["rounds"]:
            self.record(
                u,
                "federation.round",
                {
                    "run": out.name,
                    "round": rec["round"],
                    "sent": rec.get("sent"),
                    "finished": rec.get("finished"),
                    "participants": rec["participants"],
                    "refused": {b["bank"]: b["reason"] for b in rec["banks"] if not b["accepted"]},
                    "clipped": [b["bank"] for b in rec["banks"] if b.get("clipped")],
                    "metrics": {b["bank"]: b["metrics"] for b in rec["banks"]},
                    "sha256": rec["sha256"],
                    **_secure_fields(rec),
                },
                rec.get("error")
                or f"第 {rec['round']} 輪完成 / round done, sha256 {rec['sha256']}",
            )
        summary = result["summary"]
        self.record(
            u,
            "federation.model",
            {"run": out.name, "model": result["model"], "sha256": summary.get("sha256")},
            f"{summary['status']}: {summary['rounds_ok']} 輪 rounds"
            + (f"; {summary['error']}" if summary.get("error") else ""),
        )
        return result

    def deploy(self, user: UserContext | None, run: str | None = None) -> dict[str, Any]:
        """Make a run's model (default: the newest run that produced one) the fraud desk's
        scorer; its scores then say they come from the federated model."""
        args = {"run": run}
        u = self.allow(user, "fraud.ledger", args)
        model = self._model_of(run)
        out = self._fraud.deploy(model)
        self.record(
            u, "federation.deploy", {"run": run, "model": str(model)}, f"sha256 {out['hash']}"
        )
        return out

    def _model_of(self, run: str | None) -> Path:
        folder = self._fed.workdir / "runs"
        if run:
            names = [run]
        elif folder.is_dir():
            names = sorted((p.name for p in folder.iterdir() if p.name.isdigit()), key=int)[::-1]
        else:
            names = []
        for name in names:
            model = folder / str(name) / "model.json"
            if model.is_file():
                return model
        raise AssistantError(
            f"找不到聯邦模型（run {run or '最新 / newest'}）/ no federated model for run "
            f"{run or '(newest)'}: run `assistant federation run` first"
        )


def _secure_fields(rec: dict[str, Any]) -> dict[str, Any]:
    """What a secure round's record says instead of each bank's update: that the coordinator
    saw only the sum, that the banks clipped their own, and the length of the mean change."""
    if not rec.get("secure_aggregation"):
        return {}
    return {
        "secure_aggregation": True,
        "clipping": rec.get("clipping", "bank"),
        "aggregate_norm": rec.get("aggregate_norm"),
    }


def _safe_ledger(ledger: str) -> str:
    """A ledger URL for the audit record without any password in it."""
    if "://" in ledger and "@" in ledger:
        scheme, rest = ledger.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return ledger
