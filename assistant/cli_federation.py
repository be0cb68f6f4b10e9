"""`assistant federation …` (金融盾): a coordinator, banks joining with their ledgers, federated
runs, their status, and deploying the federated model as the fraud desk's scorer."""

from __future__ import annotations

from typing import Any

import click

from assistant.cli_support import AppContext, emit_json, needs_user, pass_app
from assistant.cli_usage import BilingualError
from assistant.federation.processes import Tls
from assistant.permissions import UserContext


@click.group()
def federation() -> None:
    """金融盾 / one mule model trained across banks; no ledger leaves its bank."""


@needs_user
@federation.command("start")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Port banks reach (default: a free one, fine on one machine only).",
)
@click.option(
    "--ca",
    help="The consortium CA certificate (PEM): TLS and node authentication instead of loopback.",
)
@click.option("--cert", help="The coordinator's certificate (PEM).")
@click.option("--key", help="The coordinator's private key (PEM).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def start_cmd(
    app: AppContext,
    user: UserContext,
    host: str,
    port: int | None,
    ca: str | None,
    cert: str | None,
    key: str | None,
    as_json: bool,
) -> None:
    """Start the coordinator (a Flower SuperLink) in the background."""
    tls = Tls(ca=ca, cert=cert, key=key) if ca or cert or key else None
    info = app.container.federation_desk.start(user, host, tls, port)
    if as_json:
        emit_json(info)
        return
    click.echo(f"協調端已啟動 / coordinator started: {info['fleet']} (pid {info['pid']})")


