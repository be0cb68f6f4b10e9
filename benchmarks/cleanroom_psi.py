"""The clean room's private set intersection at size: the bank's 100,000 identifiers against a
partner's 10,000 (1,000 shared), the partner a process of its own over loopback that makes its
list in its own memory (nothing of either list is written to disk, nor sent to the other side).

Both ways round, each checked to find exactly the shared identifiers:

- ``bank_asks``: the bank is the PSI client (its 100,000 blinded twice), the partner answers;
- ``bank_answers``: the partner asks with its 10,000, the bank answers (its 100,000 blinded
  once): the faster way round.

Side by side, what a clean room replaces: both sides exchanging salted sha256 digests of their
lists (``hash_exchange``), fast and not private (a phone number's digest is found by hashing all
10^8 numbers of its range, so each side learns the other's whole list).

``python -m benchmarks.cleanroom_psi [--bank 100000 --partner 10000 --shared 1000]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import threading
import time
from typing import Any

from assistant.cleanroom.psi import listen, query, serve
from assistant.cleanroom.synthetic import phone_list


def _partner(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "assistant.cleanroom.partner", *args],
        stdout=subprocess.PIPE,
        text=True,
    )


def bank_asks(bank: list[str], spec: str, mode: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    p = _partner(["--synthetic", spec, "--mode", mode])
    port = json.loads(p.stdout.readline())["port"]  # type: ignore[union-attr]
    r = query("127.0.0.1", port, bank, mode=mode)
    theirs = json.loads(p.stdout.readline())  # type: ignore[union-attr]
    p.wait(timeout=60)
    return {"seconds": time.perf_counter() - t0, "bank": r, "partner": theirs}


def bank_answers(bank: list[str], spec: str, mode: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    box: dict[str, Any] = {}
    with listen("127.0.0.1", 0) as listener:
        port = listener.getsockname()[1]
        t = threading.Thread(target=lambda: box.update(r=serve(listener, bank, mode=mode)))
        t.start()
        p = _partner(["--synthetic", spec, "--mode", mode, "--connect", f"127.0.0.1:{port}"])
        theirs = json.loads(p.stdout.readline())  # type: ignore[union-attr]
        p.wait(timeout=600)
        t.join()
    return {"seconds": time.perf_counter() - t0, "bank": box["r"], "partner": theirs}


def hash_exchange(bank: list[str], partner: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    salt = b"shared-salt"
    mine = {hashlib.sha256(salt + x.encode()).digest(): x for x in bank}
    theirs = {hashlib.sha256(salt + x.encode()).digest() for x in partner}
    shared = [x for h, x in mine.items() if h in theirs]
    return {"seconds": time.perf_counter() - t0, "count": len(shared)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bank", type=int, default=100_000)
    ap.add_argument("--partner", type=int, default=10_000)
    ap.add_argument("--shared", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mode", choices=("ids", "count"), default="ids")
    args = ap.parse_args(argv)
    spec = f"{args.partner}:{args.shared}:{args.seed}"
    bank = phone_list("bank", args.bank, args.shared, args.seed)
    # the expected answer, computed here only to check the runs (the runs never see it)
    expected = set(bank) & set(phone_list("partner", args.partner, args.shared, args.seed))
    out: dict[str, Any] = {"bank": args.bank, "partner": args.partner, "shared": len(expected)}
    for name, run in (("bank_answers", bank_answers), ("bank_asks", bank_asks)):
        got = run(bank, spec, args.mode)
        r = got["bank"]
        exact = set(r.shared or []) == expected if args.mode == "ids" else r.count == len(expected)
        out[name] = {
            "seconds": round(got["seconds"], 2),
            "exact": exact,
            "count": r.count,
            "partner_learned": got["partner"]["revealed"],
            "partner_count": got["partner"]["count"],
            "bytes_sent": r.bytes_sent,
            "bytes_received": r.bytes_received,
        }
        print(f"{name}: {got['seconds']:.1f}s exact={exact}", file=sys.stderr)
    base = hash_exchange(bank, phone_list("partner", args.partner, args.shared, args.seed))
    out["hash_exchange"] = {
        "seconds": round(base["seconds"], 3),
        "count": base["count"],
        "private": False,
    }
    out["ratio_psi_to_hash"] = round(out["bank_answers"]["seconds"] / base["seconds"], 1)
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0 if all(out[k]["exact"] for k in ("bank_answers", "bank_asks")) else 1


if __name__ == "__main__":
    raise SystemExit(main())
