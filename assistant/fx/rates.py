"""Board rates: import the Bank of Taiwan CSV download (or a bank's own table in the same
shape) and look up the quote in force on a day.

The format, one line per day and currency (UTF-8 with BOM, a trailing comma on data lines)::

    資料日期,幣別,匯率,現金,即期,遠期10天,…,遠期180天,匯率,現金,即期,遠期10天,…,遠期180天
    20170929,USD,本行買入,29.96500,30.26500,…,本行賣出,30.50700,30.36500,…,

Nothing is guessed: a line that does not fit is reported with its number and left out, and a
file that is not this format at all is refused before anything is written.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, case, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from assistant.errors import AssistantError
from assistant.fx.records import FxRateRow
from assistant.records import utcnow

KINDS = ("cash", "spot", "fwd10", "fwd30", "fwd60", "fwd90", "fwd120", "fwd150", "fwd180")
KIND_ZH = {
    "cash": "現金",
    "spot": "即期",
    **{f"fwd{d}": f"遠期{d}天" for d in (10, 30, 60, 90, 120, 150, 180)},
}
BASE = "TWD"
BUY_MARK = "本行買入"
SELL_MARK = "本行賣出"
_SIDE_HEADER = ("匯率", *(KIND_ZH[k] for k in KINDS))
HEADER = ("資料日期", "幣別", *_SIDE_HEADER, *_SIDE_HEADER)
_BUY_AT, _SELL_AT = 2, 2 + len(_SIDE_HEADER)  # the marker columns
_RATE = re.compile(r"\d+(?:\.\d+)?")
_CODE = re.compile(r"[A-Z]{3}")

_T = FxRateRow.__table__  # type: ignore[attr-defined]


def check_currency(code: str) -> str:
    """An ISO 4217 code, upper-cased; anything else is a user error."""
    cur = code.strip().upper()
    if not _CODE.fullmatch(cur):
        raise AssistantError(f"幣別代碼錯誤 / not an ISO currency code: {code!r}")
    return cur


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise AssistantError(
            f"匯率種類錯誤 / unknown rate kind {kind!r}; one of {', '.join(KINDS)}"
        )
    return kind


@dataclass(frozen=True)
class Rate:
    """One quote. ``stale_days``: days between the date asked for and the quote's own date
    (a Monday question answered with Friday's board is 0; a Sunday question gets 2)."""

    currency: str
    kind: str
    rate_date: date
    bank_buys: Decimal | None
    bank_sells: Decimal | None
    source: str
    requested_date: date | None = None
    stale_days: int = 0

    @property
    def mid(self) -> Decimal | None:
        """(本行買入 + 本行賣出) / 2, None unless both sides are quoted."""
        if self.bank_buys is None or self.bank_sells is None:
            return None
        return (self.bank_buys + self.bank_sells) / 2

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "kind": self.kind,
            "rate_date": self.rate_date.isoformat(),
            "bank_buys": _s(self.bank_buys),
            "bank_sells": _s(self.bank_sells),
            "source": self.source,
            "requested_date": self.requested_date.isoformat() if self.requested_date else None,
            "stale_days": self.stale_days,
        }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


@dataclass
class ImportReport:
    """Counts are of quote lines (one day × one currency, all its kinds together)."""

    source: str
    path: str
    rows: int = 0
    currencies: list[str] = field(default_factory=list)
    first_date: date | None = None
    last_date: date | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[LineError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "path": self.path,
            "rows": self.rows,
            "currencies": self.currencies,
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [e.as_dict() for e in self.errors],
        }


Quote = tuple[str | None, str | None]  # (bank_buys, bank_sells) as quoted


def _value(raw: str) -> str | None:
    """The quoted text, or None for "not quoted" (empty or zero); ValueError when not a rate."""
    text = raw.strip()
    if text == "":
        return None
    if not _RATE.fullmatch(text):
        raise ValueError(text)
    return None if Decimal(text) == 0 else text


