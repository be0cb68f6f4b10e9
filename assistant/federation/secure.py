"""Secure aggregation for 金融盾: Flower's SecAgg+ protocol, none of our own cryptography.

With ``RunSettings.secure_aggregation`` every round runs Flower's ``SecAggPlusWorkflow`` on the
coordinator and ``secaggplus_mod`` at every bank: each bank masks its update with keys shared
with the other banks, and the coordinator can unmask only the weighted mean of all updates,
never one bank's. What this changes, and why:

- The coordinator cannot check or clip an update it cannot see, so each bank does it to its
  own update before masking (``aggregate.bank_delta``), and a bank whose update is unusable
  abstains (weight 0, the reason in the clear) rather than break the protocol for the others.
  The coordinator checks the mean (``aggregate.secure_aggregate``).
- SecAgg+ sums integers: each bank sends ``examples / max_weight × update``, clipped to
  ±``clipping_range`` per coordinate and quantised to ``quantization_range`` levels. So the
  banks send *changes* from the round's global weights (small, centred on 0) rather than the
  weights; the clipping range is the clip norm (a change clipped to that L2 length has no
  coordinate beyond it: SecAgg+ never clips again); and ``max_weight`` is the largest bank's
  account count, asked before round 1 (``bank_sizes``), so the largest bank's weight is 1:
  a larger ``max_weight`` divides every weight, and the rounding error grows by as much.
- With fewer than three banks each could read the other's update from the total: refused
  (``runconfig.MIN_SECURE_BANKS``), by the coordinator and by every bank's own code.

What still crosses in the clear: each bank's name, account count and metrics (as in a plain
round), never its update nor its length.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from flwr.app import ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.client.mod import secaggplus_mod
from flwr.clientapp.typing import ClientAppCallable
from flwr.common import (
    Code,
    FitIns,
    FitRes,
    Status,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key, Stage
from flwr.compat.common import recorddict_compat as compat
from flwr.server import LegacyContext
from flwr.server.client_manager import ClientManager, SimpleClientManager
from flwr.server.compat.grid_client_proxy import GridClientProxy
from flwr.server.strategy import Strategy
from flwr.server.workflow import SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD
from flwr.server.workflow.constant import Key as WorkflowKey
from flwr.serverapp import Grid

from assistant.errors import AssistantError
from assistant.federation.aggregate import bank_delta, secure_aggregate
from assistant.federation.model import PROTOCOL
from assistant.federation.runconfig import MIN_SECURE_BANKS, RunSettings, secure_refusal

# Flower's defaults: 2**22 levels, masks modulo 2**32. The sum of n banks' quantised values
# (each < 2**22) stays below the modulus for n < 1024 banks
QUANTIZATION_RANGE = 2**22


@dataclass
class Quantisation:
    """SecAgg+'s number format for one round, and the error it can make."""

    clipping_range: float
    max_weight: float
    quantization_range: int = QUANTIZATION_RANGE

    @property
    def step(self) -> float:
        """One quantisation level: the most one bank's rounding moves one coordinate of its
        weighted change (stochastic rounding, unbiased)."""
        return 2 * self.clipping_range / self.quantization_range

    def tolerance(self, banks: int, examples: float, size: int) -> float:
        """The largest L2 error rounding can put into the weighted mean of ``banks`` changes
        of ``size`` weights over ``examples`` accounts: every bank one step off in every
        coordinate, divided by the sum of the weights (``examples / max_weight``)."""
        return math.sqrt(size) * banks * self.step * self.max_weight / max(examples, 1.0)


