"""The fraud desk's API: what the CLI, the agent and the UI call.

The trace index lives in memory, built from the ledger on first use and rebuilt when the ledger
has changed: every import through this service drops it, and an import by another process is
noticed within ``stale_s`` seconds (a cheap check of the transfer count).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.fraud.account_statement import import_statement
from assistant.fraud.currencies import BoardRate, Rates
from assistant.fraud.generator import generate
from assistant.fraud.importers import ImportReport, import_amlgentex, import_amlsim, import_csv
from assistant.fraud.ledger import Ledger, normalize_account
from assistant.fraud.records import is_reserved
from assistant.fraud.reference import ReferenceModel
from assistant.fraud.trace import TraceResult, TransferIndex

TAIPEI_OFFSET = timedelta(hours=8)


@dataclass
class _Built:
    index: TransferIndex
    transfers: int
    checked: float
    latest: int  # epoch seconds of the newest transfer
    arrays: Any  # the LedgerArrays the index was built from, reused for the features


class FraudService:
    def __init__(
        self,
        ledger: Ledger,
        model_path: Path | None = None,
        stale_s: float = 30.0,
        cash_rules: Any = None,
        reference: ReferenceModel | None = None,
        board_rate: BoardRate | None = None,
    ) -> None:
        """``cash_rules``: a ``features.CashRules`` (the reporting threshold the structuring
        features measure against, from the settings); None leaves those features empty.
        ``reference``: the scorer for a ledger without a model of its own (no labels to train
        on); None: such a ledger is not scored. ``board_rate``: NT$ per unit of a currency on
        a day (the FX desk's board), for imports to store amounts in NT$."""
        self.ledger = ledger
        self.model_path = model_path
        self.reference = reference
        self.board_rate = board_rate
        self._is_reference = False
        self.cash_rules = cash_rules
        self._stale_s = stale_s
        self._built: _Built | None = None
        self._lock = threading.Lock()
        self._scorer: Any = None
        self._features: tuple[int, list[str], Any] | None = None  # (id of index, names, X)
        self._positions: dict[str, int] = {}
        self._raw: Any = None  # the features' own values, rows as in the feature matrix
        self._rings: tuple[int, Any, Any] | None = None  # (id of index, scorer, RingFinder)

    # ---- the ledger ---------------------------------------------------------------------

    def _ledger_changed(self) -> None:
        """Written through this service: the next question reads the ledger as it is now,
        not after ``stale_s``."""
        self._built = None

    def import_amlsim(self, folder: Path) -> ImportReport:
        report = import_amlsim(self.ledger, folder)
        self._ledger_changed()
        return report

    def import_amlgentex(self, path: Path) -> ImportReport:
        report = import_amlgentex(self.ledger, path)
        self._ledger_changed()
        return report

    def import_csv(
        self,
        path: Path,
        mapping: dict[str, str],
        rates: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> ImportReport:
        """``rates``: NT$ per unit given by staff, before the board rates (``Rates``)."""
        report = import_csv(
            self.ledger, path, mapping, rates=Rates(rates, self.board_rate), **kwargs
        )
        self._ledger_changed()
        return report

    def import_statement(
        self,
        path: Path,
        mapping: dict[str, str],
        rates: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> ImportReport:
        report = import_statement(
            self.ledger, path, mapping, rates=Rates(rates, self.board_rate), **kwargs
        )
        self._ledger_changed()
        return report

    def generate(
        self,
        *,
        accounts: int,
        transfers: int,
        seed: int,
        start: date,
        days: int,
        rings: int,
        rented: float = 0.0,
        reuse: float = 0.0,
    ) -> dict[str, Any]:
        g = generate(
            accounts,
            transfers,
            seed=seed,
            start=start,
            days=days,
            fraud_rings=rings,
            rented_share=rented,
            reuse_share=reuse,
        )
        written = g.write_to(self.ledger)
        self._ledger_changed()
        return {**written, "patterns": len(g.patterns), "seed": seed}

    def evidence(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Memos and original amounts by transfer id, for the evidence a trace shows."""
        return self.ledger.evidence(ids)

    def counts(self) -> dict[str, int]:
        return self.ledger.counts()

    def account(self, account: str) -> dict[str, Any]:
        acct_id = normalize_account(account)
        row = self.ledger.account(acct_id)
        if row is None and not self._known(self.index(), acct_id):
            raise AssistantError(f"查無帳戶 {account} / unknown account {account}")
        info: dict[str, Any] = {"id": acct_id}
        if row is not None:
            info.update(
                bank_code=row.bank_code,
                holder_ref=row.holder_ref,
                opened=row.opened.isoformat() if row.opened else None,
                status=row.status,
            )
        return info

    # ---- tracing ------------------------------------------------------------------------

    def index(self) -> TransferIndex:
        with self._lock:
            now = time.monotonic()
            built = self._built
            if built is not None and now - built.checked < self._stale_s:
                return built.index
            count = self.ledger.counts()["transfers"]
            if built is not None and built.transfers == count:
                built.checked = now
                return built.index
            arrays = self.ledger.arrays()
            index = TransferIndex.from_ledger(arrays)
            latest = int(arrays.ts.max()) if len(arrays) else 0
            self._built = _Built(index, len(arrays), now, latest, arrays)
            return index

    def latest(self) -> datetime | None:
        """When the newest transfer happened (UTC): "the last 7 days" of a historical ledger."""
        self.index()
        assert self._built is not None
        return datetime.fromtimestamp(self._built.latest, UTC) if self._built.latest else None

    def trace(
        self,
        account: str,
        direction: str = "down",
        hops: int = 3,
        *,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        window_hours: float | None = None,
        min_amount: float = 0.0,
        per_hop_limit: int = 50,
        order: str = "amount",
        attribution: str = "proportional",
    ) -> TraceResult:
        """``since``/``until`` as dates are Taiwan calendar days (until inclusive)."""
        # Checked before the trace: a negative or infinite threshold (click reads "1e309" as
        # inf) would otherwise run and quietly return everything, or nothing.
        if not math.isfinite(min_amount) or min_amount < 0:
            raise AssistantError(
                f"最低金額須為 0 以上的有限數字 / the minimum amount must be a finite number "
                f"≥ 0: {min_amount}"
            )
        if window_hours is not None and not (math.isfinite(window_hours) and window_hours > 0):
            raise AssistantError(
                f"時間窗須為正數小時 / the window must be a positive number of hours: "
                f"{window_hours}"
            )
        return self._run_trace(
            normalize_account(account),
            account,
            direction=direction,
            hops=hops,
            since=_epoch(since, end=False),
            until=_epoch(until, end=True),
            window_s=int(window_hours * 3600) if window_hours else None,
            min_amount=min_amount,
            per_hop_limit=per_hop_limit,
            order=order,
            attribution=attribution,
        )

    def _run_trace(self, acct_id: str, account: str, **options: Any) -> TraceResult:
        """The trace itself, on the in-memory index (the Spark engine runs it as joins)."""
        index = self.index()
        if not self._known(index, acct_id):
            raise AssistantError(f"查無帳戶 {account} / unknown account {account}")
        return index.trace(acct_id, **options)

    # ---- scoring --------------------------------------------------------------------------

    def _feature_matrix(self) -> tuple[TransferIndex, list[str], Any]:
        """Every account's features, computed once per built index (vectorised over the ledger)."""
        from assistant.fraud.features import account_features, account_meta, within_ledger_ranks

        index = self.index()
        cached = self._features
        if cached is not None and cached[0] == id(index):
            return index, cached[1], cached[2]
        assert self._built is not None
        arrays = self._built.arrays  # read once for the index; reading the ledger takes seconds
        names, raw = account_features(arrays, account_meta(self.ledger), rules=self.cash_rules)
        # The scorer reads each feature as the account's percentile in this ledger: a model
        # fitted on one ledger then reads another (evals.fraud measures it); the raw values are
        # kept for the reasons shown to people.
        X = within_ledger_ranks(raw)
        self._raw = raw
        self._positions = arrays.index  # account id → row of X
        self._features = (id(index), names, (list(arrays.account_ids), X))
        return index, names, (list(arrays.account_ids), X)

    def train(self) -> dict[str, Any]:
        """Fit the mule scorer on the accounts the ledger has labels for, and save it."""
        import numpy as np
        from sqlalchemy import select

        from assistant.fraud.records import AccountRow
        from assistant.fraud.scoring import MuleScorer
        from assistant.fraud.stream_model import FILE_NAME as STREAM_FILE
        from assistant.fraud.stream_model import fit as fit_stream

        if self.model_path is None:
            raise AssistantError("未設定模型檔位置 / no model path configured")
        _, names, (ids, X) = self._feature_matrix()
        t = AccountRow.__table__  # type: ignore[attr-defined]
        with self.ledger.engine.connect() as conn:
            labels = dict(conn.execute(select(t.c.id, t.c.is_fraud)).all())
        keep = [i for i, a in enumerate(ids) if labels.get(a) is not None]
        y = np.array([1 if labels[ids[i]] else 0 for i in keep])
        if len(keep) == 0 or y.min() == y.max():
            raise AssistantError(
                "帳務資料沒有足夠的標記（需有詐騙與正常帳戶）/ the ledger needs accounts labelled "
                "both as fraud and as normal to train on"
            )
        scorer = MuleScorer().fit(names, X[keep], y)
        self.model_path.parent.mkdir(parents=True, exist_ok=True)
        scorer.save(self.model_path)
        self._scorer, self._is_reference = scorer, False
        # The transfer monitor's model, fitted on the same accounts and percentiles: what
        # scores an account as its money moves (``monitor.mule_score``).
        stream = fit_stream(names, X[keep], y, cash_rules=self.cash_rules)
        stream_path = self.model_path.with_name(STREAM_FILE)
        stream.save(stream_path)
        fraud = np.array([bool(labels.get(a)) for a in ids])
        assert scorer.oof is not None
        links = self._train_links(keep, scorer.oof, fraud)
        return {
            "accounts": len(keep),
            "fraud": int(y.sum()),
            "model": str(self.model_path),
            "monitor_model": str(stream_path),
            "monitor_alert_at": round(stream.alert_at, 4),
            **links,
        }

    def _link_path(self) -> Path:
        from assistant.fraud.rings import LINK_FILE

        assert self.model_path is not None
        return self.model_path.with_name(LINK_FILE)

    def _step_path(self) -> Path:
        from assistant.fraud.rings import STEP_FILE

        assert self.model_path is not None
        return self.model_path.with_name(STEP_FILE)

    def _member_path(self) -> Path:
        from assistant.fraud.rings import MEMBER_FILE

        assert self.model_path is not None
        return self.model_path.with_name(MEMBER_FILE)

    def _train_links(self, keep: list[int], oof: Any, fraud: Any) -> dict[str, Any]:
        """The ring walk's link and step models, where the ledger marks laundering transfers:
        the link model fitted on those between two accounts labelled fraud (the accomplices'
        links), with the labelled accounts' mule scores read out-of-fold (``oof``: the scorer's
        inner folds); the step model on steps between those links, with the link model's own
        out-of-fold scores; the member model on walks from each pattern's accounts (``rings.
        fit_members``). Without such labels (or too few) any earlier model is removed, so the
        ring walk falls back to PageRank over the mule scores (or to the walk without the
        models it lacks) rather than keep a model of another ledger's links."""
        import numpy as np

        from assistant.fraud.links import accomplice_rows, pattern_codes
        from assistant.fraud.rings import fit_links, fit_members, fit_steps

        path, step_path, member_path = self._link_path(), self._step_path(), self._member_path()
        laundering = self.ledger.laundering_patterns()
        assert self._built is not None
        arrays = self._built.arrays
        try:
            if not laundering:
                raise AssistantError("沒有標記的洗錢交易 / no laundering transfers marked")
            mule = np.zeros(len(arrays.account_ids))
            mule[keep] = oof
            accomplices = accomplice_rows(arrays, laundering, fraud)
            model = fit_links(arrays, mule, accomplices)
        except AssistantError as exc:
            for stale in (path, step_path, member_path):
                stale.unlink(missing_ok=True)
            return {"link_model": None, "link_model_note": str(exc)}
        model.save(path)
        out: dict[str, Any] = {"link_model": str(path), "laundering_transfers": len(laundering)}
        try:
            assert model.oof is not None
            codes, _ = pattern_codes(arrays, laundering)
            steps = fit_steps(arrays, accomplices, codes, model.oof)
        except AssistantError as exc:
            step_path.unlink(missing_ok=True)
            member_path.unlink(missing_ok=True)
            return out | {"step_model": None, "step_model_note": str(exc)}
        steps.save(step_path)
        out |= {"step_model": str(step_path)}
        try:
            members = fit_members(arrays, mule, accomplices, codes, model.oof)
        except AssistantError as exc:
            member_path.unlink(missing_ok=True)
            return out | {"member_model": None, "member_model_note": str(exc)}
        members.save(member_path)
        return out | {"member_model": str(member_path)}

    def _loaded(self) -> Any:
        from assistant.fraud.scoring import MuleScorer

        own = self.model_path is not None and self.model_path.is_file()
        if self._is_reference and own:
            self._scorer, self._is_reference = None, False  # trained since: the bank's own
        if self._scorer is None:
            if not own and self.reference is not None:
                # No labels here to train on: the reference scorer, fitted on generated ledgers,
                # reads this ledger through the same within-ledger percentiles.
                self._scorer = self.reference.load(cash_rules=self.cash_rules)
                self._is_reference = True
                return self._scorer
            if not own:
                raise AssistantError(
                    "尚未訓練評分模型，請先執行 assistant fraud train / no mule scorer yet: run "
                    "`assistant fraud train`"
                )
            assert self.model_path is not None
            from assistant.federation.model import FederatedScorer, is_federated_file

            # a federated model deployed in place of the local one (``deploy``) is JSON
            if is_federated_file(self.model_path):
                self._scorer = FederatedScorer.load(self.model_path)
            else:
                self._scorer = MuleScorer.load(self.model_path)
        return self._scorer

    def deploy(self, model_file: Path) -> dict[str, Any]:
        """Make a federated model (``federation.model`` file) the scorer: checked first (its
        protocol, features and hash), then copied over the model path atomically. The next
        ``train`` replaces it with a local model again."""
        import os
        import shutil

        from assistant.federation.model import FederatedScorer

        if self.model_path is None:
            raise AssistantError("未設定模型檔位置 / no model path configured")
        scorer = FederatedScorer.load(model_file)
        self.model_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.model_path.with_name(self.model_path.name + ".deploy.tmp")
        shutil.copyfile(model_file, tmp)
        os.replace(tmp, self.model_path)
        self._scorer, self._is_reference = scorer, False
        return {"model": str(self.model_path), **scorer.describe()}

    def model_info(self) -> dict[str, str]:
        """Which model scores: the federated one says so (rounds, banks, hash)."""
        scorer = self._loaded()
        if hasattr(scorer, "describe"):
            return scorer.describe()
        if self._is_reference:
            return {
                "kind": "reference",
                "zh": "參考模型（以合成帳務訓練，未使用本行標記；有標記時請執行 assistant fraud "
                "train）",
                "en": "reference model (trained on generated ledgers, not on this bank's labels; "
                "run `assistant fraud train` where labels exist)",
            }
        return {
            "kind": "local",
            "zh": "本行模型（僅本行帳務訓練）",
            "en": "local model (this bank's ledger only)",
        }

    def _row(self, account: str) -> tuple[str, Any, Any]:
        """The account's id, its row of the scorer's input (1 × n) and its features' own values
        (n), by the arrays' own index."""
        acct_id = normalize_account(account)
        _, _, (_, X) = self._feature_matrix()
        row = self._positions.get(acct_id)
        if row is None:
            raise AssistantError(f"查無帳戶 {account} / unknown account {account}")
        return acct_id, X[row : row + 1], self._raw[row]

    def score(self, account: str, reasons: int = 5) -> dict[str, Any]:
        """The account's calibrated mule probability and the features that drove it."""
        scorer = self._loaded()
        acct_id, x, raw = self._row(account)
        p = float(scorer.score(x)[0])
        return {
            "account": acct_id,
            "score": round(p, 4),
            "reasons": self._reasons(scorer, x, raw, reasons) if reasons > 0 else [],
            "model": self.model_info(),
        }

    def explain(self, account: str, reasons: int = 5) -> list[dict[str, Any]]:
        """The features that moved this account's score most, in words (see ``MuleScorer``)."""
        scorer = self._loaded()
        _, x, raw = self._row(account)
        return self._reasons(scorer, x, raw, reasons)

    @staticmethod
    def _reasons(scorer: Any, x: Any, raw: Any, k: int) -> list[dict[str, Any]]:
        """``value``: the account's own value of the feature; ``percentile``: where it stands
        in this ledger (what the model read)."""
        return [
            {
                "feature": r.feature,
                "value": float(raw[scorer.names.index(r.feature)]),
                "percentile": round(r.value, 4),
                "contribution": round(r.contribution, 4),
                "zh": r.zh,
                "en": r.en,
            }
            for r in scorer.explain(x, top_k=k)
        ]

    def top(self, n: int = 20) -> list[dict[str, Any]]:
        scorer = self._loaded()
        _, _, (ids, X) = self._feature_matrix()
        p = scorer.score(X)
        # the banks' CASH accounts and OUTSIDE are endpoints, not customers to rank
        p[[i for i, a in enumerate(ids) if is_reserved(a)]] = -1.0
        order = p.argsort()[::-1][:n]
        return [{"account": ids[i], "score": round(float(p[i]), 4)} for i in order]

    # ---- rings ------------------------------------------------------------------------------

    def ring(
        self,
        account: str,
        *,
        hops: int | None = None,
        window_days: float | None = None,
        threshold: float | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """The accounts of the pattern around ``account`` (``rings.RingFinder``): the most
        probable paths over the link model where one is trained (each candidate judged by the
        member model where there is one), else PageRank weighted by the mule scorer,
        label-free without one."""
        finder = self._ring_finder()
        # hops, window and threshold left None: the walk in use picks its own
        result = finder.expand(
            account,
            hops=hops,
            window_days=window_days,
            threshold=threshold,
            limit=limit,
        )
        return result.as_dict()

    def _ring_finder(self) -> Any:
        from assistant.fraud.links import LINK_NAMES, STEP_NAMES
        from assistant.fraud.rings import MEMBER_NAMES, RingFinder
        from assistant.fraud.scoring import MuleScorer

        index = self.index()
        try:
            scorer = self._loaded()
        except AssistantError:
            scorer = None  # no model yet: the expansion is label-free
        cached = self._rings
        if cached is not None and cached[0] == id(index) and cached[1] is scorer:
            return cached[2]
        assert self._built is not None
        arrays = self._built.arrays
        mule = None
        if scorer is not None:
            _, _, (ids, X) = self._feature_matrix()
            mule = scorer.score(X)
            mule[[i for i, a in enumerate(ids) if is_reserved(a)]] = 0.0
        links = steps = members = None
        if mule is not None and not self._is_reference and self._link_path().is_file():
            links = MuleScorer.load(self._link_path(), feature_names=LINK_NAMES)
            if self._step_path().is_file():
                steps = MuleScorer.load(self._step_path(), feature_names=STEP_NAMES)
                if self._member_path().is_file():
                    members = MuleScorer.load(self._member_path(), feature_names=MEMBER_NAMES)
        finder = RingFinder(arrays, mule, links=links, steps=steps, members=members)
        self._rings = (id(index), scorer, finder)
        return finder

    @staticmethod
    def _known(index: TransferIndex, acct_id: str) -> bool:
        try:
            index.position(acct_id)
        except AssistantError:
            return False
        return True


def _epoch(value: date | datetime | None, *, end: bool) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(aware.timestamp())
    # A calendar day in Taiwan: from its 00:00 (+08:00); an end date includes the whole day.
    day = value + timedelta(days=1) if end else value
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) - TAIPEI_OFFSET
    return int(midnight.timestamp()) - (1 if end else 0)
