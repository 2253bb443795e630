"""``graphfraud serve``: the app on gunicorn, never Flask's development server.

* ``preload_app = False``: each worker builds its own app after the fork, so each opens its own store
  connections and loads its own scoring engine (SQLite handles and threads must not cross a fork).
* ``worker_class``: with one thread per worker (the default), gunicorn's ``sync`` worker, which answers
  one request per connection with no event loop or thread hand-off: 1,264-1,271 scores/s against
  848-892/s for the threaded worker with one thread (same run, ``wrk`` at 32 connections, 2 workers).
  With ``--threads`` above 1, ``gthread``: a worker serves that many requests at once with keep-alive;
  the scorer serialises the engine itself, the threads overlap network and store I/O. Both are given a
  limit (``client_timeout``) on a client sending its request (:class:`ClientTimeoutSyncWorker`,
  :class:`ClientTimeoutThreadWorker`). Either way, put
  a buffering proxy (nginx) in front when clients are slow or far away, as gunicorn advises.
* SIGTERM (or SIGINT) stops gracefully: workers stop accepting, requests in flight finish (up to
  ``graceful_timeout``), and since a score is stored before it is answered, nothing acknowledged is lost.
* Before forking, the arbiter builds or loads the scoring engine once and keeps it: the workers inherit it
  (no snapshot to read, ready at once) and share its pages copy-on-write, so N workers cost about one
  engine plus what each has changed since.
* A worker takes no connection before its scorer is ready (gunicorn's ``post_worker_init``). One that
  gunicorn starts in place of a dead one forks from the arbiter's engine and replays what the store gained
  since (about 15,000 transactions a second here): the other workers answer meanwhile, where it used to
  take connections and hold them for up to ``scorer_startup_wait`` seconds. A low-priority thread of the
  arbiter keeps that engine within ``engine_refresh_every`` seconds (30) of the store, so the replay is
  seconds' worth of traffic, not all since the server started (:func:`start_engine_refresher`).
* Before forking, the arbiter opens the store once (creating its tables, and the key file when no
  ``GRAPHFRAUD_SECRET_KEY`` is set) so workers never race to initialise them, and makes a folder where workers
  share metrics snapshots (removing those that servers killed with SIGKILL left behind).
* A separate process refreshes the ring registry every ``rings_every`` seconds when the store changed
  (rings that formed from scores reach ``/rings`` and the queue without a manual ``graphfraud rings``), and
  detects the first rings at the start when the registry is empty; it runs outside the workers, so detection
  never holds a worker's interpreter. The detection runs in a thread at idle priority (``SCHED_IDLE``) that
  only reads; the writes (link fold, registry) stay at normal priority, so the lock every score waits for is
  never held by a thread that cannot run (:func:`graphfraud.ringrefresh.detect_when_idle`).
* After an answer, a connection is closed without waiting for the client to close its side, unless the
  client sent data the app did not read (:func:`close_promptly`). The sync worker corks its connections
  (``TCP_CORK``, Linux): gunicorn's head and body leave in one segment with the close, not two.
"""
from __future__ import annotations

import gc
import json
import logging
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker


class GraphFraudServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application serving :func:`webui.create_app`."""

    def __init__(self, options: dict[str, Any], app_config: dict[str, Any] | None = None):
        self.options = options
        self.app_config = dict(app_config or {})
        super().__init__()

    def load_config(self) -> None:
        for k, v in self.options.items():
            if k in self.cfg.settings and v is not None:
                self.cfg.set(k.lower(), v)

    def load(self) -> Any:
        from . import create_app

        return create_app(self.app_config)


class _LimitedSocket(socket.socket):
    """A client's socket with a deadline on its request: every blocking read waits at most what is left of
    ``client_timeout`` since the request's first read, so a client that trickles a byte a second is cut off
    when one that stops is (a timeout on each read alone let it hold a worker for minutes). Blocking sends
    wait at most ``client_timeout`` for progress; a blocking mode set by gunicorn keeps that limit.

    :meth:`cork` holds what is sent until a segment is full, the socket closes, or the worker waits to read
    (an interim ``100 Continue`` goes out before the worker waits for the body it asked for)."""

    deadline: float | None = None  # None: the next read starts the clock; inf: the request was read (answering)
    corked = False
    held = False  # sent while corked, not pushed out yet

    def cork(self) -> None:
        """Send the answer in as few segments as it fills: gunicorn sends the head and the body apart, and
        each send to a nearby client costs a segment, an acknowledgement and a wake-up (6-8 % of a worker's
        CPU a request on the web stack alone, ``bench_api.py --fake-scorer``). Linux only; a no-op elsewhere."""
        if hasattr(socket, "TCP_CORK") and self.family in (socket.AF_INET, socket.AF_INET6):
            self.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            self.corked = True

    def _push(self) -> None:
        self.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)  # sends what is held
        self.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        self.held = False

    @staticmethod
    def limit() -> float:
        return ClientTimeoutSyncWorker.client_timeout

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(self.limit())
        else:
            super().setblocking(False)

    def _before_read(self) -> None:
        if self.held:
            self._push()
        if self.deadline == math.inf or self.gettimeout() == 0.0:  # answered, or a poller's read
            return
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + self.limit()
        left = self.deadline - now
        if left <= 0:
            raise TimeoutError("timed out")
        self.settimeout(min(left, self.limit()))

    def _before_send(self) -> None:
        self.held = self.corked
        if self.deadline != math.inf and self.gettimeout():  # the last read may have left a shorter wait
            self.settimeout(self.limit())

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self._before_read()
        return super().recv(bufsize, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._before_read()
        return super().recv_into(buffer, nbytes, flags)

    def send(self, data: Any, flags: int = 0) -> int:
        self._before_send()
        return super().send(data, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._before_send()
        super().sendall(data, flags)

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        self._before_send()
        return super().sendfile(file, offset, count)


def _limited(sock: socket.socket) -> _LimitedSocket:
    return _LimitedSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())


class ClientTimeoutSyncWorker(SyncWorker):  # type: ignore[misc]
    """gunicorn's sync worker, with a limit (``client_timeout``) on how long a client may take to send its
    request (in all, :class:`_LimitedSocket`) or to take its answer. gunicorn's own waits without limit: two
    connections that sent half a request held both workers, and every score, for 61 s, until the arbiter
    killed the workers as hung (they then replay the store to start again)."""

    client_timeout = 5.0  # set by :func:`serve` before the workers are forked

    def accept(self, listener: Any) -> None:
        client, addr = listener.accept()
        client = _limited(client)
        client.settimeout(self.client_timeout)
        if not self.cfg.is_ssl:  # (a TLS handshake's reads go round this class: nothing would push it out)
            client.cork()  # one request a connection: the close sends what is held
        gunicorn_util.close_on_exec(client)
        self.handle(listener, client, addr)


class ClientTimeoutThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded (``gthread``) worker with the same limit as :class:`ClientTimeoutSyncWorker` on a
    client sending its request or taking its answer. gunicorn's own waits for the rest of a request without
    limit once part of it came: a client that sent half a request held a thread of the pool for good."""

    def enqueue_req(self, conn: Any) -> None:
        if isinstance(conn.sock, _LimitedSocket):  # a kept-alive connection's next request: a new clock
            conn.sock.deadline = None
        else:
            conn.sock = _limited(conn.sock)
        super().enqueue_req(conn)


