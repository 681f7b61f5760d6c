"""Readiness probes for scripts/services.sh, standard library only (they run before any venv).

    python3 probe.py mongo HOST PORT   # OP_MSG `hello` answered with ok: 1
    python3 probe.py amqp HOST PORT    # AMQP 0-9-1 header answered with connection.start

Exit status 0 when the server answers the protocol, 1 otherwise.
"""

from __future__ import annotations

import socket
import struct
import sys

TIMEOUT_S = 2.0
OP_MSG = 2013


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def _bson_hello() -> bytes:
    body = b"\x10hello\x00" + struct.pack("<i", 1)
    body += b"\x02$db\x00" + struct.pack("<i", 6) + b"admin\x00"
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def mongo(host: str, port: int) -> bool:
    payload = struct.pack("<I", 0) + b"\x00" + _bson_hello()
    header = struct.pack("<iiii", 16 + len(payload), 1, 0, OP_MSG)
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        sock.sendall(header + payload)
        length, _, _, opcode = struct.unpack("<iiii", _recv_exact(sock, 16))
        reply = _recv_exact(sock, length - 16)
    # The reply document holds `ok` as a BSON double (type 0x01) equal to 1.0.
    return opcode == OP_MSG and b"\x01ok\x00" + struct.pack("<d", 1.0) in reply


def amqp(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        sock.sendall(b"AMQP\x00\x00\x09\x01")
        frame_type, channel, _size = struct.unpack(">BHI", _recv_exact(sock, 7))
        method = _recv_exact(sock, 4)
    # A method frame on channel 0 carrying connection.start (class 10, method 10).
    return frame_type == 1 and channel == 0 and method == b"\x00\x0a\x00\x0a"


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in {"mongo", "amqp"}:
        print(__doc__, file=sys.stderr)
        return 2
    check = mongo if argv[0] == "mongo" else amqp
    try:
        return 0 if check(argv[1], int(argv[2])) else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
