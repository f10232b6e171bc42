"""A real SMTP server for the e-mail tests: aiosmtpd on 127.0.0.1 at a free port, keeping every message that
arrives (as the bytes the client sent, parsed). A recipient whose local part starts with ``refused`` is refused with
550 at RCPT TO, one starting with ``busy`` with 451: what a real server answers for an unknown or a greylisted
mailbox."""

from __future__ import annotations

import email
import email.policy
import logging
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.servers import free_port


@dataclass
class Arrived:
    """One message as the server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Mailbox:
    host: str
    port: int
    arrived: list[Arrived] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list) -> str:
        local = address.partition("@")[0]
        if local.startswith("refused"):
            return "550 5.1.1 No such mailbox here"
        if local.startswith("busy"):
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.arrived.append(Arrived(envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 2.0.0 Queued"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Arrived]:
        """The messages once ``count`` have arrived (polled with a deadline, never a fixed sleep)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.arrived) >= count:
                    return list(self.arrived)
            assert time.monotonic() < deadline, f"{count} message(s) expected, {len(self.arrived)} arrived"
            time.sleep(0.02)

    def clear(self) -> None:
        with self.lock:
            self.arrived.clear()


@pytest.fixture(scope="session")
def smtp_server():
    """The server, for the whole run."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # every SMTP command at INFO drowns a failure's output
    mailbox = Mailbox("127.0.0.1", free_port())
    controller = Controller(mailbox, hostname=mailbox.host, port=mailbox.port)
    controller.start()
    yield mailbox
    controller.stop()


@pytest.fixture
def smtp(smtp_server, settings):
    """Django's SMTP backend pointed at the server (no TLS, no sign-in), the mailbox empty."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = smtp_server.host, smtp_server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5.0
    settings.DEFAULT_FROM_EMAIL = "Example Lending <collections@lender.example>"
    settings.EMAIL_UNSUBSCRIBE_MAILTO = "unsubscribe@lender.example"
    settings.PORTAL_BASE_URL = "https://collections.example.com"
    smtp_server.clear()
    yield smtp_server
    smtp_server.clear()
