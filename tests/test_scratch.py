"""Scratch files of a killed command are removed by the next one; a live command's are kept."""
import os
import signal
import subprocess
import sys

from graphfraud import scratch

MAKE = ("import sys, time; from graphfraud import scratch; "
        "print(scratch.make_dir('links', root=sys.argv[1]), flush=True); time.sleep(60)")


def _start(root):
    """A command in its own process group that made a scratch folder and is still running."""
    p = subprocess.Popen([sys.executable, "-c", MAKE, str(root)], stdout=subprocess.PIPE, text=True,
                         start_new_session=True)
    path = p.stdout.readline().strip()
    assert os.path.isdir(path)
    return p, path


def test_a_killed_commands_scratch_folder_goes_and_a_running_ones_stays(tmp_path):
    killed, left = _start(tmp_path)
    running, live = _start(tmp_path)
    try:
        with open(os.path.join(left, "0000-000000.arrow"), "w") as f:
            f.write("card,4111...,u1")
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        assert os.path.isdir(left)  # a kill -9 leaves it behind
        mine = scratch.make_dir("links", root=str(tmp_path))
        assert not os.path.exists(left)
        assert os.path.isdir(live)  # its group is alive
        assert os.path.isdir(mine)
        assert oct(os.stat(mine).st_mode & 0o777) == "0o700"
    finally:
        for p in (killed, running):
            p.kill()
            p.wait()
            p.stdout.close()


def test_other_kinds_and_other_hosts_are_not_touched(tmp_path):
    other_kind = tmp_path / f"graphfraud-rows-{scratch.HOST}-999999999-a.f32"
    other_host = tmp_path / "graphfraud-links-elsewhere-999999999-b"
    other_kind.write_bytes(b"")
    other_host.mkdir()
    assert scratch.sweep("links", root=str(tmp_path)) == []
    assert other_kind.exists() and other_host.exists()
    assert scratch.sweep("rows", root=str(tmp_path)) == [str(other_kind)]


def test_a_scratch_file_is_private_and_named_by_its_group(tmp_path):
    path = scratch.make_file("rows", suffix=".f32", root=str(tmp_path))
    assert os.path.basename(path).startswith(f"graphfraud-rows-{scratch.HOST}-{os.getpgid(0)}-")
    assert path.endswith(".f32")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
