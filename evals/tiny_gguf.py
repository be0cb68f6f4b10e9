"""Build a tiny, random-weight LLaMA-architecture GGUF model for tests, evals and benchmarks.

It lives in an installed package, not under tests/, so that the reliability evals and the agent
benchmark build it without reaching into the test suite. Whatever exercises the local-LLM path
(``llama_cpp.Llama``: loading, tokenising, completion, streaming, chat templates and
grammar/JSON-schema constrained decoding) needs a real GGUF file, but real model weights are
large and must never be downloaded in CI. ``build_tiny_gguf`` writes a ~450 KB model with the
``gguf`` package instead, so the *real* llama.cpp code path runs in milliseconds on a couple of
CPU cores.

What it builds:

* architecture ``llama``: 2 layers, embedding 64, 4 attention heads, 2 KV heads (GQA),
  feed-forward 128, RMSNorm, RoPE; float32 weights drawn from a seeded normal distribution,
  so the file is byte-for-byte deterministic for a given ``seed``;
* a SentencePiece-style (``tokenizer.ggml.model = "llama"``) byte-fallback vocabulary:
  ``<unk>``, ``<s>``, ``</s>``, the 256 byte tokens ``<0x00>``..``<0xFF>``, the ChatML control
  tokens ``<|im_start|>``/``<|im_end|>`` and a handful of ordinary pieces. Any UTF-8 text
  (Traditional Chinese included) is encoded, falling back to bytes, and detokenises back to the
  exact same bytes (``add_space_prefix`` is off, so no leading "▁" is inserted; but
  llama-cpp-python's ``detokenize`` drops one leading space after a BOS token, so round-trip
  text that starts with a space using ``tokenize(..., add_bos=False)``);
* BOS ``<s>`` (id 1, added automatically), EOS ``</s>`` (id 2), EOT ``<|im_end|>``, and a
  ChatML-style Jinja ``tokenizer.chat_template``.

The weights are random, so generated text is gibberish; under a grammar (e.g. a JSON schema)
the output is still well-formed, which is what the tests check. Because random byte tokens are
often invalid UTF-8 (llama-cpp-python drops them), plain completions may return little or even
empty text, and ``usage.completion_tokens`` may exceed ``max_tokens``; assert on types, finish
reasons and grammar-constrained output, not on text length. Pass ``n_threads=1,
n_threads_batch=1`` to ``llama_cpp.Llama`` in tests to avoid thread-spin stalls on small runners.
"""

from __future__ import annotations

import pathlib

import gguf
import numpy as np
import numpy.typing as npt

N_LAYER: int = 2
N_EMBD: int = 64
N_HEAD: int = 4
N_HEAD_KV: int = 2
N_FF: int = 128
RMS_EPS: float = 1e-5
ROPE_THETA: float = 10000.0

UNK_ID: int = 0
BOS_ID: int = 1
EOS_ID: int = 2

CHAT_TEMPLATE: str = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Ordinary (NORMAL) pieces. SentencePiece merging only reaches a multi-character piece through
# pieces that are themselves in the vocabulary, so every prefix chain used here is present.
_NORMAL_PIECES: tuple[str, ...] = (
    "▁",
    "{",
    "}",
    '"',
    ":",
    ",",
    '{"',
    '":',
    '",',
    "e",
    "h",
    "l",
    "o",
    "he",
    "ll",
    "hell",
    "hello",
)


def _vocab() -> tuple[list[str], list[float], list[int]]:
    """Return (pieces, scores, token types) of the byte-fallback SentencePiece vocabulary."""
    tokens: list[str] = ["<unk>", "<s>", "</s>"]
    scores: list[float] = [0.0, 0.0, 0.0]
    types: list[int] = [
        int(gguf.TokenType.UNKNOWN),
        int(gguf.TokenType.CONTROL),
        int(gguf.TokenType.CONTROL),
    ]
    for byte in range(256):
        tokens.append(f"<0x{byte:02X}>")
        scores.append(0.0)
        types.append(int(gguf.TokenType.BYTE))
    for special in ("<|im_start|>", "<|im_end|>"):
        tokens.append(special)
        scores.append(0.0)
        types.append(int(gguf.TokenType.CONTROL))
    for piece in _NORMAL_PIECES:
        tokens.append(piece)
        # Longer pieces score higher, so SentencePiece prefers merging into them.
        scores.append(float(len(piece)))
        types.append(int(gguf.TokenType.NORMAL))
    return tokens, scores, types