def reconstruction_threshold(banks: int) -> int:
    """Shares needed to rebuild a bank's mask key: a majority, at least 2 (with 3 banks: 2,
    so one bank may drop out mid-round and the others' sum is still recovered)."""
    return max(2, banks // 2 + 1)


# ------------------------------------------------------------------------------ coordinator


class _OneRound(Strategy):
    """The least of a Flower strategy the SecAgg+ workflow drives: the same instructions for
    every bank, and the results kept (the mean arrives in each result's parameters)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.results: list[tuple[Any, FitRes]] | None = None
        self.failures: list[str] = []

    def initialize_parameters(self, client_manager: ClientManager) -> None:
        return None

    def configure_fit(
        self, server_round: int, parameters: Any, client_manager: ClientManager
    ) -> list[tuple[Any, FitIns]]:
        return [(p, FitIns(parameters, dict(self.config))) for p in client_manager.all().values()]

    def aggregate_fit(
        self, server_round: int, results: list[Any], failures: list[Any]
    ) -> tuple[Any, dict[str, Any]]:
        self.results = list(results)
        self.failures = [str(f) for f in failures]
        return (results[0][1].parameters if results else None), {}

    def configure_evaluate(self, *args: Any) -> list[Any]:
        return []

    def aggregate_evaluate(self, *args: Any) -> tuple[None, dict[str, Any]]:
        return None, {}

    def evaluate(self, *args: Any) -> None:
        return None


def bank_sizes(
    grid: Grid, nodes: list[int], config: dict[str, Any], timeout: float
) -> dict[int, int]:
    """Each bank's labelled account count (what it sends in the clear every round anyway),
    asked once before round 1: the largest is SecAgg+'s ``max_weight``."""
    messages = [
        Message(
            RecordDict({"config": ConfigRecord(config)}),
            dst_node_id=node,
            message_type=MessageType.QUERY,
        )
        for node in nodes
    ]
    sizes = {}
    for reply in grid.send_and_receive(messages, timeout=timeout):
        if not reply.has_error() and "metrics" in reply.content.metric_records:
            examples = reply.content.metric_records["metrics"].get("examples", 0)
            sizes[reply.metadata.src_node_id] = int(examples)
    return sizes


def secure_round(
    grid: Grid,
    context: Context,
    nodes: list[int],
    params: np.ndarray,
    config: dict[str, Any],
    cfg: RunSettings,
    round_no: int,
    names: dict[int, str],
    max_weight: float,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One round through SecAgg+: the new global weights and the round record. Raises
    ``RoundFailed`` (model unchanged) as ``aggregate.secure_aggregate`` says."""
    q = Quantisation(clipping_range=cfg.clip_norm, max_weight=max_weight)
    strategy = _OneRound({**config, "clip-norm": cfg.clip_norm})
    halted = ""
    if len(nodes) < MIN_SECURE_BANKS:
        halted = secure_refusal(len(nodes))
    else:
        _run_workflow(grid, context, nodes, params, strategy, q, cfg.round_timeout, round_no)
    rows, mean = _rows(strategy, nodes, names, max_weight)
    accepted = [b for b in rows if b["accepted"]]
    examples = float(sum(b["examples"] for b in accepted))
    extra = {
        "quantisation": {**asdict(q), "step": q.step},
        "threshold": reconstruction_threshold(len(nodes)),
        "errors": strategy.failures,
    }
    return secure_aggregate(
        params,
        mean,
        rows,
        clip_norm=cfg.clip_norm,
        min_banks=cfg.min_banks,
        round_no=round_no,
        tolerance=q.tolerance(len(accepted), examples, params.size),
        extra=extra,
        halted=halted,
    )


def _run_workflow(
    grid: Grid,
    context: Context,
    nodes: list[int],
    params: np.ndarray,
    strategy: _OneRound,
    q: Quantisation,
    timeout: float,
    round_no: int,
) -> None:
    manager = SimpleClientManager()
    for node in nodes:
        manager.register(GridClientProxy(node, grid, context.run_id))
    legacy = LegacyContext(context, strategy=strategy, client_manager=manager)
    legacy.state.config_records[MAIN_CONFIGS_RECORD] = ConfigRecord(
        {WorkflowKey.CURRENT_ROUND: round_no}
    )
    legacy.state.array_records[MAIN_PARAMS_RECORD] = compat.parameters_to_arrayrecord(
        ndarrays_to_parameters([params]), True
    )
    SecAggPlusWorkflow(
        num_shares=1.0,  # every bank holds a share of every other bank's keys
        reconstruction_threshold=reconstruction_threshold(len(nodes)),
        max_weight=q.max_weight,
        clipping_range=q.clipping_range,
        quantization_range=q.quantization_range,
        timeout=timeout,
    )(grid, legacy)


def _rows(
    strategy: _OneRound, nodes: list[int], names: dict[int, str], max_weight: float
) -> tuple[list[dict[str, Any]], np.ndarray | None]:
    """One row per bank from what it sent in the clear, and the mean (None if the protocol
    did not finish)."""
    rows, seen = [], set()
    mean = None
    for proxy, res in strategy.results or []:
        seen.add(proxy.node_id)
        rows.append(_row(res, proxy.node_id, names, max_weight))
        mean = np.asarray(parameters_to_ndarrays(res.parameters)[0], dtype=float)
    for node in nodes:
        if node not in seen:
            rows.append(
                {
                    "bank": names.get(node, f"node-{node}"),
                    "metrics": {},
                    "accepted": False,
                    "reason": (
                        "該行未完成本輪安全聚合（離線、失敗或逾時）/ the bank did not complete "
                        "the secure round (dropped out, failed or timed out)"
                    ),
                }
            )
    return rows, mean


def _row(res: FitRes, node: int, names: dict[int, str], max_weight: float) -> dict[str, Any]:
    m = dict(res.metrics)
    bank = str(m.get("bank", f"node-{node}"))
    names[node] = bank
    metrics = {
        k: float(v) for k, v in m.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }
    row: dict[str, Any] = {"bank": bank, "metrics": metrics, "examples": int(res.num_examples)}
    protocol = str(m.get("protocol", "?"))
    if m.get("error"):
        reason = str(m["error"])
    elif protocol != PROTOCOL:
        reason = (
            f"版本不符：該行為 {protocol}，協調端為 {PROTOCOL} / version mismatch: the bank runs "
            f"{protocol}, the coordinator {PROTOCOL}"
        )
    elif res.num_examples <= 0:
        reason = "未回報訓練筆數 / no training examples reported"
    elif res.num_examples > max_weight:
        # its weight went past the quantiser's range: the sum is not the weighted mean
        reason = (
            f"回報 {res.num_examples} 筆，多於事先申報的上限 {max_weight:.0f} / reported "
            f"{res.num_examples} accounts, more than the {max_weight:.0f} declared before round 1"
        )
    else:
        return {**row, "accepted": True}
    return {**row, "accepted": False, "reason": reason}


# ------------------------------------------------------------------------------ a bank


def secure_mod(msg: Message, ctx: Context, call_next: ClientAppCallable) -> Message:
    """A bank's side of SecAgg+ (Flower's ``secaggplus_mod``) for the messages of a secure
    round; a plain round's message goes straight to training. The bank refuses, itself, a
    secure round of fewer than three banks or a threshold below two: its update would be
    readable from the total whatever the coordinator claims."""
    configs = msg.content.config_records.get(RECORD_KEY_CONFIGS)
    if configs is None:
        return call_next(msg, ctx)
    if configs.get(Key.STAGE) == Stage.SETUP:
        banks = int(configs.get(Key.SAMPLE_NUMBER, 0))  # type: ignore[arg-type]
        if banks < MIN_SECURE_BANKS:
            raise AssistantError(secure_refusal(banks))
        if int(configs.get(Key.THRESHOLD, 0)) < 2:  # type: ignore[arg-type]
            raise AssistantError(
                "安全聚合的重建門檻至少為 2 / the secure aggregation threshold must be at least 2"
            )
    return secaggplus_mod(msg, ctx, call_next)


def is_secure_fit(content: RecordDict) -> bool:
    """A secure round's training instructions come in Flower's FitIns format."""
    return "fitins.parameters" in content.array_records


def secure_reply(
    content: RecordDict,
    bank: str,
    train: Callable[[dict[str, Any], np.ndarray], tuple[np.ndarray, dict[str, float]]],
) -> RecordDict:
    """A bank's reply in a secure round: ``train`` (config, global weights → new weights,
    metrics), then its own checks and clipping; the change goes to ``secaggplus_mod`` to be
    masked. An unusable update or a failure becomes an abstention: a zero change of weight 0,
    the reason in the clear, so the other banks' round still completes."""
    fitins = compat.recorddict_to_fitins(content, keep_input=True)
    start = np.asarray(parameters_to_ndarrays(fitins.parameters)[0], dtype=float)
    cfg = dict(fitins.config)
    info: dict[str, Any] = {"bank": bank, "protocol": PROTOCOL}
    try:
        new, metrics = train(cfg, start)
        change = bank_delta(start, np.asarray(new, dtype=float), float(cfg["clip-norm"]))  # type: ignore[arg-type]
        res = FitRes(
            Status(Code.OK, ""),
            ndarrays_to_parameters([change]),
            int(metrics["examples"]),
            {**info, **metrics},
        )
    except Exception as exc:
        info["error"] = f"該行未完成本輪 / the bank did not complete the round: {exc}"
        res = FitRes(Status(Code.OK, ""), ndarrays_to_parameters([np.zeros_like(start)]), 0, info)
    return compat.fitres_to_recorddict(res, keep_input=True)
