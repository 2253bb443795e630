"""Helpers for the reliability suite (imported by its tests): the real command line, a real server, and the store's bytes on disk."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The installed command beside the interpreter running the tests.
GF = str(Path(sys.executable).with_name("graphfraud"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gf(*args: str, env: dict[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
       timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``graphfraud ARGS`` and return the finished process."""
    p = subprocess.run([GF, *args], env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"graphfraud {' '.join(args)} failed ({p.returncode}): {p.stderr[-2000:]}")
    return p


def store_bytes(path: str | os.PathLike[str]) -> bytes:
    """Everything SQLite keeps for a store: the file, its write-ahead log and its shared memory index."""
    out = b""
    for suffix in ("", "-wal", "-shm", "-journal", ".engine"):
        p = Path(f"{path}{suffix}")
        if p.exists():
            out += p.read_bytes()
    return out


def request(base: str, method: str, path: str, key: str | None = None, body: Any = None,
            timeout: float = 30) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode("utf-8", "replace")


class Server:
    """A ``graphfraud serve`` process in its own process group (so ``kill -9`` reaches every worker)."""

    def __init__(self, store: str, workdir: Path, workers: int = 2, threads: int = 4):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / f"serve-{self.port}.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [GF, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
             "--threads", str(threads)], cwd=workdir, env={**os.environ, "GRAPHFRAUD_STORE": store},
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if request(self.base, "GET", "/readyz", timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"server not ready in {timeout} s; see {self.log.name}")

    def kill9(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(30)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)
            except ProcessLookupError:
                pass
        self.log.close()


@contextmanager
def running_server(store: str, workdir: Path, workers: int = 2) -> Iterator[Server]:
    srv = Server(store, workdir, workers)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def api_key(store: str, scope: str = "admin") -> str:
    out = gf("apikey", "create", "--name", f"rel-{time.monotonic_ns()}", "--scope", scope,
             env={"GRAPHFRAUD_STORE": store})
    return out.stdout.strip().splitlines()[-1].split()[-1]
