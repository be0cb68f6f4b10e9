"""Multiple-choice exams: the SFI format and a generic CSV / JSONL format, read as ExamItems.

SFI (證基會) JSON: a list of {"題號", "題目", "選項": {"1".."4"}, "答案"}; it has no subject,
so none is derived (a "科目" field is used when present). Generic: one question per row or line
with ``question``, options ``A``–``D`` (columns, or an ``options`` object / list) and ``answer``;
``subject`` optional. Chinese column names (題目, 答案, 科目) are accepted too.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.modeleval.answer import extract_choice

_QUESTION = ("question", "題目", "q")
_ANSWER = ("answer", "答案", "gold")
_SUBJECT = ("subject", "科目", "category", "類別")
_ID = ("id", "題號", "no")


@dataclass(frozen=True)
class ExamItem:
    id: str
    question: str
    options: dict[str, str]  # label → text, in the order shown to the model
    answer: str  # one of the option labels
    subject: str | None = None


def _first(row: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in row and row[k] not in (None, ""):
            return row[k]
    return None


def _options(row: dict[str, Any]) -> dict[str, str]:
    raw = _first(row, ("options", "選項", "choices"))
    if isinstance(raw, dict):
        return {str(k).strip(): str(v).strip() for k, v in raw.items() if str(v).strip()}
    if isinstance(raw, list):
        return {"ABCDEFGH"[i]: str(v).strip() for i, v in enumerate(raw)}
    out = {}
    for label in "ABCDEFGH":
        v = row.get(label, row.get(label.lower()))
        if v not in (None, ""):
            out[label] = str(v).strip()
    return out


def _item(row: dict[str, Any], where: str, n: int) -> ExamItem:
    question = _first(row, _QUESTION)
    if not question or not str(question).strip():
        raise ValueError(f"{where}: 缺少題目 / no question")
    options = _options(row)
    if len(options) < 2:
        raise ValueError(f"{where}: 選項不足 / fewer than two options")
    gold = _first(row, _ANSWER)
    # Gold may be a label ("C", "３", "(3)") or the index of another numbering: read it like an
    # answer, so a CSV with 1–4 answers over A–D columns loads as it was meant.
    answer = extract_choice(str(gold), list(options)) if gold is not None else None
    if answer is None:
        raise ValueError(f"{where}: 答案 {gold!r} 不是選項之一 / answer is not an option label")
    subject = _first(row, _SUBJECT)
    ident = _first(row, _ID)
    return ExamItem(
        id=str(ident if ident is not None else n),
        question=str(question).strip(),
        options=options,
        answer=answer,
        subject=str(subject).strip() if subject else None,
    )


def load_exam(path: Path) -> list[ExamItem]:
    """Every question of an exam file (.json: SFI or a list of rows; .jsonl; .csv)."""
    suffix = path.suffix.lower()
    rows: list[tuple[str, dict[str, Any]]] = []
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        if isinstance(data, dict):  # {"questions": [...]} and the like
            data = next((v for v in data.values() if isinstance(v, list)), [])
        rows = [(f"{path}:#{i}", r) for i, r in enumerate(data, 1)]
    elif suffix == ".jsonl":
        for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            if line.strip():
                try:
                    rows.append((f"{path}:{n}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: 不是 JSON / not JSON: {exc}") from exc
    elif suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = [(f"{path}:{n}", dict(r)) for n, r in enumerate(csv.DictReader(fh), 2)]
    else:
        raise ValueError(f"{path}: 不支援的格式 / use .json (SFI), .jsonl or .csv")
    items = []
    for n, (where, row) in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise ValueError(f"{where}: 不是一題 / not a question object")
        items.append(_item(row, where, n))
    if not items:
        raise ValueError(f"{path}: 沒有題目 / no questions")
    if len({i.id for i in items}) != len(items):
        # Resumed runs key results by item id: ids must be unique.
        raise ValueError(f"{path}: 題號重複 / duplicate question ids")
    return items
