"""Message providers behind one small interface: ``twilio`` (real), ``console`` (the embedded default: the log and
the outbox only, never a phone) and ``locmem`` (tests).

A provider either returns the provider's id for the message or call, or raises ``ProviderError`` saying whether the
failure is transient (safe to retry later), permanent (fail the row) or uncertain (the provider may have acted:
never resend blindly).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import struct
import threading
import uuid
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from django.conf import settings

logger = logging.getLogger(__name__)

# Twilio error codes (https://www.twilio.com/docs/api/errors) the dispatcher treats specially: 21610, the recipient
# opted out (recorded as an opt-out); 20429, too many requests (retried later).
OPTED_OUT, TOO_MANY_REQUESTS = "21610", "20429"
# What a mail house reports of a letter it could not deliver (the console backend simulates them; a real mail
# house's report goes through the same status path): returned to the sender (moved, unknown at the address), refused.
LETTER_RETURNED, LETTER_REFUSED = "returned", "refused"


@dataclass(frozen=True)
class Sent:
    provider_id: str
    status: str  # the provider's own status word (queued, accepted, initiated …)


class ProviderError(Exception):
    """A provider refused or failed. ``kind`` is transient, permanent or uncertain."""

    def __init__(self, kind: str, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.kind, self.code, self.message = kind, code, message

    @property
    def transient(self) -> bool:
        return self.kind == "transient"

    @property
    def uncertain(self) -> bool:
        return self.kind == "uncertain"


@dataclass
class Recorded:
    """A recording's media, read in chunks as it arrives (never held whole in memory); ``close`` frees the source."""

    chunks: Iterator[bytes]
    content_type: str
    length: int | None = None
    close: Callable[[], None] = lambda: None


# A recording's id as Twilio writes it ("RE" and 32 hex digits); the simulated ones have the same shape. Only such an
# id ever becomes part of a path or a URL.
RECORDING_ID = re.compile(r"^RE[0-9a-fA-F]{32}$")


class Provider(Protocol):
    name: str

    def send_sms(self, *, to: str, body: str, status_callback: str) -> Sent: ...

    def place_call(self, *, to: str, say: str, language: str, status_callback: str, menu_url: str = "") -> Sent: ...

    def place_bridged_call(self, *, agent: str, twiml: str, status_callback: str) -> Sent: ...

    def recording_open(self, *, recording_id: str) -> Recorded: ...

    def recording_delete(self, *, recording_id: str) -> None: ...


# ---------------------------------------------------------------------------------------------------------------
# Recordings of simulated calls (console, locmem): WAV files in RECORDINGS_DIR
# ---------------------------------------------------------------------------------------------------------------
SIMULATED_RATE = 8000  # Hz, 16-bit mono: telephone quality


