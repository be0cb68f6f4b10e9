"""Signals from outside the bank: lists of scam sites, phone numbers, LINE IDs, accounts and
wallets, each a versioned table with its source, licence, date and row counts.

A table is imported from a file the bank fetched (the 165 anti-fraud open data's fake
investment and gambling sites, ``WEBSITE_NM,WEBURL,CNT,STA_SDATE,STA_EDATE``; or any list with
one identifier a line) and kept in the data folder as JSON: its identifiers normalised, its
version the sha256 of them. The monitor's ``signal`` rule reads the tables: a counterparty
account or wallet on a list, or a memo naming a listed site, phone number, LINE ID or wallet, is
a reason (and a feature) of the decision.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.fraud.ledger import normalize_account
from assistant.textfiles import open_text, read_text

KINDS = ("domain", "phone", "line_id", "account", "wallet")
FORMATS = ("165-sites", "list")
KIND_WORDS = {
    "domain": ("網站", "site"),
    "phone": ("電話", "phone number"),
    "line_id": ("LINE ID", "LINE ID"),
    "account": ("帳戶", "account"),
    "wallet": ("錢包", "wallet"),
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_DOMAIN = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,24}|xn--[a-z0-9-]{2,59})"
)
_PHONE = re.compile(r"(?<!\d)(?:\+?886|0)9\d{8}(?!\d)")
_WALLET = re.compile(r"\b(?:0x[0-9a-f]{40}|t[1-9a-hj-np-z]{33})\b")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip().lower()


def normalize_domain(raw: str) -> str:
    """A site as compared: lower case, no scheme, path, port or leading ``www.``."""
    text = _fold(raw)
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = re.split(r"[/?#:\s]", text, maxsplit=1)[0].strip(".")
    return text.removeprefix("www.")


def normalize_phone(raw: str) -> str:
    """A Taiwan mobile number as ``09xxxxxxxx`` (+886 and separators removed)."""
    digits = re.sub(r"\D", "", _fold(raw))
    if digits.startswith("886"):
        digits = "0" + digits[3:]
    return digits


def normalize(kind: str, raw: str) -> str:
    if kind == "domain":
        return normalize_domain(raw)
    if kind == "phone":
        return normalize_phone(raw)
    if kind == "account":
        return normalize_account(raw)
    return re.sub(r"[\s]", "", _fold(raw))  # LINE IDs and wallets compare case-folded


@dataclass(frozen=True)
class SignalTable:
    name: str
    kind: str
    source: str
    licence: str
    as_of: str | None  # the date the data speaks for (its latest period), ISO
    imported_at: str
    rows: int  # rows read
    bad: int  # rows that named nothing usable
    values: frozenset[str] = field(default_factory=frozenset)

    @property
    def version(self) -> str:
        h = hashlib.sha256()
        for v in sorted(self.values):
            h.update(v.encode("utf-8") + b"\n")
        return h.hexdigest()[:12]

    def meta(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "licence": self.licence,
            "as_of": self.as_of,
            "imported_at": self.imported_at,
            "rows": self.rows,
            "bad": self.bad,
            "entries": len(self.values),
            "version": self.version,
        }


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        return None


def read_165_sites(path: Path) -> tuple[set[str], int, int, str | None, list[dict[str, Any]]]:
    """The 165 fake investment / gambling sites CSV: (sites, rows, bad, latest end date, errors
    by line). A second header row in Chinese (網站名稱,網址,…) is skipped."""
    sites: set[str] = set()
    rows = bad = 0
    latest: date | None = None
    errors: list[dict[str, Any]] = []
    with open_text(path) as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "WEBURL" not in reader.fieldnames:
            raise AssistantError(
                "不是 165 網站清單格式（需有 WEBURL 欄）/ not the 165 sites format (no WEBURL column)"
            )
        for row in reader:
            if row.get("WEBURL") == "網址":
                continue
            rows += 1
            site = normalize_domain(row.get("WEBURL") or "")
            if not _DOMAIN.fullmatch(site) and not re.fullmatch(r"[\d.]+", site):
                bad += 1
                if len(errors) < 50:
                    errors.append(
                        {
                            "line": reader.line_num,
                            "reason": f"網址錯誤 / bad site {row.get('WEBURL')!r}",
                        }
                    )
                continue
            sites.add(site)
            end = _day(row.get("STA_EDATE") or "")
            if end is not None and (latest is None or end > latest):
                latest = end
    return sites, rows, bad, latest.isoformat() if latest else None, errors


def read_list(path: Path, kind: str) -> tuple[set[str], int, int, list[dict[str, Any]]]:
    """One identifier a line (the first column of a CSV line; '#' lines are comments), or a
    JSON array of strings (then "line" is the position in it)."""
    values: set[str] = set()
    rows = bad = 0
    errors: list[dict[str, Any]] = []
    text = read_text(path)
    if text.lstrip().startswith("["):  # a JSON array of strings (e.g. a wallet blacklist)
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AssistantError(f"JSON 格式錯誤 / not JSON: {exc}") from exc
        lines = [(n, str(x)) for n, x in enumerate(items, start=1)]
    else:
        lines = [(n, line.split(",", 1)[0]) for n, line in enumerate(text.splitlines(), 1)]
    for n, item in lines:
        raw = item.strip()
        if not raw or raw.startswith("#"):
            continue
        rows += 1
        try:
            v = normalize(kind, raw)
        except AssistantError as exc:
            v, reason = "", str(exc)
        else:
            reason = f"空白或格式錯誤 / empty or malformed: {raw!r}"
        if not v:
            bad += 1
            if len(errors) < 50:
                errors.append({"line": n, "reason": reason})
            continue
        values.add(v)
    return values, rows, bad, errors


class SignalStore:
    """The tables as JSON files in one folder (one file a table; a new import replaces it)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def import_file(
        self,
        path: Path,
        *,
        name: str,
        kind: str,
        fmt: str,
        source: str,
        licence: str,
        as_of: str | None = None,
    ) -> tuple[SignalTable, list[dict[str, Any]]]:
        if not _NAME.match(name):
            raise AssistantError(
                f"清單名稱只能用小寫英數與 . _ - / a list name is lower-case letters, digits, "
                f". _ -: {name!r}"
            )
        if kind not in KINDS or fmt not in FORMATS:
            raise AssistantError(
                f"種類須為 {'|'.join(KINDS)}，格式須為 {'|'.join(FORMATS)} / kind {kind!r}, "
                f"format {fmt!r}"
            )
        if not source.strip() or not licence.strip():
            raise AssistantError("須註明來源與授權 / give the source and the licence")
        if not path.is_file():
            raise AssistantError(f"找不到檔案 / no such file: {path}")
        if fmt == "165-sites":
            if kind != "domain":
                raise AssistantError("165 網站清單的種類是 domain / the 165 sites are domains")
            values, rows, bad, latest, errors = read_165_sites(path)
            as_of = as_of or latest
        else:
            values, rows, bad, errors = read_list(path, kind)
        if not values:
            raise AssistantError(f"清單沒有可用的項目 / nothing usable in {path} ({rows} rows)")
        table = SignalTable(
            name=name,
            kind=kind,
            source=source.strip(),
            licence=licence.strip(),
            as_of=as_of,
            imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            rows=rows,
            bad=bad,
            values=frozenset(values),
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{name}.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({**table.meta(), "values": sorted(values)}, ensure_ascii=False),
            encoding="utf-8",
        )
        tmp.replace(target)  # a reader sees the old table or the new one, never half
        return table, errors

    def tables(self) -> list[SignalTable]:
        out = []
        for f in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            d = json.loads(f.read_text(encoding="utf-8"))
            out.append(
                SignalTable(
                    name=d["name"],
                    kind=d["kind"],
                    source=d["source"],
                    licence=d["licence"],
                    as_of=d.get("as_of"),
                    imported_at=d["imported_at"],
                    rows=d["rows"],
                    bad=d["bad"],
                    values=frozenset(d["values"]),
                )
            )
        return out


