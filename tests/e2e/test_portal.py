"""Issue 15, the borrower's page, in Chromium: the link a reminder carries opens the page at phone and laptop
widths in English and Chinese, without sideways scrolling, with nothing loaded from another site; the identity
check keeps a wrong answer and then lets the right one through; a tampered link gets the neutral refusal.
Screenshots land in test-artifacts/e2e/ (portal-*.png)."""

import pytest
from playwright.sync_api import expect

from collections_app.models import CollectionCase
from notifications.services import portal_link_issue
from tests.factories import BorrowerFactory, ProductFactory, loan_with_schedule, make_case

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SIZES = {"phone": (390, 844), "laptop": (1366, 768)}
LONG_NAME = "Maximiliana Alexandrina Featherstonehaugh-Worthington-Montgomery de la Cruz y Villanueva"


def borrower_with_two_loans(*, language, name, product=None, **fields):
    borrower = BorrowerFactory(full_name=name, language=language, **fields)
    extra = {"product": product, "currency": product.currency} if product else {}
    first = loan_with_schedule(("2024-02-01", "1250.00"), ("2099-03-01", "1250.00"), borrower=borrower, **extra)
    second = loan_with_schedule(("2024-01-01", "80.00"), ("2099-03-15", "80.00"), borrower=borrower, **extra)
    make_case(loan=first)
    CollectionCase.objects.filter(pk=make_case(loan=second).pk).update(state="formal_notice")
    return borrower


def fits(page):
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def watch_requests(page):
    """Every address the browser asks for (the page, its stylesheet, its icon): all must be this site's."""
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    return asked


def test_the_link_opens_the_borrowers_page_at_phone_and_laptop_widths_in_both_languages(page, live_server, shot):
    borrower = borrower_with_two_loans(language="en", name=LONG_NAME)
    token = portal_link_issue(borrower_id=borrower.pk)
    asked = watch_requests(page)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server.url}/p/{token}")
        expect(page.get_by_test_id("greeting")).to_have_text("Hello, M*** A*** F*** d*** l*** C*** y*** V***")
        expect(page.get_by_test_id("lender")).to_have_text("Test Lender")
        expect(page.get_by_test_id("loan")).to_have_count(2)
        expect(page.get_by_test_id("amount-overdue").first).to_have_text("USD 80.00")  # the longest overdue first
        expect(page.get_by_test_id("amount-overdue").nth(1)).to_have_text("USD 1,250.00")
        expect(page.get_by_test_id("next-step").first).to_contain_text("We have sent you a formal notice.")
        expect(page.get_by_test_id("next-due").nth(1)).to_contain_text("USD 1,250.00 due on March 1, 2099")
        expect(page.get_by_test_id("actions")).to_contain_text("call us on")
        assert LONG_NAME not in page.content()
        assert fits(page), f"sideways scroll at {width} px"
        shot(f"portal-page-en-{size}")
        page.get_by_role("link", name="中文").click()
        expect(page.get_by_test_id("greeting")).to_have_text("您好，M*** A*** F*** d*** l*** C*** y*** V***")
        expect(page.get_by_test_id("next-step").first).to_contain_text("我们已向您发出正式通知")
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        assert fits(page), f"sideways scroll at {width} px in Chinese"
        shot(f"portal-page-zh-{size}")
    assert asked and all(url.startswith(live_server.url) for url in asked), asked
    assert not any(url.endswith(".js") for url in asked)  # no JavaScript at all


def test_a_chinese_borrower_confirms_their_id_after_a_wrong_answer_and_sees_their_page(page, live_server, shot):
    product = ProductFactory(code="cn-checked", currency="CNY", lender_name="示例金融", timezone="Asia/Shanghai",
                             portal_factor="national_id_last4")  # fmt: skip
    borrower = borrower_with_two_loans(language="zh-hans", name="欧阳娜娜", product=product,
                                       national_id_masked="**************123X", country="CN", region="HA")  # fmt: skip
    token = portal_link_issue(borrower_id=borrower.pk)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/p/{token}")
    expect(page.get_by_role("heading", name="确认本人身份")).to_be_visible()
    assert "1,250.00" not in page.content() and "欧阳" not in page.content()
    page.get_by_label("您的身份证号码后4位").fill("9999")
    page.get_by_role("button", name="继续").click()
    expect(page.get_by_test_id("check-error")).to_have_text("与我们的记录不符。您还可以再试 4 次。")
    expect(page.get_by_label("您的身份证号码后4位")).to_have_value("9999")  # what was typed stays
    assert fits(page)
    shot("portal-check-zh-phone")
    page.get_by_label("您的身份证号码后4位").fill("123x")
    page.get_by_role("button", name="继续").click()
    expect(page.get_by_test_id("greeting")).to_have_text("您好，欧***")
    expect(page.get_by_test_id("lender")).to_have_text("示例金融")
    expect(page.get_by_test_id("amount-overdue").nth(1)).to_have_text("CNY 1,250.00")
    assert fits(page)
    shot("portal-page-zh-checked-phone")


def test_a_tampered_link_gets_the_neutral_refusal(page, live_server, shot):
    borrower = borrower_with_two_loans(language="en", name="Maria Garcia")
    token = portal_link_issue(borrower_id=borrower.pk)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        response = page.goto(f"{live_server.url}/p/{token[:-1]}{'B' if token[-1] == 'A' else 'A'}")
        assert response.status == 403
        expect(page.get_by_test_id("refused")).to_contain_text("This link does not open")
        assert "Maria" not in page.content() and "USD" not in page.content() and "Test Lender" not in page.content()
        assert fits(page)
        shot(f"portal-refused-{size}")
