"""The monitor as a service: the rules in force, one monitor with its state, the alert queue.

Knows no users: ``by`` names who changed the rules or decided an alert, as the desk says. Every
transfer scored here goes through one ``TransferMonitor`` under a lock, in arrival order; alerts
and holds are stored with their reasons, an investigator's outcome stored on them.

With a ``state_path`` the monitor's state outlives the process (``assistant.monitor.state``):
read when the monitor is first needed, saved every ``save_every`` transfers or ``save_every_s``
seconds (by the call that scored the transfer that crossed the mark, after the lock is
released) and by :meth:`close`. Between two snapshots every transfer scored live is appended to
a journal beside the file (``assistant.monitor.journal``), replayed over the snapshot at the next
start, so a crash loses no transfer that reached the monitor only through the API. One process
at a time owns the file (an OS lock beside it, where the OS has ``fcntl``): another process on
the same data folder starts from the snapshot and its journal and writes neither, so it never
overwrites the owner's newer state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, update
from sqlmodel import Session, col, select

from assistant.errors import AssistantError, NotFound
from assistant.fraud.currencies import BoardRate, Rates
from assistant.fraud.ledger import normalize_account
from assistant.monitor.journal import Journal
from assistant.monitor.monitor import Decision, TransferMonitor
from assistant.monitor.mule_score import OnArrival
from assistant.monitor.records import AlertRow, RuleSetRow
from assistant.monitor.rules import DEFAULT_RULES, RuleSet, load_rules, parse_rules
from assistant.monitor.signals import SignalStore
from assistant.monitor.transfers import Transfer, parse_transfer

log = logging.getLogger(__name__)
STATUSES = ("open", "confirmed", "dismissed")
_ALERT = AlertRow.__table__  # type: ignore[attr-defined]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class BatchResult:
    """A batch scored: a decision per good row, an error per bad one (the rest are kept)."""

    decisions: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)  # ids of the stored alerts
    passed: int = 0  # passes not listed in ``decisions``

    def counts(self) -> dict[str, int]:
        out = {
            "rows": len(self.decisions) + len(self.errors) + self.passed,
            "bad": len(self.errors),
        }
        for action in ("pass", "alert", "hold"):
            out[action] = sum(1 for d in self.decisions if d["action"] == action)
        out["pass"] += self.passed
        return out

    def to_dict(self, *, passes: bool = True) -> dict[str, Any]:
        return {
            **self.counts(),
            "decisions": [d for d in self.decisions if passes or d["action"] != "pass"],
            "errors": self.errors,
            "alert_ids": self.alerts,
        }


class MonitorService:
    def __init__(
        self,
        engine: Engine,
        default_rules: Path = DEFAULT_RULES,
        signals_dir: Path | None = None,
        *,
        state_path: Path | None = None,
        save_every: int = 10_000,
        save_every_s: float = 300.0,
        journal_sync: bool = False,
        mule_model: Path | None = None,
        board_rate: BoardRate | None = None,
    ) -> None:
        """``state_path``: where the monitor's state is kept between processes (None: in this
        process only); ``save_every`` transfers or ``save_every_s`` seconds (0: never by that
        measure) between saves while scoring; ``journal_sync``: each journal write synced to
        the disk (survives a power cut, not only a crash of the process); ``mule_model``: the
        mule score's model file (``fraud.stream_model``), read when it appears or changes;
        ``board_rate``: NT$ per unit on a day, for a transfer that names another currency."""
        self._engine = engine
        self._board_rate = board_rate
        self._mule_path = mule_model
        self._mule_stamp: tuple[int, int] | None = None  # the model file read (mtime, size)
        self._default = default_rules
        self._signals = SignalStore(signals_dir) if signals_dir is not None else None
        self._lock = threading.Lock()
        self._monitor: TransferMonitor | None = None
        self._state_path = state_path
        self._save_every = save_every
        self._save_every_s = save_every_s
        self._save_lock = threading.Lock()  # one save at a time; taken before ``_lock``
        self._owner: Any = None  # the open lock file while this process owns the state file
        self._restored = False  # the monitor started from a saved snapshot
        self._unsaved = 0  # transfers scored since the last save
        self._saved_at = time.monotonic()
        self._closed = False
        self._stop = threading.Event()  # set by close: a warm under way stops
        self._partial = False  # a warm was stopped half-way: this state is not saved
        self._saving: threading.Thread | None = None  # the last save started by scoring
        self._journal = (
            Journal(state_path.with_name(state_path.name + ".journal"), sync=journal_sync)
            if state_path is not None
            else None
        )
        self._based = False  # a snapshot of this monitor is on disk: the journal builds on it

    # ---- the rules --------------------------------------------------------------------------

    def rules(self) -> RuleSet:
        """The rule set in force: the newest stored version, else the product's first one."""
        with Session(self._engine) as s:
            row = s.exec(
                select(RuleSetRow).order_by(col(RuleSetRow.created_at).desc()).limit(1)
            ).first()
        return parse_rules(row.body) if row is not None else load_rules(self._default)

    def rule_versions(self) -> list[dict[str, Any]]:
        with Session(self._engine) as s:
            rows = s.exec(select(RuleSetRow).order_by(col(RuleSetRow.created_at).desc())).all()
        return [
            {
                "version": r.version,
                "created_at": r.created_at.isoformat(),
                "created_by": r.created_by,
                "note": r.note,
            }
            for r in rows
        ]

    def set_rules(self, doc: Mapping[str, Any], by: str, note: str = "") -> tuple[RuleSet, RuleSet]:
        """Store a new version and put it in force: (the set before, the set now). A version
        already used is refused: a version names one rule set for good."""
        new = parse_rules(dict(doc))
        with self._lock:
            old = self.rules()
            with Session(self._engine) as s:
                if new.version == old.version or s.get(RuleSetRow, new.version) is not None:
                    raise AssistantError(
                        f"規則版本 {new.version} 已存在，請用新的版本號 / rules version "
                        f"{new.version} exists already: give a new version"
                    )
                s.add(
                    RuleSetRow(
                        version=new.version,
                        created_at=_now(),
                        created_by=by,
                        note=note.strip() or new.note,
                        body=new.to_dict(),
                    )
                )
                s.commit()
            if self._monitor is not None:
                self._monitor.replace_rules(new)
        return old, new

    # ---- scoring ----------------------------------------------------------------------------

    def monitor(self) -> TransferMonitor:
        """The one monitor: on first use from the saved state if there is a usable one, else
        cold. Call under ``_lock`` where others may be scoring."""
        if self._monitor is None:
            tables = self._signals.tables() if self._signals is not None else []
            rules = self.rules()
            self._mule_stamp = None
            mule = self._mule()
            self._monitor = self._load(rules, tables, mule) or TransferMonitor(rules, tables, mule)
        elif self._mule_path is not None and self._stamp() != self._mule_stamp:
            # trained (or trained again) while the monitor runs: from the next transfer on
            self._monitor.mule = self._mule()
        return self._monitor

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self._mule_path.stat() if self._mule_path is not None else None
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size) if st is not None else None

    def _mule(self) -> OnArrival | None:
        """The mule score on arrival from the trained model, or None (no model trained yet:
        the ``mule_score`` rule does not fire; a file that cannot be read: said, not fatal)."""
        from assistant.fraud.stream_model import StreamModel

        self._mule_stamp = self._stamp()
        if self._mule_stamp is None or self._mule_path is None:
            return None
        try:
            model = StreamModel.load(self._mule_path)
        except AssistantError as exc:
            log.warning("%s：監控不以人頭帳戶分數評分 / the monitor scores without it", exc)
            return None
        log.info(
            "監控以人頭帳戶分數評分 / the monitor scores accounts as mules on arrival (%s, "
            "alert at %.3f)",
            self._mule_path,
            model.alert_at,
        )
        return OnArrival(model)

    @property
    def mule_scored(self) -> bool:
        """Whether the monitor scores accounts as mules on arrival (a model is trained)."""
        return self.mule_model() is not None

    def mule_model(self) -> dict[str, Any] | None:
        """The mule score's model in force: when it was fitted, on how many accounts, and the
        score it alerts at (None: none trained, the ``mule_score`` rule scores nothing)."""
        from assistant.fraud.stream_model import StreamModel

        with self._lock:
            # Not loaded yet: the file, read without starting the monitor (a look at the rules
            # should not restore a state).
            # Loaded: as the next transfer would find it (a model trained since is read now).
            loaded = self.monitor() if self._monitor is not None else None
            mule = loaded.mule if loaded is not None else None
            model = mule.model if mule is not None else None
            if loaded is None and self._stamp() is not None and self._mule_path is not None:
                try:
                    model = StreamModel.load(self._mule_path)
                except AssistantError:
                    model = None
        if model is None:
            return None
        return {"file": str(self._mule_path), "alert_at": round(model.alert_at, 4), **model.trained}

    # ---- the state between processes ------------------------------------------------------

    def _load(
        self, rules: RuleSet, tables: list[Any], mule: OnArrival | None = None
    ) -> TransferMonitor | None:
        from assistant.monitor import state

        path = self._state_path
        if path is None:
            return None
        self._owner = _own(path)
        if self._owner is None:
            log.warning(
                "另一個程序持有監控狀態檔 %s：本程序由其快照開始，不寫回 / another process owns the "
                "monitor's state file %s: this one starts from its snapshot and does not write "
                "it back",
                path,
                path,
            )
        try:
            doc = state.read(path)
            if doc is None:
                self._set_journal_aside("沒有監控狀態檔", "there is no monitor state file")
                return None
            got = state.restore(doc, rules, tables, mule)
        except state.BadSnapshot as exc:
            aside = state.set_aside(path) if self._owner is not None else None
            log.warning(
                "%s，監控由零開始%s / %s: the monitor starts cold%s",
                exc.zh,
                f"（原檔保留為 {aside}）" if aside else "",
                exc.en,
                f" (the file is kept as {aside})" if aside else "",
            )
            self._set_journal_aside(exc.zh, exc.en)
            return None
        for note in got.notes:
            log.warning("%s", note)
        self._restored = self._based = True
        replayed = 0
        if self._journal is not None:
            after = int(doc.get("journal_seq") or 0)
            self._journal.seq = max(self._journal.seq, after)
            # Scored before the crash, their alerts already stored: only the state is rebuilt.
            for t in self._journal.replay(after):
                got.monitor.process(t)
                replayed += 1
            self._unsaved = replayed
        log.info(
            "監控狀態已讀回 / monitor state restored: %d accounts, %d transfers seen (%s), "
            "%d from the journal",
            len(got.monitor.accounts),
            got.monitor.seen,
            path,
            replayed,
        )
        return got.monitor

    def _set_journal_aside(self, why_zh: str, why_en: str) -> None:
        """A journal without its snapshot cannot be replayed (its transfers follow a state that
        is gone): kept beside, named, for a look."""
        if self._journal is None or self._owner is None:
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        kept = self._journal.set_aside(stamp)
        if kept:
            log.warning(
                "%s：監控日誌無法重播，保留為 %s / %s: the monitor's journal cannot be replayed, "
                "kept as %s",
                why_zh,
                ", ".join(map(str, kept)),
                why_en,
                ", ".join(map(str, kept)),
            )

    def restored(self) -> bool:
        """Whether the monitor started from a saved snapshot (loading it if not yet done)."""
        with self._lock:
            self.monitor()
            return self._restored

    def save(self, *, wait: bool = True) -> bool:
        """Write the monitor's state now (False: nothing to write, another process owns the
        file, or ``wait`` False and a save is under way, which writes these transfers too). The
        state is copied under the scoring lock and written outside it."""
        if not self._save_lock.acquire(blocking=wait):
            return False
        try:
            with self._lock:
                doc = self._copy()
            if doc is None:
                return False
            size = self._write(doc)
        finally:
            self._save_lock.release()
        if size is None:
            return False
        log.info(
            "監控狀態已存 / monitor state saved: %d accounts, %d bytes",
            len(doc["accounts"]),
            size,
        )
        return True

    def _copy(self) -> dict[str, Any] | None:
        """The state to save, as plain data, and the journal cut at the same transfer (under
        ``_lock``). None: nothing this process may save."""
        from assistant.monitor import state

        if self._monitor is None or self._owner is None or self._state_path is None:
            return None
        if self._partial:
            return None
        doc = state.dump(self._monitor)
        doc["journal_seq"] = self._journal.rotate() if self._journal is not None else 0
        self._unsaved = 0
        self._saved_at = time.monotonic()
        return doc

    def _write(self, doc: dict[str, Any]) -> int | None:
        """Write a copy to the file and drop the journal it holds: its size (None: failed, the
        journal kept, so the next start replays it over the older snapshot)."""
        from assistant.monitor import state

        assert self._state_path is not None
        try:
            size = state.write(self._state_path, doc)
        except OSError as exc:
            log.warning(
                "監控狀態無法寫入 %s：%s / the monitor's state could not be written to %s: %s",
                self._state_path,
                exc,
                self._state_path,
                exc,
            )
            return None
        self._based = True
        if self._journal is not None:
            self._journal.settle(int(doc["journal_seq"]))
        return size

    def _journaled(self, transfers: list[Transfer]) -> None:
        """Transfers scored live, into the journal (under ``_lock``, after they were scored)."""
        if self._journal is None or self._owner is None or self._partial:
            return
        try:
            self._journal.append(transfers)
        except OSError as exc:
            log.warning(
                "監控日誌無法寫入：%s / the monitor's journal could not be written: %s", exc, exc
            )

    def _base(self) -> None:
        """Before the first transfer is journaled, a snapshot for the journal to build on (under
        ``_lock``; the monitor is new then, so the file is small). Without one, a journal after
        a crash would follow a state that no file holds."""
        if self._based or self._journal is None or self._owner is None:
            return
        # A save under way either copied already (the journal was cut then) or waits for the
        # scoring lock and will copy this transfer with the journal that holds it: either way
        # the journal builds on its snapshot.
        if not self._save_lock.acquire(blocking=False):
            return
        try:
            doc = self._copy()
            if doc is not None:
                self._write(doc)
        finally:
            self._save_lock.release()

    def _scored(self, n: int) -> bool:
        """Count ``n`` transfers scored (under ``_lock``): whether a save is due."""
        if self._owner is None:
            return False
        self._unsaved += n
        if not self._unsaved:
            return False
        due_n = self._save_every and self._unsaved >= self._save_every
        due_t = self._save_every_s and time.monotonic() - self._saved_at >= self._save_every_s
        return bool(due_n or due_t)

    def _save_if_due(self, due: bool) -> None:
        """A save on a thread of its own, so the call that crossed the mark answers without
        waiting for the file (seconds for a large state); skipped when a save is under way."""
        if due and not self._closed:
            saving = threading.Thread(
                target=self.save, kwargs={"wait": False}, name="monitor-save", daemon=True
            )
            self._saving = saving
            saving.start()

    def wait_saved(self) -> None:
        """Until a save started by scoring has written its file."""
        saving = self._saving
        if saving is not None:
            saving.join()

    def close(self) -> None:
        """Save the state (a clean stop) and let go of the state file."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self.wait_saved()
        if self._monitor is not None:
            self.save()
        if self._journal is not None:
            self._journal.close()
        if self._owner is not None:
            self._owner.close()
            self._owner = None

    # ---- outside lists ----------------------------------------------------------------------

    def signal_tables(self) -> list[dict[str, Any]]:
        return [t.meta() for t in (self._signals.tables() if self._signals else [])]

    def import_signals(self, path: Path, **kwargs: Any) -> tuple[dict[str, Any], list[dict]]:
        """A list from outside, stored as a versioned table and read by the monitor from the
        next transfer on: (its description, the rows that named nothing usable)."""
        if self._signals is None:
            raise AssistantError("未設定外部清單資料夾 / no folder for outside lists")
        table, errors = self._signals.import_file(path, **kwargs)
        with self._lock:
            if self._monitor is not None:
                self._monitor.signals = self._signals.tables()
        return table.meta(), errors

    def score(self, row: Mapping[str, Any] | Transfer) -> tuple[Decision, int | None]:
        """One transfer on arrival: its decision, and the id of the stored alert (None: pass)."""
        # Rates asked afresh per call: board rates imported while the server runs are used
        # from the next transfer on, and a long-running monitor keeps no growing cache.
        rates = Rates(None, self._board_rate)
        t = row if isinstance(row, Transfer) else parse_transfer(row, rates)
        with self._lock:
            monitor = self.monitor()
            self._base()
            d = monitor.process(t)
            self._journaled([t])
            due = self._scored(1)
        ids = self._store([d])
        self._save_if_due(due)
        return d, (ids[0] if ids else None)

    def score_batch(
        self, rows: Iterable[tuple[int, Mapping[str, Any] | Transfer]], *, keep_passes: bool = True
    ) -> BatchResult:
        """(row number, row) pairs in arrival order: a bad row is reported with its number and
        reason, the others scored and their alerts stored. ``keep_passes`` False: the result
        counts passes but does not list them (a replay of a whole ledger)."""
        out = BatchResult()
        rates = Rates(None, self._board_rate)  # one lookup per currency and day in a batch
        decided: list[Decision] = []
        scored: list[Transfer] = []
        with self._lock:
            monitor = self.monitor()
            self._base()
            for n, row in rows:
                try:
                    t = row if isinstance(row, Transfer) else parse_transfer(row, rates)
                except AssistantError as exc:
                    out.errors.append({"row": n, "reason": str(exc)})
                    continue
                d = monitor.process(t)
                scored.append(t)
                if d.action != "pass":
                    decided.append(d)
                if keep_passes or d.action != "pass":
                    out.decisions.append(d.to_dict())
                else:
                    out.passed += 1
            self._journaled(scored)
            due = self._scored(len(out.decisions) + out.passed)
        out.alerts = self._store(decided)
        self._save_if_due(due)
        return out

    def warm(
        self,
        transfers: Iterable[Transfer],
        *,
        only_cold: bool = False,
        progress: Callable[[int], None] | None = None,
        every: int = 100_000,
    ) -> int | None:
        """Feed history through the monitor to build its state, storing no alerts (a monitor
        started cold sees every payee as new and every account without a usual); the state is
        saved after. ``transfers`` is read under the lock, so a lazy iterable (one that reads
        the ledger when first asked) keeps every transfer scored meanwhile waiting until the
        history is in. ``only_cold``: not when the monitor started from a saved snapshot
        (None). ``progress`` is told the count every ``every`` transfers."""
        n = 0
        with self._lock:
            monitor = self.monitor()
            if only_cold and self._restored:
                return None
            # History builds the mule score's tallies; naming accounts is for live transfers
            # (and scoring each one of history would make a warm four times slower).
            mule, monitor.mule = monitor.mule, None
            try:
                for t in transfers:
                    monitor.process(t)
                    n += 1
                    if progress is not None and n % every == 0:
                        progress(n)
                    if n % 1000 == 0 and self._stop.is_set():
                        self._partial = True
                        log.warning(
                            "暖機於 %d 筆時因關閉而中止，狀態不存，下次啟動重新暖機 / the warm stopped "
                            "at %d transfers as the process closes: the state is not saved and "
                            "the next start warms again",
                            n,
                            n,
                        )
                        break
            finally:
                monitor.mule = mule
                if mule is not None:
                    mule.refreshed_ts = None  # percentiles taken again on the next transfer
            self._scored(n)
        if n:
            self.save()
        return n

    def catch_up(
        self,
        transfers: Callable[[int], Iterable[Transfer]],
        *,
        progress: Callable[[int], None] | None = None,
        every: int = 100_000,
    ) -> BatchResult | None:
        """After a start from a saved snapshot: what the ledger got since the last transfer the
        monitor saw, scored in time order with its alerts stored, since nobody screened those
        transfers while the monitor was down. ``transfers(since)`` gives the ledger's transfers
        from epoch second ``since`` on, in time order; those at ``since`` that the monitor has
        already seen are skipped. Read under the lock, like a warm, so a live transfer waits
        for the catch-up and is judged after it. None: the monitor did not start from a
        snapshot, or its snapshot does not say where it stopped (an older format)."""
        out = BatchResult()
        decided: list[Decision] = []
        n = 0
        with self._lock:
            monitor = self.monitor()
            if not self._restored or monitor.last_ts is None:
                return None
            since, done = monitor.last_ts, set(monitor.last_ids)
            for t in transfers(since):
                if t.ts < since or (t.ts == since and t.id in done):
                    continue
                d = monitor.process(t)
                n += 1
                if d.action != "pass":
                    decided.append(d)
                    out.decisions.append(d.to_dict())
                else:
                    out.passed += 1
                if progress is not None and n % every == 0:
                    progress(n)
                if n % 1000 == 0 and self._stop.is_set():
                    # Unlike a warm, a part of a catch-up is a consistent state: the monitor's
                    # place moved with each transfer, and the next start goes on from there.
                    break
            self._scored(n)
        out.alerts = self._store(decided)
        if n:
            self.save()
        return out

    def _store(self, decisions: list[Decision]) -> list[int]:
        rows = [
            {
                "created_at": _now(),
                "transfer_id": d.transfer.id,
                "ts": datetime.fromtimestamp(d.transfer.ts, UTC).replace(tzinfo=None),
                "account": d.account,
                "from_account": d.transfer.from_account,
                "to_account": d.transfer.to_account,
                "amount": d.transfer.amount,
                "action": d.action,
                "score": d.score,
                "reasons": [r.to_dict() for r in d.reasons],
                "rules_version": d.rules_version,
                "status": "open",
                "note": "",
            }
            for d in decisions
            if d.action != "pass"
        ]
        if not rows:
            return []
        with self._engine.begin() as conn:
            got = conn.execute(
                insert(_ALERT).returning(_ALERT.c.id, sort_by_parameter_order=True), rows
            )
            ids = [r[0] for r in got]
        return ids

    # ---- the alert queue --------------------------------------------------------------------

    def alerts(
        self, status: str | None = "open", limit: int = 50, account: str | None = None
    ) -> list[dict[str, Any]]:
        """Alerts, newest first."""
        if status is not None and status not in STATUSES:
            raise AssistantError(f"狀態須為 {'|'.join(STATUSES)} / status {status!r}")
        q = select(AlertRow).order_by(col(AlertRow.id).desc()).limit(max(1, int(limit)))
        if status:
            q = q.where(AlertRow.status == status)
        if account:
            q = q.where(AlertRow.account == normalize_account(account))
        with Session(self._engine) as s:
            return [_as_dict(r) for r in s.exec(q)]

    def alert_accounts(self, status: str | None = "open", limit: int = 50) -> list[dict[str, Any]]:
        """The queue by account, the accounts with the most alerts first: how many (holds
        among them), the first and the latest transfer, the largest amount, the rules that
        fired and the latest alert's id. An investigator works an account, not a transfer."""
        from sqlalchemy import case, func

        if status is not None and status not in STATUSES:
            raise AssistantError(f"狀態須為 {'|'.join(STATUSES)} / status {status!r}")
        a = AlertRow.__table__  # type: ignore[attr-defined]
        n = func.count().label("alerts")
        q = (
            select(
                a.c.account,
                n,
                func.sum(case((a.c.action == "hold", 1), else_=0)).label("holds"),
                func.min(a.c.ts).label("first"),
                func.max(a.c.ts).label("last"),
                func.max(a.c.amount).label("max_amount"),
                func.max(a.c.id).label("latest_id"),
            )
            .group_by(a.c.account)
            .order_by(n.desc(), func.max(a.c.id).desc())
            .limit(max(1, int(limit)))
        )
        if status:
            q = q.where(a.c.status == status)
        with Session(self._engine) as s:
            groups = [dict(r._mapping) for r in s.exec(q)]  # type: ignore[call-overload]
            rules_of: dict[str, dict[str, int]] = {g["account"]: {} for g in groups}
            if groups:
                r = select(a.c.account, a.c.reasons).where(a.c.account.in_(list(rules_of)))
                if status:
                    r = r.where(a.c.status == status)
                for account, reasons in s.exec(r):  # type: ignore[call-overload]
                    seen = rules_of[account]
                    for reason in reasons or ():
                        seen[reason["rule"]] = seen.get(reason["rule"], 0) + 1
        out = []
        for g in groups:
            fired = rules_of[g["account"]]
            out.append(
                {
                    **g,
                    "holds": int(g["holds"] or 0),
                    "first": g["first"].replace(tzinfo=UTC).isoformat(),
                    "last": g["last"].replace(tzinfo=UTC).isoformat(),
                    "rules": dict(sorted(fired.items(), key=lambda kv: -kv[1])),
                }
            )
        return out

    def alert(self, alert_id: int) -> dict[str, Any]:
        with Session(self._engine) as s:
            row = s.get(AlertRow, alert_id)
        if row is None:
            raise NotFound(f"沒有這筆警示 / no such alert: #{alert_id}")
        return _as_dict(row)

    def decide(self, alert_id: int, by: str, *, confirm: bool, note: str = "") -> dict[str, Any]:
        """Confirm (it was fraud) or dismiss (it was not) an open alert; the outcome is kept."""
        current = self.alert(alert_id)
        if current["status"] != "open":
            raise AssistantError(
                f"警示 #{alert_id} 已處理（{current['status']}），不能再決定 / alert #{alert_id} "
                f"was already {current['status']}"
            )
        with Session(self._engine) as s:
            done = s.execute(
                update(AlertRow)
                .where(col(AlertRow.id) == alert_id, col(AlertRow.status) == "open")
                .values(
                    status="confirmed" if confirm else "dismissed",
                    decided_by=by,
                    decided_at=_now(),
                    note=note.strip()[:2000],
                )
            )
            s.commit()
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise AssistantError(f"警示 #{alert_id} 已被他人決定 / decided by someone else")
        return self.alert(alert_id)

    def decide_account(
        self, account: str, by: str, *, confirm: bool, note: str = "", up_to: int | None = None
    ) -> dict[str, Any]:
        """Confirm or dismiss every open alert of ``account`` at once (an investigator works
        an account, not a transfer): those up to alert ``up_to``, the newest the investigator
        saw, so an alert that arrived since is left for a look of its own. Returns the account,
        the outcome and the alerts decided, oldest first."""
        who = normalize_account(account)
        status = "confirmed" if confirm else "dismissed"
        with Session(self._engine) as s:
            q = select(AlertRow.id).where(AlertRow.account == who, AlertRow.status == "open")
            if up_to is not None:
                q = q.where(col(AlertRow.id) <= int(up_to))
            ids = sorted(int(i) for i in s.exec(q))  # type: ignore[call-overload]
            if not ids:
                raise AssistantError(
                    f"帳戶 {who} 沒有待處理的警示 / account {who} has no open alerts"
                    + (f" up to #{up_to}" if up_to is not None else "")
                )
            # What this statement changed, and nothing another investigator decided meanwhile.
            changed = s.execute(
                update(AlertRow)
                .where(col(AlertRow.id).in_(ids), col(AlertRow.status) == "open")
                .values(status=status, decided_by=by, decided_at=_now(), note=note.strip()[:2000])
                .returning(col(AlertRow.id))
            ).scalars()
            decided = sorted(int(i) for i in changed)
            s.commit()
        return {"account": who, "status": status, "decided": decided}

    def outcomes(self) -> dict[str, Any]:
        """What investigators made of the alerts, per rule: the precision they measured."""
        per: dict[str, dict[str, int]] = {}
        with Session(self._engine) as s:
            rows = s.exec(select(AlertRow).where(col(AlertRow.status) != "open")).all()
        for r in rows:
            for reason in r.reasons:
                c = per.setdefault(reason["rule"], {"confirmed": 0, "dismissed": 0})
                c[r.status] += 1
        return {
            rule: {**c, "precision": round(c["confirmed"] / (c["confirmed"] + c["dismissed"]), 4)}
            for rule, c in sorted(per.items())
        }


def _own(path: Path) -> Any:
    """The open lock file beside ``path`` while this process holds it, else None (another
    process holds it). Without ``fcntl`` (Windows) every process owns it."""
    lock = path.with_name(path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fh = lock.open("a+b")
    try:
        import fcntl
    except ImportError:
        return fh
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


def _as_dict(row: AlertRow) -> dict[str, Any]:
    d = row.model_dump()
    for key in ("created_at", "decided_at", "ts"):
        if d.get(key) is not None:
            d[key] = d[key].replace(tzinfo=UTC).isoformat()
    return d
