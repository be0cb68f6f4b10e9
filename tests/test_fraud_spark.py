"""The Spark engine against the in-memory one: the same features (to rounding), the same ranks
and scores, the same traces, on a generated ledger with hand-made edge cases added (equal
timestamps, window edges, a hub over the per-hop cap, cash and outside rows).

One SparkSession (local[2], UI off, two shuffle partitions) serves the whole module; the ledger
is staged once per module and every comparison reads it."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.errors import AssistantError
from assistant.fraud.features import FEATURE_NAMES, CashRules
from assistant.fraud.generator import generate
from assistant.fraud.ledger import Ledger
from assistant.fraud.records import is_reserved
from assistant.fraud.service import FraudService
from assistant.schema import open_engine

if shutil.which("java") is None:  # pragma: no cover - `make test` installs Java 17 first
    # A failure, not a skip: parity unchecked must not pass for parity held.
    pytest.fail(
        "Spark 需要 Java 17，請執行 make java / Spark needs Java 17 "
        "(openjdk-17-jre-headless): run `make java`",
        pytrace=False,
    )

from assistant.fraud.spark_engine import SparkFraudService, partitions, stop_sessions

RULES = CashRules(report_threshold=500_000.0, structuring_band=0.1)
T0 = datetime(2024, 3, 1, 0, 0)  # the edge cases' clock, UTC


def _edge_rows() -> list[dict[str, Any]]:
    """Hand-made rows with the cases a port gets wrong."""
    rows: list[tuple[str, datetime, str, str, float, str, str]] = [
        # equal timestamps: E1 → E2 and E2 → E3 at the same second (taken downstream), and
        # E2 → E4 one second before the arrival (not taken)
        ("X01", T0, "E1", "E2", 50_000.0, "transfer", ""),
        ("X02", T0, "E2", "E3", 30_000.0, "transfer", ""),
        ("X03", T0 - timedelta(seconds=1), "E2", "E4", 10_000.0, "transfer", ""),
        # window edges: exactly 2 h after the arrival (in), 2 h + 1 s (out)
        ("X04", T0 + timedelta(hours=2), "E2", "E5", 7_000.0, "transfer", ""),
        ("X05", T0 + timedelta(hours=2, seconds=1), "E2", "E6", 6_000.0, "transfer", ""),
        # equal amounts at equal times, for the cap's tie-break
        ("X06", T0 + timedelta(hours=1), "E3", "E7", 1_000.0, "transfer", ""),
        ("X07", T0 + timedelta(hours=1), "E3", "E8", 1_000.0, "transfer", ""),
        # cash: E3 withdraws at an ATM, E7 deposits over the counter just under the threshold
        ("X08", T0 + timedelta(hours=3), "E3", "CASH822", 20_000.0, "cash_out", "ATM"),
        ("X09", T0 + timedelta(hours=4), "CASH822", "E7", 480_000.0, "cash_in", "臨櫃"),
        ("X10", T0 + timedelta(hours=5), "OUTSIDE", "E1", 90_000.0, "transfer", ""),
        ("X11", T0 + timedelta(hours=6), "E7", "OUTSIDE", 1_000.0, "transfer", ""),
    ]
    # a hub: 30 senders into H, H pays 30 recipients (a cap of 5 cuts both ways)
    for i in range(30):
        rows.append(
            (
                f"H{i:02d}",
                T0 + timedelta(minutes=i),
                f"S{i:02d}",
                "H0",
                1000.0 + i % 7,
                "transfer",
                "",
            )
        )
        rows.append(
            (
                f"G{i:02d}",
                T0 + timedelta(hours=1, minutes=i // 2),
                "H0",
                f"R{i:02d}",
                500.0 + i % 3,
                "transfer",
                "",
            )
        )
    rows.append(("Y01", T0 - timedelta(hours=1), "E1", "H0", 2_000.0, "transfer", ""))
    return [
        {
            "id": i,
            "ts": t,
            "from_account": f,
            "to_account": d,
            "amount": x,
            "kind": k,
            "channel": c,
            "from_bank": "822",
            "to_bank": "822",
        }
        for i, t, f, d, x, k, c in rows
    ]


@pytest.fixture(scope="module", autouse=True)
def _one_session_for_the_module() -> Any:
    """The tests share one SparkSession; stopped at the end so the rest of the suite gets the
    JVM's memory back."""
    yield
    stop_sessions()


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> tuple[FraudService, SparkFraudService]:
    tmp = tmp_path_factory.mktemp("spark")
    ledger = Ledger(open_engine(f"sqlite:///{tmp / 'ledger.db'}"))
    g = generate(400, 4000, seed=3, start=date(2024, 2, 20), days=14, fraud_rings=4)
    g.write_to(ledger)
    edge_accounts = [
        {"id": "E1", "opened": date(2023, 1, 5)},
        {"id": "E2", "status": "警示"},
        {"id": "E3", "opened": date(2024, 2, 1)},
    ]
    ledger.bulk_insert([], edge_accounts, _edge_rows())
    model = tmp / "mule.joblib"
    local = FraudService(ledger, model_path=model, cash_rules=RULES)
    spark = SparkFraudService(
        ledger, model_path=model, cash_rules=RULES, master="local[2]", work_dir=tmp / "work"
    )
    return local, spark