class FileRecordings:
    """Recordings of the calls the console backend (and the tests) simulate, one WAV file each in
    ``RECORDINGS_DIR``; read back and deleted like the provider's own."""

    def _path(self, recording_id: str) -> Path:
        if not RECORDING_ID.match(recording_id):
            raise ProviderError("permanent", "recording_id", "not a recording id")
        return Path(settings.RECORDINGS_DIR) / f"{recording_id}.wav"

    def recording_make(self, *, recording_id: str, seconds: int) -> int:
        """Write a recording of ``seconds`` (a quiet beep each second, so that a player shows it plays)."""
        path = self._path(recording_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        beep = [int(3000 * math.sin(2 * math.pi * 440 * n / SIMULATED_RATE)) for n in range(SIMULATED_RATE // 5)]
        second = struct.pack(f"<{SIMULATED_RATE}h", *beep, *[0] * (SIMULATED_RATE - len(beep)))
        partial = path.with_suffix(".part")
        with wave.open(str(partial), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SIMULATED_RATE)
            out.writeframes(second * seconds)
        os.replace(partial, path)
        return seconds

    def recording_open(self, *, recording_id: str) -> Recorded:
        path = self._path(recording_id)
        try:
            source = path.open("rb")
        except FileNotFoundError as exc:
            raise ProviderError("permanent", "20404", "no such recording") from exc
        return Recorded(iter(lambda: source.read(64 * 1024), b""), "audio/wav", path.stat().st_size, source.close)

    def recording_delete(self, *, recording_id: str) -> None:
        self._path(recording_id).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------------------------
# Console and locmem
# ---------------------------------------------------------------------------------------------------------------
class ConsoleProvider(FileRecordings):
    """Writes each message to the log (phone numbers masked by the logging filter); the outbox keeps the text. A
    collector's call is "placed" the same way, and the app simulates what Twilio would call back (its status and a
    recording in ``RECORDINGS_DIR``): ``make run`` shows the whole flow, never a real phone."""

    name = "console"

    @staticmethod
    def delivery_report(*, key: str, channel: str) -> tuple[str, str]:
        """What Twilio would call back for a message, decided by a hash of its ``key`` (what the message is, so the
        same answer every time):
        a text's final status and error code — about 1 in 12 undelivered —, a call's status and who answered —
        people, answering machines, no answer, busy —, and what the mail house reports of a letter — delivered, or
        about 1 in 14 returned to the sender (moved, no such address) or refused. ``notifications.services.
        console_status_report`` applies it through the same services as Twilio's status callbacks."""
        share = int(hashlib.sha256(f"console:{key}".encode()).hexdigest()[:8], 16) % 100
        if channel == "sms":
            return ("undelivered", "30003") if share < 6 else ("failed", "30005") if share < 8 else ("delivered", "")
        if channel == "letter":
            return (
                ("undelivered", LETTER_RETURNED) if share < 5 else ("undelivered", LETTER_REFUSED) if share < 7
                else ("delivered", "")
            )  # fmt: skip
        if share < 45:
            return "completed", "human"
        if share < 70:
            return "completed", "machine_end_beep"
        return ("no-answer", "") if share < 88 else ("busy", "") if share < 96 else ("failed", "")

    def send_sms(self, *, to: str, body: str, status_callback: str) -> Sent:
        logger.info("console SMS to %s: %s", to, body)
        return Sent(f"console-{uuid.uuid4().hex}", "sent")

    def place_call(self, *, to: str, say: str, language: str, status_callback: str, menu_url: str = "") -> Sent:
        logger.info("console call to %s (%s): %s%s", to, language, say, " [keypad menu]" if menu_url else "")
        return Sent(f"console-{uuid.uuid4().hex}", "initiated")

    def place_bridged_call(self, *, agent: str, twiml: str, status_callback: str) -> Sent:
        logger.info("console call: ring %s, then %s", agent, twiml)
        return Sent(f"CA{uuid.uuid4().hex}", "queued")


@dataclass
class LocmemProvider(FileRecordings):
    """Keeps what it was asked to send in memory (``sent``); ``fail`` maps a number to the error it raises. Its
    recordings are files, as the console's."""

    name: str = "locmem"
    sent: list[dict[str, Any]] = field(default_factory=list)
    fail: dict[str, ProviderError] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, kind: str, to: str, **details: Any) -> Sent:
        if to in self.fail:
            raise self.fail[to]
        with self.lock:
            self.sent.append({"kind": kind, "to": to, **details})
        return Sent(f"locmem-{uuid.uuid4().hex}", "queued" if kind == "sms" else "initiated")

    def send_sms(self, *, to: str, body: str, status_callback: str) -> Sent:
        return self._record("sms", to, body=body, status_callback=status_callback)

    def place_call(self, *, to: str, say: str, language: str, status_callback: str, menu_url: str = "") -> Sent:
        return self._record("call", to, say=say, language=language, status_callback=status_callback, menu_url=menu_url)

    def place_bridged_call(self, *, agent: str, twiml: str, status_callback: str) -> Sent:
        sent = self._record("bridge", agent, twiml=twiml, status_callback=status_callback)
        return Sent("CA" + sent.provider_id.removeprefix("locmem-"), "queued")


LOCMEM = LocmemProvider()


# ---------------------------------------------------------------------------------------------------------------
# Twilio
# ---------------------------------------------------------------------------------------------------------------
class TwilioProvider:
    """The real Twilio REST API through the official SDK. ``TWILIO_API_BASE_URL`` (tests and benchmarks only)
    points the SDK at a local mock instead of api.twilio.com."""

    name = "twilio"

    def __init__(self) -> None:
        from twilio.rest import Client

        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=_http_client(settings.TWILIO_API_BASE_URL, settings.TWILIO_TIMEOUT_SECONDS),
        )

    def _sender(self) -> dict[str, str]:
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            return {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
        return {"from_": settings.TWILIO_FROM_NUMBER}

    def send_sms(self, *, to: str, body: str, status_callback: str) -> Sent:
        with _translated_errors():
            message = self.client.messages.create(to=to, body=body, status_callback=status_callback, **self._sender())
        return Sent(message.sid, message.status or "queued")

    def place_call(self, *, to: str, say: str, language: str, status_callback: str, menu_url: str = "") -> Sent:
        """An automated reminder call: ``say`` in the borrower's language, then, with ``menu_url``, the keypad menu
        whose answers Twilio posts there (``notifications.voice``)."""
        from notifications.voice import reminder_twiml

        twiml = reminder_twiml(say=say, language=language, action=menu_url)
        with _translated_errors():
            call = self.client.calls.create(
                to=to,
                from_=settings.TWILIO_FROM_NUMBER,
                twiml=twiml,
                machine_detection="Enable",  # AnsweredBy tells a voicemail from a person
                status_callback=status_callback,
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                status_callback_method="POST",
            )
        return Sent(call.sid, call.status or "queued")

    def place_bridged_call(self, *, agent: str, twiml: str, status_callback: str) -> Sent:
        """Ring the collector's phone (``agent``) with the lender's caller id; ``twiml`` (a <Dial>) then calls the
        borrower. Its status callbacks are the collector's leg; the borrower's leg calls back on its own."""
        with _translated_errors():
            call = self.client.calls.create(
                to=agent,
                from_=settings.TWILIO_FROM_NUMBER,
                twiml=twiml,
                timeout=BRIDGE_RING_SECONDS,
                status_callback=status_callback,
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                status_callback_method="POST",
            )
        return Sent(call.sid, call.status or "queued")

    def recording_open(self, *, recording_id: str) -> Recorded:
        """The recording's media, fetched with the account's credentials (Twilio's media URL is never handed to a
        browser). The URL is built from the id alone, never taken from a callback."""
        import requests

        if not RECORDING_ID.match(recording_id):
            raise ProviderError("permanent", "recording_id", "not a recording id")
        base = (settings.TWILIO_API_BASE_URL or "https://api.twilio.com").rstrip("/")
        url = f"{base}/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Recordings/{recording_id}.mp3"
        with _translated_errors():
            response = requests.get(
                url,
                auth=(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN),
                stream=True,
                timeout=settings.TWILIO_TIMEOUT_SECONDS,
            )
        if response.status_code >= 400:
            response.close()
            kind = "transient" if response.status_code >= 500 or response.status_code == 429 else "permanent"
            raise ProviderError(kind, str(response.status_code), f"HTTP {response.status_code} for the recording")
        length = response.headers.get("Content-Length")
        return Recorded(
            response.iter_content(64 * 1024),
            response.headers.get("Content-Type", "audio/mpeg"),
            int(length) if length and length.isdigit() else None,
            response.close,
        )

    def recording_delete(self, *, recording_id: str) -> None:
        if not RECORDING_ID.match(recording_id):
            raise ProviderError("permanent", "recording_id", "not a recording id")
        with _translated_errors():
            self.client.recordings(recording_id).delete()


BRIDGE_RING_SECONDS = 30  # how long the collector's phone, then the borrower's, rings before giving up


class _translated_errors:
    """Map the SDK's exceptions to ProviderError kinds.

    Twilio has no idempotency key for creating a message or a call, so the one question is whether the request can
    have reached Twilio's application. Only when it provably did not is a retry safe; every other failure is
    ``uncertain`` and the row goes to review (a person checks Twilio's log), because a blind resend texts or calls the
    borrower twice:

    * transient — the TCP connection (or the DNS lookup before it) failed, so no byte of the request left this
      process; Twilio answered 429 (rate limited), 503 (Service Unavailable: overloaded or in maintenance, the request
      was not handled — RFC 9110 §15.6.4) or 500 with its own error code (20500: Twilio's application reports the
      request failed and documents it as retryable);
    * uncertain — the connection was aborted or reset after the request was written (``Connection aborted``,
      ``RemoteDisconnected``), the answer did not come within the read timeout, or a gateway answered for Twilio:
      502 (the gateway got a broken answer from Twilio's application, which had the request) and 504 (Twilio's
      application did not answer the gateway in time; it may still have created the message);
    * permanent — any other 4xx (21211 invalid number, 21610 opted out, …).
    """

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None:
            return False
        import requests
        from twilio.base.exceptions import TwilioRestException

        if isinstance(exc, TwilioRestException):
            code = str(exc.code or exc.status)
            if exc.status in GATEWAY_STATUSES:
                raise ProviderError("uncertain", code, f"HTTP {exc.status} from a gateway: {exc.msg}") from exc
            transient = exc.status >= 500 or exc.status == 429 or code == TOO_MANY_REQUESTS
            raise ProviderError("transient" if transient else "permanent", code, str(exc.msg)) from exc
        if isinstance(exc, requests.exceptions.RequestException):
            if _never_sent(exc):
                raise ProviderError("transient", "connect", str(exc)) from exc
            if isinstance(exc, requests.exceptions.Timeout):
                raise ProviderError("uncertain", "timeout", str(exc)) from exc
            raise ProviderError("uncertain", "aborted", str(exc)) from exc
        return False


# A gateway in front of Twilio's application answered: the request was forwarded, so it may have been acted on.
GATEWAY_STATUSES = {502, 504}


def _never_sent(exc: BaseException) -> bool:
    """True only when the failure happened before the request was written: connecting timed out or was refused, or
    the host name did not resolve. urllib3 raises those as ``NewConnectionError`` (``NameResolutionError`` is one)
    or ``ConnectTimeoutError``, wrapped by requests in ``ConnectionError(MaxRetryError(reason=…))``; anything else
    — ``ProtocolError('Connection aborted.')``, a reset, TLS or read errors — may come after the request left."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    pending: list[Any] = [exc]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (NewConnectionError, ConnectTimeoutError)):
            return True
        pending.extend([*current.args, getattr(current, "reason", None), current.__cause__])
    return False


def _http_client(base_url: str, timeout: float) -> Any:
    from twilio.http.http_client import TwilioHttpClient

    class RewritingHttpClient(TwilioHttpClient):
        """Sends *.twilio.com requests to ``base_url`` (a local mock); everything else about the SDK is real."""

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if base_url:
                parts = urlsplit(url)
                url = base_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
            return super().request(method, url, *args, **kwargs)

    return RewritingHttpClient(timeout=timeout)


# ---------------------------------------------------------------------------------------------------------------
# Letters: the print queue the mail house collects
# ---------------------------------------------------------------------------------------------------------------
class PrintQueue:
    """Formal letters as PDF files, one per message, in ``LETTERS_DIR/<date>/`` for the print and mail house (the
    stored document's bytes; each day's batch and manifest: ``notifications.services.documents``). Written to a
    temporary name and renamed, so the mail house never picks up half a letter."""

    name = "print"

    def send_letter(self, *, message_id: int, pdf: bytes, date: str) -> Sent:
        folder = Path(settings.LETTERS_DIR) / date
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"letter-{message_id}.pdf"
        partial = final.with_suffix(".part")
        partial.write_bytes(pdf)
        os.replace(partial, final)
        return Sent(f"letter-{message_id}", "queued_for_print")


PRINT_QUEUE = PrintQueue()
_PROVIDERS: dict[tuple[str, ...], Provider] = {}


def provider_get(name: str = "") -> Provider:
    """The configured provider (settings.NOTIFICATIONS_BACKEND), or the one named (a recording is read from the
    provider that made it), kept per process so that its HTTP connections are reused."""
    backend = name or settings.NOTIFICATIONS_BACKEND
    key = (backend, settings.TWILIO_ACCOUNT_SID, settings.TWILIO_API_BASE_URL) if backend == "twilio" else (backend,)
    if key not in _PROVIDERS:
        factories: dict[str, Callable[[], Provider]] = {
            "console": ConsoleProvider,
            "locmem": lambda: LOCMEM,
            "twilio": TwilioProvider,
        }
        _PROVIDERS[key] = factories[backend]()
    return _PROVIDERS[key]
