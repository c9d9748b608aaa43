"""Shared pieces of the benchmarks: servers, a SigV4 signer, a raw HTTP/1.1 client, statistics.

Everything here talks to 127.0.0.1 only. Servers are started as real
processes (``livelens serve``, a no-work Starlette app on the same uvicorn,
``moto_server``) and always stopped, also when a benchmark fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
BIN = Path(sys.executable).parent
LIVELENS = str(BIN / "livelens")
ACCESS_KEY = "LLIABENCHACCESSKEY01"
SECRET_KEY = "bench-secret-key-for-livelens-0000000001"
REGION = "us-east-1"
#: Set by ``run.py --quick``: the harness only checks that it works, so it does not wait for quiet servers.
QUICK = False


# --- signing -----------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


_SIGNING_KEYS: dict[tuple[str, str, str, str], bytes] = {}


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    cache_key = (secret, date, region, service)
    key = _SIGNING_KEYS.get(cache_key)
    if key is None:
        key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), "aws4_request")
        _SIGNING_KEYS[cache_key] = key
    return key


def sigv4(
    method: str,
    host: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    region: str = REGION,
    service: str = "connect",
    amz_date: str | None = None,
) -> dict[str, str]:
    """``headers`` plus ``Host``, ``X-Amz-Date`` and a SigV4 ``Authorization`` (all of them signed).

    A small SigV4 signer of the benchmark client's own (botocore's costs ~10x
    more per request, which would make the client, not the server, the
    bottleneck). ``tests/bench`` checks it against botocore's signature.
    ``path`` must already be percent-encoded; ``query`` is ``k=v&k=v``.
    """
    amz_date = amz_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    all_headers = {**(headers or {}), "Host": host, "X-Amz-Date": amz_date}
    canonical = sorted((k.lower(), " ".join(str(v).split())) for k, v in all_headers.items())
    signed = ";".join(k for k, _ in canonical)
    pairs = sorted(
        (quote(k, safe="-_.~"), quote(v, safe="-_.~"))
        for k, _, v in (part.partition("=") for part in query.split("&") if part)
    )
    canonical_request = "\n".join([
        method,
        quote(path, safe="/~"),
        "&".join(f"{k}={v}" for k, v in pairs),
        "".join(f"{k}:{v}\n" for k, v in canonical),
        signed,
        hashlib.sha256(body).hexdigest(),
    ])
    date = amz_date[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    signature = hmac.new(signing_key(secret_key, date, region, service), string_to_sign.encode(),
                         hashlib.sha256).hexdigest()
    all_headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return all_headers


def raw_request(method: str, host: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                *, sign: bool = True, query: str = "") -> bytes:
    """The bytes of one HTTP/1.1 request (SigV4-signed for ``connect`` unless ``sign=False``)."""
    base = {"Content-Type": "application/json"} if body or method in ("POST", "PUT") else {}
    base.update(headers or {})
    if sign:
        base = sigv4(method, host, path, query, body, base)
    else:
        base["Host"] = host
    target = path + (f"?{query}" if query else "")
    lines = [f"{method} {target} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in base.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# --- a raw HTTP/1.1 client ------------------------------------------------------


class HttpError(Exception):
    pass


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection; reconnects by itself when the server closes (HTTP/1.0 peers)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.connects = 0

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connects += 1

    async def request(self, data: bytes) -> Answer:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(data)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            # A kept-alive connection the server had closed: retry once on a fresh one.
            self.close()
            await self._open()
            assert self.reader is not None and self.writer is not None
            self.writer.write(data)
            head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, status = lines[0].split(" ", 2)[:2]
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.read()
        keep = headers.get("connection", "").lower()
        if keep == "close" or (version == "HTTP/1.0" and keep != "keep-alive"):
            self.close()
        return Answer(int(status), body, headers)

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return b"".join(parts)
            parts.append(chunk[:-2])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def call(url: str, method: str, path: str, payload: Any = None, *, headers: dict[str, str] | None = None,
         sign: bool = True, query: str = "", expect: int | None = 200) -> Any:
    """One synchronous request (set-up and checks); the decoded JSON answer."""
    address = urlsplit(url)
    body = b"" if payload is None else json.dumps(payload).encode()
    data = raw_request(method, address.netloc, path, body, headers, sign=sign, query=query)

    async def once() -> Answer:
        conn = Connection(address.hostname or "127.0.0.1", address.port or 80)
        try:
            return await conn.request(data)
        finally:
            conn.close()

    answer = asyncio.run(once())
    if expect is not None and answer.status != expect:
        raise HttpError(f"{method} {path}: HTTP {answer.status}: {answer.body[:300]!r}")
    return answer.json() if answer.body else {}


# --- servers -------------------------------------------------------------------


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    started_at: float = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def memory_kib(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) of the server process, in KiB."""
        found = {}
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name, value = line.split(":", 1)
                    found[name] = int(value.split()[0])
        return found

    def wait_idle(self, timeout: float = 120.0, window: float = 0.5, busy: float = 0.1) -> None:
        """Wait until the server uses less than ``busy`` of a core over ``window`` s (models loaded)."""
        if QUICK:
            return
        deadline = time.monotonic() + timeout
        last = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(window)
            now = self.cpu_seconds()
            if now - last < busy * window:
                return
            last = now

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process (all threads) has used."""
        return process_cpu_seconds(self.pid)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` (all its threads) has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_share(pid: int, seconds: float) -> float:
    """The share of one core process ``pid`` uses over the next ``seconds`` (sleeps that long)."""
    start = process_cpu_seconds(pid)
    time.sleep(seconds)
    return (process_cpu_seconds(pid) - start) / seconds


def _pump(process: subprocess.Popen[str], output: list[str]) -> None:
    def run() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)

    threading.Thread(target=run, daemon=True).start()


def _await_line(process: subprocess.Popen[str], pattern: str, timeout: float) -> tuple[re.Match[str], list[str]]:
    assert process.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        found = re.search(pattern, line)
        if found:
            return found, output
    process.kill()
    process.wait()
    raise RuntimeError(f"server did not start ({' '.join(map(str, process.args))}):\n" + "".join(output[-40:]))


def wait_accepting(url: str, timeout: float = 60.0) -> None:
    address = urlsplit(url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((address.hostname, address.port), timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def credentials_file(directory: Path) -> Path:
    path = directory / "credentials"
    path.write_text(f"{ACCESS_KEY} {SECRET_KEY}\n")
    return path


def start_livelens(directory: Path, db: Path | str | None = None, env: dict[str, str] | None = None, *,
                   port: int = 0, extra: Sequence[str] = (), cores: str | None = None) -> ServerProcess:
    """``livelens serve`` on ``db`` (a file or a PostgreSQL URL); ``cores``: pinned with ``taskset -c``."""
    directory.mkdir(parents=True, exist_ok=True)
    db = db or directory / "livelens.db"
    started = time.perf_counter()
    environment = {**os.environ, "LIVELENS_LOG_LEVEL": "warning", "LIVELENS_THROTTLE": "off", **(env or {})}
    environment.pop("LIVELENS_VALIDATE_RESPONSES", None)
    process = subprocess.Popen(
        [*pinned(cores), LIVELENS, "serve", "--port", str(port), "--db", str(db),
         "--credentials", str(credentials_file(directory)), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment,
    )
    found, output = _await_line(process, r"listening on (http://\S+)", 180)
    server = ServerProcess(found.group(1), process, output, started)
    _pump(process, output)
    wait_accepting(server.url)
    return server


def pinned(cores: str | None) -> list[str]:
    """The ``taskset -c CORES`` prefix of a command (nothing when not asked or taskset is missing)."""
    taskset = shutil.which("taskset")
    return [taskset, "-c", cores] if cores and taskset else []


def start_baseline(body_file: Path, headers: dict[str, str]) -> ServerProcess:
    """The no-work app: same uvicorn and Starlette, the same bytes from memory."""
    process = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "baseline_app.py"), str(body_file), json.dumps(headers)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    found, output = _await_line(process, r"listening on (http://\S+)", 60)
    server = ServerProcess(found.group(1), process, output)
    _pump(process, output)
    wait_accepting(server.url)
    return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> ServerProcess:
    moto = BIN / "moto_server"
    if not moto.exists():
        raise RuntimeError("moto_server is not installed (pip install -e '.[bench]')")
    port = free_port()
    environment = {**os.environ, "AWS_DEFAULT_REGION": REGION}
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment,
    )
    _await_line(process, r"Running on (http://\S+)", 60)
    server = ServerProcess(f"http://127.0.0.1:{port}", process)
    _pump(process, server.output)
    wait_accepting(server.url)
    return server


@contextlib.contextmanager
def running(*servers: ServerProcess) -> Iterator[None]:
    try:
        yield
    finally:
        for server in servers:
            server.stop()


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"livelens-bench-{prefix}-") as name:
        yield Path(name)


# --- load: a multi-process closed-loop client -----------------------------------


@dataclass
class LoadResult:
    requests_per_second: float
    completed: int
    errors: int
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]


def load(url: str, requests: Sequence[bytes], *, concurrency: int, processes: int, duration: float,
         warmup: float) -> LoadResult:
    """Closed-loop load: ``concurrency`` connections over ``processes`` client processes.

    Each connection sends the next request as soon as the previous answer is
    read. Only answers completed inside the measuring window (after
    ``warmup``, for ``duration`` seconds, the same instant in every process)
    count. Requests are prepared bytes (signed once, the signature is valid
    for minutes), so the client spends its CPU on the socket, not on signing.
    """
    address = urlsplit(url)
    start_at = time.time() + 0.6 + 0.15 * processes
    spec = {
        "host": address.hostname, "port": address.port, "requests": [r.decode("latin-1") for r in requests],
        "start_at": start_at, "warmup": warmup, "duration": duration,
    }
    children = []
    for index in range(processes):
        connections = concurrency // processes + (1 if index < concurrency % processes else 0)
        child = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "loadgen.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert child.stdin is not None
        child.stdin.write(json.dumps({**spec, "connections": connections, "offset": index}))
        child.stdin.close()
        children.append(child)
    results = []
    for child in children:
        assert child.stdout is not None
        out = child.stdout.read()
        child.wait(timeout=duration + warmup + 60)
        results.append(json.loads(out))
    latencies = sorted(x for r in results for x in r["latencies"])
    statuses: dict[str, int] = {}
    for r in results:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    completed = sum(r["completed"] for r in results)
    return LoadResult(
        requests_per_second=completed / duration,
        completed=completed,
        errors=sum(r["errors"] for r in results),
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        statuses=statuses,
    )


# --- statistics and the machine -------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (``nan`` if empty)."""
    if not values:
        return float("nan")
    rank = max(1, int(-(-pct * len(values) // 100)))
    return values[min(rank, len(values)) - 1]


def median(values: Sequence[float]) -> float:
    return percentile(sorted(values), 50)


def machine() -> dict[str, Any]:
    def run(*command: str) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=10, cwd=REPO).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    memory = run("free", "-g").splitlines()
    cpu = ""
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "commit": run("git", "rev-parse", "--short", "HEAD"),
        "dirty": bool(run("git", "status", "--porcelain", "--untracked-files=no")),
        "nproc": run("nproc"),
        "cpu": cpu,
        "memory_gib": memory[1].split()[1] if len(memory) > 1 else "",
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }
