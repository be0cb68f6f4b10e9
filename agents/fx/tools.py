"""The FX agent's tools: board rates, conversions and declaration duties, each a method of the
FX desk called with the user. Every number comes from there; the model never computes one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from agents.tools import Tool, ToolArgs
from assistant.errors import AssistantError
from assistant.fx.border import CarryResult
from assistant.fx.convert import Conversion
from assistant.fx.rates import Rate
from assistant.fx.rules import CheckResult

if TYPE_CHECKING:
    from agents.context import RunContext
    from assistant.desks.fx import FxDesk


# Types only: the desk checks the values (currency codes, rate kinds) and says what is wrong in
# its own words, as the answer shows them.
class RateArgs(ToolArgs):
    currency: str
    on: date | None = None
    kind: str = "spot"


class ConvertArgs(ToolArgs):
    amount: Decimal
    from_currency: str
    to_currency: str
    side: str | None = None
    kind: str = "spot"
    on: date | None = None


class CheckArgs(ToolArgs):
    customer: str
    amount: Decimal
    currency: str
    ytd_usd: Decimal = Decimal(0)
    on: date | None = None
    side: str | None = None
    kind: str = "spot"


class CarriedCash(ToolArgs):
    amount: Decimal
    currency: str


class CarryArgs(ToolArgs):
    amounts: list[CarriedCash]
    on: date | None = None


def _desk(ctx: RunContext) -> FxDesk:
    desk = ctx.services.fx
    if desk is None:
        raise AssistantError("外匯服務未啟用 / the FX service is not configured")
    return desk


def _given(args: ToolArgs) -> dict[str, Any]:
    # Only what the agent gave: the desk's own defaults stand for the rest (the side of a
    # conversion is the service's to choose unless the question said it).
    return args.model_dump(exclude_unset=True)


def _rate(ctx: RunContext, args: RateArgs) -> Rate:
    return _desk(ctx).rate(ctx.user, **_given(args))


def _convert(ctx: RunContext, args: ConvertArgs) -> Conversion:
    return _desk(ctx).convert(ctx.user, **_given(args))


def _check(ctx: RunContext, args: CheckArgs) -> CheckResult:
    return _desk(ctx).check(ctx.user, **_given(args))


def _carry(ctx: RunContext, args: CarryArgs) -> CarryResult:
    amounts = [(a.amount, a.currency) for a in args.amounts]
    return _desk(ctx).check_carry(ctx.user, amounts=amounts, on=args.on)


def _rate_line(out: Rate) -> str:
    d = out.to_dict()
    return f"{d['currency']} {d['kind']} {d['bank_buys']} / {d['bank_sells']} ({d['rate_date']})"


def _convert_line(out: Conversion) -> str:
    d = out.to_dict()
    return f"{d['currency']} {d['amount']} @ {d['rate']} ({d['rate_side']}, {d['rate_date']})"


def _check_line(out: CheckResult) -> str:
    d = out.to_dict()
    flags = [k for k in ("declaration_required", "documents_required", "approval_required") if d[k]]
    return ", ".join(flags) or "no duties"


def _carry_line(out: CarryResult) -> str:
    return f"declare to customs: {out.answer[1]}"


FX_RATE: Tool[RateArgs, Rate] = Tool(
    name="fx_rate",
    operation="fx.read",
    summary_zh="查詢牌告匯率（即期或現鈔，本行買入／賣出）",
    summary_en="Look up a board rate (spot or cash, bank buys / bank sells)",
    args=RateArgs,
    run=_rate,
    describe=_rate_line,
)
FX_CONVERT: Tool[ConvertArgs, Conversion] = Tool(
    name="fx_convert",
    operation="fx.read",
    summary_zh="依牌告匯率換算金額（正確的買賣方向）",
    summary_en="Convert an amount at the board rate, on the correct side",
    args=ConvertArgs,
    run=_convert,
    describe=_convert_line,
)
FX_CHECK: Tool[CheckArgs, CheckResult] = Tool(
    name="fx_check",
    operation="fx.read",
    summary_zh="判斷申報、檢附文件與央行核准義務",
    summary_en="Check declaration, document and central-bank approval duties",
    args=CheckArgs,
    run=_check,
    describe=_check_line,
)
FX_CARRY: Tool[CarryArgs, CarryResult] = Tool(
    name="fx_carry",
    operation="fx.read",
    summary_zh="判斷旅客攜帶現鈔出入境應否向海關申報",
    summary_en="Check whether cash carried across the border must be declared to customs",
    args=CarryArgs,
    run=_carry,
    describe=_carry_line,
)
TOOLS = (FX_RATE, FX_CONVERT, FX_CHECK, FX_CARRY)
