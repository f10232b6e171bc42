"""A small in-process fake of Twilio's Messages, Calls and Recordings endpoints, for what the Prism mock cannot do:
scripted errors (21610, 21211, 20429, 5xx), slow answers (timeouts), connections dropped after the request was read
(the provider took it, the answer was lost), counting every request it received (the fault test and the dispatch
benchmark), and recordings' media (Prism's description has no media). The real ``twilio`` SDK talks to it over HTTP
through ``TWILIO_API_BASE_URL``.

``signed_callback`` posts to the app what Twilio would call back, signed with ``X-Twilio-Signature`` over the public
URL and the form parameters as Twilio computes it."""

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

from twilio.request_validator import RequestValidator


@dataclass
class FakeTwilio:
    errors: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # To → (HTTP status, code, message)
    delay: float = 0.0  # seconds before answering (timeouts)
    # To → "close" (FIN without an answer: RemoteDisconnected) or "reset" (RST: ConnectionResetError), after the
    # request was read and counted, as when a proxy or the network drops the answer of a request Twilio took.
    drops: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    recordings: dict[str, bytes] = field(default_factory=dict)  # RecordingSid → its media (audio/mpeg)
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

            def _recording(self) -> str:
                name = self.path.rsplit("/", 1)[-1]
                return name.split(".", 1)[0]

            def do_GET(self) -> None:
                with fake.lock:
                    fake.requests.append({"kind": "get", "path": self.path, "auth": self.headers.get("Authorization")})
                media = fake.recordings.get(self._recording()) if "/Recordings/" in self.path else None
                if media is None or not self.path.endswith(".mp3") or not self.headers.get("Authorization"):
                    self._answer(404, {"code": 20404, "message": "not found", "status": 404, "more_info": ""})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Content-Length", str(len(media)))
                self.end_headers()
                self.wfile.write(media)

            def do_DELETE(self) -> None:
                with fake.lock:
                    fake.requests.append({"kind": "delete", "path": self.path})
                    found = fake.recordings.pop(self._recording(), None)
                if found is None:
                    self._answer(404, {"code": 20404, "message": "not found", "status": 404, "more_info": ""})
                    return
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

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


def signed_callback(client: Any, path: str, params: dict[str, str], *, token: str, base: str) -> Any:
    """POST ``params`` to ``path`` (query string included) as Twilio does: signed over ``base`` + ``path`` and the
    sorted parameters with ``RequestValidator.compute_signature``. ``client``: Django's test client or one of the
    same shape."""
    signature = RequestValidator(token).compute_signature(base + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)