def _parse_line(fields: list[str]) -> tuple[date, str, dict[str, Quote]]:
    """One data line → (date, currency, kind → quote); ValueError with a bilingual reason."""
    if len(fields) == len(HEADER) + 1 and fields[-1].strip() == "":
        fields = fields[:-1]  # the download's trailing comma
    if len(fields) != len(HEADER):
        raise ValueError(
            f"欄位數 {len(fields)}，應為 {len(HEADER)} / wrong column count {len(fields)}, "
            f"expected {len(HEADER)}"
        )
    raw_date, raw_cur = fields[0].strip(), fields[1].strip()
    try:
        if not re.fullmatch(r"\d{8}", raw_date):
            raise ValueError
        day = datetime.strptime(raw_date, "%Y%m%d").date()
    except ValueError:
        raise ValueError(f"日期錯誤 / bad date {raw_date!r} (YYYYMMDD)") from None
    if not _CODE.fullmatch(raw_cur):
        raise ValueError(f"幣別錯誤 / bad currency {raw_cur!r}")
    if raw_cur == BASE:
        raise ValueError("新臺幣是本位幣，不需匯率 / TWD is the base currency, not a quote")
    for at, mark in ((_BUY_AT, BUY_MARK), (_SELL_AT, SELL_MARK)):
        if fields[at].strip() != mark:
            raise ValueError(
                f"第 {at + 1} 欄應為「{mark}」 / unknown marker {fields[at].strip()!r} in column "
                f"{at + 1}, expected {mark!r}"
            )
    quotes: dict[str, Quote] = {}
    for i, kind in enumerate(KINDS):
        pair = []
        for at in (_BUY_AT, _SELL_AT):
            raw = fields[at + 1 + i]
            try:
                pair.append(_value(raw))
            except ValueError:
                raise ValueError(
                    f"第 {at + 2 + i} 欄不是數字 / non-numeric rate {raw.strip()!r} in column "
                    f"{at + 2 + i} ({KIND_ZH[kind]})"
                ) from None
        buys, sells = pair
        if buys is not None and sells is not None and Decimal(buys) > Decimal(sells):
            raise ValueError(
                f"{KIND_ZH[kind]}買入 {buys} 高於賣出 {sells} / {kind} bank-buys above bank-sells"
            )
        quotes[kind] = (buys, sells)
    return day, raw_cur, quotes


