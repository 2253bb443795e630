"""Browser tests: a real `graphfraud serve` (gunicorn) over a temporary store, driven by real headless
Chromium (Debian's /usr/bin/chromium through Playwright's Python package).

Without Chromium or Playwright these tests skip locally and FAIL under CI=true, so CI cannot pass them by
accident; `scripts/install-browser` (or `apt-get install chromium`) provides it.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("GRAPHFRAUD_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser-Secret-9"


def _missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"Chromium is not at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright's Python package is not installed (pip install playwright)"
    return None


def pytest_collection_modifyitems(config, items):
    why = _missing()
    if why is None:
        return
    ci = os.environ.get("CI", "").lower() == "true"
    for item in items:
        if "browser" in item.keywords:
            # under CI a missing browser is a failure (the _browser_required fixture fails), never a skip
            item.add_marker(pytest.mark.usefixtures("_browser_required") if ci else pytest.mark.skip(reason=why))


@pytest.fixture
def _browser_required():
    why = _missing()
    if why is not None:
        pytest.fail(f"browser tests must run under CI=true: {why}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gf() -> list[str]:
    exe = shutil.which("graphfraud", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "graphfraud.cli"]


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """A store with planted rings (detected), one admin account, and a user with a hostile id."""
    import pandas as pd

    from graphfraud.rings import detect_rings, sync_rings
    from graphfraud.schema import validate_frame
    from graphfraud.storage import open_store
    from graphfraud.testing import make_transactions

    folder = tmp_path_factory.mktemp("browser")
    path = str(folder / "ui.db")
    df, truth = make_transactions(n_users=150, seed=4)
    last = df.iloc[-1]
    df = pd.concat([df, pd.DataFrame([dict(last, transaction_id="XSS1", user_id="<img src=x onerror=alert(1)>",
                                           is_fraud=1),
                                      dict(last, transaction_id="TX\u202egpj.exe", user_id="U\u202egpj.exe",
                                           is_fraud=0)])], ignore_index=True)
    good, rejects = validate_frame(df.astype(str).replace({"": None, "nan": None, "None": None, "<NA>": None}))
    assert not rejects
    st = open_store(path)
    st.write_transactions(good)
    rings = [r.to_dict() for r in sync_rings(st, detect_rings(st))]
    st.close()
    env = {**os.environ, "GRAPHFRAUD_STORE": path}
    subprocess.run([*_gf(), "user", "create", "bianca", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n",
                   text=True, env=env, check=True, capture_output=True, cwd=folder)
    return {"path": path, "folder": folder, "rings": rings, "user": "bianca", "password": PASSWORD}


@pytest.fixture(scope="session")
def server(world):
    yield from _serve(world)


def _serve(world):
    """``graphfraud serve`` over the world's store until the session ends; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "GRAPHFRAUD_STORE": world["path"]}
    log = open(world["folder"] / "serve.log", "wb")
    proc = subprocess.Popen([*_gf(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                            env=env, cwd=world["folder"], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError((world["folder"] / "serve.log").read_text()[-2000:])
                time.sleep(0.25)
        else:
            raise RuntimeError("graphfraud serve did not become healthy in 30 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server, world):
    """A signed-in page that records requests leaving the machine and script dialogs."""
    yield from _signed_in(browser, server, world)


def _signed_in(browser, server, world):
    ARTIFACTS.mkdir(exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = ctx.new_page()
    pg.external, pg.dialogs, pg.errors = [], [], []
    pg.on("request", lambda r: pg.external.append(r.url) if not r.url.startswith((server, "data:", "blob:")) else None)
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(server + "/login")
    pg.fill("input[name=username]", world["user"])
    pg.fill("input[name=password]", world["password"])
    pg.click("button[type=submit]")
    pg.wait_for_url(server + "/")
    yield pg
    ctx.close()


# ---------------------------------------------------------------- a world with money between users
MULE_RING = "R-money-1"


@pytest.fixture(scope="session")
def mule_world(tmp_path_factory):
    """``--profile mules`` (300 users, 30 days) loaded with its known mules and an account model trained (what
    ``graphfraud train`` does for ``suspects``), one admin account, and one ring: the mule group that moved the
    most money among its own members."""
    import json
    import sqlite3

    from graphfraud.scoring import build_engine
    from graphfraud.storage import open_store
    from graphfraud.suspects import train_accounts
    from graphfraud.synth import write_mules
    from loaders import load_file, load_labels

    folder = tmp_path_factory.mktemp("browser-mules")
    csv, path = folder / "tx.csv", str(folder / "mules.db")
    write_mules(csv, 300, seed=7, days=30)
    truth = json.loads((folder / "truth.json").read_text())
    st = open_store(path)
    load_file(str(csv), st, progress=False, rejects_path=str(folder / "rejects.csv"))
    load_labels(str(folder / "labels.csv"), st, rejects_path=str(folder / "label-rejects.csv"))
    assert train_accounts(st, build_engine(st)) is not None
    con = sqlite3.connect(path)
    best, flows = [], []
    for group in truth["rings"].values():
        users = group["users"] + group.get("sinks", [])
        marks = ",".join("?" * len(users))
        rows = con.execute(f"SELECT user_id, counterparty_id, amount, ts FROM tx WHERE user_id IN ({marks}) AND "
                           f"counterparty_id IN ({marks}) ORDER BY ts", users + users).fetchall()
        if len(rows) > len(flows):
            best, flows = users, rows
    con.close()
    st.save_rings([{"ring_id": MULE_RING, "status": "active", "score": 0.9, "size": len(best), "users": best,
                    "members": [{"type": "user", "id": u} for u in best], "first_activity": flows[0][3],
                    "last_activity": flows[-1][3]}], [{"ring_id": MULE_RING, "change": "created"}])
    st.close()
    env = {**os.environ, "GRAPHFRAUD_STORE": path}
    subprocess.run([*_gf(), "user", "create", "mona", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n",
                   text=True, env=env, check=True, capture_output=True, cwd=folder)
    return {"path": path, "folder": folder, "user": "mona", "password": PASSWORD, "ring_id": MULE_RING,
            "ring_users": best, "ring_flows": flows}


@pytest.fixture(scope="session")
def mule_server(mule_world):
    yield from _serve(mule_world)


@pytest.fixture
def mule_page(browser, mule_server, mule_world):
    """A signed-in page on the mule world's server (requests leaving the machine and dialogs recorded)."""
    yield from _signed_in(browser, mule_server, mule_world)
