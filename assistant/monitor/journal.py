"""The monitor's journal: every transfer scored live since the last snapshot, so a crash loses
none of them.

A snapshot (``assistant.monitor.state``) is written every 10,000 transfers or 5 minutes; what
the monitor learnt from transfers that reached it only through the API or a scored file (never
stored in the ledger, so the restart's catch-up cannot read them again) would be lost in a crash
between two snapshots. The journal keeps them: one JSON line per transfer, appended and flushed
to the operating system as it is scored (``sync``: also to the disk, which survives a power cut
and costs a disk write per call).

Segments make a snapshot and its journal agree without a second lock. At the moment the state
is copied for a snapshot (under the scoring lock) the current file is renamed to segment ``n``
and the snapshot records ``journal_seq = n``; once the snapshot is on disk the segments up to
``n`` are deleted. A restart restores the snapshot, then replays the segments after its
``journal_seq`` and the current file, in order: a crash at any point between replays neither
loses a transfer nor counts one twice. The last line of a file cut short by a crash is skipped.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO

from assistant.monitor.transfers import Transfer

log = logging.getLogger(__name__)

_SEGMENT = re.compile(r"\.(\d+)")


class Journal:
    def __init__(self, path: Path, *, sync: bool = False) -> None:
        """``path``: the current file; segments are ``path.<n>`` beside it."""
        self.path = path
        self.sync = sync
        self.seq = max((n for n, _ in self._segments()), default=0)
        self._fh: IO[str] | None = None

    # ---- writing ----------------------------------------------------------------------------

    def append(self, transfers: Sequence[Transfer]) -> None:
        """Transfers just scored, in the order they were scored (call under the scoring lock)."""
        if not transfers:
            return
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")
        self._fh.write(
            "".join(
                json.dumps(asdict(t), ensure_ascii=False, separators=(",", ":")) + "\n"
                for t in transfers
            )
        )
        self._fh.flush()
        if self.sync:
            os.fsync(self._fh.fileno())

    def rotate(self) -> int:
        """The current file becomes segment ``seq + 1`` (call under the scoring lock, where the
        snapshot's copy is taken): returns the number the snapshot records."""
        self.close()
        self.seq += 1
        if self.path.exists():
            os.replace(self.path, self._segment(self.seq))
        return self.seq

    def settle(self, seq: int) -> None:
        """The snapshot holding everything up to segment ``seq`` is on disk: drop them."""
        for n, path in self._segments():
            if n <= seq:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    # ---- reading ----------------------------------------------------------------------------

    def replay(self, after: int) -> Iterator[Transfer]:
        """The transfers a snapshot with ``journal_seq = after`` does not hold, in scoring order:
        the later segments, then the current file."""
        files = [p for n, p in self._segments() if n > after]
        for path in [*files, self.path]:
            yield from _read(path)

    def set_aside(self, stamp: str) -> list[Path]:
        """Keep every file for a look when its snapshot is unusable: ``NAME.bad-<stamp>``."""
        self.close()
        kept = []
        for path in [p for _, p in self._segments()] + [self.path]:
            if path.exists():
                target = path.with_name(f"{path.name}.bad-{stamp}")
                os.replace(path, target)
                kept.append(target)
        return kept

    def _segment(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")

    def _segments(self) -> list[tuple[int, Path]]:
        found = []
        if self.path.parent.is_dir():
            for path in self.path.parent.glob(f"{self.path.name}.*"):
                m = _SEGMENT.fullmatch(path.name[len(self.path.name) :])
                if m is not None:
                    found.append((int(m.group(1)), path))
        return sorted(found)


def _read(path: Path) -> Iterator[Transfer]:
    try:
        fh = path.open(encoding="utf-8")
    except FileNotFoundError:
        return
    with fh:
        for n, line in enumerate(fh, start=1):
            try:
                yield Transfer(**json.loads(line))
            except (ValueError, TypeError) as exc:
                # A crash mid-write leaves the last line cut short; anything else is damage.
                log.warning(
                    "監控日誌 %s 第 %d 行無法讀取，略過 / line %d of the monitor's journal %s "
                    "cannot be read and is skipped (%s)",
                    path,
                    n,
                    n,
                    path,
                    type(exc).__name__,
                )