def _same(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return Decimal(a) == Decimal(b)


def _read_header(path: Path) -> list[str]:
    if not path.is_file():
        raise AssistantError(f"找不到檔案 / no such file: {path}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AssistantError(
            f"{path.name} 不是 UTF-8 編碼的臺灣銀行匯率 CSV / not a UTF-8 Bank of Taiwan rate "
            f"CSV: {exc.reason} at byte {exc.start}"
        ) from exc
    lines = text.splitlines()
    header = [h.strip() for h in next(csv.reader(lines[:1]), [])] if lines else []
    while header and header[-1] == "":
        header.pop()
    if tuple(header) != HEADER:
        raise AssistantError(
            f"{path.name} 不是臺灣銀行匯率 CSV 格式（第 1 行應為 {','.join(HEADER[:5])},…） / not "
            f"a Bank of Taiwan rate CSV: line 1 must be the header {','.join(HEADER[:5])},…; "
            "nothing was imported"
        )
    return lines


def _latest_stmt(dated: bool, sourced: bool) -> Any:
    """The latest quoted row, built once per shape: building a statement costs more than
    running it, and a reused statement keeps its compiled form."""
    stmt = (
        select(_T.c.rate_date, _T.c.bank_buys, _T.c.bank_sells, _T.c.source)
        .where(
            _T.c.currency == bindparam("cur"),
            _T.c.kind == bindparam("kind"),
            or_(_T.c.bank_buys.is_not(None), _T.c.bank_sells.is_not(None)),
        )
        .order_by(_T.c.rate_date.desc(), case((_T.c.source == "BOT", 1), else_=0), _T.c.source)
        .limit(1)
    )
    if dated:
        stmt = stmt.where(_T.c.rate_date <= bindparam("on", type_=_T.c.rate_date.type))
    if sourced:
        stmt = stmt.where(_T.c.source == bindparam("source"))
    return stmt


_LATEST = {(d, s): _latest_stmt(d, s) for d in (False, True) for s in (False, True)}


class RateStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # ------------------------------------------------------------------ import

    def import_csv(self, path: Path, source: str = "BOT", *, strict: bool = False) -> ImportReport:
        """Idempotent: a line already stored with the same rates counts as unchanged, one with
        other rates replaces them (updated). With ``strict`` one malformed line refuses the
        whole file and nothing is written."""
        source = source.strip()
        if not source or len(source) > 32:
            raise AssistantError(
                f"來源名稱須為 1–32 字 / source name must be 1–32 characters: {source!r}"
            )
        path = Path(path)
        lines = _read_header(path)
        report = ImportReport(source=source, path=str(path))
        parsed: dict[tuple[date, str], tuple[int, dict[str, Quote]]] = {}
        for n, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            fields = next(csv.reader([line]))
            try:
                day, cur, quotes = _parse_line(fields)
            except ValueError as exc:
                report.errors.append(LineError(n, str(exc)))
                continue
            seen = parsed.get((day, cur))
            if seen is not None:
                if not all(
                    _same(seen[1][k][0], quotes[k][0]) and _same(seen[1][k][1], quotes[k][1])
                    for k in KINDS
                ):
                    report.errors.append(
                        LineError(
                            n,
                            f"與第 {seen[0]} 行同日同幣別但匯率不同 / {cur} {day} already given "
                            f"on line {seen[0]} with other rates",
                        )
                    )
                continue
            parsed[(day, cur)] = (n, quotes)
        if strict and report.errors:
            raise AssistantError(
                f"{path.name} 有 {len(report.errors)} 行格式錯誤，未匯入 / {len(report.errors)} "
                f"malformed line(s), nothing imported; first: line {report.errors[0].line}: "
                f"{report.errors[0].reason}"
            )
        if not parsed:
            return report
        days = [d for d, _ in parsed]
        report.rows = len(parsed)
        report.currencies = sorted({c for _, c in parsed})
        report.first_date, report.last_date = min(days), max(days)
        try:
            self._write(source, parsed, report)
        except IntegrityError:
            # Another import wrote some of these days in the meantime: compare again.
            report.added = report.updated = report.unchanged = 0
            self._write(source, parsed, report)
        return report

    def _write(
        self,
        source: str,
        parsed: dict[tuple[date, str], tuple[int, dict[str, Quote]]],
        report: ImportReport,
    ) -> None:
        stmt = select(
            _T.c.id, _T.c.rate_date, _T.c.currency, _T.c.kind, _T.c.bank_buys, _T.c.bank_sells
        ).where(
            _T.c.source == source,
            _T.c.currency.in_(report.currencies),
            _T.c.rate_date.between(report.first_date, report.last_date),
        )
        now = utcnow()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        with self._engine.begin() as conn:
            existing = {(r.rate_date, r.currency, r.kind): r for r in conn.execute(stmt)}
            for (day, cur), (_, quotes) in sorted(parsed.items()):
                new = changed = 0
                for kind, (buys, sells) in quotes.items():
                    old = existing.get((day, cur, kind))
                    if old is None:
                        new += 1
                        inserts.append(
                            {
                                "source": source,
                                "rate_date": day,
                                "currency": cur,
                                "kind": kind,
                                "bank_buys": buys,
                                "bank_sells": sells,
                                "imported_at": now,
                            }
                        )
                    elif not (_same(old.bank_buys, buys) and _same(old.bank_sells, sells)):
                        changed += 1
                        updates.append({"_id": old.id, "b": buys, "s": sells, "t": now})
                if new == len(quotes):
                    report.added += 1
                elif new or changed:
                    report.updated += 1
                else:
                    report.unchanged += 1
            if inserts:
                conn.execute(insert(_T), inserts)
            if updates:
                conn.execute(
                    update(_T)
                    .where(_T.c.id == bindparam("_id"))
                    .values(
                        bank_buys=bindparam("b"),
                        bank_sells=bindparam("s"),
                        imported_at=bindparam("t"),
                    ),
                    updates,
                )

    # ------------------------------------------------------------------ lookup

    def rate(
        self,
        currency: str,
        on: date | None = None,
        kind: str = "spot",
        source: str | None = None,
    ) -> Rate:
        """The latest quote on or before ``on`` (default: the latest there is). Where two
        sources quote the same day, a bank's own table wins over the Bank of Taiwan's."""
        cur, kind = check_currency(currency), check_kind(kind)
        if cur == BASE:
            day = on or date.today()
            return Rate(BASE, kind, day, Decimal(1), Decimal(1), "base", on, 0)
        stmt = _LATEST[(on is not None, source is not None)]
        params = {"cur": cur, "kind": kind, "on": on, "source": source}
        with self._engine.connect() as conn:
            row = conn.execute(stmt, params).first()
        if row is None:
            where = (
                f"（{KIND_ZH[kind]}，{on.isoformat()} 或之前）" if on else f"（{KIND_ZH[kind]}）"
            )
            when = f" on or before {on.isoformat()}" if on else ""
            src = f" from source {source}" if source else ""
            raise AssistantError(
                f"沒有 {cur} 的匯率{where} / no rate for {cur} ({kind}){when}{src}; "
                "import a rate table with `assistant fx import-rates`"
            )
        stale = (on - row.rate_date).days if on is not None else 0
        return Rate(
            cur,
            kind,
            row.rate_date,
            _dec(row.bank_buys),
            _dec(row.bank_sells),
            row.source,
            on,
            stale,
        )

    def mid_on(self, currency: str, day: date, max_stale_days: int = 7) -> float | None:
        """NT$ per unit on ``day`` for valuing a ledger's amount: the mid of the latest spot
        quote on or before it (the cash quote where no spot is quoted), None when there is
        none within ``max_stale_days`` (a rate of last year values nothing today)."""
        for kind in ("spot", "cash"):
            try:
                quote = self.rate(currency, day, kind)
            except AssistantError:
                continue
            mid = quote.mid
            if mid is None:
                mid = quote.bank_buys if quote.bank_sells is None else quote.bank_sells
            if mid is not None and mid > 0 and quote.stale_days <= max_stale_days:
                return float(mid)
        return None

    def history(
        self,
        currency: str,
        kind: str = "spot",
        start: date | None = None,
        end: date | None = None,
        source: str | None = None,
    ) -> list[Rate]:
        """Every quote in [start, end], ascending by date, one per day."""
        cur, kind = check_currency(currency), check_kind(kind)
        stmt = (
            select(_T.c.rate_date, _T.c.bank_buys, _T.c.bank_sells, _T.c.source)
            .where(
                _T.c.currency == cur,
                _T.c.kind == kind,
                or_(_T.c.bank_buys.is_not(None), _T.c.bank_sells.is_not(None)),
            )
            .order_by(_T.c.rate_date, case((_T.c.source == "BOT", 1), else_=0), _T.c.source)
        )
        if start is not None:
            stmt = stmt.where(_T.c.rate_date >= start)
        if end is not None:
            stmt = stmt.where(_T.c.rate_date <= end)
        if source is not None:
            stmt = stmt.where(_T.c.source == source)
        out: list[Rate] = []
        with self._engine.connect() as conn:
            for r in conn.execute(stmt):
                if out and out[-1].rate_date == r.rate_date:
                    continue  # the preferred source came first
                out.append(
                    Rate(
                        cur,
                        kind,
                        r.rate_date,
                        _dec(r.bank_buys),
                        _dec(r.bank_sells),
                        r.source,
                        r.rate_date,
                        0,
                    )
                )
        return out

    def currencies(self) -> list[str]:
        with self._engine.connect() as conn:
            return list(
                conn.execute(select(_T.c.currency).distinct().order_by(_T.c.currency)).scalars()
            )

    def sources(self) -> list[str]:
        with self._engine.connect() as conn:
            return list(
                conn.execute(select(_T.c.source).distinct().order_by(_T.c.source)).scalars()
            )


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)
