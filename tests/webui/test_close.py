"""How the server closes a connection after its answer (``webui.server.close_promptly``), on real TCP sockets."""
from __future__ import annotations

import socket
import threading

import pytest

from webui.server import _limited, close_promptly


@pytest.fixture
def pair():
    """(server side, client side) of one loopback TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    yield server, client
    client.close()
    server.close()


def _closing(server: socket.socket) -> threading.Thread:
    server.settimeout(60)  # as the worker's client sockets have one (client_timeout)
    server.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    t = threading.Thread(target=close_promptly, args=(server,), kwargs={"timeout": 60}, daemon=True)
    t.start()
    return t


def _read_all(client: socket.socket) -> bytes:
    got = b""
    while chunk := client.recv(4096):
        got += chunk
    return got


def test_with_nothing_unread_the_worker_does_not_wait_for_the_client_to_close(pair):
    """gunicorn's own close waits (up to 2 s) for the client's side to close, serving no one meanwhile."""
    server, client = pair
    t = _closing(server)
    t.join(30)
    assert not t.is_alive()  # done, though the client still holds its socket open
    assert _read_all(client).endswith(b"\r\n\r\nok")  # the whole answer, then the end


def test_with_data_unread_it_lingers_until_the_client_closes(pair):
    """A client whose body the app refused unread (a 413) is still sending: closing at once would reset the
    connection, which can lose the answer; so the worker reads on until the client closes."""
    server, client = pair
    client.sendall(b"x" * 10_000)  # a body nobody read
    t = _closing(server)
    assert _read_all(client).endswith(b"\r\n\r\nok")
    t.join(0.5)
    assert t.is_alive()  # still draining: the client has not closed
    client.sendall(b"y" * 1000)  # the rest of its body
    client.close()
    t.join(30)
    assert not t.is_alive()


def test_a_corked_answer_sent_in_two_parts_arrives_whole_when_the_connection_closes(pair):
    """The sync worker corks its client sockets (one answer a connection): gunicorn's head and body leave
    together when the worker closes."""
    server, client = pair
    sock = _limited(server)
    sock.cork()
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK) == 1
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n")
    sock.sendall(b"ok")
    close_promptly(sock, timeout=60)
    assert _read_all(client) == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def test_what_a_corked_socket_holds_is_pushed_out_before_the_worker_waits_to_read(pair):
    """An interim answer (gunicorn's ``100 Continue``, sent before it reads the body the client holds back)
    must not wait in the cork while the worker waits for the client."""
    server, client = pair
    sock = _limited(server)
    sock.cork()
    pushed = []
    real_push = sock._push
    sock._push = lambda: (pushed.append(True), real_push())  # type: ignore[method-assign]
    sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert sock.held
    client.sendall(b"body")
    assert sock.recv(10) == b"body"
    assert pushed == [True] and not sock.held
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK) == 1  # corked again for the answer
    client.settimeout(10)
    assert client.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    sock.close()