class _ClientTimeouts(logging.Filter):
    """gunicorn logs a client's timeout as a socket error with a traceback: one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], TimeoutError):
            record.msg = "a client sent no complete request in %s s (client_timeout): connection closed"
            record.args = (ClientTimeoutSyncWorker.client_timeout,)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's answer to a request it could not parse (a bad request line, header or HTTP version, a line
    or header too large, a transfer coding it does not know), in the app's JSON error shape rather than an
    HTML page; in place of gunicorn's ``util.write_error`` (:func:`serve` installs it).

    >>> a, b = socket.socketpair()
    >>> write_json_error(a, 400, "Bad Request", "Invalid HTTP Version 'HTTP/9.9'"); a.close()
    >>> head, _, body = b.recv(4096).partition(b"\\r\\n\\r\\n"); b.close()
    >>> head.split(b"\\r\\n")[0], json.loads(body)["code"]
    (b'HTTP/1.1 400 Bad Request', 'bad_request')
    """
    from .errors import HTTP_CODES, error_body

    message = mesg or reason
    if status_int == 500:  # gunicorn's own failure: no detail (the log has it)
        message = "The server could not handle the request; the server log has the details."
    elif len(message) > 200:  # it quotes the client's bytes: a line of 8 KB need not come back whole
        message = message[:200] + "..."
    body = json.dumps(error_body(status_int, HTTP_CODES.get(status_int, "http_error"), message)).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    gunicorn_util.write_nonblock(sock, head + body)


def defer_accept(server: Any) -> None:
    """gunicorn's ``when_ready``: the kernel hands a worker a TCP connection only once the client has sent
    something, or ``client_timeout`` seconds have passed (``TCP_DEFER_ACCEPT``, as nginx's ``deferred``):
    connections that send nothing (a port scan, a TCP health check, an attack) never hold a worker."""
    for listener in server.LISTENERS:
        sock = getattr(listener, "sock", None)
        if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
            continue
        if hasattr(socket, "TCP_DEFER_ACCEPT"):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT,
                                max(1, math.ceil(ClientTimeoutSyncWorker.client_timeout)))
            except OSError:  # pragma: no cover - not this kernel
                pass


def close_promptly(sock: socket.socket, timeout: float = 2.0, max_drain: int = 65536) -> None:
    """Close a client's connection after its answer, waiting for the client only when it sent data the app
    did not read; in place of gunicorn's ``util.close_graceful`` (:func:`serve` installs it).

    gunicorn's sync worker (27) half-closes and then waits up to ``timeout`` seconds for the client to close
    its side, reading what it sends, so that unread data does not make the kernel reset the connection
    and lose the answer (RFC 9112, 9.6). The worker serves no one meanwhile: two clients that kept their
    sockets open after their answers (a pause in their process, a pool that closes lazily) held every other
    score for 1,959 ms at two workers, and a pause in a load generator's own process made answers up to
    80 ms late.
    Here, with nothing unread, the socket closes at once (the answer has gone before the FIN); with data
    unread (a body refused unread, as a 413 does), it lingers as gunicorn's does.

    >>> a, b = socket.socketpair()
    >>> a.sendall(b"answer"); close_promptly(a, timeout=60)  # the client never closes: no wait
    >>> b.recv(100), b.recv(100)
    (b'answer', b'')
    >>> b.close()
    """
    if isinstance(sock, _LimitedSocket):
        sock.deadline = math.inf  # answered: the waits below are this function's own
    try:
        try:
            sock.shutdown(socket.SHUT_WR)  # sends what a cork held, then the end
        except OSError:
            return
        if isinstance(sock, _LimitedSocket):
            sock.held = False
        try:
            sock.setblocking(False)  # a socket with a timeout waits that long for data before any recv
            data = sock.recv(max_drain)
        except OSError:  # nothing unread (EAGAIN), or the connection is gone
            return
        drained, deadline = len(data), time.monotonic() + timeout
        while data and drained < max_drain and (left := deadline - time.monotonic()) > 0:
            try:
                sock.settimeout(left)
                data = sock.recv(4096)
            except OSError:  # timed out, or reset
                return
            drained += len(data)
    finally:
        try:
            sock.close()
        except OSError:
            pass


