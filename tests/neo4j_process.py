"""Starting a real Neo4j for tests (``scripts/neo4j-server``): the session's server (tests/conftest.py) and
the offline import's second server on an imported folder (tests/test_neo4j_import.py)."""
from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "neo4j-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Neo4jProcess:
    """``scripts/neo4j-server --port PORT --data DATA [extra]``, with a thread watching for its ready line."""

    def __init__(self, data: Path, port: int, *extra: str, stderr: IO[Any] | int = subprocess.DEVNULL):
        self.port = port
        self.url = f"bolt://127.0.0.1:{port}"
        self.proc = subprocess.Popen([str(SCRIPT), "--port", str(port), "--data", str(data), *extra],
                                     stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.ready = threading.Event()
        self.watcher = threading.Thread(target=self._watch, daemon=True)
        self.watcher.start()

    def _watch(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if self.url in line:
                self.ready.set()

    def wait_ready(self, timeout: float) -> bool:
        """True once the server printed its bolt URL; False if it exited or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while not self.ready.wait(1.0):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return False
        return True

    def stop(self, kill: bool = False) -> None:
        if not kill:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                kill = True
        if kill:
            self.proc.kill()
            self.proc.wait()
        self.watcher.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
