"""The Flower app: a ServerApp (the coordinator's rounds) and a ClientApp (a bank's training).

Flower runs these in its own processes: the SuperLink starts the ServerApp for a run, each
bank's SuperNode starts the ClientApp next to that bank's ledger (``processes``). What crosses
the wire per round: the global weights out, and back from each bank its trained weights, the
number of accounts it trained on and a few metrics. No account, transfer or feature row leaves.

The ServerApp writes everything to the run's ``out`` folder (run config), which the
``assistant federation`` commands read and put on the audit trail through the desk:
``rounds.jsonl`` one record per round (``aggregate.aggregate``'s), ``model.json`` the newest
good model (replaced atomically after each successful round), ``summary.json`` at the end.

Node config of a bank's SuperNode: ``bank`` (its name or code) and ``ledger`` (a database URL or
a SQLite ledger file path). Run config: see ``RunSettings``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MessageType,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

from assistant.errors import AssistantError
from assistant.federation.aggregate import RoundFailed, Update, aggregate, dp_epsilon
from assistant.federation.model import (
    PROTOCOL,
    FederatedScorer,
    features_digest,
    init_params,
    local_train,
    model_input,
    predict,
)
from assistant.federation.runconfig import MIN_SECURE_BANKS, RunSettings, secure_refusal
from assistant.federation.secure import (
    bank_sizes,
    is_secure_fit,
    secure_mod,
    secure_reply,
    secure_round,
)
from assistant.fraud.features import FEATURE_NAMES, CashRules

if TYPE_CHECKING:
    from assistant.federation.local import BankData


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------ ServerApp

server = ServerApp()


@server.main()
def _server_main(grid: Grid, context: Context) -> None:
    try:
        # inside: settings it refuses (secure aggregation with two banks) still get a summary
        cfg = RunSettings.from_config(dict(context.run_config))
        run_rounds(grid, cfg, context)
    except Exception as exc:
        # the command waiting for this run reads summary.json: it must come, failed or not
        out_dir = str(context.run_config.get("out", ""))
        out = Path(out_dir)
        if out_dir and out.is_dir() and not (out / "summary.json").exists():
            failed = {
                "status": "failed",
                "rounds_ok": 0,
                "finished": _now(),
                "error": f"協調端執行失敗 / the coordinator's run failed: {exc}",
            }
            (out / "summary.json").write_text(json.dumps(failed, ensure_ascii=False))
        raise


def _wait_for_banks(grid: Grid, want: int, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= want or time.monotonic() > deadline:
            return nodes
        time.sleep(0.5)


def run_rounds(grid: Grid, cfg: RunSettings, context: Context | None = None) -> None:
    """Every round of the run ``cfg``; ``context`` (the ServerApp's) is needed for secure
    aggregation, whose workflow talks to the banks in this run's name."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    rounds_path = out / "rounds.jsonl"
    d = len(FEATURE_NAMES)
    params = init_params(d, cfg.architecture, cfg.seed)
    names: dict[int, str] = {}  # node id → bank name, as each bank reports it
    summary: dict[str, Any] = {"started": _now(), "protocol": PROTOCOL, "rounds_ok": 0}
    if cfg.secure_aggregation:
        summary["secure_aggregation"] = True
    good: FederatedScorer | None = None
    # the noise is drawn fresh: a seeded one would let anyone who knows the seed remove it
    noise = np.random.default_rng()
    nodes = _wait_for_banks(grid, max(cfg.min_banks, cfg.expect_banks), cfg.node_wait)
    if len(nodes) < cfg.min_banks:
        summary.update(
            status="failed",
            error=(
                f"只有 {len(nodes)} 家銀行連上（至少需 {cfg.min_banks} 家）/ only {len(nodes)} "
                f"banks connected, {cfg.min_banks} needed"
            ),
        )
        if cfg.secure_aggregation and len(nodes) < MIN_SECURE_BANKS:
            summary["error"] = secure_refusal(len(nodes))
    max_weight = 0.0
    if cfg.secure_aggregation and summary.get("status") != "failed":
        if context is None:
            raise AssistantError(
                "安全聚合需要 ServerApp 的 context / secure aggregation needs the run's context"
            )
        sizes = bank_sizes(grid, nodes, round_config(cfg, 0), cfg.round_timeout)
        max_weight = float(max(sizes.values(), default=0))
        summary["max_weight"] = max_weight
    for r in range(1, cfg.rounds + 1):
        if summary.get("status") == "failed":
            break
        nodes = sorted(grid.get_node_ids())
        sent_at, started = _now(), time.monotonic()
        try:
            if cfg.secure_aggregation:
                assert context is not None
                params, record = secure_round(
                    grid, context, nodes, params, round_config(cfg, r), cfg, r, names, max_weight
                )
            else:
                params, record = _plain_round(grid, nodes, params, cfg, r, names, noise)
        except RoundFailed as exc:
            timing = {"sent": sent_at, "finished": _now(), "seconds": _since(started)}
            _append(rounds_path, {**exc.record, **timing, "error": str(exc)})
            summary.update(status="failed", error=str(exc))
            break
        record.update(sent=sent_at, finished=_now(), seconds=_since(started))
        _append(rounds_path, record)
        banks = sorted({p for rec in _records(rounds_path) for p in rec.get("participants", [])})
        good = FederatedScorer(
            params,
            cfg.architecture,
            info={"rounds": r, "banks": banks, "finished": record["finished"]},
        )
        good.save(out / "model.json")
        summary["rounds_ok"] = r
    summary.setdefault("status", "ok")
    if cfg.noise_multiplier > 0:
        summary.update(
            noise_multiplier=cfg.noise_multiplier,
            epsilon=round(dp_epsilon(cfg.noise_multiplier, summary["rounds_ok"]), 3),
            delta=1e-5,
        )
    summary.update(finished=_now(), sha256=good.hash if good else None)
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(out / "summary.json")


def _since(started: float) -> float:
    return round(time.monotonic() - started, 1)


def round_config(cfg: RunSettings, round_no: int) -> dict[str, Any]:
    """What every bank needs for a round (round 0: the size question before round 1)."""
    return {
        "protocol": PROTOCOL,
        "features": features_digest(),
        "round": round_no,
        "architecture": cfg.architecture,
        "steps": cfg.steps,
        "lr": cfg.lr,
        "report-threshold": cfg.report_threshold,
        "structuring-band": cfg.structuring_band,
    }


def _plain_round(
    grid: Grid,
    nodes: list[int],
    params: np.ndarray,
    cfg: RunSettings,
    r: int,
    names: dict[int, str],
    noise: np.random.Generator,
) -> tuple[np.ndarray, dict[str, Any]]:
    """A round in the clear: each bank's new weights come back, the coordinator checks and
    clips each (``aggregate``)."""
    config = ConfigRecord(round_config(cfg, r))
    messages = [
        Message(
            RecordDict({"model": ArrayRecord(numpy_ndarrays=[params]), "config": config}),
            dst_node_id=node,
            message_type=MessageType.TRAIN,
            group_id=str(r),
        )
        for node in nodes
    ]
    replies = list(grid.send_and_receive(messages, timeout=cfg.round_timeout))
    # a reply names the message it answers; an error the SuperLink writes for a node that
    # went away comes from the SuperLink itself, so the bank is found by that message
    sent = {(m.metadata.message_id or m.object_id): m.metadata.dst_node_id for m in messages}
    origin = [sent.get(x.metadata.reply_to_message_id, x.metadata.src_node_id) for x in replies]
    updates = [_update(reply, node, names) for reply, node in zip(replies, origin, strict=True)]
    answered = set(origin)
    for node in nodes:
        if node not in answered:
            updates.append(
                Update(
                    bank=names.get(node, f"node-{node}"),
                    error=(
                        f"逾時未回應（{cfg.round_timeout:.0f} 秒），可能已離線 / no reply within "
                        f"{cfg.round_timeout:.0f} s: the bank dropped out"
                    ),
                )
            )
    return aggregate(
        params,
        updates,
        clip_norm=cfg.clip_norm,
        min_banks=cfg.min_banks,
        round_no=r,
        noise_multiplier=cfg.noise_multiplier,
        rng=noise,
    )


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _update(reply: Message, node: int, names: dict[int, str]) -> Update:
    """A bank's (``node``'s) reply as an ``Update``; a reply carrying Flower's error (the
    ClientApp raised, or the node went away) keeps the reason."""
    if reply.has_error():
        return Update(
            bank=names.get(node, f"node-{node}"),
            error=f"該行未完成本輪 / the bank did not complete the round: {reply.error.reason}",
        )
    info = reply.content.config_records.get("info", ConfigRecord())
    bank = str(info.get("bank", f"node-{node}"))
    names[node] = bank
    metrics = {k: float(v) for k, v in reply.content.metric_records.get("metrics", {}).items()}
    arrays = reply.content.array_records.get("model")
    params = arrays.to_numpy_ndarrays()[0] if arrays is not None and len(arrays) else None
    return Update(
        bank=bank,
        protocol=str(info.get("protocol", "?")),
        params=None if params is None else np.asarray(params, dtype=float),
        examples=int(metrics.get("examples", 0)),
        metrics=metrics,
        error=str(info.get("error", "")),
    )


# ------------------------------------------------------------------------------ ClientApp

client = ClientApp()
# features computed once per ledger and cash rule in this ClientApp process (Flower 1.42 starts
# one per message, so this holds within a message only; an in-process run reuses them)
_CACHE: dict[tuple[str, float, float], BankData] = {}


@client.train(mods=[secure_mod])
def _client_train(msg: Message, context: Context) -> Message:
    node = dict(context.node_config)
    bank = str(node.get("bank", "")) or "?"
    ledger = str(node.get("ledger", ""))
    if is_secure_fit(msg.content):
        # a secure round: secure_reply checks and clips the change, secure_mod masks it
        reply = secure_reply(msg.content, bank, lambda cfg, start: train_update(cfg, start, ledger))
        return Message(reply, reply_to=msg)
    try:
        content = bank_train(msg.content, bank, ledger)
    except Exception as exc:
        # answered, not raised: the coordinator then knows which bank failed and why
        # (Flower's own error reply names neither)
        info = {
            "bank": bank,
            "protocol": PROTOCOL,
            "error": f"該行未完成本輪 / the bank did not complete the round: {exc}",
        }
        content = RecordDict({"info": ConfigRecord(info)})
    return Message(content, reply_to=msg)


@client.query()
def _client_query(msg: Message, context: Context) -> Message:
    """How many labelled accounts this bank trains on (sent in the clear every round anyway):
    the coordinator sizes secure aggregation's weights by the largest."""
    node = dict(context.node_config)
    info: dict[str, Any] = {"bank": str(node.get("bank", "")) or "?", "protocol": PROTOCOL}
    cfg = msg.content.config_records["config"]
    try:
        _check_protocol(cfg)
        examples = len(_bank_data(cfg, str(node.get("ledger", ""))).y)
    except Exception as exc:
        info["error"] = str(exc)
        return Message(RecordDict({"info": ConfigRecord(info)}), reply_to=msg)
    content = RecordDict(
        {"metrics": MetricRecord({"examples": examples}), "info": ConfigRecord(info)}
    )
    return Message(content, reply_to=msg)


def _check_protocol(cfg: Any) -> None:
    """Refuse a coordinator of another product version: its weights mean something else."""
    if cfg.get("protocol") != PROTOCOL or cfg.get("features") != features_digest():
        raise AssistantError(
            f"版本不符：協調端為 {cfg.get('protocol')}，本行為 {PROTOCOL} / version mismatch: the "
            f"coordinator runs {cfg.get('protocol')}, this bank {PROTOCOL}"
        )


def _bank_data(cfg: Any, ledger: str) -> BankData:
    from assistant.federation.local import open_bank_data

    if not ledger:
        raise AssistantError("未設定帳務資料庫 / this bank's node has no ledger configured")
    rules = CashRules(float(cfg["report-threshold"]), float(cfg["structuring-band"]))
    key = (ledger, rules.report_threshold, rules.structuring_band)
    data = _CACHE.get(key)
    if data is None:
        data = _CACHE[key] = open_bank_data(ledger, rules)
    return data


def train_update(cfg: Any, params: np.ndarray, ledger: str) -> tuple[np.ndarray, dict[str, float]]:
    """One round's training at a bank: from the global weights ``params``, on this bank's
    labelled accounts; the new weights and the metrics. Raises on a coordinator of another
    version."""
    # imported here: Flower starts a ClientApp process per message, and the secure rounds'
    # key exchanges train nothing (sklearn alone takes a second to import)
    from sklearn.metrics import roc_auc_score

    _check_protocol(cfg)
    data = _bank_data(cfg, ledger)
    arch = str(cfg["architecture"])
    X, y = model_input(data.X_train), data.y
    before = predict(params, X, arch)
    new, loss = local_train(params, X, y, arch, steps=int(cfg["steps"]), lr=float(cfg["lr"]))
    metrics = {
        "examples": float(len(y)),
        "mules": float(y.sum()),
        "auc_before": float(roc_auc_score(y, before)),
        "auc_after": float(roc_auc_score(y, predict(new, X, arch))),
        "loss": float(loss),
    }
    return new, metrics


def bank_train(content: RecordDict, bank: str, ledger: str) -> RecordDict:
    """One plain round at a bank: check the coordinator speaks this protocol, train from the
    global weights on this bank's labelled accounts, return the weights and the metrics."""
    cfg = content.config_records["config"]
    info: dict[str, Any] = {"bank": bank or "?", "protocol": PROTOCOL}
    try:
        _check_protocol(cfg)
    except AssistantError as exc:
        info["error"] = str(exc)
        return RecordDict({"info": ConfigRecord(info)})
    params = content.array_records["model"].to_numpy_ndarrays()[0].astype(float)
    new, metrics = train_update(cfg, params, ledger)
    return RecordDict(
        {
            "model": ArrayRecord(numpy_ndarrays=[new]),
            "metrics": MetricRecord(metrics),
            "info": ConfigRecord(info),
        }
    )
