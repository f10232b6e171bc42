"""E-mail to borrowers through Django's e-mail framework (``EMAIL_BACKEND``: SMTP in production, the console in
``make run``, locmem in tests that need no server): one ``EmailMultiAlternatives`` per outbox row with a text and
an HTML body, the documents its template attaches, and the one-click unsubscribe headers.

Sending answers like the text and call providers (``notifications.providers``): a ``Sent`` with the Message-ID as
the provider's id, or a ``ProviderError`` saying whether the server can have taken the e-mail:

* transient — nothing was handed over: connecting, TLS or signing in failed, or the server answered 4xx (try later);
* permanent — the server refused it with 5xx (an unknown mailbox, a refused sender, a refused message);
* uncertain — the connection broke or timed out after the message was written: the server may have queued it (the
  "lost 250" of RFC 5321 §6.1), so the row goes to review, never resent blindly.

Attachments: a template may name a document maker (``MessageTemplate.attachment``); makers register themselves
here under a name with ``attachment_maker`` and return ``Attachment``s for the message being sent.
"""

from __future__ import annotations

import contextlib
import secrets
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import TYPE_CHECKING, NamedTuple

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.urls import reverse

from notifications.providers import ProviderError, Sent

if TYPE_CHECKING:
    from notifications.models import OutboundMessage

UNSUBSCRIBE_SALT = "notifications.email-unsubscribe"


# ---------------------------------------------------------------------------------------------------------------
# The unsubscribe link
# ---------------------------------------------------------------------------------------------------------------
def unsubscribe_token(message_id: int) -> str:
    """The token of an e-mail's unsubscribe link: the row's id, signed with ``SECRET_KEY`` and a salt of its own.
    It does not expire: a borrower may unsubscribe from an old e-mail (the link must work at least 30 days after
    sending, 15 U.S.C. 7704(a)(3), and nothing is gained by ending it)."""
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(str(message_id))


def unsubscribe_url(message_id: int) -> str:
    """The address an e-mail offers to unsubscribe (``PORTAL_BASE_URL``: the public site borrowers reach)."""
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("email-unsubscribe", args=[unsubscribe_token(message_id)])


PROVIDER_NAME = "email"  # the outbox's ``provider`` for e-mail, whichever backend carried it


class Attachment(NamedTuple):
    """A file attached to an e-mail: its name as the borrower sees it, its bytes and its MIME type."""

    filename: str
    content: bytes
    mimetype: str


AttachmentMaker = Callable[["OutboundMessage"], list[Attachment]]


@dataclass(frozen=True)
class _Maker:
    label: str
    make: AttachmentMaker


# Name → maker. A name is what a template stores, so a maker keeps its name for as long as templates use it.
ATTACHMENT_MAKERS: dict[str, _Maker] = {}


def attachment_maker(name: str, *, label: str) -> Callable[[AttachmentMaker], AttachmentMaker]:
    """Register a document maker under ``name`` (what a template's ``attachment`` names; ``label``: what the admin
    shows). The maker is called at send time with the outbox row — its borrower, loan and case loaded — outside any
    transaction, and returns the files to attach (none: an empty list). An exception fails the row: an e-mail that
    should carry a notice is not sent without it."""

    def register(make: AttachmentMaker) -> AttachmentMaker:
        if name in ATTACHMENT_MAKERS and ATTACHMENT_MAKERS[name].make is not make:
            raise ValueError(f"a document maker named {name!r} exists already")
        ATTACHMENT_MAKERS[name] = _Maker(label, make)
        return make

    return register


def attachments_for(name: str, row: OutboundMessage) -> list[Attachment]:
    """The files the maker ``name`` makes for ``row`` (no name: none)."""
    if not name:
        return []
    if name not in ATTACHMENT_MAKERS:
        raise ProviderError("permanent", "attachment", f"no document maker named {name!r}")
    return [Attachment(*item) for item in ATTACHMENT_MAKERS[name].make(row)]


