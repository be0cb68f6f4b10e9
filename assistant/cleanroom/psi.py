"""金融無塵室 / a clean room for partners: private set intersection between two processes.

Two parties (the bank and a partner: a telecom with scam phone numbers, an exchange with scam
wallets) find the identifiers they share without handing their lists over. The protocol is the
ECDH-based PSI of ``openmined_psi``: the *client* (the side that asks, by default the bank) sends
its identifiers blinded with its secret key; the *server* (the partner) blinds them again and
sends back, with its own identifiers blinded under its key in a compressed set (a Golomb-coded
set, false-positive rate ``fpr`` over the whole query). Only the client can unblind its own
items, so it learns which of them are in the partner's set (``mode="ids"``) or only how many
(``mode="count"``); the partner learns the size of the client's list and nothing else. Then, so
that both sides end up knowing the same thing and no more, the client tells the partner the
shared identifiers (``ids``) or the count (``count``), and the partner checks each named one is
in its own list (a client cannot make it "learn" identifiers it does not hold).

The wire is TCP, loopback by default, each message a 4-byte big-endian length and its bytes:
client hello (JSON) → server hello (JSON) → request → setup, response → result (JSON) → ack
(JSON). Neither list is written to disk by this module; each side keeps its own in memory.
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from assistant.errors import AssistantError

MODES = ("ids", "count")
FPR = 1e-9  # false-positive rate of the whole query
MAX_MESSAGE = 512 * 1024 * 1024  # a 10M-entry request is ~330 MB
PROTOCOL = "twfin-psi/1"


def normalize(identifier: str) -> str:
    """An identifier as both sides must write it to match: full-width folded (NFKC), spaces and
    dashes removed, lower-cased (phone numbers, LINE IDs, domains, wallet addresses)."""
    text = unicodedata.normalize("NFKC", str(identifier)).strip().lower()
    return "".join(ch for ch in text if ch not in " -\t")


def prepare(items: Iterable[str]) -> list[str]:
    """Distinct normalised identifiers, empty ones dropped, in first-seen order."""
    return list(dict.fromkeys(x for x in map(normalize, items) if x))


def digest(items: Iterable[str]) -> str:
    """sha256 over the sorted identifiers: what the audit keeps of a revealed list (it names the
    list without holding it)."""
    h = hashlib.sha256()
    for x in sorted(items):
        h.update(x.encode("utf-8") + b"\n")
    return h.hexdigest()


@dataclass
class PsiReport:
    role: str  # client | server
    mode: str
    own_items: int
    other_items: int  # what the protocol tells each side of the other's list: its size
    count: int
    shared: list[str] | None = None  # the shared identifiers (mode "ids"), else None
    seconds: float = 0.0
    bytes_sent: int = 0
    bytes_received: int = 0
    verified: bool = False  # the server found every named identifier in its own list
    peer: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def revealed(self) -> str:
        """What this side learned of the other's list, in words (for the audit record)."""
        if self.mode == "ids":
            return (
                f"雙方共有的 {self.count} 個識別碼與對方清單筆數 {self.other_items} / the "
                f"{self.count} shared identifiers and the size of the other list "
                f"({self.other_items})"
            )
        return (
            f"僅共有筆數 {self.count} 與對方清單筆數 {self.other_items} / only the shared count "
            f"({self.count}) and the size of the other list ({self.other_items})"
        )

    def to_dict(self, *, with_ids: bool = False) -> dict[str, Any]:
        out = {
            "role": self.role,
            "mode": self.mode,
            "own_items": self.own_items,
            "other_items": self.other_items,
            "count": self.count,
            "shared_sha256": digest(self.shared) if self.shared is not None else None,
            "seconds": round(self.seconds, 3),
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "verified": self.verified,
            "peer": self.peer,
            "revealed": self.revealed,
        }
        if with_ids:
            out["shared"] = self.shared
        return out


