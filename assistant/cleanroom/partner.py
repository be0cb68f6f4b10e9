"""The partner's side of the clean room as a process of its own:

``python -m assistant.cleanroom.partner --list numbers.txt --port 7700 --mode ids``

reads its identifiers (one a line) from its own file, or makes a synthetic list (``--synthetic
SIZE:SHARED:SEED``, for the test and the benchmark), listens on loopback, answers one query and
prints its report as one JSON line (what it learned: the shared identifiers' count and sha256,
the size of the bank's list). The first line it prints is ``{"port": N}``, once it listens.
With ``--connect HOST:PORT`` it asks instead (the bank answers): the side with the longer list
answering is the faster way round (its list is blinded once, the asker's twice).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.cleanroom.psi import MODES, listen, query, serve
from assistant.cleanroom.synthetic import phone_list


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="The partner's side of the clean room (one query).")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--list", type=Path, help="Identifiers, one a line (UTF-8).")
    src.add_argument("--synthetic", help="SIZE:SHARED:SEED, a synthetic phone-number list.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--connect", help="HOST:PORT of the bank's side, to ask rather than answer.")
    ap.add_argument("--mode", choices=MODES, default="ids")
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args(argv)
    if args.list is not None:
        items = args.list.read_text(encoding="utf-8").splitlines()
    else:
        size, shared, seed = (int(x) for x in args.synthetic.split(":"))
        items = phone_list("partner", size, shared, seed)
    if args.connect:
        host, _, port = args.connect.rpartition(":")
        report = query(host, int(port), items, mode=args.mode, timeout=args.timeout)
    else:
        listener = listen(args.host, args.port)
        print(json.dumps({"port": listener.getsockname()[1]}), flush=True)
        with listener:
            report = serve(listener, items, mode=args.mode, timeout=args.timeout)
    print(json.dumps(report.to_dict(), ensure_ascii=False), flush=True)
    return 0 if report.verified else 1


if __name__ == "__main__":
    sys.exit(main())