def test_features_and_ranks_match(engines: tuple[FraudService, SparkFraudService]) -> None:
    local, spark = engines
    _, names, (ids, X) = local._feature_matrix()
    _, s_names, (s_ids, s_X) = spark._feature_matrix()
    assert s_names == names == list(FEATURE_NAMES)
    assert s_ids == ids
    raw, s_raw = local._raw, spark._raw
    assert raw.shape == s_raw.shape
    for j, name in enumerate(names):
        same = np.isclose(raw[:, j], s_raw[:, j], rtol=1e-9, atol=1e-6, equal_nan=True)
        assert same.all(), (name, [ids[i] for i in np.flatnonzero(~same)[:5]])
    # The ranks: equal, except where two accounts' values are equal only to rounding (a mean
    # summed in another order): there one engine sees a tie and the other does not, and the
    # percentile moves by at most the width of the tie.
    exact = np.isclose(s_X, X, rtol=0, atol=1e-12, equal_nan=True)
    assert exact.mean() > 0.999
    np.testing.assert_allclose(s_X, X, rtol=0, atol=0.01)
    # the edge cases are in there: cash, outside, structuring, a flagged link
    row = {a: i for i, a in enumerate(ids)}
    col = {n: j for j, n in enumerate(names)}
    assert s_raw[row["E3"], col["cash_out_count"]] == 1
    assert s_raw[row["E7"], col["near_threshold_count"]] == 1
    assert s_raw[row["E1"], col["outside_in_total"]] == 90_000.0
    assert s_raw[row["E1"], col["flagged_links"]] == 1
    assert np.isnan(s_raw[row["E1"], col["pass_through"]])  # only outside money came in


def test_scores_match(engines: tuple[FraudService, SparkFraudService]) -> None:
    local, spark = engines
    local.train()
    _, _, (ids, X) = local._feature_matrix()
    scorer = local._loaded()
    expected = dict(zip(ids, scorer.score(X), strict=True))
    got = {r["id"]: r["score"] for r in spark.scores().collect()}
    assert set(got) == set(expected)
    diff = np.array([abs(got[a] - expected[a]) for a in ids])
    # the model reads the ranks: equal scores but where a rank moved within a tie (above)
    assert (diff < 1e-9).mean() > 0.97, np.sort(diff)[-10:]
    assert diff.max() < 0.05, np.sort(diff)[-10:]
    assert spark.score("E3")["score"] == pytest.approx(local.score("E3")["score"], abs=1e-3)
    # the same highest scores (accounts of equal score may come in another order)
    assert [r["score"] for r in spark.top(5)] == pytest.approx(
        [r["score"] for r in local.top(5)], abs=1e-3
    )


CASES = [
    # hop 1 bounded by Taiwan calendar days
    ("H0", {"direction": "up", "hops": 2, "since": date(2024, 3, 1), "until": date(2024, 3, 1)}),
    ("E2", {"direction": "down", "hops": 2, "until": date(2024, 3, 1)}),
    ("E1", {"direction": "down", "hops": 3}),
    ("E1", {"direction": "down", "hops": 3, "window_hours": 2.0}),
    ("E3", {"direction": "up", "hops": 3, "per_hop_limit": 5}),
    (
        "E1",
        {
            "direction": "down",
            "hops": 2,
            "per_hop_limit": 5,
            "order": "time",
            "attribution": "fifo",
        },
    ),
    ("S03", {"direction": "down", "hops": 2, "per_hop_limit": 5, "min_amount": 500.5}),
]


