"""Links to the borrower's page, safe to text: issued with the messages that carry ``{pay_link}``, checked when
opened, revoked, locked after wrong answers to the identity check, and every use audited as the borrower's.

The token in the URL is ``<public id><signature>``: 12 random URL-safe characters (72 bits) and 16 characters of
an HMAC-SHA256 over them, keyed by ``SECRET_KEY`` (or a fallback, so keys can be rotated) with a salt of its own —
``django.core.signing``'s primitive, cut short because every character of a text counts (a Chinese text holds 70).
Nothing personal is in it; a token whose signature does not match is refused before the database is asked.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from loans.models import PaymentCheckout
from notifications.models import PortalEvent, PortalEventKind, PortalLink

SALT = "notifications.portal-link"
ID_CHARS = 12  # secrets.token_urlsafe(9): 72 random bits
SIGNATURE_CHARS = 16  # 96 bits of the HMAC
TOKEN_CHARS = ID_CHARS + SIGNATURE_CHARS
# What the collectors' preview of a message shows in place of a link (the real one is issued when it is sent).
PREVIEW_TOKEN = "x" * TOKEN_CHARS


def _signature(public_id: str, key: str) -> str:
    digest = salted_hmac(SALT, public_id, secret=key, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_CHARS]


def portal_token_make(public_id: str) -> str:
    """The token for a link's id (signed with the current ``SECRET_KEY``)."""
    return public_id + _signature(public_id, settings.SECRET_KEY)


def portal_token_read(token: str) -> str | None:
    """The link id a token carries, or None when it was not signed by this system (a typo, a forgery)."""
    if len(token) != TOKEN_CHARS:
        return None
    public_id, signature = token[:ID_CHARS], token[ID_CHARS:]
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return public_id if any(constant_time_compare(signature, _signature(public_id, key)) for key in keys) else None


def portal_url(token: str) -> str:
    """The address a message gives the borrower: ``PORTAL_BASE_URL`` and the page's path."""
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("portal-page", args=[token])


def portal_links_issue(*, borrower_ids: list[int], now: dt.datetime | None = None) -> dict[int, str]:
    """Issue one new link per borrower (one INSERT for the lot); returns each borrower's token."""
    now = now or timezone.now()
    expires = now + dt.timedelta(days=settings.PORTAL_LINK_DAYS)
    links = [
        PortalLink(public_id=secrets.token_urlsafe(9), borrower_id=pk, issued_at=now, expires_at=expires)
        for pk in dict.fromkeys(borrower_ids)
    ]
    PortalLink.objects.bulk_create(links)
    return {link.borrower_id: portal_token_make(link.public_id) for link in links}


def portal_link_issue(*, borrower_id: int, now: dt.datetime | None = None) -> str:
    """Issue one link for a borrower; returns its token."""
    return portal_links_issue(borrower_ids=[borrower_id], now=now)[borrower_id]


def portal_link_revoke(*, link_id: int, now: dt.datetime | None = None) -> bool:
    """Revoke a link (it answers 403 from now on); False when it was revoked already."""
    return bool(PortalLink.objects.filter(pk=link_id, revoked_at__isnull=True).update(revoked_at=now or timezone.now()))


def portal_links_revoke_for(*, borrower_id: int, now: dt.datetime | None = None) -> int:
    """Revoke every live link of a borrower (a wrong number, a link that reached someone else); returns how many."""
    now = now or timezone.now()
    return PortalLink.objects.filter(borrower_id=borrower_id, revoked_at__isnull=True, expires_at__gt=now).update(
        revoked_at=now
    )


def portal_link_get(*, token: str, now: dt.datetime | None = None) -> PortalLink | None:
    """The live link a token opens, with its borrower; None when the token is forged, unknown, expired or revoked.
    One query, none for a forged token."""
    public_id = portal_token_read(token)
    if public_id is None:
        return None
    link = PortalLink.objects.select_related("borrower").filter(public_id=public_id).first()
    if link is None or link.revoked_at is not None or link.expires_at <= (now or timezone.now()):
        return None
    return link


