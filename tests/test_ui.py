"""The chat UI end to end: the real service over the `kb` fixture, Gradio's own login, the
named API through gradio_client, and the page in headless Chromium.

One server for the module (launching costs seconds); each test logs in as a user of its own so
their conversation lists do not mix.
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import httpx
import pytest
from gradio_client import Client

from assistant.container import Container
from assistant.permissions import UserContext
from ui import render
from ui.app import banner_text, build_app, serve_ui
from ui.sessions import ExpiringTokens

QUESTION = "銀行對疑似不法或顯屬異常交易的存款帳戶可以怎麼處理？"
PASSWORD = "correct-horse-42"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous: the test machine may have two slow cores.
WAIT_MS = 90_000


@dataclass
class Served:
    url: str
    demo: gr.Blocks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _new_user(kb: Container, role: str = "compliance") -> UserContext:
    return kb.users.add(f"ui-{uuid.uuid4().hex[:10]}", role, PASSWORD)


@pytest.fixture(scope="module")
def served(kb: Container) -> Iterator[Served]:
    # serve_ui itself, so the login wiring (auth=, auth_message=) is what is tested; the kb
    # Container is reused because Qdrant's local mode allows one client per folder.
    demo = serve_ui(kb, host="127.0.0.1", port=_free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield Served(demo.local_url, demo)
    finally:
        demo.close()


def _client(served: Served, user: UserContext) -> Client:
    return Client(served.url, auth=(user.name, PASSWORD), verbose=False)


# ---- rendering, no server -------------------------------------------------------------


def test_sources_escape_article_text_and_refuse_unsafe_links() -> None:
    html = render.sources_html(
        [
            {
                "label": "銀行法第45-2條",
                "text": "<script>alert(1)</script> & 第二項",
                "amended": "2023-06-28",
                "url": "https://law.moj.gov.tw/LawClass/LawSingle.aspx?pcode=G0380001&flno=45-2",
            },
            {"label": "〔某法第1條〕", "text": "x", "url": "javascript:alert(1)"},
        ],
        "zh-TW",
    )
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 第二項" in html
    assert "〔銀行法第45-2條〕" in html and "〔〔" not in html
    assert "修正日期 2023-06-28" in html
    assert (
        'href="https://law.moj.gov.tw/LawClass/LawSingle.aspx?pcode=G0380001&amp;flno=45-2"' in html
    )
    assert "javascript:" not in html
    assert "Amended 2023-06-28" in render.sources_html(
        [{"label": "x", "amended": "2023-06-28"}], "en"
    )


def test_trace_escapes_tool_arguments() -> None:
    html = render.trace_html(
        [{"node": "compliance.search", "detail": "5 hits", "seconds": 0.7}],
        [{"name": "search_regulations", "args": {"query": "<b>q</b>"}, "summary": "ok"}],
        "zh-TW",
    )
    assert "compliance.search" in html and "search_regulations" in html
    assert "<b>q</b>" not in html and "&lt;b&gt;q&lt;/b&gt;" in html


def test_labels_follow_the_language(kb: Container) -> None:
    def values(demo: gr.Blocks) -> dict[str, str]:
        comps = demo.get_config_file()["components"]
        return {
            c["props"]["elem_id"]: c["props"].get("value") or c["props"].get("label")
            for c in comps
            if c["props"].get("elem_id")
        }

    zh = values(build_app(kb.service, kb.users))
    en = values(build_app(kb.service, kb.users, language="en"))
    assert zh["twfin-send"] == "送出" and en["twfin-send"] == "Send"
    assert zh["twfin-banner"] == banner_text(kb.service, "zh-TW")
    assert en["twfin-banner"] == banner_text(kb.service, "en")
    # No model in the test settings: the banner says answers are composed without one.
    assert not kb.service.model_loaded
    assert "未載入語言模型" in zh["twfin-banner"]


# ---- login and the named API ----------------------------------------------------------


def test_login_is_required(served: Served, kb: Container) -> None:
    user = _new_user(kb)
    with pytest.raises(ValueError, match="Could not login"):
        Client(served.url, auth=(user.name, "wrong-password"), verbose=False)
    # Without a session nothing is served: not the page's config, not the API.
    assert httpx.get(f"{served.url}config").status_code == 401
    call = httpx.post(f"{served.url}gradio_api/call/ask", json={"data": [QUESTION, None]})
    assert call.status_code == 401


def test_api_ask_feedback_and_conversations(served: Served, kb: Container) -> None:
    user = _new_user(kb)
    client = _client(served, user)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/ask", "/feedback", "/conversations", "/messages"} <= set(endpoints)

    answer = client.predict(QUESTION, None, api_name="/ask")
    assert answer["agent"] == "compliance"
    assert any(c["law"] == "銀行法" and c["article"] == "45-2" for c in answer["citations"])
    assert "銀行法第45-2條" in answer["answer"]
    assert isinstance(answer["audit_id"], int) and answer["conversation_id"]
    # The audit trail names the logged-in user, not anything the client sent.
    assert kb.audit.get(answer["audit_id"]).user_name == user.name

    saved = client.predict(answer["audit_id"], 1, "條文引用正確", api_name="/feedback")
    assert saved["audit_id"] == answer["audit_id"]
    rows = kb.audit.feedback_for(answer["audit_id"])
    assert [(r.rating, r.comment, r.user_id) for r in rows] == [(1, "條文引用正確", user.user_id)]

    listed = client.predict(api_name="/conversations")
    assert [c["id"] for c in listed] == [answer["conversation_id"]]
    messages = client.predict(answer["conversation_id"], api_name="/messages")
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["audit_id"] == answer["audit_id"]
    assert any(c["article"] == "45-2" for c in messages[1]["extra"]["citations"])


def test_api_errors_are_messages(served: Served, kb: Container) -> None:
    user, other = _new_user(kb), _new_user(kb)
    client = _client(served, user)
    theirs = kb.service.ask(other, QUESTION)

    with pytest.raises(Exception, match="問題是空的") as empty:
        client.predict("   ", None, api_name="/ask")
    assert "Traceback" not in str(empty.value)
    # Someone else's conversation and answer read as missing.
    with pytest.raises(Exception, match="找不到這段對話"):
        client.predict(QUESTION, theirs.conversation_id, api_name="/ask")
    with pytest.raises(Exception, match="沒有這則回答"):
        client.predict(theirs.audit_id, 1, "", api_name="/feedback")
    with pytest.raises(Exception, match="rating"):
        client.predict(theirs.audit_id, 0, "", api_name="/feedback")
    assert kb.audit.feedback_for(theirs.audit_id) == []


# ---- the page in a browser ------------------------------------------------------------


def test_browser_chat(served: Served, kb: Container, caplog: pytest.LogCaptureFixture) -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"browser test needs Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    user = _new_user(kb)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="zh-TW", viewport={"width": 1400, "height": 1000})
            page = page.new_page()
            page.set_default_timeout(WAIT_MS)
            expect.set_options(timeout=WAIT_MS)

            # Gradio's login page, with the bilingual message.
            page.goto(served.url)
            expect(page.get_by_text("TWFin 金融法遵助理：請以行內帳號登入")).to_be_visible()
            page.locator("input[type=password]").fill("not-the-password")
            page.locator("input[type=text]").fill(user.name)
            page.get_by_role("button").click()
            # Refused, and still on the login page (Gradio's own words, in the page's locale).
            expect(page.get_by_text(re.compile("憑證錯誤|Incorrect Credentials"))).to_be_visible()
            expect(page.locator("#twfin-question")).to_have_count(0)
            page.locator("input[type=text]").fill(user.name)  # the failed try cleared it
            page.locator("input[type=password]").fill(PASSWORD)
            page.get_by_role("button").click()

            box = page.locator("#twfin-question textarea")
            expect(box).to_be_visible()
            expect(page.locator("#twfin-banner")).to_contain_text("未載入語言模型")
            expect(page.locator("#twfin-user")).to_contain_text(user.name)

            # Ask; the answer streams into the chat and the sources panel fills.
            box.fill(QUESTION)
            box.press("Enter")
            sources = page.locator("#twfin-sources")
            expect(sources).to_contain_text("〔銀行法第45-2條〕")
            expect(sources).to_contain_text("修正日期 2023-06-28")
            expect(sources).to_contain_text("對疑似不法或顯屬異常交易之存款帳戶")
            link = sources.locator("a", has_text="查看條文原文").first
            expect(link).to_have_attribute("href", re.compile(r"law\.moj\.gov\.tw.*45-2"))
            chat = page.locator("#twfin-chatbot")
            expect(chat).to_contain_text("銀行法第45-2條")
            expect(page.locator("#twfin-status")).to_contain_text("compliance")
            expect(page.locator("#twfin-conversations")).to_contain_text(QUESTION[:10])
            # A compliance officer is not shown the 防詐 and 管理 tabs (the permission table's
            # fraud.read and admin.evals, asked on the page's load, long done by now); the
            # 外匯 tab is everyone's.
            expect(page.get_by_role("tab", name="外匯")).to_be_visible()
            expect(page.get_by_role("tab", name="防詐")).to_have_count(0)
            expect(page.get_by_role("tab", name="管理")).to_have_count(0)

            # Steps and tool calls: there, but behind a closed accordion until asked for.
            trace = page.locator("#twfin-trace")
            expect(trace.get_by_text("search_regulations")).to_be_hidden()
            trace.get_by_text("代理步驟與工具呼叫").click()
            expect(trace.get_by_text("search_regulations")).to_be_visible()
            expect(trace).to_contain_text("compliance.search")

            # Feedback on the last answer is stored with its comment.
            page.locator("#twfin-comment textarea, #twfin-comment input").first.fill("清楚")
            page.locator("#twfin-up").click()
            expect(page.locator("#twfin-feedback-status")).to_contain_text("已記錄")
            (conv,) = kb.service.conversations(user)
            audit_id = render.last_answer(kb.service.messages(user, conv.id)).audit_id
            assert [(f.rating, f.comment) for f in kb.audit.feedback_for(audit_id)] == [(1, "清楚")]

            # A new conversation clears the page; choosing the old one brings it back.
            page.locator("#twfin-new").click()
            expect(chat).not_to_contain_text("銀行法第45-2條")
            expect(sources).not_to_contain_text("銀行法第45-2條")
            page.locator("#twfin-conversations").get_by_text(QUESTION[:10]).click()
            expect(chat).to_contain_text(QUESTION)
            expect(sources).to_contain_text("〔銀行法第45-2條〕")

            # An error is a message, and the conversation stays on the page.
            box.fill(" ")
            box.press("Enter")
            expect(page.locator("#twfin-status")).to_contain_text("問題是空的")
            expect(chat).to_contain_text(QUESTION)

            # English on demand: labels, banner and panels switch.
            page.locator("#twfin-language").get_by_text("English").click()
            expect(page.locator("#twfin-send")).to_have_text("Send")
            expect(page.locator("#twfin-banner")).to_contain_text("No language model is loaded")
            expect(sources).to_contain_text("Amended 2023-06-28")
            expect(chat).to_contain_text(QUESTION)
        finally:
            browser.close()
    # The streamed turn ran in one context: its telemetry span ended where it began.
    assert "Failed to detach context" not in caplog.text


# ---- logins end ------------------------------------------------------------------------


def test_sessions_expire_by_lifetime_and_by_idleness() -> None:
    now = [0.0]
    ended: list[str] = []
    tokens = ExpiringTokens(3600, 600, clock=lambda: now[0], on_expired=ended.append)
    tokens["a"] = "officer"
    now[0] = 500
    assert tokens.get("a") == "officer"  # in use: the idle clock restarts
    now[0] = 1000
    assert tokens.get("a") == "officer"
    now[0] = 1700  # 700 s idle
    assert tokens.get("a") is None and "a" not in tokens and ended == ["officer"]
    tokens["b"] = "analyst"
    for step in range(1, 8):  # busy all the time, yet the login ends after an hour
        now[0] = 1700 + step * 500
        expected = "analyst" if step * 500 <= 3600 else None
        assert tokens.get("b") == expected


def test_an_expired_login_is_asked_to_log_in_again(served: Served, kb: Container) -> None:
    user = _new_user(kb)
    client = _client(served, user)
    assert client.predict(api_name="/conversations") == []
    tokens = served.demo.server_app.tokens
    assert isinstance(tokens, ExpiringTokens)
    real = tokens._clock
    tokens._clock = lambda: real() + 9 * 3600  # past the 8-hour default
    try:
        with pytest.raises(Exception, match=r"401 Unauthorized|請先登入"):
            client.predict(api_name="/conversations")
    finally:
        tokens._clock = real
    # A new login works again.
    assert _client(served, user).predict(api_name="/conversations") == []
