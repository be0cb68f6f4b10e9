"""Loading evaluation items: a malformed item is skipped and reported, never fatal.

One bad line in a question bank (an empty option, a line that is not JSON, a missing gold
answer) used to refuse the whole file. Every harness now reads its items through ``collect``:
each row is parsed on its own, a row that raises ``ItemError`` is set aside as a ``Skipped``
(which item, and why: Chinese then English), and the rest are scored. Only a file with no
valid item at all, or one that cannot be read as its format, is refused, with a ``ValueError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ItemError(ValueError):
    """One item is malformed: its message is the reason, Chinese then English."""


@dataclass(frozen=True)
class Skipped:
    item: str  # how a person finds it in the file: "line 7 (id q12)", "#3 (題號 3)"
    reason: str  # "選項 3 是空的 / option 3 is empty"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.item}: {self.reason}"


class Loaded(list[T]):
    """The valid items of a file, in file order, with the skipped ones alongside.

    A list, so that code which only needs the items (benchmarks, older callers) keeps working;
    a slice is a plain list, so read ``skipped`` before cutting to a limit.
    """

    def __init__(self, items: Iterable[T] = (), skipped: Iterable[Skipped] = ()) -> None:
        super().__init__(items)
        self.skipped: list[Skipped] = list(skipped)

    def skipped_dicts(self) -> list[dict[str, str]]:
        return [s.as_dict() for s in self.skipped]


@dataclass(frozen=True)
class Row:
    n: int  # line number (JSONL, CSV) or 1-based position (a JSON list)
    where: str  # the label a Skipped carries
    value: Any  # the decoded row, or the ItemError that kept it from being decoded


def label(where: str, value: Any, id_keys: tuple[str, ...] = ("id",)) -> str:
    """``where`` with the row's own id when it has one: a person searches for either."""
    if isinstance(value, dict):
        for key in id_keys:
            ident = value.get(key)
            if ident not in (None, "") and isinstance(ident, str | int):
                return f"{where} ({key} {ident})"
    return where


def read_text(path: Path) -> str:
    """The file's text; a file that cannot be read at all is refused as a whole."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: 無法讀取 / cannot read the file: {exc}") from exc


def jsonl_rows(path: Path, id_keys: tuple[str, ...] = ("id",)) -> Iterator[Row]:
    """Each non-blank line of a JSONL file; one that is not a JSON object becomes an ItemError
    in place, so the lines after it are still read."""
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        value: Any
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            value = ItemError(f"不是 JSON / not JSON: {exc.msg} (column {exc.colno})")
        else:
            if not isinstance(value, dict):
                value = ItemError("不是 JSON 物件 / not a JSON object")
        yield Row(n, label(f"line {n}", value, id_keys), value)


def collect(
    source: Path | str,
    rows: Iterable[Row],
    parse: Callable[[Row], T],
    key: Callable[[T], Hashable] | None = None,
    what: tuple[str, str] = ("題目", "items"),
) -> Loaded[T]:
    """Parse every row; skip (and record) those that raise ItemError.

    ``key``, when given, must be unique: results are stored and resumed by it, so a later item
    with the key of an earlier one is skipped rather than silently overwriting it. A file that
    yields no valid item is refused, naming the first skipped item so the cause is visible.
    """
    items: Loaded[T] = Loaded()
    seen: dict[Hashable, str] = {}
    for row in rows:
        try:
            if isinstance(row.value, ItemError):
                raise row.value
            item = parse(row)
            if key is not None:
                k = key(item)
                if k in seen:
                    raise ItemError(f"編號 {k} 已見於 {seen[k]} / id {k} already used by {seen[k]}")
                seen[k] = row.where
        except ItemError as exc:
            items.skipped.append(Skipped(row.where, str(exc)))
            continue
        items.append(item)
    if not items:
        first = f"; {items.skipped[0]}" if items.skipped else ""
        raise ValueError(
            f"{source}: 沒有可用的{what[0]} / no valid {what[1]} "
            f"({len(items.skipped)} skipped{first})"
        )
    return items


def skipped_lines(skipped: Iterable[Skipped | dict[str, str]], limit: int = 50) -> list[str]:
    """One indented text line per skipped item (at most ``limit``), for a CLI or a report; the
    caller prints the count in its own summary line."""
    rows = [s if isinstance(s, dict) else s.as_dict() for s in skipped]
    out = []
    for r in rows[:limit]:
        where = f"{r['file']} " if r.get("file") else ""
        out.append(f"  略過 skipped {where}{r['item']}: {r['reason']}")
    if len(rows) > limit:
        out.append(f"  … 另有 {len(rows) - limit} 筆 / {len(rows) - limit} more")
    return out