@pytest.mark.parametrize(("account", "options"), CASES)
def test_traces_match(
    engines: tuple[FraudService, SparkFraudService], account: str, options: dict[str, Any]
) -> None:
    local, spark = engines
    want = local.trace(account, **options).to_dict()
    got = spark.trace(account, **options).to_dict()
    for d in (want, got):
        d.pop("elapsed_ms")
    assert got == want
    assert want["transfers"]  # each case traces something


def test_trace_of_generated_accounts_match(engines: tuple[FraudService, SparkFraudService]) -> None:
    local, spark = engines
    _, _, (ids, X) = local._feature_matrix()
    busiest = [ids[i] for i in np.argsort(-X[:, 0])[:2]]
    for acct in busiest:
        for direction in ("up", "down"):
            want = local.trace(acct, direction, 3, per_hop_limit=10).to_dict()
            got = spark.trace(acct, direction, 3, per_hop_limit=10).to_dict()
            want.pop("elapsed_ms"), got.pop("elapsed_ms")
            assert got == want


def test_a_later_service_reads_the_staged_ledger_and_results(
    engines: tuple[FraudService, SparkFraudService],
) -> None:
    """A second command (a new service on the same data folder) stages nothing again and
    reads the features written back by the first."""
    local, spark = engines
    spark._feature_matrix()
    again = SparkFraudService(
        local.ledger, cash_rules=RULES, master="local[2]", work_dir=spark.work_dir
    )
    # the intermediates kept while the features were computed are gone once they are written
    assert (spark.work_dir / "results" / "done.json").is_file()
    assert not (spark.work_dir / "feature-steps").exists()
    assert again.spark_ledger().read_s == 0.0  # opened, not read from the database again
    _, _, (ids, X) = again._feature_matrix()
    _, _, (ids0, X0) = spark._feature_matrix()
    assert ids == ids0 and np.array_equal(X, X0, equal_nan=True)


def test_a_grown_ledger_is_staged_again_once_its_count_is_asked(tmp_path: Path) -> None:
    """The transfer count (a scan of the ledger) is asked at most every ``stale_s`` seconds:
    within it the staged ledger is used as it is, after it a grown ledger is staged again."""
    ledger = Ledger(open_engine(f"sqlite:///{tmp_path / 'ledger.db'}"))
    generate(200, 1000, seed=5, start=date(2024, 2, 20), days=7, fraud_rings=1).write_to(ledger)
    n = ledger.counts()["transfers"]
    patient = SparkFraudService(ledger, stale_s=3600, work_dir=tmp_path / "patient")
    eager = SparkFraudService(ledger, stale_s=0, work_dir=tmp_path / "eager")
    assert patient.spark_ledger().count == eager.spark_ledger().count == n
    row = {**_edge_rows()[0], "from_account": "A1", "to_account": "A2"}
    ledger.bulk_insert([], [], [row])
    assert patient.spark_ledger().count == n
    assert eager.spark_ledger().count == n + 1
    # an import through the service itself is seen at once, whatever stale_s says
    csv_path = tmp_path / "more.csv"
    csv_path.write_text(
        "序號,時間,轉出,轉入,金額\nX90,2024-02-28T09:00:00+08:00,A2,A3,1200\n", encoding="utf-8"
    )
    mapping = {"id": "序號", "ts": "時間", "from_account": "轉出", "to_account": "轉入"}
    report = patient.import_csv(csv_path, {**mapping, "amount": "金額"})
    assert report.added == 1, report
    assert patient.spark_ledger().count == n + 2


def test_shuffle_partitions_grow_with_the_ledger(
    engines: tuple[FraudService, SparkFraudService],
) -> None:
    """Two partitions (the tests' and a small ledger's) until the ledger is large; at 10M
    transfers two ran out of memory in the rank windows."""
    assert [partitions(n) for n in (0, 500_000, 500_001, 10_000_000)] == [2, 2, 3, 40]
    _, spark = engines
    spark.spark_ledger()
    assert spark.spark.conf.get("spark.sql.shuffle.partitions") == "2"


