"""Usage errors on the command line: Chinese first, then English, exit code 2, for every
subcommand; a user error (nothing indexed) the same way with exit code 1."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from assistant.cli import cli

CJK = re.compile(r"[\u4e00-\u9fff]")


def _error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("錯誤 / Error: ")]
    assert len(lines) == 1, output
    return lines[0].removeprefix("錯誤 / Error: ")


def _zh_then_en(message: str) -> tuple[str, str]:
    zh, sep, en = message.partition(" / ")
    assert sep, message
    assert CJK.search(zh), message
    assert not CJK.search(en) and re.search(r"[A-Za-z]{3,}", en), message
    return zh, en


@pytest.mark.parametrize(
    ("args", "zh_part", "en_part"),
    [
        (["credit", "extract", "/no/such/report.pdf"], "找不到這個檔案", "does not exist"),
        (["fraud", "trace"], "缺少必要的參數 'ACCOUNT'", "Missing argument 'ACCOUNT'"),
        (["fraud", "trace", "A1", "--hops", "abc"], "須為 1 到 6 之間的整數", "'abc'"),
        (["fraud", "trace", "A1", "--hops", "9"], "超出範圍", "9"),
        (["fraud", "trace", "A1", "--direction", "sideways"], "只能是 up、down 之一", "sideways"),
        (["no-such-command"], "沒有 no-such-command 這個指令", "No such command"),
        (["fraud", "trce"], "是否要用 trace", "Did you mean 'trace'"),
        (["fraud", "trace", "A1", "--hopz", "3"], "沒有 --hopz 這個選項", "No such option"),
        (["fraud", "trace", "A1", "--hops"], "選項 --hops 的用法不正確", "requires an argument"),
    ],
)
def test_usage_errors_are_chinese_then_english(
    tmp_path, args: list[str], zh_part: str, en_part: str
) -> None:
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    zh, en = _zh_then_en(_error_line(result.output))
    assert zh_part in zh
    assert en_part in en
    assert "Traceback" not in result.output


def test_usage_line_and_bilingual_help_hint_are_kept(tmp_path) -> None:
    result = CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path), "fraud", "trace"], prog_name="assistant"
    )
    assert result.output.startswith("Usage: assistant fraud trace")
    assert "說明 / help: assistant fraud trace --help" in result.output


def test_a_bare_group_still_shows_its_help(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "fraud"])
    assert "錯誤" not in result.output
    assert "trace" in result.output


def test_user_error_is_bilingual_with_exit_code_1(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "search", "銀行法"])
    assert result.exit_code == 1, result.output
    zh, en = _zh_then_en(_error_line(result.output))
    assert "知識庫" in zh and "ingest" in en
