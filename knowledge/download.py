"""Fetch a law database export by URL (the open-data download the bank mirrors internally)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from knowledge.errors import IngestError

Progress = Callable[[str, int, int], None]


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def download(
    url: str, folder: Path, progress: Progress | None = None, timeout_s: float = 60.0
) -> Path:
    """Save the URL's body under its own file name (ChLaw.json.zip keeps its .zip)."""
    import httpx

    name = Path(unquote(urlsplit(url).path)).name or "laws.json"
    target = folder / name
    try:
        with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=True) as r:
            r.raise_for_status()
            total = int(r.headers.get("content-length") or 0)
            done = 0
            with target.open("wb") as fh:
                for block in r.iter_bytes(1 << 16):
                    fh.write(block)
                    done += len(block)
                    if progress and total:
                        progress("download", done, total)
    except httpx.HTTPError as exc:
        raise IngestError(url, f"無法下載 / download failed: {exc}") from exc
    return target
