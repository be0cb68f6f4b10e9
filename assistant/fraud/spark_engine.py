"""The fraud pipeline on Apache Spark: the same features, scores and traces as the in-memory
engine, computed as DataFrame operations so that a ledger larger than one machine can be
worked on by a cluster (``fraud.engine = "spark"``; ``fraud.spark_master``: ``local[N]`` on one
machine, ``spark://…`` or a Spark Connect URL for a cluster).

This module is imported only when the Spark engine is chosen: pyspark starts a JVM (Java 17).

The ledger reaches Spark through the product's own SQL (no JDBC driver jar is shipped): the
transfers are read with one SELECT in chunks and staged as CSV files, which Spark reads with a fixed schema and keeps as Parquet; the
staging is redone when the ledger's transfer count changes. Row numbers (``pos``) follow the
same SELECT as ``Ledger.arrays()``, so ties are broken exactly as the in-memory engine does.

Parity: every definition is the one in ``features`` and ``trace``; "undefined" is SQL NULL
here (NaN there). Traces: Spark does the work that grows with the ledger (per hop, the join of
the frontier with the transfers, the window and time rules, the "taken once" anti-join and the
per-account cap, ranked before the next join so a hub never fans out more than the cap); the
kept transfers, bounded by the cap, come back to the driver, where the attribution and the
roles are computed by the very code of ``trace.TransferIndex`` over those transfers only.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import AssistantError
from assistant.fraud.features import (
    BASE_FEATURES,
    FEATURE_NAMES,
    FLAGGED_STATUSES,
    TAIPEI_OFFSET,
    CashRules,
    _epoch,
)
from assistant.fraud.ledger import Ledger
from assistant.fraud.records import BANK_CODE_PATTERN, CHANNEL_CODE, KIND_CODE, is_reserved
from assistant.fraud.service import FraudService
from assistant.fraud.trace import (
    RULES,
    TraceResult,
    TransferIndex,
    Truncation,
    check_trace_request,
    trace_parameters,
)

_CHUNK = 200_000
# Shuffle partitions per staged transfer: two (the session's default, right for tests and small
# ledgers) up to 500,000 transfers, then one more per 250,000. At 10M transfers two partitions
# ran out of memory in the rank windows (each task held half of ~40M account-feature rows).
_PER_PARTITION = 250_000
# ``records.is_reserved`` in Spark SQL: OUTSIDE, CASH, CASH + a bank code
_RESERVED_SQL = (
    "({c} = 'OUTSIDE' OR {c} = 'CASH' OR {c} RLIKE '^CASH(?:"
    + BANK_CODE_PATTERN.replace("{", "{{").replace("}", "}}")
    + ")$')"
)
_SESSIONS: dict[str, Any] = {}
_SESSION_LOCK = threading.Lock()


def spark_session(master: str = "local[2]", conf: dict[str, str] | None = None) -> Any:
    """One SparkSession per process (Spark allows one active context): UI off, two shuffle
    partitions unless ``conf`` says otherwise."""
    with _SESSION_LOCK:
        if master in _SESSIONS:
            return _SESSIONS[master]
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # pragma: no cover - pyspark is a dependency
            raise AssistantError(
                "未安裝 pyspark，無法使用 Spark 引擎 / pyspark is not installed: the spark "
                "engine is unavailable"
            ) from exc
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise AssistantError(
                "找不到 Java 17（Spark 需要），請安裝 openjdk-17-jre-headless / Java 17 not "
                "found (Spark needs it): install openjdk-17-jre-headless"
            )
        # the executors' Python workers run this interpreter (its packages: the scorer's)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        settings = {
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": "2",
            "spark.sql.session.timeZone": "UTC",
            # Shuffle files and spilled blocks go to local disk as they are; at 100M transfers
            # uncompressed they filled 45 GB before the features were done. zstd keeps them a
            # fraction of that.
            "spark.rdd.compress": "true",
            "spark.io.compression.codec": "zstd",
            # Shuffle files stay on disk until the driver's garbage collector lets Spark's
            # cleaner see that nothing refers to them: a collection every minute (not every
            # 30) frees those of a finished step while the next is computed. The feature
            # steps keep their intermediates as Parquet files (``feature_frame``), so no
            # later plan refers to an earlier step's shuffles.
            "spark.cleaner.periodicGC.interval": "1min",
            **(conf or {}),
        }
        builder = SparkSession.builder.master(master).appName("twfin-fraud")
        for k, v in settings.items():
            builder = builder.config(k, v)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        _SESSIONS[master] = session
        return session


def partitions(transfers: int) -> int:
    """Shuffle partitions for a ledger of ``transfers`` (a setting in ``conf`` wins)."""
    return max(2, -(-transfers // _PER_PARTITION))


def stop_sessions() -> None:
    """Stop the process's Spark session and the JVM behind it. ``session.stop()`` alone leaves
    the gateway JVM running (1.5 GiB and its threads) until Python exits; closing the gateway,
    whose JVM watches its stdin, ends it. A later session starts a new one."""
    with _SESSION_LOCK:
        for session in _SESSIONS.values():
            session.stop()
        _SESSIONS.clear()
        from pyspark import SparkContext

        gateway = getattr(SparkContext, "_gateway", None)
        if gateway is None:
            return
        gateway.shutdown()
        proc = getattr(gateway, "proc", None)
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()
            # If it does not end in time, it is left to end with this process.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        SparkContext._gateway = None
        SparkContext._jvm = None


# ---------------------------------------------------------------------------- the ledger


@dataclass
class SparkLedger:
    """The ledger staged for Spark: ``transfers`` (pos, id, src, dst, ts, amount, kind,
    channel) and ``accounts`` (id, opened epoch seconds or NULL, status, reserved) as
    DataFrames; ``count`` transfers; ``read_s`` / ``stage_s`` how long reading and staging
    took."""

    transfers: Any
    accounts: Any
    count: int
    tmin: int
    tmax: int
    read_s: float
    stage_s: float


def stage_ledger(ledger: Ledger, folder: Path) -> tuple[int, float]:
    """The ledger's transfers and accounts as CSV chunks under ``folder`` (one SELECT, read in
    chunks, the row order of ``Ledger.arrays()``). Returns (transfers, seconds)."""
    t0 = time.perf_counter()
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "transfers").mkdir(parents=True)
    (folder / "accounts").mkdir(parents=True)
    sqlite = ledger.engine.dialect.name == "sqlite"
    epoch = (
        "CAST(strftime('%s', ts) AS INTEGER)"
        if sqlite
        else "CAST(EXTRACT(EPOCH FROM ts) AS BIGINT)"
    )
    n = 0
    raw = ledger.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            f"SELECT id, from_account, to_account, {epoch}, amount, kind, channel "
            "FROM fraud_transfer"
        )
        part = 0
        while rows := cur.fetchmany(_CHUNK):
            with open(folder / "transfers" / f"part-{part:05d}.csv", "w", newline="") as f:
                w = csv.writer(f)
                for i, (tid, frm, to, ts, amount, kind, channel) in enumerate(rows):
                    w.writerow(
                        (
                            n + i,
                            tid,
                            frm,
                            to,
                            ts,
                            repr(float(amount)),
                            KIND_CODE.get(kind, 0),
                            CHANNEL_CODE.get(channel, 0),
                        )
                    )
            n += len(rows)
            part += 1
        cur.execute("SELECT id, opened, status FROM fraud_account")
        part = 0
        while rows := cur.fetchmany(_CHUNK):
            with open(folder / "accounts" / f"part-{part:05d}.csv", "w", newline="") as f:
                w = csv.writer(f)
                for a, opened, status in rows:
                    e = _epoch(opened)
                    w.writerow((a, "" if np.isnan(e) else repr(e), status or ""))
            part += 1
        cur.close()
    finally:
        raw.close()
    return n, time.perf_counter() - t0


def load_ledger(spark: Any, ledger: Ledger, folder: Path) -> SparkLedger:
    """Stage the ledger (``stage_ledger``), read it into Spark with fixed schemas, keep it as
    Parquet under ``folder`` and return the DataFrames read back from the Parquet."""
    from pyspark.sql import functions as F

    (folder / "staged.json").unlink(missing_ok=True)
    shutil.rmtree(folder / "results", ignore_errors=True)
    n, read_s = stage_ledger(ledger, folder / "csv")
    t0 = time.perf_counter()
    tschema = (
        "pos LONG, id STRING, src STRING, dst STRING, ts LONG, amount DOUBLE, kind INT, channel INT"
    )
    aschema = "id STRING, opened DOUBLE, status STRING"
    t = spark.read.schema(tschema).csv(str(folder / "csv" / "transfers"))
    a = spark.read.schema(aschema).csv(str(folder / "csv" / "accounts"))
    t.write.mode("overwrite").parquet(str(folder / "transfers.parquet"))
    # every stored account plus any endpoint the account table lacks (as ``Ledger.arrays``)
    ends = (
        t.select(F.col("src").alias("id"))
        .union(t.select(F.col("dst").alias("id")))
        .distinct()
        .join(a.select("id"), "id", "left_anti")
        .select("id", F.lit(None).cast("double").alias("opened"), F.lit("").alias("status"))
    )
    accounts = a.union(ends).withColumn("reserved", F.expr(_RESERVED_SQL.format(c="id")))
    accounts.write.mode("overwrite").parquet(str(folder / "accounts.parquet"))
    t = spark.read.parquet(str(folder / "transfers.parquet"))
    accounts = spark.read.parquet(str(folder / "accounts.parquet"))
    shutil.rmtree(folder / "csv", ignore_errors=True)
    row = t.agg(F.min("ts"), F.max("ts")).collect()[0]
    tmin, tmax = int(row[0] or 0), int(row[1] or 0)
    # written last: a staging cut short is not taken for a finished one
    (folder / "staged.json").write_text(
        json.dumps({"transfers": n, "tmin": tmin, "tmax": tmax}), encoding="utf-8"
    )
    return SparkLedger(t, accounts, n, tmin, tmax, read_s, time.perf_counter() - t0)


def open_staged(spark: Any, folder: Path, count: int) -> SparkLedger | None:
    """The ledger staged earlier (by this or another process) if it holds ``count`` transfers,
    else None: a command run after another does not stage the ledger again."""
    try:
        meta = json.loads((folder / "staged.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("transfers") != count:
        return None
    return SparkLedger(
        spark.read.parquet(str(folder / "transfers.parquet")),
        spark.read.parquet(str(folder / "accounts.parquet")),
        count,
        int(meta["tmin"]),
        int(meta["tmax"]),
        0.0,
        0.0,
    )


# ---------------------------------------------------------------------------- features


def _q(name: str) -> str:
    return f"`{name}`"


def _kept(spark: Any, frame: Any, path: Path, view: str) -> None:
    """``frame`` computed once, written as Parquet at ``path`` and read back as ``view``.
    Not ``localCheckpoint``: a checkpointed frame still refers to the plan that made it, so the
    shuffle files of every earlier step stayed on disk (at 100M transfers 38 GB after 65 min,
    growing until the disk was full); a frame read from files refers to nothing before it."""
    frame.write.mode("overwrite").parquet(str(path))
    spark.read.parquet(str(path)).createOrReplaceTempView(view)


def feature_frame(
    spark: Any,
    sl: SparkLedger,
    rules: CashRules | None = None,
    as_of: int | None = None,
    *,
    folder: Path,
) -> Any:
    """One row per account: ``id`` and the ``BASE_FEATURES`` then the counterparty means
    (``FEATURE_NAMES``), NULL where the in-memory engine has NaN (see ``features``). The
    intermediates read more than once are kept as Parquet under ``folder`` (the caller removes
    it once the returned frame is written)."""
    sl.transfers.createOrReplaceTempView("ft")
    sl.accounts.createOrReplaceTempView("fa")
    if as_of is None:
        as_of = sl.tmax if sl.count else int(time.time())
    off = TAIPEI_OFFSET
    flagged = ", ".join(f"'{s}'" for s in sorted(FLAGGED_STATUSES))
    if rules is None:
        near_lo = near_hi = None
    else:
        near_hi = float(rules.report_threshold)
        near_lo = near_hi * (1.0 - rules.structuring_band)
    sql = spark.sql
    # All transfers with the reserved flags of both ends, read from the account number (what
    # ``fa.reserved`` holds, every endpoint being an account there): no join of the transfers
    # with the accounts, and nothing to keep, since a scan of the staged Parquet is cheaper
    # than writing 100M rows again. The same for the customer-to-customer transfers.
    sql(
        f"""SELECT t.*, {_RESERVED_SQL.format(c="t.src")} AS rsrc,
                  {_RESERVED_SQL.format(c="t.dst")} AS rdst FROM ft t"""
    ).createOrReplaceTempView("ftr")
    sql("SELECT * FROM ftr WHERE kind = 0 AND NOT rsrc AND NOT rdst").createOrReplaceTempView("fb")
    # the distinct pairs (one shuffle, read seven times) are kept; so are f2 and fbase below
    folder.mkdir(parents=True, exist_ok=True)
    _kept(spark, sql("SELECT DISTINCT src, dst FROM fb"), folder / "pairs.parquet", "fp")
    sql(
        """SELECT src AS acct, ts, amount FROM fb UNION ALL SELECT dst, ts, amount FROM fb"""
    ).createOrReplaceTempView("fe")

    def median(key: str, value: str, rows: str) -> str:
        # ``percentile(value, 0.5)`` per ``key`` (the mean of the two middle values of an even
        # count) by one sort: Spark's exact percentile keeps a hash map per group and falls
        # back to sorting its serialised buffers once a task holds more than 128 groups
        return f"""SELECT {key}, avg({value}) AS v FROM (
            SELECT {key}, {value}, row_number() OVER (PARTITION BY {key} ORDER BY {value}) AS rn,
                   count(*) OVER (PARTITION BY {key}) AS c FROM ({rows}))
            WHERE rn BETWEEN (c + 1) DIV 2 AND (c + 2) DIV 2 GROUP BY {key}"""

    def one_side(key: str, side: str) -> str:
        # an account's transfers in (key dst) or out (src): count, degree, total, median
        return f"""SELECT s.{key} AS id, fan_{side}, {side}_degree, total_{side},
                   m.v AS median_{side}_amount
            FROM (SELECT {key}, count(*) AS fan_{side}, sum(amount) AS total_{side} FROM fb
                  GROUP BY {key}) s
            JOIN (SELECT {key}, count(*) AS {side}_degree FROM fp GROUP BY {key}) d
              ON d.{key} = s.{key}
            JOIN ({median(key, "amount", f"SELECT {key}, amount FROM fb")}) m
              ON m.{key} = s.{key}"""

    def dwell(outs: str, ins: str) -> str:
        # each incoming row → the account's first outgoing row at or after it: one sort per
        # account (ins before outs at equal times, so an outgoing row at the same second counts).
        # The rows are read backwards with a running frame: Spark recomputes a frame that ends
        # at UNBOUNDED FOLLOWING for every row (quadratic in an account's rows), while one that
        # starts at UNBOUNDED PRECEDING grows by a row at a time.
        return median(
            "acct",
            "h",
            f"""SELECT acct, (nxt - ts) / 3600.0D AS h FROM (
              SELECT acct, ts, typ, min(CASE WHEN typ = 1 THEN ts END) OVER (
                PARTITION BY acct ORDER BY ts DESC, typ DESC
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS nxt
              FROM ({ins} UNION ALL {outs}))
            WHERE typ = 0 AND nxt IS NOT NULL""",
        )

    parts = {
        # the degrees from the distinct pairs and the medians by sorting (see ``median``): a
        # percentile and a distinct count beside the sums made these the slowest aggregates
        "g_in": one_side("dst", "in"),
        "g_out": one_side("src", "out"),
        "g_dwell": dwell(
            "SELECT src AS acct, ts, 1 AS typ FROM fb", "SELECT dst AS acct, ts, 0 AS typ FROM fb"
        ),
        "g_ev": f"""SELECT acct AS id, count(*) AS events,
                   count(DISTINCT floor((ts + {off}) / 86400)) AS active_days,
                   sum(CASE WHEN pmod(ts + {off}, 86400) DIV 3600 >= 22
                             OR pmod(ts + {off}, 86400) DIV 3600 < 6 THEN 1 ELSE 0 END) AS night,
                   sum(CASE WHEN bround(amount * 100) > 0
                             AND pmod(CAST(bround(amount * 100) AS BIGINT), 100000) = 0
                            THEN 1 ELSE 0 END) AS r1000,
                   sum(CASE WHEN bround(amount * 100) > 0
                             AND pmod(CAST(bround(amount * 100) AS BIGINT), 1000000) = 0
                            THEN 1 ELSE 0 END) AS r10000,
                   min(amount) AS min_amount FROM fe GROUP BY acct""",
        "g_cin": """SELECT dst AS id, count(*) AS cash_in_count, sum(amount) AS cash_in_total
                    FROM ftr WHERE kind = 1 GROUP BY dst""",
        "g_cout": """SELECT src AS id, count(*) AS cash_out_count, sum(amount) AS cash_out_total
                     FROM ftr WHERE kind = 2 GROUP BY src""",
        "g_oin": """SELECT dst AS id, sum(amount) AS outside_in_total FROM ftr
                    WHERE kind = 0 AND rsrc AND NOT rdst GROUP BY dst""",
        "g_oout": """SELECT src AS id, sum(amount) AS outside_out_total FROM ftr
                     WHERE kind = 0 AND rdst AND NOT rsrc GROUP BY src""",
        "g_cdwell": dwell(
            "SELECT src AS acct, ts, 1 AS typ FROM ftr WHERE kind = 2",
            "SELECT dst AS acct, ts, 0 AS typ FROM ftr WHERE kind = 0 AND NOT rdst",
        ),
        "g_chan": """SELECT who AS id, count(*) AS cash_events,
                     sum(CASE WHEN channel = 1 THEN 1 ELSE 0 END) AS atm,
                     sum(CASE WHEN channel = 2 THEN 1 ELSE 0 END) AS counter FROM (
                       SELECT CASE WHEN kind = 1 THEN dst ELSE src END AS who, channel
                       FROM ftr WHERE kind IN (1, 2)) GROUP BY who""",
        "g_flag": f"""SELECT a AS id, count(*) AS flagged_links FROM (
                        SELECT DISTINCT a, b FROM (SELECT src AS a, dst AS b FROM fp
                                                   UNION ALL SELECT dst, src FROM fp)
                        WHERE a <> b) u JOIN fa ON fa.id = u.b
                      WHERE fa.status IN ({flagged}) GROUP BY a""",
    }
    if rules is not None:
        parts["g_near"] = f"""SELECT acct AS id, count(*) AS all_events,
              sum(CASE WHEN amount >= {near_lo!r} AND amount < {near_hi!r} THEN 1 ELSE 0 END)
              AS near FROM (SELECT src AS acct, amount, rsrc AS r FROM ftr
                            UNION ALL SELECT dst, amount, rdst FROM ftr)
              WHERE NOT r GROUP BY acct"""
    for name, q in parts.items():
        sql(q).createOrReplaceTempView(name)
    joins = " ".join(
        f"LEFT JOIN {name} ON {name}.id = fa.id"
        for name in parts
        if name not in ("g_dwell", "g_cdwell")
    )
    near = (
        """coalesce(g_near.near, 0) AS near_threshold_count,
           CASE WHEN g_near.all_events > 0 THEN g_near.near / g_near.all_events END
           AS near_threshold_share"""
        if rules is not None
        else "CAST(NULL AS DOUBLE) AS near_threshold_count, "
        "CAST(NULL AS DOUBLE) AS near_threshold_share"
    )

    def div(a: str, b: str) -> str:
        return f"CASE WHEN ({b}) > 0 THEN ({a}) / ({b}) END"

    received = "(total_in + cash_in_total + outside_in_total)"
    sql(
        f"""SELECT fa.id, fa.opened, fa.status,
          CAST(coalesce(fan_in, 0) AS DOUBLE) AS fan_in,
          CAST(coalesce(fan_out, 0) AS DOUBLE) AS fan_out,
          CAST(coalesce(in_degree, 0) AS DOUBLE) AS in_degree,
          CAST(coalesce(out_degree, 0) AS DOUBLE) AS out_degree,
          coalesce(total_in, 0D) AS total_in, coalesce(total_out, 0D) AS total_out,
          median_in_amount, median_out_amount,
          CAST(coalesce(events, 0) AS DOUBLE) AS events,
          CAST(coalesce(active_days, 0) AS DOUBLE) AS active_days,
          night, r1000, r10000, min_amount,
          CAST(coalesce(cash_in_count, 0) AS DOUBLE) AS cash_in_count,
          CAST(coalesce(cash_out_count, 0) AS DOUBLE) AS cash_out_count,
          coalesce(cash_in_total, 0D) AS cash_in_total,
          coalesce(cash_out_total, 0D) AS cash_out_total,
          coalesce(outside_in_total, 0D) AS outside_in_total,
          coalesce(outside_out_total, 0D) AS outside_out_total,
          cash_events, atm, counter,
          CAST(coalesce(flagged_links, 0) AS DOUBLE) AS flagged_links,
          {near}
        FROM fa {joins}"""
    ).createOrReplaceTempView("f1")
    f2 = sql(
        f"""SELECT f1.*,
          {div("total_out", "total_in")} AS pass_through,
          g_dwell.v AS dwell_median_h,
          {div("events", "active_days")} AS velocity,
          {div("night", "events")} AS night_share,
          {div("r1000", "events")} AS round_1000_share,
          {div("r10000", "events")} AS round_10000_share,
          1.0D - {div("in_degree + out_degree", "fan_in + fan_out")} AS repeat_share,
          ({as_of}D - opened) / 86400.0D AS age_days,
          {div("cash_out_total", received)} AS cash_out_share,
          {div("total_out + cash_out_total + outside_out_total", received)} AS exit_share,
          g_cdwell.v AS cash_out_dwell_median_h,
          {div("atm", "cash_events")} AS atm_share,
          {div("counter", "cash_events")} AS counter_share
        FROM f1 LEFT JOIN g_dwell ON g_dwell.acct = f1.id
                LEFT JOIN g_cdwell ON g_cdwell.acct = f1.id"""
    )
    _kept(spark, f2, folder / "own.parquet", "f2")
    # second-order features: the counterparties' degrees, repeat shares and smallest amounts
    sql(
        """SELECT f2.*,
             coalesce(mr.v, 0D) AS max_recipient_in_degree,
             coalesce(ms.v, 0D) AS max_sender_out_degree,
             coalesce(nb.rep, 0D) AS nbr_max_repeat_share, nb.mn AS nbr_min_amount
           FROM f2
           LEFT JOIN (SELECT fp.src AS id, max(d.in_degree) AS v FROM fp
                      JOIN f2 d ON d.id = fp.dst GROUP BY fp.src) mr ON mr.id = f2.id
           LEFT JOIN (SELECT fp.dst AS id, max(d.out_degree) AS v FROM fp
                      JOIN f2 d ON d.id = fp.src GROUP BY fp.dst) ms ON ms.id = f2.id
           LEFT JOIN (SELECT u.a AS id, max(d.repeat_share) AS rep, min(d.min_amount) AS mn
                      FROM (SELECT src AS a, dst AS b FROM fp UNION ALL SELECT dst, src FROM fp) u
                      JOIN f2 d ON d.id = u.b GROUP BY u.a) nb ON nb.id = f2.id"""
    ).createOrReplaceTempView("fbase_all")
    base_cols = ", ".join(f"CAST({_q(c)} AS DOUBLE) AS {_q(c)}" for c in BASE_FEATURES)
    _kept(spark, sql(f"SELECT id, {base_cols} FROM fbase_all"), folder / "base.parquet", "fbase")
    means_to = ", ".join(f"avg(d.{_q(c)}) AS {_q('to_mean_' + c)}" for c in BASE_FEATURES)
    means_from = ", ".join(f"avg(d.{_q(c)}) AS {_q('from_mean_' + c)}" for c in BASE_FEATURES)
    names = ", ".join(_q(c) for c in FEATURE_NAMES)
    return sql(
        f"""SELECT b.id, {names} FROM fbase b
            LEFT JOIN (SELECT fp.src AS id, {means_to} FROM fp JOIN fbase d ON d.id = fp.dst
                       GROUP BY fp.src) mt ON mt.id = b.id
            LEFT JOIN (SELECT fp.dst AS id, {means_from} FROM fp JOIN fbase d ON d.id = fp.src
                       GROUP BY fp.dst) mf ON mf.id = b.id"""
    )


def rank_frame(spark: Any, features: Any) -> Any:
    """``features.within_ledger_ranks`` in Spark: each column as the accounts' percentile (mean
    rank of ties over the accounts where it is defined); NULL stays NULL. The columns are
    unpivoted, ranked in parallel (one window partition per feature) and pivoted back."""
    from pyspark.sql import functions as F

    stack = ", ".join(f"'{c}', {_q(c)}" for c in FEATURE_NAMES)
    long = features.selectExpr("id", f"stack({len(FEATURE_NAMES)}, {stack}) AS (f, v)").where(
        "v IS NOT NULL"
    )
    long.createOrReplaceTempView("flong")
    ranked = spark.sql(
        """SELECT id, f, (rank() OVER (PARTITION BY f ORDER BY v)
                          + (count(*) OVER (PARTITION BY f, v) - 1) / 2.0D)
                         / count(*) OVER (PARTITION BY f) AS p FROM flong"""
    )
    wide = ranked.groupBy("id").pivot("f", list(FEATURE_NAMES)).agg(F.first("p"))
    return features.select("id").join(wide, "id", "left").select("id", *FEATURE_NAMES)


def collect_matrix(frame: Any, folder: Path) -> tuple[list[str], np.ndarray]:
    """A feature frame brought to the driver, rows sorted by account id: written by Spark as
    CSV and read back with numpy (no Arrow here; collecting Row objects is far slower)."""
    import pandas as pd

    out = folder / "matrix.csv"
    frame.orderBy("id").write.mode("overwrite").option("header", "true").option(
        "nullValue", ""
    ).csv(str(out))
    parts = sorted(out.glob("part-*.csv"))
    frames = [
        pd.read_csv(p, dtype={"id": str}, keep_default_na=False, na_values=[""]) for p in parts
    ]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["id"])
    shutil.rmtree(out, ignore_errors=True)
    ids = df["id"].astype(str).tolist()
    X = (
        df[list(FEATURE_NAMES)].to_numpy(dtype=float)
        if len(df)
        else np.zeros((0, len(FEATURE_NAMES)))
    )
    return ids, X


def spark_scores(ranks: Any, scorer: Any) -> Any:
    """The trained scorer applied on the executors, a partition of rows at a time (the model
    travels with the task): a DataFrame of (id, score)."""
    names = list(FEATURE_NAMES)

    def score_part(rows: Any) -> Any:
        batch = list(rows)
        if not batch:
            return iter(())
        X = np.array(
            [[np.nan if r[c] is None else r[c] for c in names] for r in batch], dtype=float
        )
        p = scorer.score(X)
        return iter((r["id"], float(s)) for r, s in zip(batch, p, strict=True))

    spark = ranks.sparkSession
    return spark.createDataFrame(ranks.rdd.mapPartitions(score_part), "id STRING, score DOUBLE")


# ---------------------------------------------------------------------------- traces


def spark_trace(
    spark: Any,
    sl: SparkLedger,
    account: str,
    direction: str,
    hops: int,
    *,
    since: int | None = None,
    until: int | None = None,
    window_s: int | None = None,
    min_amount: float = 0.0,
    per_hop_limit: int = 50,
    order: str = "amount",
    attribution: str = "proportional",
) -> TraceResult:
    """``TransferIndex.trace`` with the hops as Spark joins (see the module docstring)."""
    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    check_trace_request(direction, hops, per_hop_limit, order, attribution, window_s)
    if is_reserved(account):
        raise AssistantError(
            f"{account} 是現金或行外的保留帳號，請追查客戶帳戶 / {account} is a reserved cash "
            "or outside endpoint, not a customer account; trace a customer's account"
        )
    up = direction == "up"
    near, far = ("dst", "src") if up else ("src", "dst")
    rel = F.lit(sl.tmax) - F.col("ts") if up else F.col("ts") - F.lit(sl.tmin)
    t = sl.transfers.select(
        "pos",
        "id",
        "src",
        "dst",
        "ts",
        "amount",
        F.col(near).alias("near"),
        F.col(far).alias("far"),
        rel.alias("rel"),
    )
    lo_ts = sl.tmin if since is None else max(int(since), sl.tmin)
    hi_ts = sl.tmax if until is None else min(int(until), sl.tmax)
    lo1, hi1 = (sl.tmax - hi_ts, sl.tmax - lo_ts) if up else (lo_ts - sl.tmin, hi_ts - sl.tmin)
    levels: list[list[tuple[Any, ...]]] = []
    cuts: list[Truncation] = []
    seen: Any = None
    frontier: list[tuple[str, int]] = []
    for hop in range(1, hops + 1):
        if hop == 1:
            if lo1 > hi1 or sl.count == 0:
                break
            cand = t.where((F.col("near") == account) & F.col("rel").between(lo1, hi1))
        else:
            if not frontier:
                break
            fr = spark.createDataFrame(frontier, "acct STRING, arel LONG")
            first = fr.groupBy("acct").agg(F.min("arel").alias("lo"))
            cand = t.join(F.broadcast(first), t["near"] == first["acct"]).where(
                F.col("rel") >= F.col("lo")
            )
            if window_s is not None:
                # some arrival at or before the transfer and at most window_s before it
                hit = (
                    cand.select("pos", "near", "rel")
                    .join(F.broadcast(fr), F.col("near") == F.col("acct"))
                    .where(
                        (F.col("arel") <= F.col("rel")) & (F.col("rel") - F.col("arel") <= window_s)
                    )
                    .select("pos")
                    .distinct()
                )
                cand = cand.join(hit, "pos", "left_semi")
            cand = cand.select(t.columns)
        if seen is not None:
            cand = cand.join(seen, "pos", "left_anti")
        if min_amount > 0:
            cand = cand.where(F.col("amount") >= float(min_amount))
        cand = cand.localCheckpoint()  # materialised once: counted, capped and remembered
        seen = cand.select("pos") if seen is None else seen.union(cand.select("pos"))
        counts = {r[0]: r[1] for r in cand.groupBy("near").count().collect()}
        if not counts:
            break
        cut = max(counts.values()) > per_hop_limit
        kept = cand
        if cut:
            # the hub cap, before the next join: at most per_hop_limit rows per account
            from pyspark.sql import Window

            if order == "amount":
                w = Window.partitionBy("near").orderBy(F.col("amount").desc(), "rel", "pos")
            else:
                w = Window.partitionBy("near").orderBy("rel", "pos")
            ranked = cand.withColumn("rk", F.row_number().over(w))
            kept = ranked.where(F.col("rk") <= per_hop_limit).drop("rk")
            dropped = (
                ranked.where(F.col("rk") > per_hop_limit)
                .groupBy("near")
                .agg(F.sum("amount").alias("amt"))
                .collect()
            )
            lost = {r[0]: float(r[1]) for r in dropped}
            for acct in sorted(a for a, c in counts.items() if c > per_hop_limit):
                cuts.append(
                    Truncation(
                        account=acct,
                        hop=hop,
                        kept=per_hop_limit,
                        dropped=int(counts[acct] - per_hop_limit),
                        dropped_amount=round(lost[acct], 2),
                    )
                )
        rows = [
            (
                r["pos"],
                r["id"],
                r["src"],
                r["dst"],
                int(r["ts"]),
                float(r["amount"]),
                r["near"],
                int(r["rel"]),
            )
            for r in kept.collect()
        ]
        # the in-memory engine's order: time, then account, then the cap's order, then row
        if cut and order == "amount":
            rows.sort(key=lambda r: (r[4], r[6], -r[5], r[7], r[0]))
        else:
            rows.sort(key=lambda r: (r[4], r[6], r[7], r[0]))
        levels.append(rows)
        far_i = 2 if up else 3
        frontier = [(r[far_i], r[7]) for r in rows if not is_reserved(r[far_i])]

    result = _assemble(account, direction, hops, levels, up, attribution)
    result.truncated = cuts
    result.parameters = trace_parameters(
        since, until, window_s, min_amount, per_hop_limit, order, attribution
    )
    result.rule = RULES[(attribution, direction)]
    result.elapsed_ms = round((time.perf_counter() - t0) * 1000, 3)
    return result


def _assemble(
    account: str,
    direction: str,
    hops: int,
    levels: list[list[tuple[Any, ...]]],
    up: bool,
    attribution: str,
) -> TraceResult:
    """The traced transfers (bounded by the caps) as a small ``TransferIndex``, and the
    in-memory engine's own attribution and roles over it."""
    flat = [r for lvl in levels for r in lvl]
    names = sorted({account, *(r[2] for r in flat), *(r[3] for r in flat)})
    at = {a: i for i, a in enumerate(names)}
    ids = np.empty(len(flat), dtype=object)
    ids[:] = [r[1] for r in flat]
    mini = TransferIndex(
        ids,
        np.array([at[r[2]] for r in flat], dtype=np.int64),
        np.array([at[r[3]] for r in flat], dtype=np.int64),
        np.array([r[4] for r in flat], dtype=np.int64),
        np.array([r[5] for r in flat], dtype=np.float64),
        names,
    )
    near_a = mini.dst if up else mini.src
    far_a = mini.src if up else mini.dst
    pos_levels: list[np.ndarray] = []
    groups: list[tuple[np.ndarray, np.ndarray]] = []
    start = 0
    for k, lvl in enumerate(levels):
        cur = np.arange(start, start + len(lvl), dtype=np.int64)
        start += len(lvl)
        if k == 0:
            accts = np.array([at[account]], dtype=np.int64)
        else:
            led = far_a[pos_levels[-1]].astype(np.int64)
            accts = np.unique(led[mini.terminal[led] == 0])
        groups.append((accts, np.searchsorted(accts, near_a[cur].astype(np.int64))))
        pos_levels.append(cur)
    attributed = mini._attribute(pos_levels, groups, up, near_a, far_a, attribution)  # type: ignore[arg-type]
    compact = np.zeros(len(names), dtype=np.int64)
    return mini._result(
        account, at[account], direction, hops, pos_levels, attributed, up, far_a, compact
    )


