"""Dates as bank staff write them: ISO, 2024/1/5, ROC (民國) 113/01/05, 民國113年1月5日, 1130105;
times of day on a 24- or 12-hour clock (09:30, 下午 03:20, 3:20 PM, 093000)."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

_PATTERN = re.compile(
    r"^(?:民國|中華民國)?\s*(\d{2,4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$"
)


# written without separators, as bank exports do: 1130501 (ROC), 20240501
_COMPACT = re.compile(r"^(\d{3,4})(\d{2})(\d{2})$")


def parse_date(text: str) -> date:
    """A year of three digits or fewer is an ROC year (民國 = Gregorian − 1911); a date may be
    written without separators (1130501, 20240501)."""
    raw = unicodedata.normalize("NFKC", text).strip()
    m = _PATTERN.match(raw) or _COMPACT.match(raw)
    if not m:
        raise ValueError(f"日期格式錯誤 / not a date (YYYY-MM-DD or 民國 113/01/05): {text!r}")
    year, month, day = (int(g) for g in m.groups())
    if year < 1000 or raw.startswith(("民國", "中華民國")):
        year += 1911
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"日期不存在 / no such date: {text!r}") from exc


_CLOCK = re.compile(r"^(\d{1,2}):?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?$")
# a 12-hour clock's half of the day, before or after the time (上午 09:15, 3:05 PM)
_HALF = re.compile(r"^(上午|下午|AM|PM|A\.M\.|P\.M\.)\s*|\s*(上午|下午|AM|PM|A\.M\.|P\.M\.)$", re.I)


def _clock(text: str) -> tuple[int, int, int, int] | None:
    """(hour, minute, second, microsecond) of a time of day: 09:15, 9:15:02.5, 091502, and a
    12-hour clock with 上午 / 下午 or AM / PM; None when it is not one."""
    half = _HALF.search(text)
    word = (half.group(1) or half.group(2)).upper().replace(".", "") if half else ""
    t = _CLOCK.match(_HALF.sub("", text).strip())
    if t is None:
        return None
    h, mi, sec, frac = t.groups()
    hour = int(h)
    if word in ("上午", "AM") and hour == 12:
        hour = 0  # 上午 12:30 is half past midnight
    elif word in ("下午", "PM") and hour < 12:
        hour += 12
    return hour, int(mi), int(sec or 0), int((frac or "0").ljust(6, "0"))


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
    t = _clock(clock)
    if t is None:
        raise ValueError(f"時間格式錯誤 / not a time of day (HH:MM[:SS]): {clock!r}")
    try:
        return datetime(day.year, day.month, day.day, *t)
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
