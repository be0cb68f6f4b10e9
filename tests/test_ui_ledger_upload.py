"""匯入帳務檔 in the 防詐 tab: a transfer list and a statement uploaded and imported through the
tab's own handler (found by the button that triggers it) over the 防詐 tabs' container
(tests/test_ui_panels.py), and one import through the page in headless Chromium.

What is checked is the fraud desk's behaviour reaching the page: the rows land in the ledger
and the audit names the investigator; the report says what was read and which rows were left
out; a role without ``fraud.ledger`` is refused in both languages and recorded; a file that is
not an upload, or none at all, is said clearly with nothing imported.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder
from sqlalchemy import text

from assistant.container import Container
from assistant.permissions import UserContext
from tests.test_ui import PASSWORD, Served
from tests.test_ui_alerts import _by_id, _on
from tests.test_ui_panels import desk, runs, served  # noqa: F401  (fixtures)


def _user(c: Container, role: str) -> UserContext:
    return c.users.add(f"up-{role}-{uuid.uuid4().hex[:8]}", role, PASSWORD)


def _request(user: UserContext) -> gr.Request:
    return gr.Request(username=user.name)


def _upload(tmp_path: Path, name: str, body: str) -> str:
    """A file where Gradio keeps uploads, as the page's file box hands it over."""
    folder = Path(get_upload_folder()) / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    source = tmp_path / name
    source.write_text(body, encoding="utf-8")
    return shutil.copy(source, folder / name)


def _go(
    run: Any,
    file: Any,
    kind: str,
    account: str,
    lang: str,
    user: UserContext,
    *,
    mapping: str = "",
    sheet: str = "",
    date_format: str = "",
    unit: str = "",
    start: str = "2024-01-01",
    rates: str = "",
) -> dict[Any, Any]:
    """The tab's import handler called as the page calls it: the inputs in the page's order."""
    inputs = (file, kind, account, lang, mapping, sheet, date_format, unit, start, rates)
    return run(*inputs, _request(user))


def _count(c: Container, prefix: str) -> int:
    with c.engine.connect() as db:
        return db.execute(
            text("SELECT COUNT(*) FROM fraud_transfer WHERE id LIKE :p"), {"p": f"{prefix}%"}
        ).scalar_one()


def _said(demo: gr.Blocks, out: dict[Any, Any]) -> str:
    return str(out[_by_id(demo, "twfin-import-result")])


def test_an_investigator_imports_a_transfer_list_and_a_statement(
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
    tmp_path: Path,
) -> None:
    demo = served.demo
    run = _on(demo, "twfin-import-run")
    inv = _user(desk, "fraud")
    tag = uuid.uuid4().hex[:6].upper()
    transfers = _upload(
        tmp_path,
        f"他行_{tag}.csv",
        "交易序號,交易日期,交易時間,轉出帳號,轉入帳號,交易金額,交易類型\n"
        f'{tag}1,2024/03/01,10:00,UP{tag}A,UP{tag}B,"50,000",轉帳\n'
        f"{tag}2,2024/03/01,10:30,UP{tag}B,,49000,ATM提款\n"
        f"{tag}3,not a day,11:00,UP{tag}B,UP{tag}C,100,轉帳\n",
    )
    out = _go(run, transfers, "transfers", "", "zh-TW", inv)
    said = _said(demo, out)
    assert "已匯入 2 筆（其中現金 1 筆），略過 1 筆" in said, said
    assert "from\\_account ← 轉出帳號" in said and "- 4: 時間錯誤" in said
    assert _count(desk, tag) == 2
    (record,) = desk.audit.recent(1, user_name=inv.name)
    call = record.tool_calls[0]
    assert call["name"] == "fraud.import" and call["args"]["file"].endswith(f"他行_{tag}.csv")

    statement = _upload(
        tmp_path,
        f"statement_{tag}.csv",
        "帳號：XXXX 存款交易明細\n\n交易日期,交易時間,摘要,支出,存入,對方帳號\n"
        f"2024/03/02,09:00,網銀轉出,3000,,UP{tag}D\n",
    )
    out = _go(run, statement, "statement", f"UP{tag}S", "en", inv)
    assert "1 rows imported (0 of them cash), 0 left out" in _said(demo, out)
    with desk.engine.connect() as db:
        moved = db.execute(
            text("SELECT from_account, to_account FROM fraud_transfer WHERE to_account = :a"),
            {"a": f"UP{tag}D"},
        ).all()
    assert [tuple(r) for r in moved] == [(f"UP{tag}S", f"UP{tag}D")]
    # The same statement given as a transfer list: refused with the way to import it.
    out = _go(run, statement, "transfers", "", "zh-TW", inv)
    assert "交易明細" in _said(demo, out) and "import-statement" in _said(demo, out)


