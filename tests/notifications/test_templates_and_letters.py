"""Templates (placeholders, opt-out text, SMS segments, the admin form and preview), formal letters through the gate
to the print queue, and messages planned by collectors."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from collections_app.models import CollectionCase
from compliance.models import ContactEvent, Decision
from loans.models import LoanProduct
from notifications.models import Document, MessageTemplate, OutboundMessage
from notifications.planning import message_plan
from notifications.services import message_preview, outbox_claim, outbox_send
from notifications.templating import TemplateError, render, sms_segments, template_check
from tests.factories import RestrictionFactory, user_with_role
from tests.notifications.conftest import due_message
from tests.notifications.pdfs import pdf_text
from tests.notifications.test_webhooks import signed_post

pytestmark = pytest.mark.django_db


def check(body, channel="sms", purpose="reminder", language="en"):
    return template_check(purpose=purpose, channel=channel, language=language, body=body, opt_out_required=True)


def test_unknown_or_broken_placeholders_are_rejected():
    with pytest.raises(TemplateError, match=r"Unknown placeholder.*amount_owed"):
        check("Pay {amount_owed} now. Reply STOP to opt out.")
    with pytest.raises(TemplateError, match="Broken placeholder"):
        check("Pay {amount_due!r} now. Reply STOP to opt out.")


def test_texts_and_emails_must_say_how_to_opt_out_but_calls_and_confirmations_need_not():
    with pytest.raises(TemplateError, match="opt out"):
        check("Pay {amount_due} now.")
    with pytest.raises(TemplateError, match="opt out"):
        check("Pay {amount_due} now.", channel="email")
    assert check("Pay {amount_due} now.", channel="voice") is None
    check("You are opted out.", purpose="opt_out_confirmation")
    check("请还款 {amount_due}。回复TD退订", language="zh-hans")


def test_sms_segments_follow_the_encoding():
    assert sms_segments("a" * 160).segments == 1 and sms_segments("a" * 161).segments == 2
    assert sms_segments("€" * 80).characters == 160  # extension characters take two
    assert sms_segments("还" * 70).encoding == "UCS-2" and sms_segments("还" * 71).segments == 2
    segments = check("{lender}: {name}, {amount_due} is overdue. Pay at {pay_link}. Reply STOP to opt out.")
    assert segments.encoding == "GSM-7" and segments.segments == 1


def test_every_seeded_template_passes_its_own_checks():
    templates = MessageTemplate.objects.filter(is_active=True)
    assert templates.count() >= 30
    assert {t.language for t in templates} == {"en", "zh-hans"}
    assert {t.channel for t in templates} == {"sms", "voice", "email", "letter"}
    for t in templates:
        template_check(purpose=t.purpose, channel=t.channel, language=t.language, body=t.body, opt_out_required=True,
                       subject=t.subject, attachment=t.attachment)  # fmt: skip


def test_the_admin_form_refuses_a_bad_template_and_previews_a_good_one():
    admin = user_with_role("admin", "ada")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client = Client()
    client.force_login(admin)
    template = MessageTemplate.objects.get(purpose="reminder", channel="sms", language="en")
    url = reverse("admin:notifications_messagetemplate_change", args=[template.pk])
    form = {"purpose": "reminder", "channel": "sms", "language": "en", "subject": "", "is_active": "on"}
    response = client.post(url, {**form, "body": "Pay {amount_owed} now."})
    assert response.status_code == 200
    errors = str(response.context["adminform"].form.errors)
    assert "amount_owed" in errors and "opt out" in errors
    response = client.post(url, {**form, "body": "{name}: {amount_due} overdue. Reply STOP to opt out."})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "Maria Garcia: USD 1,234.56 overdue" in page and "GSM-7" in page


def test_rendering_fills_every_placeholder_and_leaves_unknown_values_blank():
    assert render("{name} owes {amount_due}{reference}", {"name": "A", "amount_due": "USD 1.00"}) == "A owes USD 1.00"


def test_a_formal_notice_letter_goes_through_the_gate_to_the_print_queue(settings, tmp_path, locmem):
    settings.LETTERS_DIR = str(tmp_path)
    message, _ = due_message(channel="letter", purpose="formal_notice", address_line1="1 Main St", city="Albany")
    CollectionCase.objects.filter(pk=message.case_id).update(state="formal_notice")
    token, ids = outbox_claim()
    assert outbox_send(message_ids=ids, claim_token=token) == {"sent": 1}
    message.refresh_from_db()
    assert message.status == "sent" and message.provider == "print"
    (letter,) = tmp_path.glob("*/letter-*.pdf")
    text = pdf_text(letter.read_bytes())
    assert "1 Main St" in text and "Formal notice" in text and message.loan.external_id in text
    (document,) = Document.objects.filter(message=message)  # the stored document is what went to print
    assert document.kind == "formal_notice" and document.pdf_bytes() == letter.read_bytes()
    assert Decision.objects.get(pk=message.decision_id).channel == "letter"
    assert ContactEvent.objects.get(decision_id=message.decision_id).outcome == "sent"
    assert locmem.sent == []  # letters never go to the SMS provider


def test_a_cease_and_desist_stops_the_letter(settings, tmp_path, locmem):
    settings.LETTERS_DIR = str(tmp_path)
    message, _ = due_message(channel="letter", purpose="formal_notice", address_line1="1 Main St")
    CollectionCase.objects.filter(pk=message.case_id).update(state="formal_notice")
    RestrictionFactory(borrower=message.borrower, kind="cease_and_desist")
    token, ids = outbox_claim()
    assert outbox_send(message_ids=ids, claim_token=token) == {"denied": 1}
    assert list(tmp_path.glob("*/*.pdf")) == [] and not Document.objects.exists()


def test_a_collector_plans_a_message_once_per_click_minute(locmem):
    message, _ = due_message()
    collector = user_with_role("collector", "casey")
    first = message_plan(case=message.case, channel="sms", purpose="reminder", actor=collector)
    again = message_plan(case=message.case, channel="sms", purpose="reminder", actor=collector)
    assert first.pk == again.pk and first.created_by == collector
    assert OutboundMessage.objects.filter(case=message.case).count() == 2
    with pytest.raises(ValueError):
        message_plan(case=message.case, channel="fax", purpose="reminder", actor=collector)


@pytest.mark.parametrize(
    ("lender_name", "signed"), [("Harbor Lane Finance", "Harbor Lane Finance"), ("", "Example Lending")]
)
def test_texts_letters_and_previews_name_the_products_lender_or_else_the_setting(
    settings, tmp_path, locmem, lender_name, signed
):
    settings.LENDER_NAME, settings.LETTERS_DIR = "Example Lending", str(tmp_path)
    text, _ = due_message()
    letter, _ = due_message(channel="letter", purpose="formal_notice", address_line1="1 Main St")
    CollectionCase.objects.filter(pk=letter.case_id).update(state="formal_notice")
    LoanProduct.objects.update(lender_name=lender_name)
    token, ids = outbox_claim()
    assert outbox_send(message_ids=ids, claim_token=token) == {"sent": 2}
    text.refresh_from_db()
    assert text.body.startswith(f"{signed}:"), text.body
    (printed,) = tmp_path.glob("*/letter-*.pdf")
    printed_text = pdf_text(printed.read_bytes())
    assert signed in printed_text
    case = CollectionCase.objects.select_related("loan__product", "borrower").get(pk=text.case_id)
    assert message_preview(case=case, channel="sms", purpose="reminder").startswith(f"{signed}:")
    if lender_name:
        assert "Example Lending" not in text.body + printed_text


@pytest.mark.parametrize(("word", "language"), [("STOP", "en"), ("HELP", "en"), ("退订", "zh-hans")])
def test_replies_to_inbound_texts_name_the_borrowers_lender(twilio_settings, word, language):
    twilio_settings.LENDER_NAME = "Example Lending"
    due_message(phone="+16175550123", language=language)
    LoanProduct.objects.update(lender_name="Harbor Lane Finance")
    response = signed_post("twilio-inbound-sms", {"MessageSid": "SM" + "7" * 32, "From": "+16175550123",
                                                  "To": "+15005550006", "Body": word})  # fmt: skip
    assert b"Harbor Lane Finance" in response.content and b"Example Lending" not in response.content


def test_the_console_backend_reports_a_letters_delivery_through_the_status_path(settings, tmp_path, monkeypatch):
    """The mail house's report for a letter, simulated by the console backend as it simulates Twilio's for a text:
    through ``message_status_apply`` (forward only), the ledger entry taking the outcome."""
    from notifications.providers import ConsoleProvider
    from notifications.services import callbacks

    settings.NOTIFICATIONS_BACKEND, settings.LETTERS_DIR = "console", str(tmp_path)
    settings.PROVIDER_CONCURRENCY = 1  # one after another, in this test's transaction
    applied = []
    original = callbacks.message_status_apply
    monkeypatch.setattr(
        callbacks, "message_status_apply", lambda **kw: applied.append(kw) or original(**kw)
    )  # fmt: skip
    # Two borrowers whose letters the (hash-decided) report delivers and returns.
    fates = {}
    for n in range(200):
        day = (timezone.now() - dt.timedelta(minutes=1)).date()
        fate = ConsoleProvider.delivery_report(key=f"LB{n}:letter:formal_notice:{day:%Y-%m-%d}", channel="letter")
        fates.setdefault(fate[0], f"LB{n}")
    messages = []
    for status in ("delivered", "undelivered"):
        message, _ = due_message(channel="letter", purpose="formal_notice", address_line1="1 Main St",
                                 external_id=fates[status])  # fmt: skip
        CollectionCase.objects.filter(pk=message.case_id).update(state="formal_notice")
        messages.append(message)
    token, ids = outbox_claim()
    assert outbox_send(message_ids=ids, claim_token=token) == {"sent": 2}
    delivered, returned = (OutboundMessage.objects.get(pk=m.pk) for m in messages)
    assert {call["provider_id"] for call in applied} == {delivered.provider_id, returned.provider_id}
    assert delivered.status == "delivered" and delivered.delivered_at and delivered.provider == "print"
    assert returned.status == "failed" and returned.error_code in ("returned", "refused")
    assert "mail house" in returned.status_reason
    assert ContactEvent.objects.get(decision_id=delivered.decision_id).outcome == "delivered"
    assert ContactEvent.objects.get(decision_id=returned.decision_id).outcome == "failed"
    assert len(list(tmp_path.glob("*/letter-*.pdf"))) == 2  # both went to the print queue first
    # Forward only: a late or repeated report changes nothing.
    callbacks.message_status_apply(provider_id=delivered.provider_id, status="undelivered", error_code="returned")
    assert OutboundMessage.objects.get(pk=delivered.pk).status == "delivered"


def test_the_console_backend_returns_some_letters_and_delivers_most():
    from notifications.providers import ConsoleProvider

    fates = [ConsoleProvider.delivery_report(key=f"B{n}:letter:formal_notice:x", channel="letter") for n in range(400)]
    returned = sum(status != "delivered" for status, _ in fates)
    assert 8 <= returned <= 60  # a few, as a mail house returns a few
    assert {code for status, code in fates if status != "delivered"} == {"returned", "refused"}