def refresh_rings_forever(store: str | None, every: float, parent: int, first: bool = False) -> None:
    """The ring refresher's loop (its own process): with ``first``, detect rings at once when no one has yet
    (the pages need a registry; detected in a worker, it held up that worker's scores for seconds); then
    detect them again every ``every`` seconds when the store changed. Stops when the server that started it
    is gone."""
    from graphfraud.ringrefresh import ensure_rings_at, open_beside_server, refresh_rings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(process)d] [%(levelname)s] %(message)s")
    log = logging.getLogger("graphfraud.webui.rings")
    # no niceness for the process: its writes (the link fold, the registry) hold the store's write lock, which
    # every score waits for, so they must not be preempted; the detection, seconds of CPU, reads only and runs
    # at idle priority in a thread of its own (ringrefresh.detect_when_idle)
    due = time.monotonic() + every
    try:
        if first:
            ensure_rings_at(store, idle=True)
        while os.getppid() == parent:
            time.sleep(min(1.0, max(0.0, due - time.monotonic())))
            if time.monotonic() < due:
                continue
            due = time.monotonic() + every
            try:
                st = open_beside_server(store)
                try:
                    refresh_rings(st, min_age=every * 0.9, idle=True)
                finally:
                    st.close()
            except Exception:  # keep refreshing; the next round may work
                log.exception("ring refresh failed")
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the server stops too
        pass


#: Held across every fork of the arbiter (``os.register_at_fork``) once the engine refresher runs, and by
#: the refresher while it changes the kept engine or has the store open: a worker never starts from a
#: half-applied event or with an open store connection.
_FORK_GUARD = threading.Lock()
#: Events the refresher applies per hold of the guard (about a tenth of a second): a fork waits no longer.
REFRESH_BATCH = 1000


