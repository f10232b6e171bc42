"""Issue 16, point 1 in Chromium: a formal notice sent as a letter (through the gate to the print queue) is listed on
the case page with its SHA-256, and the case's collector downloads it; the download is the stored PDF, in the
borrower's language; another team's collector gets 404. The page does not scroll sideways on a phone. Screenshots
land in test-artifacts/e2e/."""

import hashlib
from pathlib import Path

import pytest
from playwright.sync_api import expect

from collections_app.models import CollectionCase
from notifications.models import Document
from notifications.services import outbox_claim, outbox_send
from tests.e2e.conftest import PASSWORD
from tests.factories import OutboundMessageFactory, make_case, team_with, user_with_role
from tests.notifications.pdfs import pdf_text

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_collector_downloads_the_formal_notice_sent_to_a_chinese_borrower(page, live_server, login, shot, settings):
    settings.NOTIFICATIONS_BACKEND = "locmem"
    collector = user_with_role("collector", "casey", password=PASSWORD)
    stranger = user_with_role("collector", "jo", password=PASSWORD)
    team = team_with(collector, name="US")
    team_with(stranger, name="West")
    case = make_case(team=team, assigned_to=collector, state="formal_notice")
    borrower = case.borrower
    borrower.full_name, borrower.language = "王小明", "zh-hans"
    borrower.address_line1, borrower.city, borrower.postal_code = "12 Harbor St", "Boston", "02110"
    borrower.save()
    message = OutboundMessageFactory(case=case, channel="letter", purpose="formal_notice")
    token, ids = outbox_claim()
    assert outbox_send(message_ids=ids, claim_token=token) == {"sent": 1}
    document = Document.objects.get(message=message)
    assert CollectionCase.objects.get(pk=case.pk).documents.count() == 1

    login("casey")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    listed = page.locator("[data-testid=document]")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Formal notice")
    expect(listed).to_contain_text(document.sha256)
    shot("case-documents")
    with page.expect_download() as caught:
        listed.locator("[data-testid=document-download]").click()
    download = caught.value
    assert download.suggested_filename == f"formal-notice-{document.pk}.pdf"
    content = Path(download.path()).read_bytes()
    assert hashlib.sha256(content).hexdigest() == document.sha256  # what the page shows is what was downloaded
    text = pdf_text(content)
    assert "催收通知函" in text and "王小明" in text and case.loan.external_id in text

    # On a phone the list (and its 64-character hash) wraps: nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator("[data-testid=document]")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot("case-documents-phone")

    # Another team's collector: no such case, no such document.
    page.context.clear_cookies()
    page.set_viewport_size({"width": 1366, "height": 900})
    login("jo")
    response = page.request.get(f"{live_server.url}/cases/{case.pk}/documents/{document.pk}/")
    assert response.status == 404
