"""Outside lists as versioned tables: the 165 sites format and plain lists imported with their
source, licence, date and counts (bad rows reported, the rest kept), read by the monitor as a
reason when a counterparty or a memo names a listed identifier; imports audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.container import Container
from assistant.errors import AssistantError, AuthError
from assistant.monitor.monitor import TransferMonitor
from assistant.monitor.rules import load_rules
from assistant.monitor.signals import SignalStore
from assistant.monitor.transfers import Transfer
from assistant.permissions import UserContext
from tests.conftest import make_settings

INV = UserContext("inv", "fraud")
SITES = """WEBSITE_NM,WEBURL,CNT,STA_SDATE,STA_EDATE
網站名稱,網址,件數,統計起始日期,統計結束日期
0xBoost,www.0xboost.finance,1,2023/09/20,2023/09/26
100Ex,app.100exbtc.top,1,2024/07/11,2024/07/17
壞資料,not a site,1,2024/07/11,2024/07/17
1號會員店,ebyss.jwmvcuay.com/vvqqgku0,2,2024/01/22,2024/01/28
"""


@pytest.fixture
def c(tmp_path: Path) -> Iterator[Container]:
    container = Container(make_settings(tmp_path / "data"))
    yield container
    container.close()


def _import(c: Container, tmp_path: Path, user: UserContext = INV) -> dict:
    f = tmp_path / "gamble.csv"
    f.write_text(SITES, encoding="utf-8")
    return c.fraud_monitor_desk.import_signals(
        user,
        f,
        name="165-sites",
        kind="domain",
        fmt="165-sites",
        source="165 fake investment sites (test rows)",
        licence="test licence",
    )


def test_a_165_sites_file_becomes_a_versioned_table_with_its_date_and_counts(
    c: Container, tmp_path: Path
) -> None:
    out = _import(c, tmp_path)
    assert (out["rows"], out["bad"], out["entries"], out["as_of"]) == (4, 1, 3, "2024-07-17")
    assert out["errors"] == [{"line": 5, "reason": "網址錯誤 / bad site 'not a site'"}]
    assert len(out["version"]) == 12 and out["licence"] == "test licence"
    rec = c.audit.recent(1)[0].tool_calls[0]
    assert rec["name"] == "fraud.monitor.signals_import"
    assert (rec["args"]["as_of"], rec["args"]["rows"], rec["args"]["entries"]) == (
        "2024-07-17",
        4,
        3,
    )
    assert [t["name"] for t in c.fraud_monitor_desk.signals(INV)] == ["165-sites"]
    # the monitor reads it from the next transfer on: a memo naming a listed site is held
    d = c.fraud_monitor_desk.score(
        INV,
        {
            "id": "M1",
            "ts": "2024-08-01T10:00",
            "from_account": "ALICE",
            "to_account": "BOB",
            "amount": "30000",
            "memo": "入金 https://WWW.0xboost.finance/login 保證獲利",
        },
    )
    assert d["action"] == "hold"
    reason = d["reasons"][0]
    assert reason["rule"] == "external_lists" and "0xboost.finance" in reason["zh"]
    assert "165-sites" in reason["en"] and "2024-07-17" in reason["zh"]
    ordinary = c.fraud_monitor_desk.score(
        INV,
        {
            "id": "M2",
            "ts": "2024-08-01T11:00",
            "from_account": "ALICE",
            "to_account": "CAROL",
            "amount": "500",
            "memo": "午餐 lunch, see www.example.com",
        },
    )
    assert ordinary["action"] == "pass"


def test_lists_of_accounts_phones_and_wallets(tmp_path: Path) -> None:
    store = SignalStore(tmp_path / "signals")
    (tmp_path / "accts.txt").write_text("# reported accounts\n822-0001-1122\n\n", encoding="utf-8")
    (tmp_path / "phones.txt").write_text("+886 912-345-678\n", encoding="utf-8")
    wallet = "0x" + "ab" * 20
    # a JSON array, as wallet blacklists are published
    (tmp_path / "wallets.txt").write_text(f'["{wallet.upper().replace("0X", "0x")}", ""]', "utf-8")
    for name, kind in (("accts", "account"), ("phones", "phone"), ("wallets", "wallet")):
        store.import_file(
            tmp_path / f"{name}.txt",
            name=name,
            kind=kind,
            fmt="list",
            source="test",
            licence="test",
        )
    m = TransferMonitor(load_rules(), store.tables())
    d = m.process(Transfer("1", 1_700_000_000, "ALICE", "82200011122", 1000.0))
    assert d.action == "hold" and d.account == "82200011122" and "accts" in d.reasons[0].en
    d = m.process(Transfer("2", 1_700_000_100, "ALICE", "BOB", 1000.0, memo="加賴 0912 345 678"))
    assert d.action == "hold" and "0912345678" in d.reasons[0].zh
    d = m.process(Transfer("3", 1_700_000_200, "ALICE", "DAVE", 1000.0, memo=f"USDT to {wallet}"))
    assert d.action == "hold" and "wallets" in d.reasons[0].en
    assert (
        m.process(Transfer("4", 1_700_000_300, "ALICE", "BOB", 900.0, memo="rent")).action == "pass"
    )


def test_an_import_needs_source_and_licence_and_the_role(c: Container, tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("0912345678\n", encoding="utf-8")
    with pytest.raises(AssistantError, match="來源與授權"):
        c.fraud_monitor_desk.import_signals(
            INV, f, name="x", kind="phone", fmt="list", source="", licence="l"
        )
    with pytest.raises(AuthError):
        _import(c, tmp_path, UserContext("someone", "credit"))
    assert c.audit.recent(1)[0].tool_calls[0]["name"] == "access_denied"
    assert c.fraud_monitor_desk.signals(INV) == []
