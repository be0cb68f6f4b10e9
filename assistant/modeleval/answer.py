"""Reading the chosen option out of a model's output.

The exam suite decodes under a JSON schema whose ``answer`` is an enum of the option labels, so
a llama.cpp model can only emit a label. A server or a reasoning model may still answer in
prose ("答案：3", "(C)", "選項2", full-width "３"), so the free-text path is robust too: an
unusable answer is counted as such, never guessed.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

_LETTERS = "ABCDEFGH"
# Circled and other forms NFKC does not fold to a plain digit or letter.
_EXTRA = str.maketrans({"①": "1", "②": "2", "③": "3", "④": "4", "⑤": "5", "⑥": "6"})
_CUE = r"(?i:答案|正確答案|正解|選項|選擇|應選|應為|answer(?:\s+is)?|option|choice)"


def answer_schema(labels: Sequence[str]) -> dict[str, Any]:
    """JSON schema that lets the model write one of the labels and nothing else."""
    return {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": list(labels)}},
        "required": ["answer"],
    }


def _fold(text: str) -> str:
    # Full-width digits and letters (３, Ｃ) and full-width brackets become ASCII.
    return unicodedata.normalize("NFKC", text).translate(_EXTRA)


def _cross(token: str, labels: Sequence[str]) -> str | None:
    """A label, or the label at the same position when the model used the other numbering
    (wrote "C" where the options are 1–4, or "3" where they are A–D)."""
    token = token.upper()
    upper = [lb.upper() for lb in labels]
    if token in upper:
        return labels[upper.index(token)]
    if token.isdigit() and all(lb.upper() in _LETTERS for lb in labels):
        i = int(token) - 1
        return labels[i] if 0 <= i < len(labels) else None
    if token in _LETTERS and all(lb.isdigit() for lb in labels):
        i = _LETTERS.index(token)
        return labels[i] if i < len(labels) else None
    return None


def extract_choice(text: str, labels: Sequence[str]) -> str | None:
    """The option label the output chooses, or None when it names none or several."""
    if not text or not text.strip():
        return None
    t = _fold(text)
    t = re.sub(r"<think>.*?</think>", " ", t, flags=re.S)  # reasoning is not the answer
    # A JSON object, as a schema-constrained or a well-behaved server answer is.
    m = re.search(r"\{.*\}", t, flags=re.S)
    if m:
        try:
            data = json.loads(m.group(0))
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            for key in ("answer", "答案", "choice", "option"):
                if key in data:
                    return _cross(str(data[key]).strip(), labels)
    # Capital letters only: "the answer is a bank" names no option.
    token = r"([A-H]|\d{1,2})"
    # An explicit cue wins over a bare mention: "答案：3", "選項2", "the answer is (C)".
    cued = re.findall(_CUE + r"[\s:：是為]*[\(\[（【「]?\s*" + token + r"(?![A-Za-z\d])", t)
    picks = {_cross(c, labels) for c in cued} - {None}
    if len(picks) == 1:
        return picks.pop()
    if len(picks) > 1:
        # "選項2不對，答案是3": the last cue is the conclusion.
        return _cross(cued[-1], labels)
    # A label in brackets: "(C)", "（３）", "【B】".
    bracketed = re.findall(r"[\(\[（【「]\s*" + token + r"\s*[\)\]）】」]", t)
    picks = {_cross(b, labels) for b in bracketed} - {None}
    if len(picks) == 1:
        return picks.pop()
    # The whole output is a label, maybe with punctuation: "3", "C.", "B、".
    bare = re.fullmatch(r"\s*" + token + r"\s*[\.\)、。:：]?\s*", t)
    if bare:
        return _cross(bare.group(1), labels)
    # Output that starts with a label and goes on to explain: "C. 因為…", "2：…".
    lead = re.match(r"\s*" + token + r"\s*[\.\)、。:：]\s*\S", t)
    if lead:
        return _cross(lead.group(1), labels)
    return None
