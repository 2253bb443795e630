"""Issue 16 benchmark: every long command at scale, with its wall time and its own peak memory.

Generates a world (streamed to disk), then runs ``load``, ``rings``, ``train`` and ``backtest`` as separate
processes on it and prints, per command, the seconds, the rate, the peak resident memory of the command's
process (``wait4``), and the peak of the proportional memory (PSS) summed over the command and every
process it forked, sampled every second (``train`` replays history in a child, ``backtest`` fits in
children: the sum is what the command costs the machine), with bytes per transaction. ``serve`` starts ``graphfraud serve --workers 2`` on
the trained store and prints the time until the workers answer ``/readyz`` and the memory of the arbiter
and each worker: resident (RSS) and proportional (PSS: a page shared by k processes counts 1/k in each), so
the PSS total is what the server costs the machine. Baselines measured in the same run: the plain
``pandas.read_csv`` + ``sqlite3.executemany`` script for loading (bench_load's yardstick), and, with
``--baseline-tree``, the same commands run from another checkout of graphfraud (e.g. the commit before a
change), on the same files, one after the other.

Reproduce::

    .venv/bin/python bench/bench_scale.py --users 70000                 # about 1,000,000 transactions
    .venv/bin/python bench/bench_scale.py --users 700000 --steps generate,load,rings   # about 10 million
    git worktree add /tmp/before <commit>
    .venv/bin/python bench/bench_scale.py --users 20000 --baseline-tree /tmp/before --steps generate,load,train

Targets (10 million): ``train`` and ``backtest`` at 8 GB peak or less (800 bytes a transaction), the backtest
in 20 minutes or less; loading at 1.0x the plain script or better.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_load import YARDSTICK, run  # noqa: E402  (the same yardstick and child timing as bench_load)

STEPS = ("generate", "load", "rings", "train", "backtest", "serve")


def command(step: str, gf: list[str], csv: str, store: str, work: str) -> list[str]:
    """The command line of one step (``gf``: how to run graphfraud)."""
    if step == "generate":
        raise ValueError("generate runs once, before the trees")
    if step == "load":
        return gf + ["load", csv, "--store", store]
    if step == "rings":
        return gf + ["rings", "--store", store, "--format", "json"]
    if step == "train":
        return gf + ["train", "--store", store]
    return gf + ["backtest", csv, "--train-frac", "0.6", "--label-delay", "1d", "--store",
                 os.path.join(work, "backtest.db"), "--report", os.path.join(work, "report.json")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=70000, help="users to generate (70,000: about 1M transactions)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--profile", default="rings")
    ap.add_argument("--csv", help="use this transactions file instead of generating one")
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--baseline-tree", help="another checkout of graphfraud to run the same steps with")
    ap.add_argument("--work", help="folder for the files (default: a new temporary folder)")
    args = ap.parse_args()
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    work = args.work or tempfile.mkdtemp(prefix="gf-bench-scale-")
    os.makedirs(work, exist_ok=True)
    os.chdir(work)  # ``python -m`` puts the current folder first on sys.path: never a source tree's
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = [("this tree", here)] + ([("baseline", os.path.abspath(args.baseline_tree))] if args.baseline_tree else [])
    csv = args.csv or os.path.join(work, "transactions.csv")
    print(f"work folder {work}; machine load average {os.getloadavg()[0]:.1f}", flush=True)
    if "generate" in steps and not args.csv:
        wall, peak = run([sys.executable, "-m", "graphfraud.cli", "-q", "generate", csv, "--users", str(args.users),
                          "--seed", str(args.seed), "--profile", args.profile], env=_env(here))
        print(f"generate: {wall:.1f} s, peak RSS {peak:,.0f} MB", flush=True)
    with open(csv, "rb") as fh:
        n = sum(1 for _ in fh) - 1
    print(f"{n:,} transactions in {csv}", flush=True)
    if "load" in steps:
        wall, peak = run([sys.executable, "-c", YARDSTICK, csv, os.path.join(work, "plain.db")])
        print(f"baseline: plain pandas read_csv + sqlite3 executemany {wall:.1f} s = {n / wall:,.0f} rows/s, "
              f"peak RSS {peak:,.0f} MB", flush=True)
        plain = wall
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, tree in trees:
        sub = os.path.join(work, name.replace(" ", "-"))
        os.makedirs(sub, exist_ok=True)
        store = os.path.join(sub, "store.db")
        gf = [sys.executable, "-m", "graphfraud.cli", "-q"]
        for step in steps:
            if step == "generate":
                continue
            if step == "serve":
                results.setdefault(name, {})[step] = serve(gf, store, _env(tree), name)
                continue
            try:
                wall, own, peak = run_sampled(command(step, gf, csv, store, sub), env=_env(tree))
            except subprocess.CalledProcessError as e:
                print(f"[{name}] {step}: failed (exit {e.returncode})", flush=True)
                continue
            results.setdefault(name, {})[step] = {"seconds": wall, "peak_mb": peak}
            extra = f", {plain / wall:.2f}x the plain script" if step == "load" else ""
            if step == "backtest":
                with open(os.path.join(sub, "report.json"), encoding="utf-8") as fh:
                    extra = f", AP {json.load(fh).get('average_precision')}"
            print(f"[{name}] {step}: {wall:.1f} s = {n / wall:,.0f} tx/s, peak PSS of its processes {peak:,.0f} MB "
                  f"= {peak * 1048576 / n:,.0f} bytes a transaction (its own process's peak RSS {own:,.0f} MB)"
                  f"{extra}; load average {os.getloadavg()[0]:.1f}", flush=True)
    if len(results) == 2:
        a, b = results["this tree"], results["baseline"]
        for step in a.keys() & b.keys():
            print(f"{step}: this tree / baseline: time {a[step]['seconds'] / b[step]['seconds']:.2f}x, "
                  f"peak memory {a[step]['peak_mb'] / b[step]['peak_mb']:.2f}x")


def run_sampled(cmd: list[str], env: dict[str, str] | None = None, every: float = 1.0
                ) -> tuple[float, float, float]:
    """Wall seconds, the command's own peak RSS (``wait4``) and the peak of the PSS summed over it and its
    descendants, sampled every ``every`` seconds (MB). Prints when that peak was (seconds after the start, to
    set beside the command's progress lines) and each process's PSS then, the command's own process first."""
    import threading

    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    peak = [0.0]
    at: list[tuple[float, list[float]]] = [(0.0, [])]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(every):
            each = []
            for pid in _tree(proc.pid):
                try:
                    each.append(_memory(pid)[1])
                except (OSError, KeyError):  # ended between the listing and the read
                    pass
            if sum(each) > peak[0]:
                peak[0], at[0] = sum(each), (time.perf_counter() - t, each)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    if at[0][1]:
        print(f"  peak PSS {peak[0]:,.0f} MB at {at[0][0]:.0f} s of {wall:.0f} s: "
              f"{' + '.join(f'{m:,.0f}' for m in at[0][1])} MB by process", flush=True)
    return wall, usage.ru_maxrss / 1024, peak[0] or usage.ru_maxrss / 1024  # a command shorter than a sample


def _tree(root: int) -> list[int]:
    """``root`` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            children.setdefault(_parent(int(entry)), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _memory(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process in MB, from ``/proc/PID/smaps_rollup``."""
    got = {}
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            k, _, v = line.partition(":")
            if k in ("Rss", "Pss"):
                got[k] = int(v.split()[0]) / 1024
    return got["Rss"], got["Pss"]


def serve(gf: list[str], store: str, env: dict[str, str], name: str) -> dict[str, float]:
    """Start ``serve --workers 2``; time to ready; memory of the arbiter and its workers."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    t = time.perf_counter()
    proc = subprocess.Popen(gf + ["serve", "--store", store, "--workers", "2", "--port", str(port), "--rings-every",
                                  "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = 0
    try:
        while ok < 20 and time.perf_counter() - t < 3600:  # 20 answers in a row: both workers are ready
            if proc.poll() is not None:
                raise SystemExit(f"[{name}] serve exited with {proc.returncode} before it was ready")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                    ok = ok + 1 if r.status == 200 else 0
            except OSError:
                ok = 0
                time.sleep(0.2)
        ready = time.perf_counter() - t
        # a sync worker that is ready can answer every probe while the other still loads: wait until both
        # workers' memory has stopped changing for 5 s
        kids: list[int] = []
        last, still = None, 0.0
        while still < 5 and time.perf_counter() - t - ready < 900:
            time.sleep(0.5)
            kids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == proc.pid)
            now = [round(_memory(k)[0]) for k in kids]
            still = still + 0.5 if now == last else 0.0
            last = now
        settled = time.perf_counter() - t
        arbiter = _memory(proc.pid)
        workers = [_memory(k) for k in kids]
    finally:
        proc.terminate()
        proc.wait(60)
    total_pss = arbiter[1] + sum(w[1] for w in workers)
    print(f"[{name}] serve --workers 2: answering in {ready:.1f} s, both workers settled by {settled:.1f} s; arbiter RSS {arbiter[0]:,.0f} MB (PSS "
          f"{arbiter[1]:,.0f}); workers RSS {', '.join(f'{w[0]:,.0f}' for w in workers)} MB (PSS "
          f"{', '.join(f'{w[1]:,.0f}' for w in workers)}); total PSS {total_pss:,.0f} MB", flush=True)
    return {"seconds": settled, "peak_mb": total_pss}


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return int(fh.read().rpartition(")")[2].split()[1])
    except OSError:
        return -1


def _env(tree: str) -> dict[str, str]:
    # one key for every step (serve refuses keys shorter than 32 characters)
    key = os.environ.get("GRAPHFRAUD_SECRET_KEY", "bench-scale-not-a-secret-0123456789abcdef")
    env = dict(os.environ, PYTHONPATH=tree, GRAPHFRAUD_SECRET_KEY=key)
    return env


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - start:.0f} s")