@needs_user
@federation.command("register")
@click.argument("bank")
@click.argument("public_key", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@pass_app
def register_cmd(
    app: AppContext, user: UserContext, bank: str, public_key: str, as_json: bool
) -> None:
    """On the coordinator: allow BANK to join, by the PUBLIC_KEY it sent (OpenSSH ECDSA,
    e.g. bank1.pub). A bank whose key is not registered is refused."""
    info = app.container.federation_desk.register(user, bank, public_key)
    if as_json:
        emit_json(info)
        return
    click.echo(f"{bank} 已登錄 / registered: node {info['node_id']}")


@needs_user
@federation.command("join")
@click.argument("bank")
@click.argument("ledger", required=False)
@click.option("--superlink", help="The coordinator's address (default: the one started here).")
@click.option("--ca", help="The consortium CA certificate (PEM).")
@click.option("--node-key", help="This bank's SuperNode private key (node authentication).")
@click.option(
    "--connect-timeout",
    type=click.FloatRange(1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the coordinator to accept this bank.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def join_cmd(
    app: AppContext,
    user: UserContext,
    bank: str,
    ledger: str | None,
    superlink: str | None,
    ca: str | None,
    node_key: str | None,
    connect_timeout: float,
    as_json: bool,
) -> None:
    """BANK joins with its LEDGER (a database URL or a SQLite ledger file; default: this
    installation's database). Starts a Flower SuperNode next to the ledger."""
    if node_key and not ca:
        raise BilingualError(
            "--node-key 需搭配 --ca（節點驗證只在 TLS 下）/ --node-key needs --ca (node "
            "authentication runs over TLS only)"
        )
    tls = Tls(ca=ca, node_key=node_key) if ca else None
    info = app.container.federation_desk.join(user, bank, ledger, superlink, tls, connect_timeout)
    if as_json:
        emit_json(info)
        return
    click.echo(
        f"{bank} 已加入 / joined: SuperNode pid {info['pid']} → {info['superlink']} "
        f"(node {info['node_id']})"
    )


@needs_user
@federation.command("leave")
@click.argument("bank")
@pass_app
def leave_cmd(app: AppContext, user: UserContext, bank: str) -> None:
    """Stop BANK's SuperNode."""
    was = app.container.federation_desk.leave(user, bank)
    click.echo(f"{bank}: " + ("已離開 / left" if was else "未在執行 / was not running"))


@needs_user
@federation.command("stop")
@pass_app
def stop_cmd(app: AppContext, user: UserContext) -> None:
    """Stop the coordinator and every bank started here."""
    app.container.federation_desk.stop(user)
    click.echo("已停止 / stopped")


@needs_user
@federation.command("run")
@click.option("--rounds", type=click.IntRange(1, 1000), default=3, show_default=True)
@click.option("--min-banks", type=click.IntRange(1, 1000), default=2, show_default=True)
@click.option(
    "--clip-norm",
    type=float,
    default=2.0,
    show_default=True,
    help="Longest change one bank may make to the model per round (0: no clipping).",
)
@click.option(
    "--noise-multiplier",
    type=click.FloatRange(0, 1000),
    default=0.0,
    show_default=True,
    help="Differential privacy: Gaussian noise of this many clip norms on each round's sum.",
)
@click.option(
    "--secure-aggregation",
    is_flag=True,
    default=False,
    help=(
        "SecAgg+: the coordinator sees only the sum of the banks' updates, each bank clips its "
        "own; needs --min-banks 3 or more; about 25 s a round for three banks."
    ),
)
@click.option(
    "--architecture", type=click.Choice(["mlp", "logistic"]), default="logistic", show_default=True
)
@click.option(
    "--steps",
    type=click.IntRange(1, 10_000),
    default=60,
    show_default=True,
    help="Local training steps per round at each bank.",
)
@click.option(
    "--round-timeout",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds to wait for the banks' replies in a round.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def run_cmd(app: AppContext, user: UserContext, as_json: bool, **settings: Any) -> None:
    """Run federated rounds on the banks that joined; every round goes to the audit trail."""
    out = app.container.federation_desk.run(user, **settings)
    if as_json:
        emit_json(out)
        return
    for rec in out["rounds"]:
        click.echo(
            f"第 {rec['round']} 輪 round {rec['round']}: {rec['status']}  "
            f"banks {', '.join(rec['participants']) or '-'}  sha256 {rec['sha256'][:12]}"
        )
        if rec.get("secure_aggregation"):
            click.echo(
                f"  安全聚合 / secure aggregation: 平均更新長度 mean change "
                f"{rec.get('aggregate_norm', '-')}, {rec.get('seconds', '-')} s"
            )
        for b in rec["banks"]:
            if not b["accepted"]:
                click.echo(f"  {b['bank']}: {b['reason']}", err=True)
            elif b.get("clipped"):
                click.echo(
                    f"  {b['bank']}: 更新已裁減 / update clipped (norm {b['update_norm']:.3g})"
                )
    s = out["summary"]
    click.echo(f"{s['status']}: {s['rounds_ok']} 輪 rounds, model {out['model']}")
    if s.get("epsilon") is not None:
        click.echo(f"差分隱私 / differential privacy: ε = {s['epsilon']} (δ = {s['delta']})")
    if s.get("error"):
        raise BilingualError(s["error"])


@needs_user
@federation.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def status_cmd(app: AppContext, user: UserContext, as_json: bool) -> None:
    """The coordinator, the banks that joined here, and the runs so far."""
    out = app.container.federation_desk.status(user)
    if as_json:
        emit_json(out)
        return
    c = out["coordinator"]
    if c:
        state = "執行中 / running" if c["running"] else "已停止 / stopped"
        click.echo(f"coordinator {c['fleet']} pid {c['pid']}: {state}")
    else:
        click.echo("coordinator: 未啟動 / not started")
    for b in out["banks"]:
        state = "running" if b["running"] else "stopped"
        click.echo(f"  bank {b['bank']} pid {b['pid']}: {state}")
    for r in out["runs"]:
        click.echo(
            f"run {r['run']}: {r.get('status')} {r.get('rounds_ok', '-')} rounds "
            f"sha256 {str(r.get('sha256'))[:12]}"
        )


@needs_user
@federation.command("deploy")
@click.argument("run", required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def deploy_cmd(app: AppContext, user: UserContext, run: str | None, as_json: bool) -> None:
    """Make RUN's federated model (default: the newest) the fraud desk's scorer."""
    out = app.container.federation_desk.deploy(user, run)
    if as_json:
        emit_json(out)
        return
    click.echo(f"{out['zh']} / {out['en']}")
