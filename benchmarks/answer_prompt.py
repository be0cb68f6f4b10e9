"""Answer-prompt benchmark: what a compliance answer costs a real model on this CPU, with the
prompt the agent builds (the question's sentences of three articles, numbered, three sentences
asked for) side by side with the strongest alternative, the whole-article prompt it replaced
(five articles in full, a long rule list, up to 768 tokens), on the same model, questions and
retrieved articles.

    python -m benchmarks.answer_prompt --data-dir DIR --model qwen1.5b [--limit 8]

Reports per variant the prompt's tokens, time to first token, tokens out and total seconds
(median over the questions), and the ratios excerpt / whole.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from agents.compliance import prompts
from agents.compliance.compose import QUOTED, key_terms, model_excerpts
from agents.compliance.tools import search_regulations
from agents.promptguard import Fence
from assistant.container import Container
from assistant.llm.base import Message
from assistant.llm.llama_cpp import LlamaCppLLM
from assistant.llm.model_store import ModelStore
from assistant.settings import load_settings
from evals.retrieval import load_cases

ROOT = Path(__file__).resolve().parents[1]

# The prompt the compliance agent used before it was built for small models: kept here, as
# the baseline, word for word.
WHOLE_SYSTEM = (
    "你是臺灣銀行業的法遵助理，回答銀行員工的法規問題。\n"
    "規則：\n"
    "1. 只能根據「參考條文」回答，不得以一般知識或記憶補充。\n"
    "2. 每個論點後以〔法規名稱第N條〕標註出處，例如〔銀行法第32條〕，並註明該條的修正日期。\n"
    "3. 參考條文沒有可依據的內容時，只回答：「知識庫中沒有可依據的條文。」\n"
    "4. 使用繁體中文，簡潔、條列重點。"
)
WHOLE_MAX_TOKENS = 768


def whole_prompt(hits: list[dict[str, Any]], question: str, fence: Fence) -> list[Message]:
    parts = [
        f"〔{h['label']}〕（修正日期 {h.get('amended') or '不詳'}）\n{h['text']}" for h in hits
    ]
    block = "參考條文：\n" + fence.wrap("reference articles", "\n\n".join(parts))
    return [
        Message("system", WHOLE_SYSTEM),
        Message("user", block, trimmable=True),
        Message("user", question),
    ]


def excerpt_prompt(
    c: Container, hits: list[dict[str, Any]], question: str, fence: Fence
) -> list[Message]:
    terms = key_terms(c.retriever, question)
    excerpts = model_excerpts(c.analyzer, terms, hits[:QUOTED])
    return [
        Message("system", prompts.SYSTEM_ZH),
        Message("user", prompts.context_block(excerpts, False, fence), trimmable=True),
        Message("user", prompts.question_block(question, False)),
    ]


def measure(llm: LlamaCppLLM, messages: list[Message], max_tokens: int) -> dict[str, float]:
    started = time.perf_counter()
    first: float | None = None
    text = []
    for piece in llm.stream(messages, max_tokens=max_tokens):
        if first is None and piece:
            first = time.perf_counter() - started
        text.append(piece)
    total = time.perf_counter() - started
    prompt_tokens = sum(llm.count_tokens(m.content) for m in messages)
    return {
        "prompt_tokens": prompt_tokens,
        "first_token_s": first if first is not None else total,
        "tokens_out": llm.count_tokens("".join(text)),
        "total_s": total,
    }


def median_of(rows: list[dict[str, float]], key: str) -> float:
    return round(statistics.median(r[key] for r in rows), 2)


def main() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="An ingested corpus.")
    parser.add_argument("--model", required=True, help="A catalog name or a GGUF path.")
    parser.add_argument(
        "--questions",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "eval" / "regulation_dev.jsonl",
    )
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    c = Container(load_settings(data_dir=args.data_dir))
    try:
        path = ModelStore(args.data_dir).resolve(args.model)
        llm = LlamaCppLLM(path, context_size=4096, threads=args.threads)
        user = c.eval_user()
        questions = [case.q for case in load_cases(args.questions) if not case.q.isascii()]
        questions = questions[: args.limit]
        fence = Fence("bench")  # one nonce: both variants' prompts differ only by design
        llm.count_tokens("銀行")  # load the model outside the figures
        rows: dict[str, list[dict[str, float]]] = {"excerpt": [], "whole": []}
        for n, q in enumerate(questions, 1):
            hits, _ = search_regulations(c.compliance_desk, user, q, c.settings.agents.top_k)
            # Alternate the order so neither variant always runs on a warm prompt cache.
            variants = [
                ("excerpt", excerpt_prompt(c, hits, q, fence), c.settings.agents.answer_max_tokens),
                ("whole", whole_prompt(hits, q, fence), WHOLE_MAX_TOKENS),
            ]
            for name, messages, max_tokens in variants if n % 2 else variants[::-1]:
                rows[name].append(measure(llm, messages, max_tokens))
            print(f"{n}/{len(questions)}", flush=True)
        report: dict[str, Any] = {"model": path.name, "questions": len(questions)}
        for name, got in rows.items():
            report[name] = {
                k: median_of(got, k)
                for k in ("prompt_tokens", "first_token_s", "tokens_out", "total_s")
            }
        for k in ("prompt_tokens", "first_token_s", "total_s"):
            whole = report["whole"][k]
            report[f"ratio_{k}"] = round(report["excerpt"][k] / whole, 2) if whole else None
    finally:
        c.close()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"{report['model']}, {report['questions']} questions (medians)")
    print(f"{'':10}{'prompt tok':>12}{'first tok s':>13}{'tok out':>9}{'total s':>9}")
    for name in ("excerpt", "whole"):
        r = report[name]
        print(
            f"{name:10}{r['prompt_tokens']:>12}{r['first_token_s']:>13}"
            f"{r['tokens_out']:>9}{r['total_s']:>9}"
        )
    print(
        f"excerpt / whole: prompt {report['ratio_prompt_tokens']}, first token "
        f"{report['ratio_first_token_s']}, total {report['ratio_total_s']}"
    )


if __name__ == "__main__":
    main()
