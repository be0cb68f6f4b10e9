"""The monitor's rules as data: a versioned rule set (JSON), checked before it is used.

What a rule *kind* computes is code (``monitor.TransferMonitor``); which rules run, their windows,
thresholds and what each does when it fires (``alert`` or ``hold``) are data, so a compliance
change is a new version of this document (stored and audited by the fraud desk), not a release.
The product's first version is ``default_rules.json`` beside this module.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.fraud.ledger import normalize_account

DEFAULT_RULES = Path(__file__).with_name("default_rules.json")
ACTIONS = ("alert", "hold")
# Against the account's own history: fire only above ``usual_factor`` times its average per
# window, once it has ``min_history_s`` of history, and with ``above_peak`` only above its own
# highest window so far (see ``monitor._above_usual``).
_USUAL: dict[str, tuple[type, bool]] = {
    "usual_factor": (float, False),
    "min_history_s": (int, False),
    "above_peak": (bool, False),
}
# Each kind and its parameters: name → (type, required). Windows are seconds.
KINDS: dict[str, dict[str, tuple[type, bool]]] = {
    "velocity_out": {"window_s": (int, True), "max_count": (int, True), **_USUAL},
    "velocity_in": {
        "window_s": (int, True),
        "max_count": (int, True),
        "min_payers": (int, False),
        **_USUAL,
    },
    "amount_out": {"window_s": (int, True), "max_amount": (float, True), **_USUAL},
    "new_payee_burst": {"window_s": (int, True), "min_new": (int, True)},
    "pass_through": {
        "window_s": (int, True),
        "min_in": (float, True),
        "min_ratio": (float, True),
        "max_ratio": (float, False),
    },
    "cash_out_after_in": {
        "window_s": (int, True),
        "min_in": (float, True),
        "min_ratio": (float, True),
    },
    "structuring": {
        "window_s": (int, True),
        "threshold": (float, True),
        "band": (float, True),
        "min_count": (int, True),
        "kinds": (list, False),
    },
    "watchlist": {"accounts": (list, False), "memo_terms": (list, False)},
    # The mule score on arrival (``monitor.mule_score``): ``threshold`` overrides the model's
    # own; ``min_rows``: an account's rows before it is scored at all; ``min_looks``: scores in
    # a row at or above the threshold before the account is named (an ordinary account crosses
    # on one odd moment, a mule's score stays up). On the AMLGentex seed-2 run (10,000
    # accounts, 221 mules), one look named 2,170 accounts (recall 0.94), two 1,182 (0.91),
    # three 944 (0.86); the planted patterns alerted before the batch scorer's nightly run
    # were 53, 44 and 38 of 56: the product's rules take two. ``repeat_s``: once named, the
    # account is named again only after this long (0: on every transfer while it scores high);
    # its alert is in the queue and its transfers in the trace.
    "mule_score": {
        "threshold": (float, False),
        "min_rows": (int, False),
        "min_looks": (int, False),
        "repeat_s": (int, False),
    },
    "signal": {"tables": (list, False)},  # outside lists by name (``monitor.signals``); []: all
}
ANOMALY: dict[str, tuple[type, bool]] = {
    "enabled": (bool, True),
    "action": (str, False),
    "threshold": (float, True),
    "warmup": (int, True),
    "n_trees": (int, False),
    "height": (int, False),
    "window_size": (int, False),
    "seed": (int, False),
}


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    action: str
    params: dict[str, Any]


@dataclass(frozen=True)
class RuleSet:
    version: str
    rules: tuple[Rule, ...]
    anomaly: dict[str, Any]
    escalate_at: int = 3  # this many alert-level reasons on one transfer make it a hold
    note: str = ""
    watch_accounts: frozenset[str] = field(default_factory=frozenset)
    memo_terms: tuple[str, ...] = ()

    @property
    def horizon_s(self) -> int:
        """The longest window any rule looks back over: older state can be dropped."""
        return max([int(r.params.get("window_s", 0)) for r in self.rules] + [3600])

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "note": self.note,
            "escalate_at": self.escalate_at,
            "rules": [
                {"id": r.id, "kind": r.kind, "action": r.action, "params": r.params}
                for r in self.rules
            ],
            "anomaly": self.anomaly,
        }

    def diff(self, other: RuleSet) -> list[str]:
        """What changed from ``other`` to this set, one line per rule, for the audit record."""
        mine = {r.id: r for r in self.rules}
        theirs = {r.id: r for r in other.rules}
        out = [f"+{i}" for i in mine if i not in theirs]
        out += [f"-{i}" for i in theirs if i not in mine]
        out += [f"~{i}" for i in mine if i in theirs and mine[i] != theirs[i]]
        if self.anomaly != other.anomaly:
            out.append("~anomaly")
        if self.escalate_at != other.escalate_at:
            out.append("~escalate_at")
        return out


def _bad(msg_zh: str, msg_en: str) -> AssistantError:
    return AssistantError(f"規則錯誤：{msg_zh} / bad rule set: {msg_en}")


def _check_params(where: str, params: Any, spec: dict[str, tuple[type, bool]]) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise _bad(f"{where} 的參數須為物件", f"{where}: params must be an object")
    unknown = sorted(set(params) - set(spec))
    if unknown:
        raise _bad(f"{where} 有未知參數 {unknown}", f"{where}: unknown parameters {unknown}")
    out: dict[str, Any] = {}
    for name, (typ, required) in spec.items():
        if name not in params:
            if required:
                raise _bad(f"{where} 缺少參數 {name}", f"{where}: missing parameter {name}")
            continue
        value = params[name]
        if typ is float and isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value)
            if not math.isfinite(value) or value < 0:
                raise _bad(f"{where}.{name} 須為非負數", f"{where}.{name} must be ≥ 0")
        elif typ is int and isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise _bad(f"{where}.{name} 須為非負整數", f"{where}.{name} must be ≥ 0")
        elif not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            raise _bad(
                f"{where}.{name} 型別錯誤（應為 {typ.__name__}）",
                f"{where}.{name} must be {typ.__name__}",
            )
        out[name] = value
    return out


def parse_rules(doc: Any) -> RuleSet:
    """A rule set from its JSON document; every mistake is named (which rule, which field)."""
    if not isinstance(doc, dict):
        raise _bad("文件須為 JSON 物件", "the document must be a JSON object")
    version = str(doc.get("version") or "").strip()
    if not version or len(version) > 40:
        raise _bad("須有版本（40 字以內）", "a version (up to 40 characters) is required")
    rules_doc = doc.get("rules")
    if not isinstance(rules_doc, list):
        raise _bad("rules 須為清單", "rules must be a list")
    rules: list[Rule] = []
    seen: set[str] = set()
    watch: set[str] = set()
    terms: list[str] = []
    for n, r in enumerate(rules_doc):
        if not isinstance(r, dict):
            raise _bad(f"第 {n + 1} 條規則須為物件", f"rule {n + 1} must be an object")
        rid = str(r.get("id") or "").strip()
        kind = r.get("kind")
        action = r.get("action", "alert")
        if not rid or rid in seen:
            raise _bad(f"第 {n + 1} 條規則缺少或重複 id", f"rule {n + 1}: missing or repeated id")
        if kind not in KINDS:
            raise _bad(
                f"規則 {rid} 的種類 {kind!r} 不存在",
                f"rule {rid}: unknown kind {kind!r} ({', '.join(KINDS)})",
            )
        if action not in ACTIONS:
            raise _bad(f"規則 {rid} 的動作須為 alert 或 hold", f"rule {rid}: action alert | hold")
        params = _check_params(rid, r.get("params", {}), KINDS[kind])
        if "window_s" in params and params["window_s"] <= 0:
            raise _bad(f"{rid}.window_s 須大於 0", f"{rid}.window_s must be > 0")
        if kind == "structuring" and not 0 < params["band"] < 1:
            raise _bad(f"{rid}.band 須介於 0 與 1", f"{rid}.band must be between 0 and 1")
        if kind == "watchlist":
            try:
                params["accounts"] = sorted(
                    {normalize_account(a) for a in params.get("accounts", [])}
                )
            except AssistantError as exc:
                raise _bad(f"{rid} 的帳號有誤", f"{rid}: {exc}") from None
            watch.update(params["accounts"])
            terms += [str(t) for t in params.get("memo_terms", []) if str(t).strip()]
        seen.add(rid)
        rules.append(Rule(rid, kind, action, params))
    anomaly = _check_params(
        "anomaly", doc.get("anomaly", {"enabled": False, "threshold": 1.0, "warmup": 0}), ANOMALY
    )
    if anomaly.get("action", "alert") not in ACTIONS:
        raise _bad("anomaly.action 須為 alert 或 hold", "anomaly.action must be alert | hold")
    escalate = doc.get("escalate_at", 3)
    if not isinstance(escalate, int) or isinstance(escalate, bool) or escalate < 1:
        raise _bad("escalate_at 須為正整數", "escalate_at must be a positive integer")
    return RuleSet(
        version=version,
        rules=tuple(rules),
        anomaly=anomaly,
        escalate_at=escalate,
        note=str(doc.get("note") or ""),
        watch_accounts=frozenset(watch),
        memo_terms=tuple(terms),
    )


def load_rules(path: Path = DEFAULT_RULES) -> RuleSet:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AssistantError(f"無法讀取規則檔 / cannot read the rules {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise _bad(f"JSON 格式錯誤（第 {exc.lineno} 行）", f"not JSON (line {exc.lineno})") from exc
    return parse_rules(doc)
