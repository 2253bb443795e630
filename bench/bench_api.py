"""Benchmark of the scoring API over HTTP on loopback, against a bare Flask JSON echo in the same run.

Reproduce (the store should hold >= 1,000,000 transactions for the issue's figures)::

    graphfraud generate /tmp/gf/tx.csv --users 200000 --seed 1 && GRAPHFRAUD_STORE=/tmp/gf/b.db graphfraud load /tmp/gf/tx.csv
    .venv/bin/python bench/bench_api.py --store /tmp/gf/b.db
    .venv/bin/python bench/bench_api.py --fake-scorer          # the web stack alone (no engine, no store write)
    .venv/bin/python bench/bench_api.py --fake-scorer write    # web stack + one durable store write per score
    .venv/bin/python bench/bench_api.py --store S --replace-worker   # also: a worker killed and replaced under load
    .venv/bin/python bench/bench_api.py --store S --rings-beside --seconds 30   # also: ring detections beside
    .venv/bin/python bench/bench_api.py --store S --lazy-clients 2   # also: clients that hold connections

Prints, for ``graphfraud serve --workers 2 --threads 1`` (the defaults) and for the echo served by gunicorn
with the same settings (and with gunicorn's defaults, as the acceptance check does): requests/s with ``wrk
-t2 -c32 -d10s`` on unique transactions, and the open-loop latency at a steady 300 requests/s (latency counted from
each request's scheduled time, so a stall is not hidden); before the server starts, ``Scorer.score`` called
directly on the same store (``--in-process N``); and the workers' CPU time a request under ``wrk``, ours and the
echo's (read from ``/proc``: on a 2-core box ``wrk`` takes its share of the cores, so the ratio of CPU time
a request is steadier than the ratio of requests/s). Floors: >= 1,000 scores/s, >= 30 % of the echo, p99 <= 30 ms
at 300/s; in process p99 <= 3 ms.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# Each wrk thread is its own Lua state: seeded alike (the same second), two threads would send the same ids, and
# one thread's requests would be the other's replays. ``setup`` numbers the threads, and the number is in the seed
# and in every id.
LUA = r"""
local made = 0
function setup(thread)
  made = made + 1
  thread:set("tid", made)
end
counter = 0
function init(args)
  math.randomseed(os.time() * 64 + tid + %(seed)d)
end
request = function()
  counter = counter + 1
  local u = math.random(1, 5000)
  local body = string.format('{"transaction_id":"B%(seed)d-%%d-%%d-%%d-%%d","timestamp":"2026-03-01T12:00:00Z","user_id":"BU%%d","card_id":"BC%%d","device_id":"BD%%d","ip":"10.9.%%d.%%d","amount":%%d.5,"merchant_id":"BM%%d"}',
    tid, os.time(), math.random(1, 1000000000), counter, u, u, math.random(1, 6000), math.random(0, 40), math.random(1, 250), math.random(1, 500), math.random(1, 300))
  return wrk.format("POST", nil, nil, body)
end
"""

ECHO_APP = '''
from flask import Flask, jsonify, request
app = Flask(__name__)
@app.post("/api/v1/score")
def score():
    tx = request.get_json()
    return jsonify(ok=True, transaction_id=tx.get("transaction_id"), score=0.0, decision="allow")
'''


class TrivialScorer:
    """Answers at once (``--fake-scorer``); with ``BENCH_FAKE_WRITE=1`` it also stores each transaction."""

    def __init__(self, store: Any):
        self.store = store
        self.lock = threading.Lock()
        self.write = os.environ.get("BENCH_FAKE_WRITE") == "1"

    def score(self, tx: Any, scored_by: str | None = None) -> dict[str, Any]:
        out = {"transaction_id": tx.transaction_id, "score": 0.01, "decision": "allow", "reasons": [],
               "ring": None, "model_version": None, "rules_version": "bench", "snapshot": 0, "replay": False,
               "mode": "rules_only", "catching_up": False}
        if self.write:
            with self.lock:
                _, old = self.store.add_transaction(tx, out)
            if old is not None:
                return {**old, "replay": True}
        return out

    def status(self) -> dict[str, Any]:
        return {"ready": True, "seq": 0, "model_version": None, "transactions": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str, timeout: float = 120.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"nothing answered 200 on :{port}{path} in {timeout:.0f} s")


def stop(p: subprocess.Popen[bytes]) -> None:
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(40)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def _children_stat(pid: int) -> dict[int, list[str]]:
    """The ``/proc/<child>/stat`` fields (after the command name) of ``pid``'s live child processes."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out[int(d)] = fields
    return out


