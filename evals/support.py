"""What the evals share: a slice of the law database, small enough to embed in seconds."""

from __future__ import annotations

import json
from pathlib import Path


def law_subset(laws: Path, out: Path, names: list[str]) -> Path:
    """A file shaped like ``laws`` holding only the laws ``names`` (Chinese names: ChLaw.json
    calls them ``LawName``, EngLaw.json ``ChLawName`` beside its English ``LawName``)."""
    data = json.loads(laws.read_text(encoding="utf-8-sig"))
    wanted = set(names)
    picked = [law for law in data["Laws"] if law.get("ChLawName", law.get("LawName")) in wanted]
    if not picked:
        raise ValueError(f"none of {sorted(wanted)} is in {laws}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"UpdateDate": data.get("UpdateDate"), "Laws": picked}, ensure_ascii=False),
        encoding="utf-8",
    )
    return out
