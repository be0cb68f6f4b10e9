"""The monitor's state on disk: a snapshot that outlives the process that scores.

A snapshot is plain data, gzip-compressed JSON, never pickle: loading one runs no code, however
it was made. It holds what the rules look back over (each account's ``AccountState``), how many
transfers the monitor has seen and the time of the latest (where a restart catches up on the
ledger from), the anomaly model (river's HalfSpaceTrees as its trees' splits and masses) and
the rule set it was built under. It carries a header (``FORMAT``, ``VERSION``,
the river version that built the model) checked before anything else is read.

A snapshot is written to a temporary file beside the real one, flushed to disk and renamed over
it, so a crash mid-write leaves the last good snapshot, never half of a new one. One that cannot
be read (a damaged file, not JSON, not this product's format, a newer format) is moved aside as
``*.bad-<time>``, kept for a look, and the monitor starts cold. One written under other rules
keeps its account state, as a change of rules on a running monitor does
(``TransferMonitor.replace_rules``), and its anomaly model only when the model's settings are
the same.
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.monitor.monitor import AccountState, TransferMonitor
from assistant.monitor.mule_score import OnArrival, Tally
from assistant.monitor.rules import RuleSet
from assistant.monitor.signals import SignalTable

FORMAT = "twfin-monitor-state"
VERSION = 1
FILE_NAME = "monitor_state.json.gz"


class BadSnapshot(Exception):
    """A snapshot that cannot be used at all: why, in Chinese and in English."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


@dataclass
class Restored:
    """A monitor built from a snapshot, and what was kept of it, in words."""

    monitor: TransferMonitor
    notes: list[str] = field(default_factory=list)  # each Chinese first, then English
    model_kept: bool = True


# ---- to plain data and back ---------------------------------------------------------------


@contextmanager
def _no_gc() -> Iterator[None]:
    """Millions of small objects made at once set off the cycle collector over and over (a
    third of the time of a copy of 50,000 accounts); none of them form cycles."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _account(st: AccountState) -> dict[str, Any]:
    # Shallow copies only (tuples are written as JSON arrays as they are): this runs under the
    # scoring lock, the JSON is made outside it.
    return {
        "first_ts": st.first_ts,
        "out": list(st.out),
        "inc": list(st.inc),
        "new_payees": list(st.new_payees),
        "near": list(st.near),
        "cash": list(st.cash),
        "payees": list(st.payees),
        "payers": list(st.payers),
        "n_out": st.n_out,
        "n_in": st.n_in,
        "sum_out": st.sum_out,
        "sum_in": st.sum_in,
        "cash_in": st.cash_in,
        "cash_out": st.cash_out,
        "peaks": dict(st.peaks),
        "tally": st.tally.to_dict(),
    }


def _entries(rows: list[Any]) -> deque[tuple[int, float, str]]:
    return deque((int(ts), float(amount), str(other)) for ts, amount, other in rows)


def _from_account(d: dict[str, Any]) -> AccountState:
    return AccountState(
        first_ts=int(d["first_ts"]),
        out=_entries(d["out"]),
        inc=_entries(d["inc"]),
        new_payees=deque(int(ts) for ts in d["new_payees"]),
        near=deque(int(ts) for ts in d["near"]),
        cash=_entries(d["cash"]),
        payees=set(d["payees"]),
        payers=set(d["payers"]),
        n_out=int(d["n_out"]),
        n_in=int(d["n_in"]),
        sum_out=float(d["sum_out"]),
        sum_in=float(d["sum_in"]),
        cash_in=float(d["cash_in"]),
        cash_out=float(d["cash_out"]),
        peaks={str(k): float(v) for k, v in d["peaks"].items()},
        # A snapshot from before the mule score kept its tallies: they start from here.
        tally=Tally.from_dict(d["tally"]) if d.get("tally") is not None else Tally(),
    )


def _river_version() -> str:
    from river import __version__

    return str(__version__)


def _model(model: Any) -> dict[str, Any] | None:
    """HalfSpaceTrees as data: each tree's nodes in pre-order, a branch as [feature, threshold,
    l_mass, r_mass], a leaf as [l_mass, r_mass]; with the window's counter."""
    if model is None:
        return None

    def walk(node: Any, out: list[list[Any]]) -> None:
        if hasattr(node, "feature"):
            out.append([node.feature, node.threshold, node.l_mass, node.r_mass])
            walk(node.children[0], out)
            walk(node.children[1], out)
        else:
            out.append([node.l_mass, node.r_mass])

    trees = []
    for tree in model.trees:
        nodes: list[list[Any]] = []
        walk(tree, nodes)
        trees.append(nodes)
    return {
        "river": _river_version(),
        "counter": model.counter,
        "first_window": model._first_window,
        "trees": trees,
    }


def _restore_model(model: Any, doc: dict[str, Any]) -> None:
    """Put the saved trees into a freshly made HalfSpaceTrees of the same settings."""
    from river.tree.padded import PaddedBranch, PaddedLeaf

    height = model.height

    def build(nodes: list[list[Any]], at: int, depth: int) -> tuple[Any, int]:
        row = nodes[at]
        if depth == height:
            l_mass, r_mass = row
            return PaddedLeaf(l_mass=l_mass, r_mass=r_mass), at + 1
        feature, threshold, l_mass, r_mass = row
        left, at = build(nodes, at + 1, depth + 1)
        right, at = build(nodes, at, depth + 1)
        node = PaddedBranch(left, right, str(feature), float(threshold), l_mass, r_mass)
        return node, at

    trees = []
    for nodes in doc["trees"]:
        tree, end = build(nodes, 0, 0)
        if end != len(nodes):
            raise ValueError("tree size")
        trees.append(tree)
    if trees and len(trees) != model.n_trees:
        raise ValueError("tree count")
    model.trees = trees
    model._tree_nodes = [list(t.iter_dfs()) for t in trees]
    model.counter = int(doc["counter"])
    model._first_window = bool(doc["first_window"])


