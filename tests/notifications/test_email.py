"""E-mail for real: a planned e-mail goes through the gate and Django's SMTP backend to a real SMTP server
(aiosmtpd on 127.0.0.1, tests/smtpd.py) with both bodies, its document and the one-click unsubscribe headers; the
link opts the address out in compliance's ledger; the provider's signed events mark bounces and complaints; a batch
delivered twice or a worker that dies mid-send never sends an e-mail twice."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from compliance.models import ConsentEvent, ContactEvent
from notifications import mail
from notifications.mail import attachment_maker
from notifications.mail_webhooks import email_signature
from notifications.models import MessageTemplate
from notifications.services import outbox_claim, outbox_reap, outbox_send
from tests.factories import EmailFactory, OutboundMessageFactory
from tests.notifications.conftest import due_message

pytestmark = pytest.mark.django_db

SECRET = "whsec-test-0123456789"


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (hand-built, byte offsets and all: what a document maker hands over)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.fixture
def notice_pdf():
    """A document maker as the documents work will register one, named by the English reminder e-mail."""

    @attachment_maker("test_notice", label="test notice")
    def make(row):
        return [(f"notice-{row.loan.external_id}.pdf", minimal_pdf(f"Notice for {row.loan.external_id}"),
                 "application/pdf")]  # fmt: skip

    MessageTemplate.objects.filter(purpose="reminder", channel="email", language="en", is_active=True).update(
        attachment="test_notice"
    )
    yield make
    mail.ATTACHMENT_MAKERS.pop("test_notice", None)


def header(email, name: str) -> str:
    """A header as a mail program shows it (unfolded: a folded header's line break leaves a leading space)."""
    return str(email[name]).strip()


def due_email(*, address: str = "maria@example.com", **borrower_fields):
    message, _ = due_message(channel="email", **borrower_fields)
    EmailFactory(borrower=message.borrower, address=address)
    return message


def send_due():
    token, ids = outbox_claim()
    return ids, outbox_send(message_ids=ids, claim_token=token)


def post_event(event: dict, *, secret: str = SECRET, at: int | None = None) -> int:
    body = json.dumps(event).encode()
    signature = email_signature(body, secret=secret, at=int(time.time()) if at is None else at)
    response = Client().post(
        reverse("email-events"), body, content_type="application/json", HTTP_X_EMAIL_SIGNATURE=signature
    )
    return response.status_code


@pytest.fixture
def webhook_secret(settings):
    settings.EMAIL_WEBHOOK_SECRET = SECRET
    return SECRET


# ---------------------------------------------------------------------------------------------------------------
# What arrives
# ---------------------------------------------------------------------------------------------------------------
def test_a_planned_email_arrives_at_the_smtp_server_with_both_bodies_its_pdf_and_the_unsubscribe_headers(
    smtp, notice_pdf
):
    message = due_email(full_name="Maria <b>Garcia</b> & Co")
    ids, counts = send_due()
    assert ids == [message.pk] and counts == {"sent": 1}
    [arrived] = smtp.wait_for(1)
    email = arrived.message
    assert arrived.rcpt_tos == ["maria@example.com"] and arrived.mail_from == "collections@lender.example"
    assert header(email, "From") == "Example Lending <collections@lender.example>"
    assert header(email, "To") == "maria@example.com"
    message.refresh_from_db()
    loan = message.loan
    assert header(email, "Subject") == f"{loan.product.lender_name}: payment overdue on loan {loan.external_id}"
    unsubscribe = header(email, "List-Unsubscribe")
    assert unsubscribe.startswith("<https://collections.example.com/p/unsubscribe/")
    assert unsubscribe.endswith(">, <mailto:unsubscribe@lender.example?subject=unsubscribe>")
    assert header(email, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    # The outbox keeps the Message-ID's local part as the provider's id (bounces name the Message-ID).
    assert header(email, "Message-ID") == f"<{message.provider_id}@lender.example>"
    assert message.status == "sent" and message.provider == "email" and message.to == "maria@example.com"

    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    link = unsubscribe.split(">")[0].lstrip("<")
    assert "Maria <b>Garcia</b> & Co" in text and "USD 100.00" in text and link in text
    assert text.replace("\r\n", "\n").strip() == message.body.strip()  # the outbox keeps the text that was sent
    # The HTML escapes what the borrower's record says and links the pay link and the unsubscribe link.
    assert "Maria &lt;b&gt;Garcia&lt;/b&gt; &amp; Co" in html and "<b>Garcia" not in html
    assert f'href="{link}"' in html
    assert re.search(r'<a href="https://collections\.example\.com/p/[\w-]{28}">https://collections', html)

    [pdf] = [part for part in email.iter_attachments()]
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == f"notice-{message.loan.external_id}.pdf"
    content = pdf.get_content()
    assert content.startswith(b"%PDF-1.4") and content.rstrip().endswith(b"%%EOF")
    assert f"Notice for {message.loan.external_id}".encode() in content
    # The ledger counts it as sent, covered by the gate's decision.
    event = ContactEvent.objects.get(decision_id=message.decision_id)
    assert event.channel == "email" and event.outcome == "sent" and not event.is_exception


def test_a_chinese_borrower_gets_the_chinese_email_with_a_chinese_footer(smtp):
    due_email(language="zh-hans", full_name="王芳")
    send_due()
    [arrived] = smtp.wait_for(1)
    email = arrived.message
    assert header(email, "Subject").startswith("【Test Lender】") and header(email, "Content-Language") == "zh-hans"
    text = email.get_body(("plain",)).get_content()
    assert "王芳" in text and "退订" in text and "STOP" not in text
    assert "不想再收到这些邮件" in email.get_body(("html",)).get_content()


def test_an_email_the_server_refuses_fails_and_one_it_defers_is_planned_again(smtp):
    refused = due_email(address="refused@example.com")
    busy = due_email(address="busy@example.com")
    assert send_due()[1] == {"failed": 1, "planned": 1}
    refused.refresh_from_db()
    busy.refresh_from_db()
    assert refused.status == "failed" and refused.error_code == "550" and "No such mailbox" in refused.status_reason
    assert ContactEvent.objects.get(decision_id=refused.decision_id).outcome == "failed"
    assert busy.status == "planned" and busy.error_code == "451" and busy.planned_for > timezone.now()
    assert smtp.arrived == []


def test_an_email_whose_document_cannot_be_made_is_not_sent(smtp, notice_pdf):
    mail.ATTACHMENT_MAKERS["test_notice"] = mail._Maker("broken", lambda row: 1 / 0)
    message = due_email()
    assert send_due()[1] == {"failed": 1}
    message.refresh_from_db()
    assert message.status == "failed" and message.error_code == "attachment" and smtp.arrived == []


# ---------------------------------------------------------------------------------------------------------------
# Unsubscribing
# ---------------------------------------------------------------------------------------------------------------
def unsubscribe_path(arrived) -> str:
    return urlsplit(header(arrived.message, "List-Unsubscribe").split(">")[0].lstrip("<")).path


def test_the_one_click_unsubscribe_records_an_opt_out_and_the_next_email_is_denied_by_the_gate(smtp):
    message = due_email()
    send_due()
    path = unsubscribe_path(smtp.wait_for(1)[0])
    # Opening the link (a person, or a mail scanner) asks first and changes nothing.
    page = Client().get(path)
    assert page.status_code == 200 and b'data-testid="unsubscribe-button"' in page.content
    assert b"m\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2a@example.com" in page.content  # m•••a@: recognisable, not harvested
    assert not ConsentEvent.objects.filter(medium="email").exists()
    # The mail program's one-click POST (RFC 8058), without cookies or a CSRF token.
    client = Client(enforce_csrf_checks=True)
    done = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and b'data-testid="unsubscribed"' in done.content
    [opt_out] = ConsentEvent.objects.filter(medium="email")
    assert (opt_out.kind, opt_out.address, opt_out.borrower_id) == ("opt_out", "maria@example.com", message.borrower_id)
    assert opt_out.source == "email_unsubscribe" and "one-click" in opt_out.text
    assert client.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200  # again: one event is enough
    assert ConsentEvent.objects.filter(medium="email").count() == 1

    later = OutboundMessageFactory(
        case=message.case, channel="email", purpose="reminder", planned_for=timezone.now() - dt.timedelta(1)
    )
    assert send_due()[1] == {"denied": 1}
    later.refresh_from_db()
    assert later.status == "denied" and "opted out of email" in later.status_reason
    assert len(smtp.arrived) == 1


def test_the_unsubscribe_page_asks_in_the_borrowers_language_and_its_button_unsubscribes(smtp):
    due_email(language="zh-hans")
    send_due()
    path = unsubscribe_path(smtp.wait_for(1)[0])
    page = Client().get(path)
    assert "停止发送电子邮件".encode() in page.content and page["Content-Language"] == "zh-hans"
    assert b"Stop e-mails" in Client().get(path, {"lang": "en"}).content
    done = Client().post(path, {"lang": "zh-hans"})
    assert "您已退订".encode() in done.content
    assert ConsentEvent.objects.get(medium="email").text.startswith("unsubscribe page")


def test_a_forged_or_unknown_unsubscribe_token_is_refused_and_records_nothing(smtp):
    message = due_email()
    send_due()
    path = unsubscribe_path(smtp.wait_for(1)[0])
    forged = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")
    other = path.replace(f"/unsubscribe/{message.pk}:", f"/unsubscribe/{message.pk + 1000}:")
    for bad in (forged, other, reverse("email-unsubscribe", args=["1"])):
        assert Client().post(bad, {"List-Unsubscribe": "One-Click"}).status_code == 403
    assert not ConsentEvent.objects.exists()


# ---------------------------------------------------------------------------------------------------------------
# The provider's events
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture
def sent_email(smtp):
    message = due_email()
    send_due()
    smtp.wait_for(1)
    message.refresh_from_db()
    return message, header(smtp.arrived[0].message, "Message-ID")


def test_a_signed_hard_bounce_fails_the_email_and_its_contact(sent_email, webhook_secret):
    message, message_id = sent_email
    event = {"type": "bounce", "message_id": message_id, "bounce_type": "permanent", "status": "5.1.1",
             "diagnostic": "smtp; 550 5.1.1 user unknown"}  # fmt: skip
    assert post_event(event) == 204
    message.refresh_from_db()
    assert (message.status, message.provider_status, message.error_code) == ("failed", "bounced", "5.1.1")
    assert "user unknown" in message.status_reason
    assert ContactEvent.objects.get(decision_id=message.decision_id).outcome == "failed"
    assert post_event(event) == 204  # the provider's retry changes nothing
    assert ContactEvent.objects.filter(borrower_id=message.borrower_id).count() == 1


def test_a_delivery_then_a_bounce_corrects_the_contact_and_a_soft_bounce_changes_nothing(sent_email, webhook_secret):
    message, message_id = sent_email
    assert post_event({"type": "bounce", "message_id": message_id, "bounce_type": "transient"}) == 204
    message.refresh_from_db()
    assert message.status == "sent" and message.provider_status == "soft_bounce"
    assert post_event({"type": "delivered", "message_id": message_id}) == 204
    message.refresh_from_db()
    assert message.status == "delivered" and ContactEvent.objects.get(decision_id=message.decision_id).outcome == (
        "delivered"
    )
    assert post_event({"type": "bounce", "message_id": message_id, "status": "5.2.1"}) == 204
    message.refresh_from_db()
    assert message.status == "failed" and ContactEvent.objects.get(decision_id=message.decision_id).outcome == "failed"


def test_a_complaint_is_recorded_as_an_opt_out_of_that_address(sent_email, webhook_secret):
    message, message_id = sent_email
    assert post_event({"type": "complaint", "message_id": message_id.strip("<>")}) == 204
    [opt_out] = ConsentEvent.objects.all()
    assert (opt_out.medium, opt_out.kind, opt_out.address, opt_out.source) == (
        "email", "opt_out", "maria@example.com", "email_complaint"
    )  # fmt: skip
    message.refresh_from_db()
    assert message.status == "sent" and message.provider_status == "complained"


def test_forged_stale_or_unsigned_events_are_refused_and_change_nothing(sent_email, webhook_secret, settings):
    message, message_id = sent_email
    event = {"type": "complaint", "message_id": message_id}
    assert post_event(event, secret="not-the-secret") == 403
    assert post_event(event, at=int(time.time()) - 3600) == 403  # a replay of an old event
    unsigned = Client().post(reverse("email-events"), json.dumps(event), content_type="application/json")
    assert unsigned.status_code == 403
    settings.EMAIL_WEBHOOK_SECRET = ""
    assert post_event(event, secret="") == 403  # no secret set up: nothing is believed
    assert not ConsentEvent.objects.exists()
    message.refresh_from_db()
    assert message.provider_status == "accepted"


def test_an_event_that_cannot_be_read_is_a_400_and_one_about_no_email_of_ours_is_taken(webhook_secret):
    assert post_event({"type": "opened", "message_id": "<x@y>"}) == 400
    assert post_event({"type": "bounce", "message_id": "<x@y>", "bounce_type": "maybe"}) == 400
    assert post_event({"type": "bounce", "message_id": "<1.deadbeef@lender.example>"}) == 204


# ---------------------------------------------------------------------------------------------------------------
# Never twice
# ---------------------------------------------------------------------------------------------------------------
def test_a_batch_delivered_twice_sends_each_email_once(smtp):
    due_email()
    token, ids = outbox_claim()
    assert outbox_send(message_ids=ids, claim_token=token) == {"sent": 1}
    assert outbox_send(message_ids=ids, claim_token=token) == {}  # the broker redelivers the batch
    smtp.wait_for(1)
    assert send_due()[0] == [] and len(smtp.arrived) == 1


class WorkerDied(BaseException):
    """The worker process ending between the server's 250 and the outbox's write (SIGKILL, an OOM kill)."""


def test_a_worker_that_dies_after_the_server_took_the_email_leaves_it_in_review_never_resent(smtp, monkeypatch):
    message = due_email()
    from notifications.services import dispatch

    def die(row, sent):
        raise WorkerDied

    monkeypatch.setattr(dispatch, "_record_sent", die)
    token, ids = outbox_claim()
    with pytest.raises(WorkerDied):
        outbox_send(message_ids=ids, claim_token=token)
    monkeypatch.undo()
    smtp.wait_for(1)
    message.refresh_from_db()
    assert message.status == "claimed" and message.send_started_at and message.provider_id is None
    # The broker delivers the batch again, then the watchdog finds the claim stale: review, not planned again.
    assert outbox_send(message_ids=ids, claim_token=token) == {}
    assert outbox_reap(older_than=dt.timedelta(0)) == {"returned": 0, "review": 1}
    message.refresh_from_db()
    assert message.status == "review" and "may have been sent" in message.status_reason
    assert send_due()[0] == [] and len(smtp.arrived) == 1