# ---------------------------------------------------------------------------- the service


class SparkFraudService(FraudService):
    """``FraudService`` whose features, scores and traces run on Spark. The desk, the agents
    and the UI call it exactly as the in-memory one."""

    def __init__(
        self,
        ledger: Ledger,
        model_path: Path | None = None,
        stale_s: float = 30.0,
        cash_rules: Any = None,
        reference: Any = None,
        board_rate: Any = None,
        *,
        master: str = "local[2]",
        work_dir: Path,
        conf: dict[str, str] | None = None,
    ) -> None:
        super().__init__(ledger, model_path, stale_s, cash_rules, reference, board_rate)
        self.master = master
        self.work_dir = Path(work_dir)
        self.conf = dict(conf or {})
        self._spark_ledger: SparkLedger | None = None
        self._spark_checked = 0.0
        self._spark_lock = threading.Lock()
        self._frames_of: tuple[int, Any, Any] | None = None

    @property
    def spark(self) -> Any:
        return spark_session(self.master, self.conf)

    def _ledger_changed(self) -> None:
        super()._ledger_changed()
        self._spark_checked = float("-inf")  # the count is asked again on the next question

    def spark_ledger(self) -> SparkLedger:
        """The staged ledger, staged again when the transfer count has changed. The count is
        asked at most every ``stale_s`` seconds, as the in-memory engine's index does: at 100M
        transfers one count is a scan of the ledger, and a trace asks for the ledger twice."""
        with self._spark_lock:
            now = time.monotonic()
            sl = self._spark_ledger
            if sl is not None and now - self._spark_checked < self._stale_s:
                return sl
            count = self.ledger.counts()["transfers"]
            self._spark_checked = now
            if sl is None or sl.count != count:
                sl = open_staged(self.spark, self.work_dir, count) or load_ledger(
                    self.spark, self.ledger, self.work_dir
                )
                if "spark.sql.shuffle.partitions" not in self.conf:
                    self.spark.conf.set("spark.sql.shuffle.partitions", str(partitions(count)))
                self._spark_ledger = sl
                self._features = None
            return sl

    def _feature_matrix(self) -> tuple[Any, list[str], Any]:
        sl = self.spark_ledger()
        cached = self._features
        if cached is not None and cached[0] == id(sl):
            return None, cached[1], cached[2]
        frame, ranks = self._frames()
        ids, raw = collect_matrix(frame, self.work_dir)
        _, X = collect_matrix(ranks, self.work_dir)
        self._raw = raw
        self._positions = {a: i for i, a in enumerate(ids)}
        self._features = (id(sl), list(FEATURE_NAMES), (ids, X))
        return None, list(FEATURE_NAMES), (ids, X)

    def _frames(self) -> tuple[Any, Any]:
        """The feature and rank frames of the staged ledger: computed once per staging and
        written back as Parquet (``results/``), where a later command reads them."""
        sl = self.spark_ledger()
        if self._frames_of is None or self._frames_of[0] != id(sl):
            out = self.work_dir / "results"
            rules = self.cash_rules
            key = {
                "transfers": sl.count,
                "rules": None
                if rules is None
                else [rules.report_threshold, rules.structuring_band],
            }
            try:
                done = json.loads((out / "done.json").read_text(encoding="utf-8")) == key
            except (OSError, ValueError):
                done = False
            if not done:
                shutil.rmtree(out, ignore_errors=True)
                steps = self.work_dir / "feature-steps"
                shutil.rmtree(steps, ignore_errors=True)
                feature_frame(self.spark, sl, rules, folder=steps).write.parquet(
                    str(out / "features.parquet")
                )
                # the ranks from the written features, so that their plan starts at the files
                rank_frame(
                    self.spark, self.spark.read.parquet(str(out / "features.parquet"))
                ).write.parquet(str(out / "ranks.parquet"))
                shutil.rmtree(steps, ignore_errors=True)
                (out / "done.json").write_text(json.dumps(key), encoding="utf-8")
            frame = self.spark.read.parquet(str(out / "features.parquet"))
            ranks = self.spark.read.parquet(str(out / "ranks.parquet"))
            self._frames_of = (id(sl), frame, ranks)
        return self._frames_of[1], self._frames_of[2]

    def scores(self) -> Any:
        """Every account's score, computed on the executors: a DataFrame (id, score)."""
        return spark_scores(self._frames()[1], self._loaded())

    def top(self, n: int = 20) -> list[dict[str, Any]]:
        from pyspark.sql import functions as F

        rows = (
            self.scores()
            .where(~F.expr(_RESERVED_SQL.format(c="id")))
            .orderBy(F.col("score").desc(), F.col("id").desc())
            .limit(n)
            .collect()
        )
        return [{"account": r["id"], "score": round(float(r["score"]), 4)} for r in rows]

    # The ledger-level questions the desk asks, answered from the staged ledger so that the
    # in-memory index is never built on this engine.

    def _known(self, index: Any, acct_id: str) -> bool:  # type: ignore[override]
        sl = self.spark_ledger()
        return bool(sl.accounts.where(sl.accounts["id"] == acct_id).limit(1).count())

    def index(self) -> Any:
        return None

    def latest(self) -> datetime | None:
        sl = self.spark_ledger()
        return datetime.fromtimestamp(sl.tmax, UTC) if sl.count else None

    def _run_trace(self, acct_id: str, account: str, **options: Any) -> TraceResult:
        sl = self.spark_ledger()
        if not self._known(None, acct_id):
            raise AssistantError(f"查無帳戶 {account} / unknown account {account}")
        direction = options.pop("direction")
        hops = options.pop("hops")
        return spark_trace(self.spark, sl, acct_id, direction, hops, **options)