def build_tiny_gguf(path: pathlib.Path, *, seed: int = 0, n_ctx_train: int = 512) -> pathlib.Path:
    """Write a tiny random-weight LLaMA GGUF model to ``path`` and return ``path``.

    Deterministic for a given ``seed``; ``n_ctx_train`` becomes ``llama.context_length``.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tokens, scores, types = _vocab()
    n_vocab = len(tokens)
    head_dim = N_EMBD // N_HEAD

    def rand(*shape: int, std: float = 0.02) -> npt.NDArray[np.float32]:
        # numpy shape is (rows, cols) = (out_features, in_features); gguf reverses it to ne.
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def ones(n: int) -> npt.NDArray[np.float32]:
        return np.ones(n, dtype=np.float32)

    writer = gguf.GGUFWriter(path, "llama")
    try:
        writer.add_name("tiny-random-llama (test fixture)")
        writer.add_file_type(int(gguf.LlamaFileType.ALL_F32))
        writer.add_vocab_size(n_vocab)
        writer.add_context_length(n_ctx_train)
        writer.add_embedding_length(N_EMBD)
        writer.add_block_count(N_LAYER)
        writer.add_feed_forward_length(N_FF)
        writer.add_head_count(N_HEAD)
        writer.add_head_count_kv(N_HEAD_KV)
        writer.add_rope_dimension_count(head_dim)
        writer.add_rope_freq_base(ROPE_THETA)
        writer.add_layer_norm_rms_eps(RMS_EPS)

        writer.add_tokenizer_model("llama")
        writer.add_token_list(tokens)
        writer.add_token_scores(scores)
        writer.add_token_types(types)
        writer.add_bos_token_id(BOS_ID)
        writer.add_eos_token_id(EOS_ID)
        writer.add_unk_token_id(UNK_ID)
        writer.add_eot_token_id(tokens.index("<|im_end|>"))
        writer.add_add_bos_token(True)
        writer.add_add_eos_token(False)
        writer.add_add_space_prefix(False)
        writer.add_chat_template(CHAT_TEMPLATE)

        writer.add_tensor("token_embd.weight", rand(n_vocab, N_EMBD, std=1.0))
        for i in range(N_LAYER):
            blk = f"blk.{i}"
            writer.add_tensor(f"{blk}.attn_norm.weight", ones(N_EMBD))
            writer.add_tensor(f"{blk}.attn_q.weight", rand(N_HEAD * head_dim, N_EMBD))
            writer.add_tensor(f"{blk}.attn_k.weight", rand(N_HEAD_KV * head_dim, N_EMBD))
            writer.add_tensor(f"{blk}.attn_v.weight", rand(N_HEAD_KV * head_dim, N_EMBD))
            writer.add_tensor(f"{blk}.attn_output.weight", rand(N_EMBD, N_HEAD * head_dim))
            writer.add_tensor(f"{blk}.ffn_norm.weight", ones(N_EMBD))
            writer.add_tensor(f"{blk}.ffn_gate.weight", rand(N_FF, N_EMBD))
            writer.add_tensor(f"{blk}.ffn_up.weight", rand(N_FF, N_EMBD))
            writer.add_tensor(f"{blk}.ffn_down.weight", rand(N_EMBD, N_FF))
        writer.add_tensor("output_norm.weight", ones(N_EMBD))
        writer.add_tensor("output.weight", rand(n_vocab, N_EMBD, std=1.0))

        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return path
