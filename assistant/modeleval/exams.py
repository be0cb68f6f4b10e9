"""Multiple-choice exams: the SFI format and a generic CSV / JSONL format, read as ExamItems.

SFI (證基會) JSON: a list of {"題號", "題目", "選項": {"1".."4"}, "答案"}; it has no subject,
so none is derived (a "科目" field is used when present). Generic: one question per row or line
with ``question``, options ``A``–``D`` (columns, or an ``options`` object / list) and ``answer``;
``subject`` optional. Chinese column names (題目, 答案, 科目, 選項1–選項4) are accepted too.

A malformed question (no text, an empty option, an answer that is not an option, an id used
before) is skipped and reported with its place and reason; the rest of the exam still runs.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.modeleval.answer import extract_choice
from assistant.modeleval.items import ItemError, Loaded, Row, collect, jsonl_rows, label, read_text

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


def _blank(value: Any) -> bool:
    return value is None or not str(value).strip()


def _options(row: dict[str, Any], from_csv: bool) -> dict[str, str]:
    """label → text. An option that is there with no text is malformed: its text was lost (an
    SFI question always has four), and asking without it would show the model a gap. Only a
    CSV's trailing blank cells are not options: every row has every column there, so a
    three-option question leaves D empty."""
    raw = _first(row, ("options", "選項", "choices"))
    pairs: list[tuple[str, Any]]
    if isinstance(raw, dict):
        pairs = [(str(k).strip(), v) for k, v in raw.items()]
    elif isinstance(raw, list):
        pairs = list(zip("ABCDEFGH", raw, strict=False))
        if len(raw) > len("ABCDEFGH"):
            raise ItemError("選項超過 8 個 / more than eight options")
    elif raw is not None:
        raise ItemError("選項應為物件或清單 / options must be an object or a list")
    else:
        # Columns: A–H (or a–h), or SFI's flat 選項1–選項8.
        pairs = []
        for i, letter in enumerate("ABCDEFGH", 1):
            for key, lb in ((letter, letter), (letter.lower(), letter), (f"選項{i}", str(i))):
                if key in row:
                    pairs.append((lb, row[key]))
                    break
        if from_csv:
            while pairs and _blank(pairs[-1][1]):
                pairs.pop()
    for lb, text in pairs:
        if _blank(text):
            raise ItemError(f"選項 {lb} 是空的 / option {lb} is empty")
    options = {lb: str(text).strip() for lb, text in pairs}
    if len(options) < len(pairs):
        raise ItemError("選項代號重複 / an option label is repeated")
    return options


def _item(row: Row, from_csv: bool = False) -> ExamItem:
    data = row.value
    if not isinstance(data, dict):
        raise ItemError("不是一題（應為物件）/ not a question object")
    question = _first(data, _QUESTION)
    if _blank(question):
        raise ItemError("缺少題目 / no question")
    options = _options(data, from_csv)
    if len(options) < 2:
        raise ItemError("選項不足兩個 / fewer than two options")
    gold = _first(data, _ANSWER)
    if _blank(gold):
        raise ItemError("缺少答案 / no answer")
    # Gold may be a label ("C", "３", "(3)") or the index of another numbering: read it like an
    # answer, so a CSV with 1–4 answers over A–D columns loads as it was meant.
    answer = extract_choice(str(gold), list(options))
    if answer is None:
        raise ItemError(f"答案 {gold!r} 不是選項之一 / answer is not an option label")
    subject = _first(data, _SUBJECT)
    ident = _first(data, _ID)
    return ExamItem(
        id=str(ident if ident is not None else row.n),
        question=str(question).strip(),
        options=options,
        answer=answer,
        subject=str(subject).strip() if subject else None,
    )


def _json_rows(path: Path) -> list[Row]:
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: 不是 JSON / not JSON: {exc}") from exc
    if isinstance(data, dict):  # {"questions": [...]} and the like
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if not isinstance(data, list):
        raise ValueError(f"{path}: 找不到題目清單 / not a list of questions")
    return [Row(i, label(f"#{i}", r, _ID), r) for i, r in enumerate(data, 1)]


def _csv_rows(path: Path) -> list[Row]:
    text = read_text(path)
    try:
        # Line numbers as an editor shows them: the header is line 1.
        return [
            Row(n, label(f"line {n}", r, _ID), dict(r))
            for n, r in enumerate(csv.DictReader(io.StringIO(text, newline="")), 2)
        ]
    except csv.Error as exc:
        raise ValueError(f"{path}: CSV 格式錯誤 / not a readable CSV: {exc}") from exc


def load_exam(path: Path) -> Loaded[ExamItem]:
    """The questions of an exam file (.json: SFI or a list of rows; .jsonl; .csv), with the
    malformed ones skipped and listed in ``.skipped``; ValueError only for a file that cannot
    be read as its format or holds no valid question."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        rows: Iterable[Row] = _json_rows(path)
    elif suffix == ".jsonl":
        rows = jsonl_rows(path, _ID)
    elif suffix == ".csv":
        rows = _csv_rows(path)
    else:
        raise ValueError(f"{path}: 不支援的格式 / use .json (SFI), .jsonl or .csv")
    # Resumed runs key results by item id: a repeated id is skipped, not overwritten.
    return collect(
        path,
        rows,
        lambda row: _item(row, from_csv=suffix == ".csv"),
        key=lambda item: item.id,
        what=("題目", "questions"),
    )
