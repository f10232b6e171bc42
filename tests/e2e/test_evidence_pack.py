"""Issue 16, point 5 in Chromium: a manager opens the "In legal" escalation tab, builds a case's evidence pack and
downloads it; the ZIP verifies against its manifest and its PDFs read back in the borrower's language. The same list in
Chinese for the Chinese desk's manager, and nothing scrolls sideways at 390 px. Screenshots land in
test-artifacts/e2e/."""

import io
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from collections_app.models import EvidencePack
from collections_app.services.evidence import pack_verify
from core.models import UserSettings
from tests.collections_app.test_evidence_pack import legal_case
from tests.e2e.conftest import PASSWORD
from tests.factories import team_with, user_with_role
from tests.notifications.pdfs import pdf_text

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_manager_builds_and_downloads_the_evidence_pack_from_the_escalation_page(
    page, live_server, login, shot, language
):
    collector = user_with_role("collector", "casey", password=PASSWORD)
    manager = user_with_role("manager", "morgan", password=PASSWORD)
    if language == "zh-hans":
        UserSettings.objects.create(user=manager, language="zh-hans")
    team_with(collector, name="三门峡催收组" if language == "zh-hans" else "US", manager=manager)
    case = legal_case(language, worked_by=collector)

    login("morgan")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/escalations/legal/")
    row = page.locator("[data-testid=in-legal-row]")
    expect(row).to_have_count(1)
    row.locator("[data-testid=evidence-pack-build]").click()
    expect(page.locator("[data-testid=evidence-pack-download]")).to_have_count(1)
    pack = EvidencePack.objects.get(case=case)
    expect(page.locator("[data-testid=in-legal-row]")).to_contain_text(pack.sha256)
    shot(f"escalations-in-legal-{language}")

    with page.expect_download() as caught:
        page.locator("[data-testid=evidence-pack-download]").click()
    download = caught.value
    assert download.suggested_filename == pack.filename
    content = Path(download.path()).read_bytes()
    assert pack_verify(content, expected_sha256=pack.sha256, expected_manifest_sha256=pack.manifest_sha256) == []
    with zipfile.ZipFile(io.BytesIO(content)) as bundle:
        cover = pdf_text(bundle.read(f"{language}/00-index.pdf"))
        payments = pdf_text(bundle.read(f"{language}/02-payments.pdf"))
    assert ("证据包" if language == "zh-hans" else "Evidence pack") in cover and "PAY-1" in payments

    # On a phone the row (and its 64-character hash) wraps: nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/escalations/legal/")
    expect(page.locator("[data-testid=in-legal-row]")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(f"escalations-in-legal-{language}-phone")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator("[data-testid=evidence-pack]")).to_contain_text(pack.sha256)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(f"case-evidence-pack-{language}-phone")
