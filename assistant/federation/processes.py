"""The federation as processes: a Flower SuperLink (the coordinator), one SuperNode per bank,
and ``flwr run`` to start a run of ``apps`` on them.

Everything lives in one folder (``workdir``): ``coordinator.json`` (the SuperLink's process and
addresses), ``banks/<bank>.json`` (each SuperNode's process, ledger and port), ``logs/``,
``app/`` (the Flower app description ``flwr run`` sends: only a pyproject.toml naming
``assistant.federation.apps``; the code itself is this installed product, the same version at
every bank), ``flwr-home/`` (the ``flwr`` command's connection file) and ``runs/<n>/`` (what
each run wrote, see ``apps``).

On one machine (tests, demos) everything runs on loopback with ``--insecure``. Across banks the
SuperLink takes ``tls`` (certificate, key, CA) and turns on Flower's SuperNode authentication:
only a bank whose public key the coordinator registered (``register``) may connect, with the CA
and its own private key (``Tls``; README "金融盾" says how to make them). A bank's ``join``
waits until its SuperNode is connected and says why when it is refused. Nothing is ever
installed at run time: ``FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION=1``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import assistant
from assistant.errors import AssistantError
from assistant.federation.runconfig import RunSettings

BANK_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
FLWR_VERSION = "1.42.0"
# a SuperNode logs this once the SuperLink accepted it (flwr 1.42, supernode/start_client_internal)
CONNECTED = "SuperNode ID:"
# and this when it gives up; the process itself stays up, so the log is what tells
GAVE_UP = "Exit Code:"


@dataclass
class Tls:
    """Certificates for a real consortium; None everywhere means loopback, insecure."""

    ca: str | None = None  # the consortium's CA certificate (PEM)
    cert: str | None = None  # the SuperLink's certificate
    key: str | None = None  # the SuperLink's private key
    node_key: str | None = None  # a bank's SuperNode private key (node authentication)

    def coordinator_files(self) -> list[str]:
        """The CA, certificate and key, each checked to exist; [] for loopback. Refuses a
        partial set: it would otherwise start without TLS without saying so."""
        given = {"--ca": self.ca, "--cert": self.cert, "--key": self.key}
        if not any(given.values()):
            return []
        missing = [flag for flag, path in given.items() if not path]
        if missing:
            raise AssistantError(
                f"TLS 需同時提供 --ca、--cert 與 --key，缺少 {' '.join(missing)} / TLS needs "
                f"--ca, --cert and --key together; missing {' '.join(missing)}"
            )
        return [_existing(str(path)) for path in given.values()]


def _existing(path: str) -> str:
    if not Path(path).is_file():
        raise AssistantError(f"找不到檔案 {path} / no such file: {path}")
    return str(Path(path).resolve())


def tls_host(cert: str, host: str) -> str:
    """The name the coordinator's own ``flwr`` command and local banks reach it by: TLS checks
    it against the certificate, so ``host`` if the certificate names it, else the first name
    the certificate holds (a coordinator listening on 0.0.0.0 has a certificate for its host
    name, which resolves to itself)."""
    from cryptography import x509

    names = _cert_names(x509.load_pem_x509_certificate(Path(cert).read_bytes()))
    if host in names:
        return host
    if not names:
        raise AssistantError(
            f"憑證 {cert} 沒有主機名稱（SAN）/ the certificate {cert} names no host (SAN)"
        )
    return names[0]


def _cert_names(cert: Any) -> list[str]:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    return dns + [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]


def _bin(name: str) -> str:
    """A Flower command from this interpreter's environment (the version this product pins)."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise AssistantError(
            f"找不到 {name}，請安裝 flwr=={FLWR_VERSION} / {name} not found: install "
            f"flwr=={FLWR_VERSION}"
        )
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION"] = "1"
    env["FLWR_HOME"] = str(workdir / "flwr-home")
    # the apps import this very product: the children find it where the parent did
    root = str(Path(assistant.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("OMP_NUM_THREADS", "1")
    # the SuperLink and SuperNodes start ``flower-superexec`` by name: from this environment
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in (bindir, env.get("PATH", "")) if p)
    return env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _spawn(cmd: list[str], workdir: Path, log_name: str) -> int:
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = (logs / log_name).open("ab")
    # its own session: the federation outlives the command that started it, and stopping it
    # signals the whole process group (the SuperExec children too)
    proc = subprocess.Popen(
        cmd,
        cwd=workdir,
        env=_env(workdir),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    return proc.pid


def _descendants(pid: int) -> list[int]:
    """Every process started under ``pid`` (Flower starts its SuperExec in a session of its
    own, so signalling the process group alone would leave it running)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # the command name may hold spaces: the fields after its closing parenthesis
        rest = text[text.rfind(")") + 2 :].split()
        children.setdefault(int(rest[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _stop(pid: int, wait_s: float = 10.0) -> None:
    below = _descendants(pid) if Path("/proc").is_dir() else []
    for child in below:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, signal.SIGTERM)
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and _alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def _wait_port(host: str, port: int, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
    raise AssistantError(f"{what} 未能啟動 / {what} did not start:\n{tail}")


class Federation:
    """The processes of one federation, by their folder."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)

    # ---- the coordinator --------------------------------------------------------------------

    @property
    def _coord_file(self) -> Path:
        return self.workdir / "coordinator.json"

    def coordinator(self) -> dict[str, Any] | None:
        if not self._coord_file.is_file():
            return None
        info = json.loads(self._coord_file.read_text(encoding="utf-8"))
        info["running"] = _alive(int(info["pid"]))
        return info

    def start_coordinator(
        self,
        host: str = "127.0.0.1",
        tls: Tls | None = None,
        wait_s: float = 60.0,
        port: int | None = None,
    ) -> dict[str, Any]:
        """Start the SuperLink on ``port`` (default: a free one; banks across machines need a
        fixed one); returns its addresses. Refused if one is already running here."""
        current = self.coordinator()
        if current and current["running"]:
            raise AssistantError(
                f"協調端已在執行（pid {current['pid']}）/ the coordinator is already running "
                f"(pid {current['pid']})"
            )
        files = (tls or Tls()).coordinator_files()
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Flower 1.42 serves the Fleet, Control and Runtime APIs on one HTTP port
        port = port or free_port()
        cmd = [
            _bin("flower-superlink"),
            "--host", host,
            "--port", str(port),
            "--database", str(self.workdir / "superlink.db"),
            "--disable-runtime-dependency-installation",
        ]  # fmt: skip
        if files:
            ca, cert, key = files
            cmd += ["--ssl-ca-certfile", ca, "--ssl-certfile", cert, "--ssl-keyfile", key]
            # only SuperNodes whose public key was registered (``register``) may connect
            cmd.append("--enable-supernode-auth")
            name = tls_host(cert, host)
        else:
            cmd.append("--insecure")
            name = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        pid = _spawn(cmd, self.workdir, "superlink.log")
        info = {
            "pid": pid,
            "fleet": f"{name}:{port}",
            "control": f"{name}:{port}",
            "insecure": not files,
            "ca": files[0] if files else None,
            "started": time.time(),
        }
        self._coord_file.write_text(json.dumps(info, indent=2), encoding="utf-8")
        _wait_port(name, port, wait_s, "協調端 SuperLink", self.workdir / "logs" / "superlink.log")
        self._write_flwr_home(info)
        return info

    def _write_flwr_home(self, info: dict[str, Any]) -> None:
        home = self.workdir / "flwr-home"
        home.mkdir(parents=True, exist_ok=True)
        lines = [
            "[superlink]",
            'default = "consortium"',
            "",
            "[superlink.consortium]",
            f'address = "{info["control"]}"',
        ]
        if info["insecure"]:
            lines.append("insecure = true")
        elif info.get("ca"):
            lines.append(f'root-certificates = "{info["ca"]}"')
        (home / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def register(self, bank: str, public_key: str) -> dict[str, Any]:
        """Register ``bank``'s SuperNode public key (OpenSSH ECDSA, the ``.pub`` it sent) with
        this folder's coordinator, through Flower's own ``flwr supernode register``; from then
        on a SuperNode holding the matching private key may connect. Returns its node id."""
        _check_bank(bank)
        coord = self.coordinator()
        if not coord or not coord["running"]:
            raise AssistantError(
                "協調端未執行，請先 assistant federation start / no coordinator running: run "
                "`assistant federation start` first"
            )
        if coord["insecure"]:
            # Flower accepts the key, but without TLS it never checks one: say so instead
            raise AssistantError(
                "協調端未啟用 TLS 與節點驗證，登錄金鑰沒有作用；請以 start --ca --cert --key 啟動 / "
                "the coordinator runs without TLS and node authentication, where a registered key "
                "is never checked: start it with --ca --cert --key"
            )
        key = _existing(public_key)
        cmd = [_bin("flwr"), "supernode", "register", key, "consortium", "--name", bank]
        proc = subprocess.run(
            [*cmd, "--format", "json"],
            cwd=self.workdir,
            env=_env(self.workdir),
            capture_output=True,
            text=True,
            timeout=60,
        )
        try:
            out = json.loads(proc.stdout)
        except json.JSONDecodeError:
            out = {"success": False, "error-message": (proc.stdout + proc.stderr)[-800:]}
        if not out.get("success"):
            raise AssistantError(
                f"無法登錄 {bank} 的節點金鑰 / could not register {bank}'s node key: "
                f"{str(out.get('error-message', '')).strip()}"
            )
        return {"bank": bank, "node_id": int(out["node-id"]), "public_key": key}

    # ---- the banks --------------------------------------------------------------------------

    def banks(self) -> list[dict[str, Any]]:
        out = []
        for f in sorted((self.workdir / "banks").glob("*.json")):
            info = json.loads(f.read_text(encoding="utf-8"))
            info["running"] = _alive(int(info["pid"]))
            out.append(info)
        return out

    def join(
        self,
        bank: str,
        ledger: str,
        superlink: str | None = None,
        tls: Tls | None = None,
        connect_s: float = 30.0,
    ) -> dict[str, Any]:
        """Start a SuperNode for ``bank`` next to its ``ledger`` (database URL or SQLite path),
        connected to ``superlink`` (the fleet address; default: this folder's coordinator).
        Returns once the coordinator accepted it; refused (the SuperNode stopped, the reason
        said) if it was turned away or not connected within ``connect_s`` seconds."""
        _check_bank(bank)
        from assistant.federation.local import ledger_url

        url = ledger_url(ledger)  # refuses a missing file now, not in the middle of a round
        current = {b["bank"]: b for b in self.banks()}.get(bank)
        if current and current["running"]:
            raise AssistantError(
                f"{bank} 已加入（pid {current['pid']}）/ {bank} has already joined "
                f"(pid {current['pid']})"
            )
        if superlink is None:
            coord = self.coordinator()
            if not coord or not coord["running"]:
                raise AssistantError(
                    "協調端未執行，請先 assistant federation start / no coordinator running: run "
                    "`assistant federation start` first"
                )
            superlink = coord["fleet"]
        port = free_port()
        cmd = [
            _bin("flower-supernode"),
            "--superlink", superlink,
            "--port", str(port),
            "--node-config", f'bank="{bank}" ledger="{url}"',
        ]  # fmt: skip
        tls = tls or Tls()
        if tls.ca:
            cmd += ["--root-certificates", _existing(tls.ca)]
            if tls.node_key:
                cmd += ["--auth-supernode-private-key", _existing(tls.node_key)]
        else:
            cmd.append("--insecure")
        log = self.workdir / "logs" / f"bank-{bank}.log"
        seen = log.stat().st_size if log.exists() else 0  # the log is appended to per join
        pid = _spawn(cmd, self.workdir, log.name)
        try:
            node_id = _wait_connected(pid, log, seen, connect_s, superlink)
        except AssistantError:
            _stop(pid)
            raise
        info = {
            "bank": bank,
            "pid": pid,
            "ledger": url,
            "superlink": superlink,
            "port": port,
            "node_id": node_id,
        }
        (self.workdir / "banks").mkdir(parents=True, exist_ok=True)
        (self.workdir / "banks" / f"{bank}.json").write_text(json.dumps(info), encoding="utf-8")
        return info

    def leave(self, bank: str) -> bool:
        """Stop a bank's SuperNode; False if it was not running."""
        f = self.workdir / "banks" / f"{bank}.json"
        if not f.is_file():
            return False
        info = json.loads(f.read_text(encoding="utf-8"))
        was = _alive(int(info["pid"]))
        _stop(int(info["pid"]))
        f.unlink()
        return was

    def stop(self) -> None:
        """Stop every bank's SuperNode and the coordinator."""
        for b in self.banks():
            self.leave(b["bank"])
        coord = self.coordinator()
        if coord:
            _stop(int(coord["pid"]))
            self._coord_file.unlink(missing_ok=True)

    # ---- runs -------------------------------------------------------------------------------

    def _app_dir(self) -> Path:
        app = self.workdir / "app"
        app.mkdir(parents=True, exist_ok=True)
        defaults = asdict(RunSettings(out=""))
        config = "\n".join(f"{k.replace('_', '-')} = {json.dumps(v)}" for k, v in defaults.items())
        (app / "pyproject.toml").write_text(
            f"""[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "twfin-federation"
version = "1.0.0"
description = "金融盾: the mule model trained across banks"
license = "Apache-2.0"
dependencies = ["flwr=={FLWR_VERSION}"]

[tool.flwr.app]
publisher = "twfin"

[tool.flwr.app.components]
serverapp = "assistant.federation.apps:server"
clientapp = "assistant.federation.apps:client"

[tool.flwr.app.config]
{config}
""",
            encoding="utf-8",
        )
        return app

    def next_run_dir(self) -> Path:
        runs = self.workdir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        taken = [int(p.name) for p in runs.iterdir() if p.name.isdigit()]
        out = runs / str(max(taken, default=0) + 1)
        out.mkdir()
        return out

    def run(self, settings: RunSettings, wait_s: float = 1800.0) -> dict[str, Any]:
        """Submit a run with ``flwr run`` and wait for its ``summary.json``. Returns the
        summary, the round records and the run folder."""
        coord = self.coordinator()
        if not coord or not coord["running"]:
            raise AssistantError(
                "協調端未執行，請先 assistant federation start / no coordinator running: run "
                "`assistant federation start` first"
            )
        out = Path(settings.out)
        overrides = {k.replace("_", "-"): v for k, v in asdict(settings).items()}
        cfg = " ".join(f"{k}={json.dumps(v)}" for k, v in overrides.items())
        app = self._app_dir()
        started = time.monotonic()
        proc = subprocess.run(
            [_bin("flwr"), "run", str(app), "consortium", "--run-config", cfg, "--format", "json"],
            cwd=self.workdir,
            env=_env(self.workdir),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise AssistantError(
                f"無法送出聯邦訓練 / flwr run failed: {(proc.stdout + proc.stderr)[-1500:]}"
            )
        summary_path = out / "summary.json"
        while not summary_path.is_file():
            if time.monotonic() - started > wait_s:
                raise AssistantError(
                    f"聯邦訓練逾時（{wait_s:.0f} 秒）/ the federated run did not finish within "
                    f"{wait_s:.0f} s; see {self.workdir / 'logs'}"
                )
            if not _alive(int(coord["pid"])):
                raise AssistantError("協調端已停止 / the coordinator stopped during the run")
            time.sleep(0.5)
        return read_run(out)


def _check_bank(bank: str) -> None:
    if not BANK_NAME.match(bank):
        raise AssistantError(
            f"銀行名稱只能含英數字、- 與 _ / a bank name may hold letters, digits, - and _ "
            f"only: {bank!r}"
        )


# what a SuperNode's log says when it gave up, and what that means for the bank
_REFUSALS = (
    (
        ("[code: 2004]",),  # flwr: activation failed, no node with this public key
        "協調端拒絕此銀行：節點金鑰未登錄（請協調端執行 assistant federation register）/ the "
        "coordinator refused this bank: its node key is not registered (the coordinator runs "
        "`assistant federation register`)",
    ),
    (
        ("[code: 2001]",),  # flwr: a node without a key may not register itself
        "協調端要求節點驗證，請以 --node-key 加入 / the coordinator requires node "
        "authentication: join with --node-key (the key whose public half it registered)",
    ),
    (
        ("CERTIFICATE_VERIFY_FAILED", "SSL/TLS handshake"),
        "協調端的憑證無法以此 CA 驗證 / the coordinator's certificate does not verify against "
        "this CA",
    ),
)


def _wait_connected(pid: int, log: Path, seen: int, seconds: float, superlink: str) -> int:
    """The node id the SuperLink gave the SuperNode ``pid``, read from the new part of its
    log; raises with the reason if it gave up or was not connected within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        text = _read_from(log, seen)
        found = re.search(re.escape(CONNECTED) + r"\s*(\d+)", text)
        if found:
            return int(found.group(1))
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it exited, or it would look alive
        if GAVE_UP in text or not _alive(pid):
            reason = next((msg for marks, msg in _REFUSALS if any(m in text for m in marks)), "")
            raise AssistantError(
                reason
                or f"銀行節點未能連上協調端 / the bank's SuperNode could not connect:\n{text[-1500:]}"
            )
        if time.monotonic() > deadline:
            raise AssistantError(
                f"{seconds:.0f} 秒內未能連上協調端 {superlink}（協調端是否執行中、位址是否正確、"
                f"是否需要 --ca）/ could not connect to the coordinator {superlink} within "
                f"{seconds:.0f} s (is it running, is the address right, does it need --ca?):\n"
                f"{text[-800:]}"
            )
        time.sleep(0.2)


def _read_from(log: Path, offset: int) -> str:
    if not log.exists():
        return ""
    with log.open("rb") as fh:
        fh.seek(offset)
        return fh.read().decode("utf-8", errors="replace")


def read_run(out: Path) -> dict[str, Any]:
    """What a run wrote: its summary, its round records, the model file if any."""
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rounds_file = out / "rounds.jsonl"
    rounds = (
        [json.loads(x) for x in rounds_file.read_text(encoding="utf-8").splitlines() if x]
        if rounds_file.is_file()
        else []
    )
    model = out / "model.json"
    return {
        "summary": summary,
        "rounds": rounds,
        "model": str(model) if model.is_file() else None,
        "out": str(out),
    }
