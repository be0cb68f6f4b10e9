"""Dates as bank staff write them: ISO, 2024/1/5, ROC (民國) 113/01/05, 民國113年1月5日."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

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


_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$")


def parse_datetime(text: str) -> datetime:
    """ISO 8601 (also with ``/``), or a date as :func:`parse_date` reads it with an optional
    clock time after a space or ``T`` (民國 113/01/05 09:30, 2024/1/5 9:30:15). The zone is
    kept where ISO gives one; ValueError names what is wrong."""
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    try:
        return datetime.fromisoformat(raw.replace("/", "-"))
    except ValueError:
        pass
    m = re.match(r"^(.*?[\d日])(?:\s+|T)(.+)$", raw)
    day_part, clock = (m.group(1), m.group(2).strip()) if m else (raw, "")
    day = parse_date(day_part)
    if not clock:
        return datetime(day.year, day.month, day.day)
    t = _CLOCK.match(clock)
    if t is None:
        raise ValueError(f"時間格式錯誤 / not a time of day (HH:MM[:SS]): {clock!r}")
    h, mi, sec, frac = t.groups()
    try:
        return datetime(
            day.year,
            day.month,
            day.day,
            int(h),
            int(mi),
            int(sec or 0),
            int((frac or "0").ljust(6, "0")),
        )
    except ValueError as exc:
        raise ValueError(f"時間不存在 / no such time: {clock!r}") from exc


TAIPEI = timezone(timedelta(hours=8), "Asia/Taipei")


def minute(value: str | None, zone: tzinfo | None = TAIPEI) -> str:
    """A stored ISO time (naive means UTC, as the database keeps it) to the minute in ``zone``
    (Taiwan time; None: this machine's zone), the way a list shows it; text that is not a time
    comes back as it was."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def taipei_minute(value: str | None) -> str:
    """:func:`minute` in Taiwan time: the console's lists."""
    return minute(value, TAIPEI)
