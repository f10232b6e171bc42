"""A small in-process fake of Twilio's Messages and Calls endpoints, for what the Prism mock cannot do: scripted
errors (21610, 21211, 20429, 5xx), slow answers (timeouts), connections dropped after the request was read (the
provider took it, the answer was lost) and counting every request it received (the fault test and the dispatch
benchmark). The real ``twilio`` SDK talks to it over HTTP through ``TWILIO_API_BASE_URL``."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class FakeTwilio:
    errors: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # To → (HTTP status, code, message)
    delay: float = 0.0  # seconds before answering (timeouts)
    # To → "close" (FIN without an answer: RemoteDisconnected) or "reset" (RST: ConnectionResetError), after the
    # request was read and counted, as when a proxy or the network drops the answer of a request Twilio took.
    drops: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                kind = "call" if self.path.endswith("/Calls.json") else "sms"
                with fake.lock:
                    fake.requests.append({"kind": kind, "path": self.path, **form})
                if fake.delay:
                    time.sleep(fake.delay)
                to = form.get("To", "")
                if to in fake.drops:
                    self._drop(fake.drops[to])
                    return
                if to in fake.errors:
                    status, code, message = fake.errors[to]
                    self._answer(status, {"code": code, "message": message, "status": status, "more_info": ""})
                    return
                sid = ("CA" if kind == "call" else "SM") + uuid.uuid4().hex
                status = "queued"
                self._answer(
                    201, {"sid": sid, "status": status, "to": to, "from": form.get("From"), "body": form.get("Body")}
                )

            def _drop(self, how: str) -> None:
                self.close_connection = True
                if how == "reset":  # linger 0: close() sends RST instead of FIN
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout tests): the request still counts

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def count(self, **match: Any) -> int:
        with self.lock:
            return sum(1 for r in self.requests if all(r.get(k) == v for k, v in match.items()))
