"""TCP-level faults robyn has no API for: find the request's connection, reset it (Linux).

Robyn (0.88) hands a handler the client IP but not its port or socket, and always writes
whatever the handler returns. To reset a connection the sandbox looks through its own open
sockets (`/proc/self/fd`) for TCP connections to the server port from the client's IP that
are *mid-request*, judged from TCP_INFO:

- rank 0: established and either fresh (data segments in, none out yet) or the last data
  came in after the last data went out (`last_data_recv` < `last_data_sent`);
- rank 1: a same-millisecond tie where more data segments came in than went out (weaker: a
  client writing headers and body in separate segments looks like that even when idle).

Among the best rank, the connection that received most recently is taken. With concurrent
requests from one IP that can be the wrong one; `Located.ambiguous` says so and the sandbox
counts it (`reset_ambiguous`). The reset is `connect(fd, AF_UNSPEC)` on that socket, which
makes Linux abort the connection with an RST (tcp_disconnect) while actix still holds the
descriptor; actix then sees a dead socket and drops it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import socket
import struct
from dataclasses import dataclass

log = logging.getLogger("ccx.sandbox.netfaults")
_TCP_INFO_LEN = 160
#: Offsets in struct tcp_info (linux/tcp.h): ms since the last data sent / received, and
#: counts of segments carrying data in / out (Linux >= 4.6; older kernels: no resets).
_LAST_DATA_SENT, _LAST_DATA_RECV, _DATA_SEGS_IN, _DATA_SEGS_OUT = 44, 52, 152, 156
_TCP_ESTABLISHED = 1
_libc: ctypes.CDLL | None = None


@dataclass(frozen=True, slots=True)
class Located:
    fd: int
    inode: str
    peer: tuple[str, int]
    ambiguous: bool


def _socket_fds() -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return out
    for name in names:
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:"):
            out.append((int(name), target))
    return out


def _inspect(fd: int) -> tuple[socket.socket | None, bool]:
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return None, False
    ok = sock.type == socket.SOCK_STREAM and sock.family in (socket.AF_INET, socket.AF_INET6)
    return sock, ok


def listening_port(host: str) -> int | None:
    """The port of this process' listening TCP socket (robyn binds it; port 0 is allowed)."""
    for fd, _ in _socket_fds():
        sock, ok = _inspect(fd)
        if sock is None:
            continue
        try:
            if ok and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                port: int = sock.getsockname()[1]
                return port
        except OSError:
            pass
        finally:
            sock.close()
    return None


def _rank(info: bytes) -> int | None:
    """0: surely mid-request; 1: probably (same-millisecond tie); None: not mid-request."""
    if info[0] != _TCP_ESTABLISHED:  # e.g. CLOSE_WAIT: the client already hung up
        return None
    (sent_ago,) = struct.unpack_from("I", info, _LAST_DATA_SENT)
    (recv_ago,) = struct.unpack_from("I", info, _LAST_DATA_RECV)
    segs_in, segs_out = struct.unpack_from("II", info, _DATA_SEGS_IN)
    if segs_out == 0 and segs_in > 0:  # a fresh connection: request in, nothing sent yet
        return 0
    if recv_ago < sent_ago:
        return 0
    if recv_ago == sent_ago and segs_in > segs_out:
        return 1
    return None


def locate(client_ip: str | None, server_port: int) -> Located | None:
    """The connection that most plausibly carries the current request from `client_ip`."""
    found: list[tuple[int, int, int, str, tuple[str, int]]] = []
    for fd, inode in _socket_fds():
        sock, ok = _inspect(fd)
        if sock is None:
            continue
        try:
            if not ok:
                continue
            local, peer = sock.getsockname(), sock.getpeername()
            if local[1] != server_port or (client_ip and peer[0] != client_ip):
                continue
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
            rank = _rank(info) if len(info) >= _TCP_INFO_LEN else None
            if rank is not None:
                (recv_ago,) = struct.unpack_from("I", info, _LAST_DATA_RECV)
                found.append((rank, recv_ago, fd, inode, (peer[0], peer[1])))
        except OSError:
            continue
        finally:
            sock.close()
    if not found:
        return None
    found.sort()
    rank, _, fd, inode, peer = found[0]
    return Located(fd, inode, peer, ambiguous=sum(f[0] == rank for f in found) > 1)


def reset(conn: Located) -> bool:
    """Abort the connection with an RST, if its descriptor still holds the same socket."""
    global _libc
    try:
        if os.readlink(f"/proc/self/fd/{conn.fd}") != conn.inode:
            return False
    except OSError:
        return False
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    unspec = (ctypes.c_ubyte * 16)()  # struct sockaddr with sa_family = AF_UNSPEC (0)
    if _libc.connect(conn.fd, unspec, ctypes.sizeof(unspec)) != 0:
        log.warning("reset failed", extra={"errno": ctypes.get_errno(), "peer": conn.peer})
        return False
    return True