def dump(monitor: TransferMonitor) -> dict[str, Any]:
    """The monitor's state as plain data (call it where nothing else is scoring)."""
    with _no_gc():
        accounts = {a: _account(st) for a, st in monitor.accounts.items()}
    return {
        "format": FORMAT,
        "version": VERSION,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rules_version": monitor.rules.version,
        "rules": monitor.rules.to_dict(),
        "seen": monitor.seen,
        "last_ts": monitor.last_ts,
        "last_ids": sorted(monitor.last_ids),
        "accounts": accounts,
        "model": _model(monitor._model),
    }


def restore(
    doc: dict[str, Any],
    rules: RuleSet,
    signals: Sequence[SignalTable] = (),
    mule: OnArrival | None = None,
) -> Restored:
    """A monitor on ``rules`` (the set in force) with the snapshot's state: its accounts always,
    its anomaly model when the model's settings are the same and the same river built it.
    ``mule``: the mule score on arrival (its percentiles are taken again on the first
    transfer)."""
    monitor = TransferMonitor(rules, signals, mule)
    try:
        with _no_gc():
            monitor.accounts = {str(a): _from_account(d) for a, d in doc["accounts"].items()}
        monitor.seen = int(doc["seen"])
        # Absent in a snapshot written before the monitor kept its place: no catch-up then.
        last_ts = doc.get("last_ts")
        monitor.last_ts = int(last_ts) if last_ts is not None else None
        monitor.last_ids = {str(i) for i in doc.get("last_ids") or ()}
        saved_rules = doc["rules"]
        saved_version = str(doc["rules_version"])
        saved_model = doc["model"]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadSnapshot(
            f"監控狀態檔內容不完整（{type(exc).__name__}: {exc}）",
            f"the monitor's state file is incomplete ({type(exc).__name__}: {exc})",
        ) from None
    out = Restored(monitor)
    if saved_version != rules.version:
        out.notes.append(
            f"監控狀態建於規則 {saved_version}，現行規則 {rules.version}：保留帳戶狀態 / the monitor's "
            f"state was built under rules {saved_version}, rules {rules.version} are in force: "
            "the account state is kept"
        )
    same_model = isinstance(saved_rules, dict) and saved_rules.get("anomaly") == rules.anomaly
    if monitor._model is None:
        return out
    if saved_model is None or not same_model:
        out.model_kept = False
        out.notes.append(
            "異常偵測模型設定已變更，模型重新學習 / the anomaly model's settings changed: the model "
            "starts learning again"
        )
        return out
    if saved_model.get("river") != _river_version():
        out.model_kept = False
        out.notes.append(
            f"異常偵測模型由 river {saved_model.get('river')} 建立，現為 {_river_version()}：模型"
            f"重新學習 / the anomaly model was built by river {saved_model.get('river')}, this is "
            f"{_river_version()}: the model starts learning again"
        )
        return out
    try:
        _restore_model(monitor._model, saved_model)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        monitor._load_model()
        out.model_kept = False
        out.notes.append(
            f"異常偵測模型無法讀回（{exc}），模型重新學習 / the anomaly model could not be read back "
            f"({exc}): the model starts learning again"
        )
    return out


# ---- the file -----------------------------------------------------------------------------


def write(path: Path, doc: dict[str, Any]) -> int:
    """Write ``doc`` atomically: a temporary file beside ``path``, synced, renamed over it.
    Returns the bytes written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = gzip.compress(
        json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        compresslevel=5,
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    try:  # the rename itself survives a power cut once the folder is synced
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return len(body)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
    return len(body)


def read(path: Path) -> dict[str, Any] | None:
    """The snapshot at ``path`` (None: there is none), its header checked; a file that is not a
    whole snapshot of this format raises :class:`BadSnapshot`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BadSnapshot(
            f"無法讀取監控狀態檔（{exc}）", f"cannot read the monitor's state file ({exc})"
        ) from None
    try:
        with _no_gc():
            doc = json.loads(gzip.decompress(raw).decode("utf-8"))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise BadSnapshot(
            f"監控狀態檔損毀或不完整（{type(exc).__name__}）",
            f"the monitor's state file is damaged or cut short ({type(exc).__name__})",
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BadSnapshot(
            "檔案不是本產品的監控狀態檔", "the file is not this product's monitor state"
        )
    if doc.get("version") != VERSION:
        raise BadSnapshot(
            f"監控狀態檔格式版本為 {doc.get('version')!r}，本版本只讀 {VERSION}",
            f"the monitor's state file is format version {doc.get('version')!r}, this product "
            f"reads {VERSION}",
        )
    return doc


def set_aside(path: Path) -> Path | None:
    """Move an unusable snapshot out of the way, kept for a look: ``NAME.bad-<UTC time>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    target = path.with_name(f"{path.name}.bad-{stamp}")
    try:
        os.replace(path, target)
    except OSError:
        return None
    return target
