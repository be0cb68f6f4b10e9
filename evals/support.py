"""What the evals share: a slice of the law database, small enough to embed in seconds."""

from __future__ import annotations

import json
from pathlib import Path


def law_subset(laws: Path, out: Path, names: list[str]) -> Path:
    """A file shaped like ``laws`` (ChLaw.json or EngLaw.json) holding only the laws ``names``;
    a file that holds none of them (already a subset of other laws) is used whole."""
    data = json.loads(laws.read_text(encoding="utf-8-sig"))
    key = "LawName" if data["Laws"] and "LawName" in data["Laws"][0] else "ChLawName"
    wanted = set(names)
    picked = [law for law in data["Laws"] if law.get(key) in wanted] or data["Laws"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"UpdateDate": data.get("UpdateDate"), "Laws": picked}, ensure_ascii=False),
        encoding="utf-8",
    )
    return out
