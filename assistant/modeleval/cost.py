"""What a model costs on this machine: identity of the file, load time, memory, speed.

Every model is measured with the same fixed prompts, in the same process, one after another,
so the figures compare side by side (absolute numbers depend on the machine and its load).
"""

from __future__ import annotations

import hashlib
import re
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.llm.base import LLM, Message

# A question with a passage of regulation-style text, so prompt speed is measured over a few
# hundred tokens rather than a dozen. Written here, not read from the corpus: the prompt must
# not change when the knowledge base does.
_PASSAGE = (
    "銀行對於存款帳戶應建立風險管理機制，對疑似不法或顯屬異常交易之帳戶，得予以暫停存入或提領、"
    "匯出款項。銀行辦理授信時，應審酌借款人之信用狀況、資金用途、還款來源、債權保障及授信展望，"
    "並依內部規範落實徵信及覆審。對利害關係人為擔保授信者，應有十足擔保，其條件不得優於其他同類"
    "授信對象。銀行應確認客戶身分，對於高風險客戶採取強化審查措施，並保存交易紀錄至少五年。"
)
COST_PROMPT: list[Message] = [
    Message("system", "你是臺灣銀行業的法遵助理，請以繁體中文簡潔回答。"),
    Message("user", f"參考資料：\n{_PASSAGE * 2}\n\n問題：銀行對疑似不法交易的帳戶可以怎麼處理？"),
]
GEN_TOKENS = 64

_QUANT = re.compile(
    r"(IQ\d_[A-Z]+|Q\d_K_[SML]|Q\d_K|Q\d_\d|Q\d_[01]|BF16|F16|F32|FP16|TQ\d_\d)", re.I
)


def rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc; elsewhere the peak, which is what
    getrusage knows)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _field(reader: Any, key: str) -> Any:
    f = reader.fields.get(key)
    if f is None or not f.data:
        return None
    part = f.parts[f.data[0]]
    if f.types and f.types[0].name == "STRING":
        return bytes(part).decode("utf-8", errors="replace")
    return part.tolist()[0] if hasattr(part, "tolist") else part


def gguf_metadata(path: Path) -> dict[str, Any]:
    """Name, architecture and quantization from the GGUF header (memory-mapped, not read)."""
    try:
        import gguf
    except ImportError:
        return {}
    try:
        reader = gguf.GGUFReader(path)
    except Exception:  # not a GGUF file we can parse: fall back to the file name
        return {}
    out: dict[str, Any] = {
        "name": _field(reader, "general.name"),
        "architecture": _field(reader, "general.architecture"),
        "size_label": _field(reader, "general.size_label"),
    }
    file_type = _field(reader, "general.file_type")
    if file_type is not None:
        try:
            # MOSTLY_Q4_K_M → Q4_K_M, ALL_F32 → F32
            name = gguf.LlamaFileType(int(file_type)).name
            out["quantization"] = name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            out["quantization"] = f"file_type {file_type}"
    return {k: v for k, v in out.items() if v is not None}


def model_info(path: Path, fingerprint: Callable[[Path], str] | None = None) -> dict[str, Any]:
    """What the report names a model by: file, sha256, size, quantization."""
    if fingerprint is not None:
        sha = fingerprint(path)  # the audit log caches it by (path, size, mtime)
    else:
        with path.open("rb") as fh:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
    meta = gguf_metadata(path)
    if "quantization" not in meta:
        m = _QUANT.search(path.name)
        meta["quantization"] = m.group(1).upper() if m else "unknown"
    return {
        "file": path.name,
        "path": str(path.resolve()),
        "sha256": sha,
        "size_bytes": path.stat().st_size,
        "backend": "llama_cpp",
        **meta,
    }


def measure_cost(llm: LLM) -> dict[str, Any]:
    """Load time, RSS delta and speed of a model not yet loaded.

    Time to first token is a one-token completion of the fixed prompt (prompt processing plus
    one decoded token: what a user waits for before text appears). Generation speed is the
    same prompt again with GEN_TOKENS to write: llama.cpp reuses the evaluated prompt prefix,
    so that call's time is decoding, not the prompt a second time.
    """
    before = rss_bytes()
    started = time.perf_counter()
    llm.count_tokens("銀行")  # the first call loads the model file
    load_s = time.perf_counter() - started
    loaded = rss_bytes()
    first = llm.complete(COST_PROMPT, max_tokens=1)
    gen = llm.complete(COST_PROMPT, max_tokens=GEN_TOKENS)
    # Weights are memory-mapped: pages count once the first forward pass has touched them.
    after = rss_bytes()
    return {
        "load_s": round(load_s, 3),
        "rss_load_bytes": max(loaded - before, 0),
        "rss_delta_bytes": max(after - before, 0),
        "prompt_tokens": first.tokens_in,
        "time_to_first_token_s": round(first.seconds, 4),
        "prompt_tokens_per_s": round(first.tokens_in / first.seconds, 1) if first.seconds else None,
        "generated_tokens": gen.tokens_out,
        "generation_tokens_per_s": (
            round(gen.tokens_out / gen.seconds, 1) if gen.seconds and gen.tokens_out else None
        ),
    }