def portal_event_record(*, link: PortalLink, kind: str, ip: str, now: dt.datetime | None = None,
                        payment_key: str = "") -> PortalEvent:  # fmt: skip
    """Audit one thing the borrower did through a link (the actor is the borrower; the link and address say how)."""
    return PortalEvent.objects.create(link=link, borrower_id=link.borrower_id, kind=kind, ip=ip or None,
                                      at=now or timezone.now(), payment_key=payment_key)  # fmt: skip


def portal_payment_started(*, link: PortalLink, payment_key: str, ip: str) -> None:
    """Audit the borrower pressing "pay", before the payment starts (the console provider completes it at once):
    once per payment — the same form sent twice is one payment, and a key some payment has already is not this
    borrower's to claim."""
    if not PortalEvent.objects.filter(payment_key=payment_key, kind=PortalEventKind.PAY_STARTED).exists() and not (
        PaymentCheckout.objects.filter(idempotency_key=payment_key).exists()
    ):
        portal_event_record(link=link, kind=PortalEventKind.PAY_STARTED, ip=ip, payment_key=payment_key)


def portal_payment_completed(*, checkout: PaymentCheckout) -> None:
    """The provider confirmed a payment (``loans.payments.checkout_succeeded``, once per payment): when it was
    started on the borrower's page, audit its completion against the same link. No address: the provider, not the
    borrower's browser, told us."""
    started = PortalEvent.objects.filter(payment_key=checkout.idempotency_key, kind=PortalEventKind.PAY_STARTED).first()
    if started is not None:
        PortalEvent.objects.create(link_id=started.link_id, borrower_id=started.borrower_id,
                                   kind=PortalEventKind.PAY_COMPLETED, ip=None, at=timezone.now(),
                                   payment_key=checkout.idempotency_key)  # fmt: skip


@dataclass(frozen=True)
class Answer:
    """How an answer to the identity check went: ``passed``; or not, with the wrong answers left before the link
    locks; or the link is locked until ``locked_until``."""

    passed: bool
    attempts_left: int
    locked_until: dt.datetime | None


def portal_answer_record(*, link: PortalLink, correct: bool, ip: str, now: dt.datetime | None = None) -> Answer:
    """Record an answer to the identity check. ``PORTAL_CHECK_ATTEMPTS`` wrong answers in a row lock the link for
    ``PORTAL_LOCK_MINUTES`` (answers while locked are refused unchecked and do not extend it); a right one clears
    the count. The row is locked so that parallel guesses cannot each see the count below the limit."""
    now = now or timezone.now()
    limit = settings.PORTAL_CHECK_ATTEMPTS
    with transaction.atomic():
        row = PortalLink.objects.select_for_update().get(pk=link.pk)
        if row.locked_until is not None:
            if row.locked_until > now:
                return Answer(passed=False, attempts_left=0, locked_until=row.locked_until)
            row.locked_until = None  # the lock has run out: a fresh count
        if correct:
            row.failed_answers, row.locked_until = 0, None
            row.save(update_fields=["failed_answers", "locked_until"])
            portal_event_record(link=row, kind=PortalEventKind.CHECK_PASSED, ip=ip, now=now)
            return Answer(passed=True, attempts_left=limit, locked_until=None)
        row.failed_answers += 1
        portal_event_record(link=row, kind=PortalEventKind.CHECK_FAILED, ip=ip, now=now)
        if row.failed_answers >= limit:
            row.failed_answers, row.locked_until = 0, now + dt.timedelta(minutes=settings.PORTAL_LOCK_MINUTES)
            portal_event_record(link=row, kind=PortalEventKind.LOCKED, ip=ip, now=now)
        row.save(update_fields=["failed_answers", "locked_until"])
        return Answer(passed=False, attempts_left=limit - row.failed_answers if row.locked_until is None else 0,
                      locked_until=row.locked_until)  # fmt: skip
