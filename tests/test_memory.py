"""Work run apart in a forked process (:func:`graphfraud.memory.run_apart`): it never outlives the process
that started it, however that one ends."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = """
import signal, sys, time
from graphfraud.memory import run_apart

# Ctrl-C raises KeyboardInterrupt, as in a command started from a terminal: a process started in the background
# by a shell without job control (a CI runner, say) inherits SIGINT ignored, and Python then leaves it so
signal.signal(signal.SIGINT, signal.default_int_handler)

def work(log):
    with open(sys.argv[1], "w") as fh:
        fh.write(str(__import__("os").getpid()))
    time.sleep(600)

run_apart(work, "sleeping")
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        return fh.read().rpartition(")")[2].split()[0] != "Z"  # a zombie has ended


def _start(tmp_path: Path, stderr: int) -> tuple[subprocess.Popen[bytes], int]:
    marker = tmp_path / "child.pid"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(marker)], stderr=stderr, start_new_session=True)
    for _ in range(300):
        if marker.exists() and marker.read_text():
            return proc, int(marker.read_text())
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the child never started")


def _gone(pid: int) -> bool:
    for _ in range(100):
        if not _alive(pid):
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_work_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    proc, child = _start(tmp_path, subprocess.DEVNULL)  # (a pipe would stay open in a child left running)
    proc.kill()
    proc.wait()
    assert _gone(child)


def test_ctrl_c_ends_the_work_and_leaves_no_traceback_of_the_child(tmp_path: Path) -> None:
    proc, child = _start(tmp_path, subprocess.PIPE)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C does: to every process of the group
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        state = subprocess.run(["ps", "-o", "pid,ppid,stat,wchan:24,args", "-g", str(proc.pid)],
                               capture_output=True, text=True).stdout
        os.killpg(proc.pid, signal.SIGKILL)  # leave nothing running (or an open pipe) for the next tests
        proc.communicate()
        raise AssertionError(f"Ctrl-C did not end the command in 60 s; its processes were:\n{state}") from None
    assert proc.returncode != 0
    assert _gone(child)
    assert b"graphfraud-apart" not in err  # the child printed nothing of its own
