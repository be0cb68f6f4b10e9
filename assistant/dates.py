"""Dates as bank staff write them: ISO, 2024/1/5, ROC (民國) 113/01/05, 民國113年1月5日."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_PATTERN = re.compile(
    r"^(?:民國|中華民國)?\s*(\d{2,4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$"
)


def parse_date(text: str) -> date:
    """A year of three digits or fewer is an ROC year (民國 = Gregorian − 1911)."""
    raw = unicodedata.normalize("NFKC", text).strip()
    m = _PATTERN.match(raw)
    if not m:
        raise ValueError(f"日期格式錯誤 / not a date (YYYY-MM-DD or 民國 113/01/05): {text!r}")
    year, month, day = (int(g) for g in m.groups())
    if year < 1000 or raw.startswith(("民國", "中華民國")):
        year += 1911
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"日期不存在 / no such date: {text!r}") from exc
