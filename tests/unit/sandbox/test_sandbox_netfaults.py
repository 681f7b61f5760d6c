from __future__ import annotations

import socket
import struct
import sys
from collections.abc import Iterator

import pytest

from ccx.sandbox import netfaults

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses /proc and TCP_INFO")


def info(state: int, sent_ago: int, recv_ago: int, segs_in: int, segs_out: int) -> bytes:
    raw = bytearray(160)
    raw[0] = state
    struct.pack_into("I", raw, 44, sent_ago)
    struct.pack_into("I", raw, 52, recv_ago)
    struct.pack_into("II", raw, 152, segs_in, segs_out)
    return bytes(raw)


@pytest.mark.parametrize(
    ("fields", "rank"),
    [
        ((1, 500, 500, 2, 0), 0),  # fresh connection: request in, nothing out
        ((1, 30, 2, 4, 2), 0),  # warm: request came after the last answer
        ((1, 2, 2, 4, 2), 1),  # same-millisecond tie, more in than out
        ((1, 2, 2, 2, 2), None),  # tie, answered
        ((1, 2, 30, 2, 2), None),  # idle keep-alive
        ((8, 30, 2, 2, 1), None),  # CLOSE_WAIT
    ],
)
def test_rank(fields: tuple[int, int, int, int, int], rank: int | None) -> None:
    assert netfaults._rank(info(*fields)) == rank


@pytest.fixture
def server() -> Iterator[socket.socket]:
    listener = socket.create_server(("127.0.0.1", 0))
    yield listener
    listener.close()


def test_listening_port(server: socket.socket) -> None:
    assert netfaults.listening_port("127.0.0.1") is not None


def test_locate_and_reset_the_mid_request_connection(server: socket.socket) -> None:
    port = server.getsockname()[1]
    idle_client = socket.create_connection(("127.0.0.1", port))
    idle, _ = server.accept()
    idle_client.sendall(b"GET / HTTP/1.1\r\n\r\n")
    idle.recv(100)
    idle.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    idle_client.recv(100)

    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    client.sendall(b"POST /v23.0/1/messages HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}")
    conn.recv(1000)

    found = netfaults.locate("127.0.0.1", port)
    assert found is not None
    assert found.fd == conn.fileno()
    assert not found.ambiguous
    assert netfaults.reset(found)
    with pytest.raises(ConnectionResetError):
        client.recv(100)
    assert netfaults.locate("127.0.0.1", port) is None  # the idle one is not a candidate
    for s in (idle_client, idle, client, conn):
        s.close()


def test_reset_refuses_a_reused_descriptor(server: socket.socket) -> None:
    located = netfaults.Located(server.fileno(), "socket:[0]", ("127.0.0.1", 1), False)
    assert not netfaults.reset(located)
