"""Prometheus metrics in the text exposition format, written by hand (no client library needed).

Counters live in each worker process. Every series carries a ``worker`` label (the process id), so a
scrape of a multi-worker server still sums correctly in PromQL (``sum without(worker) (...)``). To show
every worker on every scrape, each process writes a snapshot of its counters to ``METRICS_DIR`` (set by
``graphfraud serve``) at most every ``flush_interval`` seconds (and at exit); ``/metrics`` renders its own
live counters plus the other workers' latest snapshots, so a scrape may lag other workers by that
interval. A restarted worker has a new pid, hence new series: Prometheus treats that like a counter reset.
"""
from __future__ import annotations

import atexit
import json
import os
import threading
import time
from bisect import bisect_left
from collections import defaultdict
from typing import Any

from graphfraud.output import open_private, private_dir

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _esc(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Request counts and latencies per route and status, decisions, and rule hits, for one process."""

    def __init__(self, directory: str | None = None, flush_interval: float = 5.0):
        self.pid = str(os.getpid())
        self.directory = directory
        self.flush_interval = flush_interval
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        # route -> [bucket counts..., +Inf count, sum]
        self.latency: dict[str, list[float]] = {}
        self.decisions: dict[str, int] = defaultdict(int)
        self.reasons: dict[str, int] = defaultdict(int)
        self.replays = 0
        self._flushed = 0.0
        if directory:
            private_dir(directory)
            atexit.register(self.flush)

    # ------------------------------------------------------------ recording (hot path: a few dict ops)
    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        i = bisect_left(BUCKETS, seconds)
        with self._lock:
            self.requests[(route, method, status)] += 1
            h = self.latency.get(route)
            if h is None:
                h = self.latency[route] = [0.0] * (len(BUCKETS) + 2)
            h[i] += 1
            h[-1] += seconds
        if self.directory and time.monotonic() - self._flushed > self.flush_interval:
            self.flush()

    def observe_decision(self, result: dict[str, Any]) -> None:
        with self._lock:
            if result.get("replay"):
                self.replays += 1
                return
            self.decisions[str(result.get("decision"))] += 1
            for r in result.get("reasons") or ():
                code = r.get("code") if isinstance(r, dict) else None
                if code:
                    self.reasons[str(code)] += 1

    # ------------------------------------------------------------ sharing between workers
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": [[r, m, s, n] for (r, m, s), n in self.requests.items()],
                    "latency": {k: list(v) for k, v in self.latency.items()},
                    "decisions": dict(self.decisions), "reasons": dict(self.reasons), "replays": self.replays}

    def flush(self) -> None:
        if not self.directory:
            return
        self._flushed = time.monotonic()
        path = os.path.join(self.directory, f"{self.pid}.json")
        tmp = f"{path}.{threading.get_ident()}.tmp"
        try:
            with open_private(tmp, "w") as f:
                json.dump(self.snapshot(), f)
            os.replace(tmp, path)
        except OSError:
            pass  # metrics must never break serving

    def _others(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        if not self.directory:
            return out
        try:
            names = os.listdir(self.directory)
        except OSError:
            return out
        for name in names:
            pid, ext = os.path.splitext(name)
            if ext != ".json" or pid == self.pid:
                continue
            try:
                with open(os.path.join(self.directory, name)) as f:
                    out[pid] = json.load(f)
            except (OSError, ValueError):
                continue
        return out

    # ------------------------------------------------------------ exposition
    def render(self, extra: dict[str, float] | None = None) -> str:
        """The text exposition format (version 0.0.4) for this worker and the others' snapshots."""
        workers = {self.pid: self.snapshot(), **self._others()}
        lines: list[str] = []

        def head(name: str, kind: str, help_: str) -> None:
            lines.append(f"# HELP {name} {help_}")
            lines.append(f"# TYPE {name} {kind}")

        head("graphfraud_http_requests_total", "counter", "HTTP requests by route template, method and status.")
        for w, snap in workers.items():
            for route, method, status, n in snap["requests"]:
                lines.append(f'graphfraud_http_requests_total{{worker="{w}",route="{_esc(route)}",'
                             f'method="{method}",status="{status}"}} {n}')
        head("graphfraud_http_request_duration_seconds", "histogram", "Time to answer a request, by route.")
        for w, snap in workers.items():
            for route, h in snap["latency"].items():
                lab = f'worker="{w}",route="{_esc(route)}"'
                cum = 0.0
                for b, c in zip(BUCKETS, h):
                    cum += c
                    lines.append(f'graphfraud_http_request_duration_seconds_bucket{{{lab},le="{b}"}} {int(cum)}')
                cum += h[len(BUCKETS)]
                lines.append(f'graphfraud_http_request_duration_seconds_bucket{{{lab},le="+Inf"}} {int(cum)}')
                lines.append(f"graphfraud_http_request_duration_seconds_sum{{{lab}}} {h[-1]:.6f}")
                lines.append(f"graphfraud_http_request_duration_seconds_count{{{lab}}} {int(cum)}")
        head("graphfraud_decisions_total", "counter", "New scoring decisions by outcome (replays excluded).")
        for w, snap in workers.items():
            for d, n in snap["decisions"].items():
                lines.append(f'graphfraud_decisions_total{{worker="{w}",decision="{_esc(d)}"}} {n}')
        head("graphfraud_rule_hits_total", "counter", "Reasons given in new decisions, by reason code.")
        for w, snap in workers.items():
            for c, n in snap["reasons"].items():
                lines.append(f'graphfraud_rule_hits_total{{worker="{w}",code="{_esc(c)}"}} {n}')
        head("graphfraud_replays_total", "counter", "Retried scores answered from the stored decision.")
        for w, snap in workers.items():
            lines.append(f'graphfraud_replays_total{{worker="{w}"}} {snap["replays"]}')
        for name, value in (extra or {}).items():
            head(name, "gauge", name.replace("graphfraud_", "").replace("_", " ") + ".")
            lines.append(f'{name}{{worker="{self.pid}"}} {value}')
        return "\n".join(lines) + "\n"