def test_reserved_accounts_are_the_same_in_spark(
    engines: tuple[FraudService, SparkFraudService],
) -> None:
    """Cash at a bank of any country (CASH822, CASH03208, CASH + a SWIFT BIC) and OUTSIDE are
    reserved in Spark's SQL as in ``records.is_reserved``; customer ids that merely start so
    are not."""
    from pyspark.sql import functions as F

    from assistant.fraud.spark_engine import _RESERVED_SQL

    _, spark = engines
    ids = ["CASH", "OUTSIDE", "CASH822", "CASH03208", "CASHCTCBTWTP", "CASHCTCBTWTPXXX"]
    ids += ["CASHFLOW1", "CASHX", "822", "CASH123456789012", "OUTSIDE1", "X CASH822"]
    frame = spark.spark.createDataFrame([(i,) for i in ids], "id string")
    got = dict(frame.select("id", F.expr(_RESERVED_SQL.format(c="id")).alias("r")).collect())
    assert got == {i: is_reserved(i) for i in ids}
    assert sum(got.values()) == 6


def test_trace_refusals(engines: tuple[FraudService, SparkFraudService]) -> None:
    _, spark = engines
    with pytest.raises(AssistantError, match="查無帳戶"):
        spark.trace("NOPE1", "down", 2)
    with pytest.raises(AssistantError, match="保留帳號"):
        spark.trace("CASH822", "down", 2)
    # the desk's other ledger questions, answered without an in-memory index
    assert spark.account("E3")["opened"] == "2024-02-01"
    assert spark.account("S03") == {"id": "S03"}  # an endpoint the account table lacks
    with pytest.raises(AssistantError, match="查無帳戶"):
        spark.account("NOPE1")
    assert spark.latest() is not None and spark._built is None


def test_hub_cap_is_recorded(engines: tuple[FraudService, SparkFraudService]) -> None:
    _, spark = engines
    r = spark.trace("E1", "down", 2, per_hop_limit=5)
    cut = [c for c in r.truncated if c.account == "H0"]
    assert cut and cut[0].kept == 5 and cut[0].dropped == 25
    assert sum(1 for t in r.transfers if t.from_account == "H0") == 5
    assert datetime.fromtimestamp(r.transfers[0].epoch, UTC) >= datetime(2024, 2, 20, tzinfo=UTC)


def run(data: Path, *args: str, role: str = "fraud") -> tuple[int, str]:
    from click.testing import CliRunner

    from assistant.cli import cli
    from tests.cli_users import login_env

    env = login_env(data, role) if role else {}
    result = CliRunner().invoke(cli, ["--data-dir", str(data), *args], env=env)
    return result.exit_code, result.stdout if "--json" in args else result.output


def test_cli_engine_switch_goes_through_the_desk(tmp_path: Path) -> None:
    """`--engine spark` answers as the local engine does, with the role check and the audit
    trail of the desk."""
    import json

    from sqlalchemy import text

    from assistant.db import make_engine
    from tests.conftest import make_settings

    data = tmp_path / "data"
    code, out = run(
        data,
        "fraud",
        "generate",
        "--accounts",
        "300",
        "--transfers",
        "2000",
        "--rings",
        "3",
        "--days",
        "10",
        "--json",
    )
    assert code == 0, out
    assert run(data, "fraud", "train", "--json")[0] == 0
    local = run(data, "fraud", "score", "--top", "3", "--json")
    spark = run(data, "fraud", "score", "--top", "3", "--json", "--engine", "spark")
    assert local[0] == spark[0] == 0, spark[1]
    top = json.loads(local[1])
    assert [r["score"] for r in json.loads(spark[1])] == pytest.approx(
        [r["score"] for r in top], abs=1e-3
    )
    acct = top[0]["account"]
    want = json.loads(run(data, "fraud", "trace", acct, "--hops", "2", "--json")[1])
    code, out = run(data, "fraud", "trace", acct, "--hops", "2", "--json", "--engine", "spark")
    assert code == 0, out
    got = json.loads(out)
    want.pop("elapsed_ms"), got.pop("elapsed_ms")
    assert got == want
    # the desk still checks the role and writes the trail, whichever engine runs
    code, out = run(data, "fraud", "trace", acct, "--engine", "spark", role="compliance")
    assert code == 1 and "fraud.read" in out
    engine = make_engine(make_settings(data).database_url)
    try:
        with engine.connect() as db:
            traced = db.execute(
                text("SELECT count(*) FROM audit_record WHERE question LIKE 'fraud.trace%'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert traced == 2