def memo_candidates(memo: str) -> dict[str, set[str]]:
    """What a memo may name, per kind: sites, phone numbers, wallets, and every token (for
    LINE IDs and accounts)."""
    text = _fold(memo)
    tokens = set(re.findall(r"[0-9a-z_.@-]{3,}", text))
    return {
        "domain": {normalize_domain(m) for m in _DOMAIN.findall(text)},
        "phone": {normalize_phone(m) for m in _PHONE.findall(re.sub(r"[\s-]", "", text))},
        "wallet": set(_WALLET.findall(text)),
        "line_id": {t.lstrip("@") for t in tokens},
        "account": set(),
    }


def hits(
    tables: Iterable[SignalTable], payer: str, payee: str, memo: str | None
) -> list[tuple[SignalTable, str, str]]:
    """(table, what matched, where: payee | payer | memo) for every listed identifier the
    transfer names."""
    found: list[tuple[SignalTable, str, str]] = []
    cands = memo_candidates(memo) if memo else None
    for t in tables:
        if t.kind in ("account", "wallet"):
            for who, where in ((payee, "payee"), (payer, "payer")):
                if normalize(t.kind, who) in t.values:
                    found.append((t, who, where))
        if cands is not None:
            for v in sorted(cands[t.kind] & t.values):
                found.append((t, v, "memo"))
    return found
