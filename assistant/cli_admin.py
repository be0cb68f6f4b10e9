"""`assistant admin …`: switches an administrator flips for everyone, and the login record."""

from __future__ import annotations

import click

from assistant.cli_support import AppContext, emit_json, needs_user, pass_app
from assistant.permissions import UserContext


@click.group()
def admin() -> None:
    """系統管理 / administrators' switches and the login record."""


@needs_user
@admin.command("model")
@click.option("--on/--off", "enabled", default=None, help="Switch model features on or off.")
@click.option("--reason", default="", help="Why, for the audit trail.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def model_cmd(
    app: AppContext, user: UserContext, enabled: bool | None, reason: str, as_json: bool
) -> None:
    """語言模型功能開關 / model features on or off for everyone, at once (no restart). Without
    --on/--off: show the switch."""
    desk = app.container.admin_desk
    state = (
        desk.switch("model") if enabled is None else desk.set_switch(user, "model", enabled, reason)
    )
    if as_json:
        emit_json(state)
        return
    word = (
        "開啟 on" if state["enabled"] else "關閉 off（回答不經語言模型 / answers without a model）"
    )
    by = f" — {state['changed_by']} {state['changed_at'][:16]}" if state["changed_by"] else ""
    click.echo(f"語言模型功能 model features: {word}{by}")
    if state["reason"]:
        click.echo(f"  {state['reason']}")


@needs_user
@admin.command("logins")
@click.option("--failed", is_flag=True, help="Only failed and locked-out attempts.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def logins_cmd(app: AppContext, user: UserContext, failed: bool, limit: int, as_json: bool) -> None:
    """登入紀錄 / recent login attempts (ok, failed, locked), newest first."""
    data = app.container.admin_desk.logins(user, limit, failed=failed)
    if as_json:
        emit_json(data)
        return
    for r in data:
        click.echo(f"{r['at'][:19]}  {r['outcome']:7} {r['user']} {r['source']}")
