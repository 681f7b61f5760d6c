"""A tiny local webhook receiver (stdlib only) that records raw callbacks.

Tests use `CallbackReceiver` in-process; for local trials run
`python -m ccx.sandbox.receiver --port 8091 --app-secret sandbox-app-secret`, which prints
each status and whether its `X-Hub-Signature-256` checks out.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    answered: int


class CallbackReceiver:
    """Records every POST; answers 200 unless told to fail the next N."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        on_receive: Callable[[Received], None] | None = None,
    ) -> None:
        self.records: list[Received] = []
        self._lock = threading.Condition()
        self._fail: list[int] = []
        self._on_receive = on_receive
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:  # the sender gave up mid-body (e.g. a sandbox reset)
                    self.close_connection = True
                    return
                status = receiver._next_status()
                record = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                    status,
                )
                with receiver._lock:
                    receiver.records.append(record)
                    receiver._lock.notify_all()
                if receiver._on_receive is not None:
                    receiver._on_receive(record)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/webhooks/meta"

    def start(self) -> CallbackReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer `status` to the next `count` POSTs."""
        with self._lock:
            self._fail = [status] * count

    def _next_status(self) -> int:
        with self._lock:
            return self._fail.pop(0) if self._fail else 200

    def clear(self) -> None:
        with self._lock:
            self.records.clear()
            self._fail.clear()

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 5.0) -> bool:
        """Block until `predicate(records)` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self.records):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ccx.sandbox.receiver")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8091)
    p.add_argument("--app-secret", default="sandbox-app-secret")
    p.add_argument("--quiet", action="store_true", help="keep nothing, print counts every 5 s")
    args = p.parse_args(argv)
    counts = {"posts": 0, "bad_signatures": 0}

    def show(r: Received) -> None:
        mac = hmac.new(args.app_secret.encode(), r.body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest("sha256=" + mac, r.headers.get("x-hub-signature-256", ""))
        counts["posts"] += 1
        counts["bad_signatures"] += not ok
        if args.quiet:
            receiver.records.clear()
            return
        for entry in json.loads(r.body).get("entry", []):
            for change in entry.get("changes", []):
                for st in change.get("value", {}).get("statuses", []):
                    errors = [e["code"] for e in st.get("errors", [])]
                    print(
                        f"signature={'ok' if ok else 'BAD'} {st['status']:<9} {st['id']} "
                        f"to={st['recipient_id']} opaque={st.get('biz_opaque_callback_data')} "
                        f"{errors or ''}",
                        flush=True,
                    )

    receiver = CallbackReceiver(args.host, args.port, on_receive=show).start()
    print(f"receiving on {receiver.url}", flush=True)
    try:
        while receiver._thread.is_alive():
            receiver._thread.join(5.0)
            if args.quiet:
                print(json.dumps(counts), flush=True)
    except KeyboardInterrupt:
        receiver.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