class _Wire:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sent = 0
        self.received = 0

    def send(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)
        self.sent += 4 + len(payload)

    def send_json(self, obj: Any) -> None:
        self.send(json.dumps(obj, ensure_ascii=False).encode("utf-8"))

    def _exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise AssistantError("對方中斷連線 / the other side closed the connection")
            buf += chunk
        return bytes(buf)

    def recv(self) -> bytes:
        (n,) = struct.unpack(">I", self._exact(4))
        if n > MAX_MESSAGE:
            raise AssistantError(f"訊息過大 / message too large: {n} bytes")
        data = self._exact(n)
        self.received += 4 + n
        return data

    def recv_json(self) -> Any:
        try:
            return json.loads(self.recv().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AssistantError(f"協定錯誤 / protocol error: {exc}") from exc


def _psi() -> Any:
    try:
        import private_set_intersection.python as psi
    except ImportError as exc:  # the package is openmined-psi
        raise AssistantError(
            "未安裝 openmined-psi / the clean room needs the openmined-psi package"
        ) from exc
    return psi


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise AssistantError(f"模式須為 ids 或 count / mode must be ids | count: {mode!r}")


def listen(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket for :func:`serve` (port 0: any free port; ``getsockname`` says)."""
    sock = socket.create_server((host, port))
    return sock


def serve(
    listener: socket.socket, items: Iterable[str], *, mode: str = "ids", timeout: float = 300.0
) -> PsiReport:
    """The partner's side for one client: answer its query, learn what it tells, check it."""
    _check_mode(mode)
    psi = _psi()
    own = prepare(items)
    own_set = set(own)
    listener.settimeout(timeout)
    conn, addr = listener.accept()
    t0 = time.perf_counter()
    with conn:
        conn.settimeout(timeout)
        wire = _Wire(conn)
        hello = wire.recv_json()
        if hello.get("protocol") != PROTOCOL or hello.get("mode") != mode:
            wire.send_json({"ok": False, "error": f"expected {PROTOCOL} mode {mode}"})
            raise AssistantError(
                f"對方的協定或模式不符 / the client asked for {hello.get('mode')!r} by "
                f"{hello.get('protocol')!r}; this side allows {mode!r}"
            )
        n_client = int(hello["items"])
        wire.send_json({"ok": True, "protocol": PROTOCOL, "mode": mode, "items": len(own)})
        server = psi.server.CreateWithNewKey(mode == "ids")
        setup = server.CreateSetupMessage(FPR, max(1, n_client), own)
        request = psi.Request()
        request.ParseFromString(wire.recv())
        response = server.ProcessRequest(request)
        wire.send(setup.SerializeToString())
        wire.send(response.SerializeToString())
        told = wire.recv_json()
        if mode == "ids":
            shared = prepare(told.get("shared", []))
            verified = all(x in own_set for x in shared)
            count = len(shared)
        else:
            shared = None
            count = int(told.get("count", -1))
            verified = 0 <= count <= len(own)
        wire.send_json({"ok": verified, "count": count})
        return PsiReport(
            role="server",
            mode=mode,
            own_items=len(own),
            other_items=n_client,
            count=count,
            shared=shared,
            seconds=time.perf_counter() - t0,
            bytes_sent=wire.sent,
            bytes_received=wire.received,
            verified=verified,
            peer=f"{addr[0]}:{addr[1]}",
        )


def query(
    host: str, port: int, items: Iterable[str], *, mode: str = "ids", timeout: float = 300.0
) -> PsiReport:
    """The bank's side: ask the partner at ``host:port`` which of ``items`` it holds too."""
    _check_mode(mode)
    psi = _psi()
    own = prepare(items)
    t0 = time.perf_counter()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise AssistantError(
            f"無法連線到合作方 {host}:{port} / cannot reach the partner at {host}:{port}: {exc}"
        ) from exc
    with sock:
        wire = _Wire(sock)
        wire.send_json({"protocol": PROTOCOL, "mode": mode, "items": len(own)})
        hello = wire.recv_json()
        if not hello.get("ok"):
            raise AssistantError(
                f"合作方拒絕 / the partner refused: {hello.get('error', 'unknown')}"
            )
        client = psi.client.CreateWithNewKey(mode == "ids")
        wire.send(client.CreateRequest(own).SerializeToString())
        setup = psi.ServerSetup()
        setup.ParseFromString(wire.recv())
        response = psi.Response()
        response.ParseFromString(wire.recv())
        if mode == "ids":
            idx = client.GetIntersection(setup, response)
            shared: list[str] | None = [own[i] for i in sorted(idx)]
            count = len(shared)
            wire.send_json({"shared": shared})
        else:
            shared = None
            count = int(client.GetIntersectionSize(setup, response))
            wire.send_json({"count": count})
        ack = wire.recv_json()
        return PsiReport(
            role="client",
            mode=mode,
            own_items=len(own),
            other_items=int(hello["items"]),
            count=count,
            shared=shared,
            seconds=time.perf_counter() - t0,
            bytes_sent=wire.sent,
            bytes_received=wire.received,
            verified=bool(ack.get("ok")),
            peer=f"{host}:{port}",
        )
