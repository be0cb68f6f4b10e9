"""Reader for the Ministry of Justice law database open data (全國法規資料庫), JSON or zipped JSON."""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.articles import normalise_article
from knowledge.errors import IngestError

# Zip bombs: a published ChLaw.zip holds tens of MB; refuse anything that inflates absurdly.
MAX_UNZIPPED_BYTES = 1 << 30


@dataclass
class LawArticle:
    article: str
    text: str
    chapter: str


@dataclass
class Law:
    name: str
    name_zh: str
    name_en: str | None
    level: str
    category: str
    amended: str | None
    url: str | None
    lang: str
    articles: list[LawArticle] = field(default_factory=list)


def _iso_date(raw: str | None) -> str | None:
    if not raw or not re.fullmatch(r"\d{8}", raw.strip()):
        return None
    raw = raw.strip()
    return f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"


# The heading levels, outermost first: 編 > 章 > 節 > 款 > 目 (and the English translations).
_LEVELS = [
    ("編", "part"),
    ("章", "chapter"),
    ("節", "section"),
    ("款", "subsection"),
    ("目", "item"),
]


def _heading_level(heading: str) -> int:
    head = heading.strip()
    m = re.match(r"第\s*[\d一二三四五六七八九十百零〇]+\s*([編章節款目])", head)
    if m:
        return next(i for i, (zh, _) in enumerate(_LEVELS) if zh == m.group(1))
    lower = head.lower()
    for i, (_, en) in enumerate(_LEVELS):
        if lower.startswith(en):
            return i
    return len(_LEVELS) - 1


def _clean(text: str) -> str:
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(ln for ln in lines if ln)


def _read_bytes(path: Path) -> bytes:
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.infolist() if m.filename.lower().endswith(".json")]
                if len(members) != 1:
                    raise IngestError(
                        path,
                        f"壓縮檔內應恰有一個 JSON 檔，找到 {len(members)} 個 / "
                        f"the zip must hold exactly one JSON file, found {len(members)}",
                    )
                if members[0].file_size > MAX_UNZIPPED_BYTES:
                    raise IngestError(path, "解壓後過大 / inflates beyond 1 GiB, refused")
                with zf.open(members[0]) as fh:
                    data = fh.read(MAX_UNZIPPED_BYTES + 1)
                if len(data) > MAX_UNZIPPED_BYTES:
                    raise IngestError(path, "解壓後過大 / inflates beyond 1 GiB, refused")
                return data
        except zipfile.BadZipFile as exc:
            raise IngestError(path, f"壓縮檔損毀 / corrupt zip: {exc}") from exc
    return path.read_bytes()


def read_laws(path: Path) -> list[Law]:
    """Parse and validate the whole file before anything is indexed."""
    raw = _read_bytes(path)
    if not raw.strip():
        raise IngestError(path, "檔案是空的 / the file is empty")
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IngestError(path, f"不是有效的 JSON / not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("Laws"), list):
        raise IngestError(
            path,
            '缺少 "Laws" 清單，不是法規資料庫格式 / no "Laws" list: not the MOJ open-data format',
        )
    if not doc["Laws"]:
        raise IngestError(path, '"Laws" 是空的 / "Laws" is empty')
    return [_law(path, i, item) for i, item in enumerate(doc["Laws"])]


def _law(path: Path, index: int, item: Any) -> Law:
    where = f"Laws[{index}]"
    if (
        not isinstance(item, dict)
        or not isinstance(item.get("LawName"), str)
        or not item["LawName"]
    ):
        raise IngestError(path, f"{where} 缺少 LawName / has no LawName")
    articles = item.get("LawArticles")
    if not isinstance(articles, list):
        raise IngestError(
            path, f"{where} ({item['LawName']}) 缺少 LawArticles / has no LawArticles"
        )
    english = "ChLawName" in item
    name = item["LawName"].strip()
    law = Law(
        name=name,
        name_zh=(item.get("ChLawName") or name).strip() if english else name,
        name_en=name if english else (item.get("EngLawName") or None),
        level=item.get("LawLevel") or "",
        category=item.get("LawCategory") or "",
        amended=_iso_date(item.get("LawModifiedDate")),
        url=item.get("LawURL") or None,
        lang="en" if english else "zh-TW",
    )
    headings: list[tuple[int, str]] = []
    for j, art in enumerate(articles):
        if not isinstance(art, dict) or art.get("ArticleType") not in ("A", "C"):
            raise IngestError(path, f"{where}.LawArticles[{j}] ({name}) 格式不符 / malformed entry")
        content = _clean(str(art.get("ArticleContent") or ""))
        if art["ArticleType"] == "C":
            level = _heading_level(content)
            headings = [h for h in headings if h[0] < level] + [(level, content)]
            continue
        number = normalise_article(str(art.get("ArticleNo") or ""))
        if not number:
            raise IngestError(path, f"{where}.LawArticles[{j}] ({name}) 沒有條號 / no ArticleNo")
        law.articles.append(LawArticle(number, content, " ".join(h for _, h in headings)))
    return law