def test_refusals_and_bad_files_are_said_with_nothing_imported(
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
    tmp_path: Path,
) -> None:
    demo = served.demo
    run = _on(demo, "twfin-import-run")
    tag = uuid.uuid4().hex[:6].upper()
    body = f"交易時間,轉出帳號,轉入帳號,金額\n2024-03-01 10:00,UP{tag}A,UP{tag}B,100\n"
    upload = _upload(tmp_path, f"t_{tag}.csv", body)
    fx = _user(desk, "fx")
    said = _said(demo, _go(run, upload, "transfers", "", "zh-TW", fx))
    assert "fraud.ledger" in said and _count(desk, f"t_{tag}") == 0
    (record,) = desk.audit.recent(1, user_name=fx.name)
    assert record.tool_calls[0]["name"] == "access_denied"
    inv = _user(desk, "fraud")
    assert "請先選擇要匯入的檔案" in _said(demo, _go(run, None, "transfers", "", "zh-TW", inv))
    # A path the browser names outside the upload folder is not read.
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_text(body, encoding="utf-8")
    said = _said(demo, _go(run, str(elsewhere), "transfers", "", "en", inv))
    assert "send the file as an upload" in said and _count(desk, "elsewhere") == 0
    # A statement with no account given is refused by the desk's own words.
    statement = _upload(tmp_path, f"s_{tag}.csv", "交易日期,摘要,支出,存入\n2024/03/02,提款,5,\n")
    said = _said(demo, _go(run, statement, "statement", "", "en", inv))
    assert "twfin-error" in said and "account" in said and _count(desk, f"s_{tag}") == 0


def test_options_read_a_file_the_header_does_not_explain(
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The options the CLI has: a column mapping typed a line each (or apart by ;), a date
    format, a time column counted in steps; the report says the time's reading and the
    currencies; a bad mapping line or a step unit on a statement is refused, nothing imported."""
    demo = served.demo
    run = _on(demo, "twfin-import-run")
    inv = _user(desk, "fraud")
    tag = uuid.uuid4().hex[:6].upper()
    odd = _upload(
        tmp_path,
        f"odd_{tag}.csv",
        "處理日,甲方,乙方,數額,幣\n"
        f"20240301,UP{tag}A,UP{tag}B,100,US Dollar\n"
        f"20240302,UP{tag}B,UP{tag}C,90,美金\n"
        f"20240302,UP{tag}C,UP{tag}D,7,CHF\n",
    )
    mapping = "ts=處理日\nfrom_account=甲方；to_account=乙方\namount=數額; currency=幣"
    out = _go(
        run,
        odd,
        "transfers",
        "",
        "zh-TW",
        inv,
        mapping=mapping,
        date_format="%Y%m%d",
        rates="USD=30",
    )
    said = _said(demo, out)
    assert "已匯入 3 筆" in said and "ts ← 處理日" in said, said
    assert "各幣別筆數（檔案所載）: USD 2, CHF 1" in said
    assert "依當日匯率換算為新臺幣的筆數: USD 2" in said and "no rate for CHF" in said
    assert _count(desk, f"odd_{tag}") == 3
    with desk.engine.connect() as db:
        stored = db.execute(
            text("SELECT amount, currency FROM fraud_transfer WHERE from_account = :a"),
            {"a": f"UP{tag}A"},
        ).one()
    assert tuple(stored) == (3000.0, "TWD")
    bad_rate = _go(run, odd, "transfers", "", "en", inv, mapping=mapping, rates="USD=thirty")
    assert "CUR=NT$ per unit" in _said(demo, bad_rate)

    steps = _upload(
        tmp_path,
        f"sim_{tag}.csv",
        f"step,type,amount,nameOrig,nameDest\n1,TRANSFER,5,UP{tag}X,UP{tag}Y\n",
    )
    said = _said(demo, _go(run, steps, "transfers", "", "en", inv, unit="hour", start="2024-05-01"))
    assert "1 rows imported" in said and "step × 1 hour from 2024-05-01" in said, said
    with desk.engine.connect() as db:
        ts = db.execute(
            text("SELECT ts FROM fraud_transfer WHERE from_account = :a"), {"a": f"UP{tag}X"}
        ).scalar_one()
    assert str(ts).startswith("2024-04-30 17:00")  # step 1 = 01:00 Taiwan time, stored in UTC

    bad = _go(run, odd, "transfers", "", "zh-TW", inv, mapping="ts 處理日")
    assert "欄位對應格式為 欄位=欄名" in _said(demo, bad)
    statement = _upload(tmp_path, f"st_{tag}.csv", "交易日期,摘要,支出,存入\n2024/03/02,提款,5,\n")
    refused = _go(run, statement, "statement", f"UP{tag}S", "en", inv, unit="day")
    assert "clear the step unit" in _said(demo, refused)
    assert _count(desk, f"st_{tag}") == 0 and _count(desk, f"odd_{tag}") == 3


def test_browser_investigator_imports_a_file(
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    from tests.browser import logged_in

    inv = _user(desk, "fraud")
    tag = uuid.uuid4().hex[:6].upper()
    source = tmp_path / f"b_{tag}.csv"
    source.write_text(
        f"交易時間,轉出帳號,轉入帳號,金額\n2024-03-01 10:00,UP{tag}A,UP{tag}B,700\n",
        encoding="utf-8",
    )
    with logged_in(served.url, inv.name, PASSWORD) as page:
        page.get_by_role("tab", name="防詐").click()
        page.get_by_text("匯入帳務檔").click()
        page.locator("#twfin-import-file input[type=file]").set_input_files(str(source))
        page.locator("#twfin-import-run").click()
        expect(page.locator("#twfin-import-result")).to_contain_text("已匯入 1 筆")
    assert _count(desk, f"b_{tag}") == 1