def workers(pid: int) -> dict[int, list[str]]:
    """The server's (or the echo's) workers: children forked from it, with its command line (not the ring
    refresher, which runs a command of its own)."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        mine = f.read()
    out = {}
    for w, fields in _children_stat(pid).items():
        try:
            with open(f"/proc/{w}/cmdline", "rb") as f:
                if f.read() == mine:
                    out[w] = fields
        except OSError:
            pass
    return out


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid``'s live workers."""
    return sum(int(f[11]) + int(f[12]) for f in workers(pid).values()) / os.sysconf("SC_CLK_TCK")


def own_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` itself (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def replacement_start(port: int, key: str, old: set[int]) -> dict[str, Any] | None:
    """What a worker not in ``old`` says of its start (``/readyz`` with an admin key), or ``None``."""
    for _ in range(400):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            c.request("GET", "/readyz", headers={"Authorization": f"Bearer {key}"})
            body = json.loads(c.getresponse().read())
        finally:
            c.close()
        if body.get("process") not in old and "start" in body:
            return dict(body["start"])
        time.sleep(0.02)
    return None


def run_wrk(port: int, key: str | None, lua: str, seconds: int) -> tuple[float, int, str]:
    cmd = ["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", lua, "-H", "Content-Type: application/json"]
    if key:
        cmd += ["-H", f"Authorization: Bearer {key}"]
    out = subprocess.run([*cmd, f"http://127.0.0.1:{port}/api/v1/score"], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    lat = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    return rps, int(non2xx.group(1)) if non2xx else 0, lat.group(0) if lat else ""


def fixed_rate(port: int, key: str, rate: float, seconds: float, at_1s: Callable[[], None] | None = None
               ) -> tuple[float, float, float, int, int]:
    """Open loop at ``rate``/s: returns p50 ms, p99 ms, max ms, sent, ok; ``at_1s`` is called one second in."""
    local = threading.local()
    stamp = int(time.time())

    def one(i: int, due: float) -> tuple[float, bool]:
        tx = {"transaction_id": f"BR{stamp}-{i}", "timestamp": "2026-03-03T09:00:00Z", "user_id": f"BRU{i % 2000}",
              "card_id": f"BRC{i % 2500}", "device_id": f"BRD{i % 1800}", "ip": f"10.7.{i % 50}.{i % 200}",
              "amount": 10.0 + i % 90}
        try:
            if not hasattr(local, "c"):
                local.c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            local.c.request("POST", "/api/v1/score", body=json.dumps(tx),
                            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
            r = local.c.getresponse()
            r.read()
            ok = r.status == 200
        except Exception:
            local.__dict__.pop("c", None)
            ok = False
        return (time.perf_counter() - due) * 1000, ok

    n = int(rate * seconds)
    start = time.perf_counter() + 0.2
    futs = []
    if at_1s is not None:
        threading.Timer(1.2, at_1s).start()
    with ThreadPoolExecutor(64) as ex:
        for i in range(n):
            due = start + i / rate
            d = due - time.perf_counter()
            if d > 0:
                time.sleep(d)
            futs.append(ex.submit(one, i, due))
    res = [f.result() for f in futs]
    lat = sorted(x for x, _ in res)
    return lat[len(lat) // 2], lat[int(len(lat) * 0.99)], lat[-1], n, sum(ok for _, ok in res)


def lazy_clients(port: int, key: str, n: int, how: str) -> list[float]:
    """``n`` clients hold a connection: ``silent`` sends nothing, ``half`` half a request, ``answered`` a
    score whose answer it reads but then keeps the socket open (a client pausing, a pool closing lazily);
    the latencies (ms) of 10 scores another client sends meanwhile, one after the other."""
    def raw(i: int) -> bytes:
        body = json.dumps({"transaction_id": f"BL{time.time()}-{i}", "timestamp": "2026-03-03T09:00:00Z",
                           "user_id": f"BLU{i}", "amount": 5.0})
        return (f"POST /api/v1/score HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()

    held = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall({"silent": b"", "half": raw(i)[:40]}.get(how, raw(i)))
        held.append(s)
    for s in held if how == "answered" else []:  # each answer's head read; the socket stays open
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(65536)
    time.sleep(0.2)
    lat = []
    for i in range(10):
        t = time.perf_counter()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("POST", "/api/v1/score", body=raw(1000 + i).split(b"\r\n\r\n", 1)[1],
                  headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
        c.getresponse().read()
        c.close()
        lat.append((time.perf_counter() - t) * 1000)
    for s in held:
        s.close()
    return lat


def in_process(store_path: str, n: int) -> tuple[float, float, float]:
    """``Scorer.score`` called directly on the store (as a worker calls it, without HTTP): p50, p99 and
    max milliseconds over ``n`` unique transactions on a pool of users and identifiers."""
    import random

    from graphfraud.schema import validate_record
    from graphfraud.scoring import Scorer
    from graphfraud.storage import open_store

    st = open_store(store_path)
    try:
        if hasattr(st, "checkpoint_in_background"):  # as the server's workers do
            st.checkpoint_in_background()
        scorer = Scorer(st)
        rng = random.Random(7)
        stamp = int(time.time())
        lat = []
        for i in range(n):
            u = rng.randint(1, 5000)
            tx = validate_record({
                "transaction_id": f"BP{stamp}-{i}", "timestamp": "2026-03-02T10:00:00Z", "user_id": f"BPU{u}",
                "card_id": f"BPC{u}", "device_id": f"BPD{rng.randint(1, 6000)}",
                "ip": f"10.8.{rng.randint(0, 40)}.{rng.randint(1, 250)}", "amount": rng.randint(1, 500) + 0.5,
                "merchant_id": f"BPM{rng.randint(1, 300)}"})
            t = time.perf_counter()
            scorer.score(tx)
            lat.append((time.perf_counter() - t) * 1000)
    finally:
        st.close()
    lat.sort()
    return lat[len(lat) // 2], lat[int(len(lat) * 0.99)], lat[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", help="Store to serve (default: a new empty one in a temp folder).")
    ap.add_argument("--fake-scorer", nargs="?", const="plain", choices=["plain", "write"],
                    help="Serve a trivial scorer instead of graphfraud.scoring.Scorer.")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rate", type=float, default=300.0)
    ap.add_argument("--replace-worker", action="store_true",
                    help="After the wrk run, kill one worker 1 s into another steady run and report the latency "
                         "while gunicorn replaces it.")
    ap.add_argument("--refresh-every", type=float, default=None, metavar="S",
                    help="The server's engine_refresh_every (default: the setting's); 0: the arbiter's engine is "
                         "never refreshed, so a replacement worker replays everything since the start.")
    ap.add_argument("--rings-beside", type=int, nargs="?", const=2, default=0, metavar="ROUNDS",
                    help="After the first steady run, ROUNDS pairs (default 2) of steady runs with a ring detection "
                         "started 1 s in: one as the server's refresher runs it (detection at idle priority, "
                         "writes at normal through ringrefresh.open_beside_server), one as it ran before (a "
                         "process at niceness 10, a plain store handle), alternating.")
    ap.add_argument("--lazy-clients", type=int, default=0, metavar="N",
                    help="Also: N clients hold connections (sending nothing; half a request; a score, keeping "
                         "the socket open after the answer); the latency of 10 scores another client sends "
                         "meanwhile, for each kind.")
    ap.add_argument("--in-process", type=int, default=20_000, metavar="N",
                    help="Also time N scores in this process (Scorer.score, no HTTP) first; 0 skips.")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="gf-bench-")
    store = args.store or os.path.join(tmp, "bench.db")
    env = {**os.environ, "GRAPHFRAUD_STORE": store, "PYTHONPATH": os.getcwd()}
    env.pop("GRAPHFRAUD_SCORER_FACTORY", None)
    if args.refresh_every is not None:
        env["GRAPHFRAUD_ENGINE_REFRESH_EVERY"] = str(args.refresh_every)
    if args.fake_scorer:
        env["GRAPHFRAUD_SCORER_FACTORY"] = "bench.bench_api:TrivialScorer"
        env["BENCH_FAKE_WRITE"] = "1" if args.fake_scorer == "write" else "0"
    py = sys.executable
    gf = [py, "-c", "from graphfraud.cli import main; main()"]
    key = subprocess.run([*gf, "apikey", "create", "--name", "bench", "--scope", "admin"], env=env,
                         capture_output=True, text=True, check=True).stdout.split()[-1]
    lua = os.path.join(tmp, "score.lua")
    with open(lua, "w") as f:
        f.write(LUA % {"seed": os.getpid() % 1000})
    with open(os.path.join(tmp, "bench_echo.py"), "w") as f:
        f.write(ECHO_APP)

    inproc = None
    if args.in_process and not args.fake_scorer:
        os.environ["GRAPHFRAUD_STORE"] = store
        inproc = in_process(store, args.in_process)
    empty_registry = None
    if not args.fake_scorer:
        from graphfraud.storage import open_store

        st = open_store(store)
        empty_registry = not st.list_rings(None, 1)
        st.close()
    port = free_port()
    t = time.time()
    server = subprocess.Popen([*gf, "serve", "--port", str(port), "--workers", str(args.workers),
                               "--threads", str(args.threads)], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(tmp, "serve.log"), "wb"))
    try:
        wait_http(port, "/readyz")
        ready = time.time() - t
        p50, p99, _, sent, ok = fixed_rate(port, key, args.rate, args.seconds)
        beside: list[tuple[str, tuple[float, float, float, int, int], list[str] | None]] = []
        for how in ["idle", "niced"] * args.rings_beside:
            # now: as the server's refresher (idle detection, a handle that leaves the log copy to its thread)
            code = ("import os, sys, time; from graphfraud.storage import open_store; "
                    "from graphfraud.ringrefresh import open_beside_server, run_ring_detection; "
                    "t = time.perf_counter(); "
                    + ("os.nice(10); idle, st = False, open_store(sys.argv[1]); " if how == "niced"
                       else "idle, st = True, open_beside_server(sys.argv[1]); ")
                    + "n = len(run_ring_detection(st, idle=idle)); st.close(); print(n, time.perf_counter() - t)")
            det: list[subprocess.Popen[str]] = []
            got = fixed_rate(port, key, args.rate, args.seconds, at_1s=lambda: det.append(subprocess.Popen(
                [py, "-c", code, store], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)))
            beside.append((how, got, det[0].communicate()[0].split() if det else None))
        lazy = {how: lazy_clients(port, key, args.lazy_clients, how) for how in ("silent", "half", "answered")
                } if args.lazy_clients else None
        cpu0, arbiter0 = tree_cpu(server.pid), own_cpu(server.pid)
        ours, non2xx, ours_lat = run_wrk(port, key, lua, args.seconds)
        time.sleep(2)  # the arbiter's engine refresh, if due, counts here too
        cpu = {"ours": (tree_cpu(server.pid) - cpu0) / (ours * args.seconds),
               "arbiter": (own_cpu(server.pid) - arbiter0) / (ours * args.seconds)}
        replaced = start = None
        if args.replace_worker:
            # one worker killed: gunicorn starts another, which replays what the store gained since the engine
            # it forks from (the arbiter's, refreshed every engine_refresh_every seconds) before it serves
            before = set(workers(server.pid))
            replaced = fixed_rate(port, key, args.rate, args.seconds,
                                  at_1s=lambda: os.kill(max(workers(server.pid)), signal.SIGKILL))
            start = replacement_start(port, key, before)
    finally:
        stop(server)
    echo = {}
    wc = "sync" if args.threads == 1 else "gthread"  # the worker class graphfraud serve picks
    for label, extra in ((f"same settings ({wc})", ["-k", wc, "--threads", str(args.threads)]),
                         ("gunicorn defaults (as acceptance)", [])):
        eport = free_port()
        e = subprocess.Popen([py, "-m", "gunicorn", "-w", str(args.workers), *extra, "-b", f"127.0.0.1:{eport}",
                              "--chdir", tmp, "bench_echo:app"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            time.sleep(2.5)
            cpu0 = tree_cpu(e.pid)
            echo[label] = run_wrk(eport, None, lua, args.seconds)[0]
            cpu[label] = (tree_cpu(e.pid) - cpu0) / (echo[label] * args.seconds)
        finally:
            stop(e)
    shutil.rmtree(tmp, ignore_errors=True)
    what = f"fake scorer ({args.fake_scorer})" if args.fake_scorer else "graphfraud.scoring.Scorer"
    print(f"graphfraud serve --workers {args.workers} --threads {args.threads}, {what}, store {store}")
    if inproc is not None:
        print(f"  in process, {args.in_process:,} scores: p50 {inproc[0]:.2f} ms, p99 {inproc[1]:.2f} ms, "
              f"max {inproc[2]:.2f} ms")
    print(f"  ready in {ready:.1f} s")
    print(f"  steady {args.rate:.0f}/s for {args.seconds} s: p50 {p50:.2f} ms, p99 {p99:.2f} ms, {ok}/{sent} ok"
          + (" (the registry was empty: the server's first ring detection ran meanwhile)" if empty_registry else ""))
    for how, got, detection in beside:
        took = f"{detection[0]} rings in {float(detection[1]):.1f} s" if detection and len(detection) == 2 else "failed"
        what = ("detection at idle priority, writes at normal (the refresher now)" if how == "idle" else
                "the process at niceness 10 (the refresher before)")
        print(f"  {args.rate:.0f}/s for {args.seconds} s, a ring detection started 1 s in, {what} ({took}): "
              f"p50 {got[0]:.2f} ms, p99 {got[1]:.2f} ms, slowest {got[2]:.2f} ms, {got[4]}/{got[3]} ok")
    for how, lat in (lazy or {}).items():
        what = {"silent": "connected, sending nothing", "half": "sending half a request",
                "answered": "holding their sockets open after their answers"}[how]
        print(f"  {args.lazy_clients} clients {what}; another client's 10 scores meanwhile: "
              f"{', '.join(f'{x:.1f}' for x in lat)} ms")
    if replaced is not None:
        print(f"  {args.rate:.0f}/s for {args.seconds} s, one worker killed with SIGKILL 1 s in and replaced: p50 "
              f"{replaced[0]:.2f} ms, p99 {replaced[1]:.2f} ms, slowest {replaced[2]:.2f} ms, {replaced[4]}/{replaced[3]} ok "
              "(a request the killed worker was answering, if any, fails)")
    if start is not None:
        print(f"  the replacement worker started from sequence {start['from_seq']:,} and replayed "
              f"{start['events']:,} events in {start['seconds']:.2f} s before it took a request")
    print(f"  wrk -c32 {args.seconds}s: {ours:,.0f} scores/s, non-2xx {non2xx}  ({ours_lat.split(None, 1)[1]}); "
          f"workers' CPU {cpu['ours'] * 1000:.3f} ms a score; the arbiter's (engine refresh) "
          f"{cpu['arbiter'] * 1000:.3f} ms a score")
    for label, rps in echo.items():
        print(f"  bare Flask echo, {label}: {rps:,.0f} req/s -> ours = {ours / rps:.0%}; workers' CPU "
              f"{cpu[label] * 1000:.3f} ms a request -> ours = {cpu[label] / cpu['ours']:.0%} of the echo's rate "
              "per CPU second")
    print("floors: >= 1,000 scores/s, >= 30 % of the echo, p99 <= 30 ms at 300/s; in process p99 <= 3 ms")


if __name__ == "__main__":
    main()