def start_engine_refresher(store: str | None, every: float) -> threading.Event:
    """Keep the engine this process holds for the workers it starts later (gunicorn starts one in place of
    a dead worker) within ``every`` seconds of the store, from a low-priority thread: a replacement worker
    then replays that much traffic, not all since the server started (at 300 scores a second, a day is 26
    million events, half an hour of replay). Returns the event that stops it. Pages the refresh changes
    stop being shared with the workers forked before; the workers change theirs as they score anyway."""
    from graphfraud.graph.persist import kept_engine
    from graphfraud.scoring import refresh_kept_engine
    from graphfraud.storage import open_store

    stop = threading.Event()
    os.register_at_fork(before=_FORK_GUARD.acquire, after_in_parent=_FORK_GUARD.release,
                        after_in_child=_FORK_GUARD.release)
    log = logging.getLogger("graphfraud.webui.engine")

    def run() -> None:
        try:  # Linux: a thread's niceness is its own; the workers first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except OSError:  # pragma: no cover - not allowed here
            pass
        while not stop.wait(every):
            level = False
            try:
                while not level and not stop.is_set():
                    with _FORK_GUARD:
                        st = open_store(store)
                        try:
                            if kept_engine(st) is None:  # an erase dropped it: nothing left to refresh
                                log.info("engine refresh stops: no engine is kept for new workers (they "
                                         "start from the snapshot or the store)")
                                return
                            _, level = refresh_kept_engine(st, REFRESH_BATCH)
                        finally:
                            st.close()
                    time.sleep(0.005)  # a fork waiting for the guard takes it first
                gc.freeze()  # as a scorer does: the collector never walks the engine's long-lived objects
            except Exception as e:  # keep the server; the next round may work (the store unreachable a moment)
                log.warning("engine refresh failed (retried in %s s): %s", every, e)

    threading.Thread(target=run, name="graphfraud-engine-refresh", daemon=True).start()
    return stop


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 2, threads: int = 1,
          store: str | None = None, rings_every: float = 300.0, **extra: Any) -> None:
    """Run the server until SIGTERM/SIGINT. ``rings_every``: seconds between ring registry refreshes (0:
    never). ``extra`` are further gunicorn settings (tests, tuning)."""
    from graphfraud import scratch
    from graphfraud.storage import open_store

    from . import app_settings, ensure_secret

    cfg = app_settings()  # as the workers' app reads them; a bad value fails here, before the engine is prepared
    every = float(cfg["ENGINE_REFRESH_EVERY"])
    ClientTimeoutSyncWorker.client_timeout = float(cfg["CLIENT_TIMEOUT"])
    if store is not None:
        os.environ["GRAPHFRAUD_STORE"] = store  # the scorer and workers read the same store
    st = open_store(store)
    try:
        ensure_secret(st)  # creates the key file once, before workers race for it
        # one engine, brought up to date here (and saved): every worker forked from this process starts from
        # it at once, sharing its memory pages until it changes them (copy-on-write)
        from graphfraud.scoring import prepare_engine

        prepare_engine(st, keep=True)
    finally:
        st.close()
    refreshing = start_engine_refresher(store, every) if every > 0 else None
    # the workers' shared metrics folder; a server killed with SIGKILL leaves its folder, which the next one removes
    metrics_dir = scratch.make_dir("metrics")
    refresher = None
    app_config: dict[str, Any] = {"WORKERS": workers, "METRICS_DIR": metrics_dir}
    if rings_every > 0:
        # the registry's first rings too, if it has none: in this low-priority process, not in a worker
        first = cfg["UI_AUTO_RINGS"] is not False
        if first:
            app_config["UI_AUTO_RINGS"] = False
        # a plain child process (not multiprocessing's, whose exit hooks the forked workers would inherit)
        refresher = subprocess.Popen([sys.executable, "-c", "import sys; from webui.server import "
                                      "refresh_rings_forever as r; r(sys.argv[1] or None, float(sys.argv[2]), "
                                      "int(sys.argv[3]), sys.argv[4] == '1')", store or "",
                                      str(float(rings_every)), str(os.getpid()), "1" if first else "0"])

    def post_worker_init(worker: Any) -> None:
        # a worker takes connections once its scorer is ready: one gunicorn starts in place of a dead worker
        # forks from this process, whose engine is as old as the server, and replays what the store gained
        # since (minutes after hours of traffic); the other workers serve meanwhile instead of it answering
        # 503s. A scorer that fails to build lets the worker in at once, so /readyz can say why.
        state = worker.wsgi.extensions["graphfraud"]
        while worker.alive and not state.wait_ready(1.0) and state.scorer_error is None:
            worker.notify()  # the arbiter's heartbeat: a worker silent for `timeout` seconds is killed

    def child_exit(server: Any, worker: Any) -> None:
        try:
            os.unlink(os.path.join(metrics_dir, f"{worker.pid}.json"))
        except OSError:
            pass

    def on_exit(server: Any) -> None:
        if refreshing is not None:
            refreshing.set()
        if refresher is not None:
            refresher.terminate()
            try:
                refresher.wait(10)
            except subprocess.TimeoutExpired:
                refresher.kill()
        shutil.rmtree(metrics_dir, ignore_errors=True)

    options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        # one request at a time per worker: gunicorn's plain worker; several: its threaded one
        "worker_class": f"webui.server.ClientTimeout{'Sync' if threads == 1 else 'Thread'}Worker",
        "when_ready": defer_accept,
        "preload_app": False,
        "graceful_timeout": 30,
        "timeout": 60,
        "keepalive": 5,
        "backlog": 2048,
        "accesslog": None,  # one line per request costs throughput; metrics count requests instead
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "graphfraud",
        "post_worker_init": post_worker_init,
        "child_exit": child_exit,
        "on_exit": on_exit,
        # the arbiter's heartbeat files on tmpfs when there is one (a disk write per beat otherwise)
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        # headers are small; refuse absurd ones early
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        **extra,
    }
    if store is not None:
        app_config["STORE"] = store
    gunicorn_util.close_graceful = close_promptly  # what the workers call after each answer (sync, gthread)
    gunicorn_util.write_error = write_json_error  # what they send for a request they could not parse
    logging.getLogger("gunicorn.error").addFilter(_ClientTimeouts())
    GraphFraudServer(options, app_config).run()