@dataclass(frozen=True)
class EmailContent:
    """What an e-mail says: its subject, its text and HTML bodies (the same words), and the unsubscribe link."""

    subject: str
    text: str
    html: str
    unsubscribe_url: str
    attachment: str = ""  # the template's document maker
    headers: dict[str, str] = field(default_factory=dict)


def message_id_domain() -> str:
    """The domain of each Message-ID: the sender's (a receiving server trusts ids of the sending domain)."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "localhost"


def unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe: the HTTPS link (a POST with ``List-Unsubscribe=One-Click`` opts out at once)
    and, when an address is set up to act on them, a mailto: method too (RFC 2369)."""
    methods = [f"<{url}>"]
    if settings.EMAIL_UNSUBSCRIBE_MAILTO:
        methods.append(f"<mailto:{settings.EMAIL_UNSUBSCRIBE_MAILTO}?subject=unsubscribe>")
    return {"List-Unsubscribe": ", ".join(methods), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def email_build(
    *, row: OutboundMessage, content: EmailContent, attachments: list[Attachment], language: str
) -> EmailMultiAlternatives:
    """The e-mail for an outbox row: a new Message-ID (the provider's id the bounce reports name), both bodies,
    the attachments and the unsubscribe headers."""
    message_id = f"{row.pk}.{secrets.token_hex(8)}@{message_id_domain()}"
    headers = {
        "Message-ID": f"<{message_id}>",
        "Content-Language": language,
        "Auto-Submitted": "auto-generated",  # RFC 3834: no vacation auto-replies to a reminder
        **unsubscribe_headers(content.unsubscribe_url),
        **content.headers,
    }
    email = EmailMultiAlternatives(
        subject=content.subject, body=content.text, from_email=settings.DEFAULT_FROM_EMAIL, to=[row.to],
        headers=headers,
    )  # fmt: skip
    email.attach_alternative(content.html, "text/html")
    for item in attachments:
        email.attach(item.filename, item.content, item.mimetype)
    return email


def provider_id_of(email: EmailMultiAlternatives) -> str:
    """The outbox's provider id for an e-mail: its Message-ID's local part (``<pk>.<random>``), short enough for
    the column whatever the domain; the event webhook accepts the whole Message-ID and reads the same part."""
    return message_id_local_part(email.extra_headers["Message-ID"])


def message_id_local_part(message_id: str) -> str:
    return message_id.strip().strip("<>").partition("@")[0][:64]


class EmailProvider:
    """Sends one e-mail through the configured Django e-mail backend, its errors translated (module docstring)."""

    name = PROVIDER_NAME

    def send_email(self, email: EmailMultiAlternatives) -> Sent:
        connection = get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT)
        try:
            connection.open()  # nothing is handed over while connecting, starting TLS or signing in
        except smtplib.SMTPResponseException as exc:
            raise ProviderError("transient", str(exc.smtp_code), _said(exc.smtp_error)) from exc
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            raise ProviderError("transient", "connect", str(exc) or type(exc).__name__) from exc
        try:
            sent = connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused as exc:
            code, said = next(iter(exc.recipients.values()), (550, b"recipient refused"))
            raise ProviderError(_kind(code), str(code), _said(said)) from exc
        except smtplib.SMTPResponseException as exc:  # the sender or the message refused (SMTPDataError, …)
            raise ProviderError(_kind(exc.smtp_code), str(exc.smtp_code), _said(exc.smtp_error)) from exc
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError, smtplib.SMTPException) as exc:
            raise ProviderError("uncertain", "aborted", str(exc) or type(exc).__name__) from exc
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):  # a failed QUIT changes nothing that was sent
                connection.close()
        if sent != 1:
            raise ProviderError("uncertain", "not_sent", "the e-mail backend reported nothing sent")
        return Sent(provider_id_of(email), "accepted")


def _kind(code: int) -> str:
    return "transient" if 400 <= code < 500 else "permanent"


def _said(text: bytes | str) -> str:
    return (text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text))[:500]


EMAIL = EmailProvider()
