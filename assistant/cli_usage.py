"""Usage errors of the command line in Chinese first, then click's own English.

Click words a missing argument, a bad value or an unknown command in English only. A user who
mistypes a path or an option gets the same bilingual message as any other bad input: what is
wrong in Traditional Chinese, click's English after it, the usage line and the exit code 2
unchanged. Only the wording is ours; which input is wrong is still click's judgement.
"""

from __future__ import annotations

from typing import IO, Any

import click
from click import exceptions as ce
from click._compat import get_text_stderr


class BilingualUsageError(click.UsageError):
    """A usage error whose message is already "中文 / English"; shown as click shows one, with
    the usage line and the help hint, under a bilingual "錯誤 / Error" label."""

    def show(self, file: IO[Any] | None = None) -> None:
        if file is None:
            file = get_text_stderr()
        color = self.ctx.color if self.ctx is not None else None
        if self.ctx is not None:
            hint = ""
            if self.ctx.command.get_help_option(self.ctx) is not None:
                name = max(self.ctx.command.get_help_option_names(self.ctx), key=len)
                hint = f"說明 / help: {self.ctx.command_path} {name}\n"
            click.echo(f"{self.ctx.get_usage()}\n{hint}", file=file, color=color)
        click.echo(f"錯誤 / Error: {self.format_message()}", file=file, color=color)


class BilingualError(click.ClickException):
    """A user error (bad input, nothing indexed) under the same bilingual label."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(
            f"錯誤 / Error: {self.format_message()}",
            file=file or get_text_stderr(),
            color=self.show_color,
        )


def bilingual(exc: click.UsageError) -> click.UsageError:
    """The same usage error with a Chinese sentence before click's English one. Help shown for
    a bare command (``NoArgsIsHelpError``) is not an error and is returned as it is."""
    if isinstance(exc, ce.NoArgsIsHelpError | BilingualUsageError):
        return exc
    zh = _chinese(exc)
    out = BilingualUsageError(f"{zh} / {exc.format_message()}", ctx=exc.ctx)
    out.exit_code = exc.exit_code
    return out


def _chinese(exc: click.UsageError) -> str:
    if isinstance(exc, ce.NoSuchCommand):
        return f"沒有 {exc.command_name} 這個指令" + _did_you_mean(exc)
    if isinstance(exc, ce.NoSuchOption):
        return f"沒有 {exc.option_name} 這個選項" + _did_you_mean(exc)
    if isinstance(exc, ce.BadOptionUsage):
        return f"選項 {exc.option_name} 的用法不正確（例如少了它的值）"
    if isinstance(exc, ce.MissingParameter):
        kind = {"argument": "參數", "option": "選項"}.get(exc.param_type or "", "參數")
        return f"缺少必要的{kind} {_hint(exc)}".rstrip()
    if isinstance(exc, ce.BadParameter):
        return f"{_hint(exc)} 的值不正確：{_why(exc)}".lstrip()
    return "指令的用法不正確"


def _did_you_mean(exc: ce.NoSuchCommand | ce.NoSuchOption) -> str:
    close = getattr(exc, "possibilities", None) or []
    return f"（是否要用 {'、'.join(close)}？）" if close else ""


def _hint(exc: ce.BadParameter) -> str:
    if exc.param_hint is not None:
        hint = exc.param_hint
        return " / ".join(f"'{h}'" for h in hint) if not isinstance(hint, str) else hint
    if exc.param is not None:
        return exc.param.get_error_hint(exc.ctx)  # type: ignore[arg-type]
    return ""


def _why(exc: ce.BadParameter) -> str:
    """What the value should have been, by the parameter's type."""
    kind = exc.param.type if exc.param is not None else None
    message = exc.message
    if isinstance(kind, click.Path):
        if "does not exist" in message:
            return "找不到這個檔案或資料夾"
        if "is a directory" in message:
            return "這是資料夾，需要的是檔案"
        if "is a file" in message:
            return "這是檔案，需要的是資料夾"
        if "not readable" in message or "not writable" in message:
            return "沒有讀寫這個路徑的權限"
        return "路徑不可用"
    if isinstance(kind, click.Choice):
        return "只能是 " + "、".join(str(c) for c in kind.choices) + " 之一"
    if isinstance(kind, click.IntRange | click.FloatRange):
        number = "整數" if isinstance(kind, click.IntRange) else "數字"
        bounds = _bounds(kind)
        if "not in the range" in message:
            return f"超出範圍，須為{bounds}的{number}"
        return f"須為{bounds}的{number}" if bounds else f"須為{number}"
    if kind is click.INT:
        return "須為整數"
    if kind is click.FLOAT:
        return "須為數字"
    if kind is click.BOOL:
        return "須為 true 或 false"
    if isinstance(kind, click.DateTime):
        return "日期格式須為 " + "、".join(kind.formats) + " 之一"
    return "格式不符"


def _bounds(kind: click.IntRange | click.FloatRange) -> str:
    low, high = kind.min, kind.max
    if low is not None and high is not None:
        return f" {low} 到 {high} 之間"
    if low is not None:
        return f"不小於 {low} "
    if high is not None:
        return f"不大於 {high} "
    return ""
