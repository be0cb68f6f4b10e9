"""Labels from a transfer file: a generator's output or a bank's confirmed cases marks the
laundering transfers (Is Laundering, isSAR, label …); their accounts become the fraud
accounts the scorer trains on and the eval measures, every other account of the file normal."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from assistant.cli import cli
from assistant.fraud.generator import generate
from assistant.fraud.importers import import_csv
from assistant.fraud.ledger import Ledger
from assistant.fraud.records import AccountRow, TransferRow, is_reserved
from assistant.schema import open_engine
from evals.fraud import evaluate_ledger, load_csv
from tests.conftest import eval_on_own_sqlite
from tests.test_fraud_cli import run

HEADER = ["Transaction ID", "Timestamp", "Sender", "Receiver", "Amount", "kind", "Is Laundering"]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """A generated ledger written out as another generator would: one row per transfer with
    a 0/1 laundering column (its planted transfers); and the customer accounts they touch."""
    folder = tmp_path_factory.mktemp("labelled")
    engine = open_engine(f"sqlite:///{folder / 'g.db'}")
    generate(3000, 30_000, seed=7, start=date(2024, 3, 1), days=45, fraud_rings=8).write_to(
        Ledger(engine)
    )
    t = TransferRow.__table__  # type: ignore[attr-defined]
    path = folder / "transactions.csv"
    with engine.connect() as conn, path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for r in conn.execute(
            select(
                t.c.id, t.c.ts, t.c.from_account, t.c.to_account, t.c.amount, t.c.kind, t.c.pattern
            )
        ):
            out.writerow(
                [
                    r.id,
                    f"{r.ts.isoformat()}+00:00",
                    r.from_account,
                    r.to_account,
                    r.amount,
                    r.kind,
                    int(bool(r.pattern)),
                ]
            )
        marked = conn.execute(
            select(t.c.from_account, t.c.to_account).where(t.c.pattern.is_not(None))
        ).all()
    engine.dispose()
    return path, {a for r in marked for a in r if not is_reserved(a)}


def _labels(ledger: Ledger) -> dict[str, bool | None]:
    a = AccountRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        return dict(conn.execute(select(a.c.id, a.c.is_fraud)).all())


def test_a_label_column_labels_every_account_of_the_file(
    tmp_path: Path, labelled: tuple[Path, set[str]]
) -> None:
    path, fraud = labelled
    ledger = Ledger(open_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    report = import_csv(ledger, path, {})
    assert report.mapping["label"] == "Is Laundering"
    labels = _labels(ledger)
    # The accounts of the marked transfers (mules and the victims who paid them), only they.
    assert {k for k, v in labels.items() if v} == fraud
    assert report.labelled == {"fraud": len(fraud), "normal": len(labels) - len(fraud)}
    assert None not in labels.values()
    # A later file saying nothing of them does not take a fraud label back.
    later = tmp_path / "later.csv"
    mule = sorted(fraud)[0]
    later.write_text(
        ",".join(HEADER) + f"\nL1,2024-05-01T10:00:00+00:00,{mule},NEWACC1,100,transfer,0\n",
        encoding="utf-8",
    )
    import_csv(ledger, later, {})
    after = _labels(ledger)
    assert after[mule] is True and after["NEWACC1"] is False


@eval_on_own_sqlite
def test_the_eval_reads_a_labelled_file_of_any_generator(labelled: tuple[Path, set[str]]) -> None:
    path, fraud = labelled
    data = load_csv(path, {})
    assert data.generator == "csv" and int(data.y.sum()) == len(fraud)
    result = evaluate_ledger(data, folds=3)
    assert result["auc"] > 0.98 and result["auc"] >= result["degree_amount_auc"]


def test_eval_fraud_takes_csv_files(tmp_path: Path, labelled: tuple[Path, set[str]]) -> None:
    path, fraud = labelled
    unlabelled = tmp_path / "plain.csv"
    unlabelled.write_text("Timestamp,Sender,Receiver,Amount\n2024-05-01,A,B,5\n", encoding="utf-8")
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "data"), "eval", "fraud", "--no-rings", "--no-reference"]
    result = runner.invoke(cli, [*base, "--csv", str(path), "--folds", "3", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["ledgers"]
    assert (row["n_fraud"], row["ledger"]) == (len(fraud), "transactions")
    result = runner.invoke(cli, [*base, "--csv", str(unlabelled)])
    assert result.exit_code == 1 and "has no label column" in result.output
    # The same file imported by a bank: its labels are what `fraud train` fits on.
    data = tmp_path / "bank"
    code, out = run(data, "fraud", "import-csv", str(path), "--json")
    assert code == 0 and json.loads(out)["labelled"]["fraud"] == len(fraud), out
    code, out = run(data, "fraud", "train", "--json")
    assert code == 0, out
    assert json.loads(out)["fraud"] == len(fraud)


def test_a_typology_column_names_the_scheme_of_a_labelled_transfer(tmp_path: Path) -> None:
    """SAML-D's layout (Time and Date apart, Sender_account, Is_laundering, Laundering_type):
    a laundering transfer's pattern is its scheme, which the eval's per-typology table reads;
    a normal transfer's typology (Normal_Fan_In) marks nothing."""
    path = tmp_path / "saml.csv"
    path.write_text(
        "Time,Date,Sender_account,Receiver_account,Amount,Payment_type,Is_laundering,"
        "Laundering_type\n"
        "10:35:19,2022-10-07,8724731955,2769355426,1459.15,ACH,0,Normal_Fan_In\n"
        "10:36:21,2022-10-07,9614186178,3803336972,115.25,ACH,1,Structuring\n",
        encoding="utf-8",
    )
    ledger = Ledger(open_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    report = import_csv(ledger, path, {})
    assert report.mapping["typology"] == "Laundering_type"
    assert report.labelled == {"fraud": 2, "normal": 2}
    patterns = {t.from_account: t.pattern for t in ledger.transfers_out("9614186178")}
    patterns |= {t.from_account: t.pattern for t in ledger.transfers_out("8724731955")}
    assert patterns == {"9614186178": "label:Structuring", "8724731955": None}
