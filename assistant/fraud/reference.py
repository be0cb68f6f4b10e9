"""The reference mule scorer: what scores a ledger that has no labels of its own.

A bank's ledger arrives without ground truth: nobody has marked which accounts are mules, so
``FraudService.train`` has nothing to fit. The reference scorer is fitted on ledgers of the
product's own generator (several seeds, sizes, densities and spans, with complete labels) and
reads any ledger through the same within-ledger percentiles, which is what carries a model from
one ledger to another (``evals.fraud`` measures it on AMLSim and AMLGentex ledgers it never saw).
A bank that has labels trains its own model, which then takes precedence.

Built once, deterministically: at install (``make install`` writes it into the virtual
environment) or, where that file is missing or was written by another model version, on first
use into the data folder.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError

if TYPE_CHECKING:
    import numpy as np

    from assistant.fraud.scoring import MuleScorer

# The generated ledgers the reference is fitted on: varied so that no one size, density or span
# is what the model learns (accounts, transfers, rings, days).
LEDGERS: tuple[dict[str, int], ...] = (
    {"seed": 101, "accounts": 20_000, "transfers": 200_000, "rings": 40, "days": 60},
    {"seed": 102, "accounts": 8_000, "transfers": 120_000, "rings": 40, "days": 60},
    {"seed": 103, "accounts": 5_000, "transfers": 150_000, "rings": 30, "days": 30},
    {"seed": 104, "accounts": 30_000, "transfers": 150_000, "rings": 60, "days": 90},
    {"seed": 105, "accounts": 10_000, "transfers": 300_000, "rings": 50, "days": 45},
)
FILE_NAME = "mule_reference.joblib"
log = logging.getLogger(__name__)
_BUILDING = threading.Lock()

Progress = Callable[[str], None]


def installed_path() -> Path:
    """Where ``make install`` keeps the reference scorer: inside the virtual environment, like
    the embedding and OCR models, so every data folder on the machine shares it."""
    return Path(sys.prefix) / "share" / "twfin-assistant" / FILE_NAME


def training_rows(
    spec: dict[str, int], cash_rules: Any = None
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """One generated ledger as the scorer reads it: feature names, the customer accounts' rows
    (within-ledger percentiles, computed over the whole ledger as ``FraudService`` does), the
    same rows' raw features (what a baseline on raw degree and amount reads) and their
    labels."""
    import numpy as np

    from assistant.fraud.features import account_features, account_meta, within_ledger_ranks
    from assistant.fraud.generator import generate
    from assistant.fraud.ledger import Ledger
    from assistant.fraud.records import is_reserved
    from assistant.schema import open_engine

    g = generate(
        spec["accounts"],
        spec["transfers"],
        seed=spec["seed"],
        start=date(2024, 1, 1),
        days=spec["days"],
        fraud_rings=spec["rings"],
        rented_share=spec.get("rented", 0) / 100,
        reuse_share=spec.get("reuse", 0) / 100,
    )
    with tempfile.TemporaryDirectory(prefix="twfin-reference-") as tmp:
        engine = open_engine(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        try:
            ledger = Ledger(engine)
            g.write_to(ledger)
            arrays = ledger.arrays()
            meta = account_meta(ledger)
        finally:
            engine.dispose()
    names, raw = account_features(arrays, meta, rules=cash_rules)
    X = within_ledger_ranks(raw)
    labels = g.labels
    ids = arrays.account_ids.tolist()
    keep = [i for i, a in enumerate(ids) if not is_reserved(a) and labels.get(a) is not None]
    y = np.array([1 if labels[ids[i]] else 0 for i in keep])
    return names, X[keep], raw[keep], y


def build(
    path: Path,
    *,
    cash_rules: Any = None,
    ledgers: tuple[dict[str, int], ...] = LEDGERS,
    progress: Progress | None = None,
) -> MuleScorer:
    """Fit the reference scorer on ``ledgers`` and save it at ``path`` (atomically)."""
    import numpy as np

    from assistant.fraud.scoring import MuleScorer

    say = progress or (lambda _m: None)
    names: list[str] = []
    parts: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for n, spec in enumerate(ledgers, start=1):
        say(
            f"參考模型：產生帳務 {n}/{len(ledgers)} / reference model: generated ledger "
            f"{n}/{len(ledgers)} ({spec['accounts']:,} accounts, {spec['transfers']:,} transfers)"
        )
        names, X, _raw, y = training_rows(spec, cash_rules)
        parts.append(X)
        labels.append(y)
    say("參考模型：訓練中 / reference model: fitting")
    scorer = MuleScorer(seed=0).fit(names, np.vstack(parts), np.concatenate(labels))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    scorer.save(tmp)
    tmp.replace(path)
    say(f"參考模型已存 / reference model saved: {path}")
    return scorer


@dataclass(frozen=True)
class ReferenceModel:
    """Where the reference scorer is looked for: the installed file (shared by every data
    folder), then ``fallback`` in the data folder, where it is built when neither loads."""

    installed: Path | None
    fallback: Path

    def load(self, *, cash_rules: Any = None, progress: Progress | None = None) -> MuleScorer:
        found = self._found()
        if found is not None:
            return found
        with _BUILDING:  # two first requests at once build it once
            found = self._found()
            if found is not None:
                return found
            return self._build(cash_rules, progress)

    def _found(self) -> MuleScorer | None:
        from assistant.fraud.scoring import MuleScorer

        for path in (self.installed, self.fallback):
            if path is not None and path.is_file():
                try:
                    return MuleScorer.load(path)
                except AssistantError:
                    continue  # another model version: build a current one
        return None

    def _build(self, cash_rules: Any, progress: Progress | None) -> MuleScorer:
        log.warning(
            "尚無參考模型，首次使用需建立（約一分鐘）/ no reference mule scorer yet: building "
            "it once (about a minute) at %s",
            self.fallback,
        )
        return build(self.fallback, cash_rules=cash_rules, progress=progress or log.info)


def main(argv: list[str] | None = None) -> int:
    """``python -m assistant.fraud.reference [PATH]``: build the reference scorer (``make
    install`` runs it once; the default path is the virtual environment's)."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else installed_path()
    from assistant.fraud.scoring import MuleScorer

    try:
        MuleScorer.load(path)
        return 0  # up to date: nothing to say on every `make`
    except AssistantError:
        pass
    from assistant.fraud.features import CashRules
    from assistant.settings import FraudSettings

    # The rules the settings default to; a bank that changes them still reads percentiles.
    defaults = FraudSettings()
    rules = CashRules(defaults.report_threshold, defaults.structuring_band)
    build(path, cash_rules=rules, progress=lambda m: print(m, file=sys.stderr, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
