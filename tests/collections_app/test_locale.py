"""Each reader's language and time zone (issue 13): the team's by default, the reader's own once chosen; every time on
a page names its zone; the Chinese pages show human words, never identifiers or the English interface."""

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from collections_app.services import case_transition, note_add, promise_record
from compliance.services import contact_record
from core.models import UserSettings
from core.templatetags.when import borrower_time, when
from tests.factories import BorrowerFactory, PhoneFactory, loan_with_schedule, make_case, team_with, user_with_role

pytestmark = pytest.mark.django_db
NOON_BEIJING = dt.datetime(2024, 2, 12, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def china():
    """A Chinese team (Beijing time) with a collector and a manager, and one of their cases with some history."""
    collector, manager = user_with_role("collector", "cn1"), user_with_role("manager", "mgr-cn")
    team = team_with(collector, name="三门峡催收组", language="zh-hans", manager=manager)
    team.timezone = "Asia/Shanghai"
    team.save()
    for user in (collector, manager):  # as the demo's Chinese users: Chinese pages; their zone is the team's
        UserSettings.objects.create(user=user, language="zh-hans")
    borrower = BorrowerFactory(full_name="王芳", country="CN", region="河南省", time_zones=["Asia/Shanghai"],
                               language="zh-hans")  # fmt: skip
    PhoneFactory(borrower=borrower, number="+8613812345678", sms_consent=True)
    case = make_case(loan=loan_with_schedule(("2024-02-01", "100.00"), borrower=borrower), team=team,
                     assigned_to=collector)  # fmt: skip
    with time_machine.travel(NOON_BEIJING, tick=False):
        case_transition(case_id=case.pk, name="escalate_formal_notice", actor=collector, reason="多次未联系上")
        note_add(case_id=case.pk, actor=collector, text="已与借款人通话")
        promise_record(case_id=case.pk, actor=collector, amount=50, promised_on=dt.date(2024, 2, 15))
        contact_record(borrower_id=case.borrower_id, channel="call", direction="outbound", outcome="no_answer",
                       at=NOON_BEIJING, to="+8613812345678", debts=[case.loan_id])  # fmt: skip
    return collector, manager, case


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_a_readers_pages_are_in_their_language_and_their_teams_zone_and_the_switcher_keeps_a_choice(china):
    collector, _, case = china
    client = client_for(collector)
    page = client.get(reverse("case-detail", args=[case.pk]))
    assert page.context["LANGUAGE_CODE"] == "zh-hans" and '<html lang="zh-hans">' in page.content.decode()
    assert "2024-02-12 12:00 Asia/Shanghai" in page.content.decode()  # the note, at noon in Beijing
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert UserSettings.objects.get(user=collector).language == "en"
    elsewhere = client_for(collector).get(reverse("case-detail", args=[case.pk]))  # another browser, no cookie
    assert elsewhere.context["LANGUAGE_CODE"] == "en"
    assert (
        Client().post(reverse("set_language"), {"language": "zh-hans", "next": "/accounts/login/"}).status_code == 302
    )


def test_times_name_their_zone_and_the_borrowers_local_time_where_it_differs():
    from django.utils import timezone

    instant = dt.datetime(2024, 2, 12, 14, 0, tzinfo=dt.UTC)
    with timezone.override("Asia/Shanghai"):
        assert (
            when(instant) == "2024-02-12 22:00 Asia/Shanghai" and when(instant, "short") == "02-12 22:00 Asia/Shanghai"
        )
        assert borrower_time(instant, "America/Chicago") == "08:00 in America/Chicago"
        assert borrower_time(instant, "Asia/Shanghai") == ""
    assert when(None) == "—"


class VisibleText(HTMLParser):
    """The text a reader sees: text nodes outside script and style (and the page title)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.parts.append(data.strip())


# Words of the English interface a Chinese page must not show (labels, badges, messages, the gate's outcomes).
ENGLISH = re.compile(
    r"\b(current|Possible next steps|Escalate|Call back|Next allowed|allowed|deny|defer|review|transition|contact|"
    r"Reminder|reminder|formal notice|Timeline|Messages|Payments|Schedule|Actions|Priority|Borrower|Outcome|"
    r"Reason|Amount|Note|Promise|Hold|Visit|Queue|Cases|Escalations|Performance|Portfolio|Sign out)\b"
)
IDENTIFIER = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")  # snake_case: escalate_formal_notice, promise_to_pay, no_answer


@pytest.mark.parametrize(
    "page", ["home", "case-queue", "case-detail", "borrower-detail", "escalations", "performance", "messages-overview"]
)
def test_the_chinese_pages_show_human_words_not_identifiers_or_english(china, page):
    collector, manager, case = china
    reader = collector if page in ("case-queue", "case-detail", "borrower-detail", "home") else manager
    args = {"case-detail": [case.pk], "borrower-detail": [case.borrower_id]}.get(page, [])
    url = reverse(page, args=args)
    response = client_for(reader).get(url)
    assert response.status_code == 200
    parser = VisibleText()
    parser.feed(response.content.decode())
    text = "\n".join(parser.parts)
    assert not IDENTIFIER.findall(text), IDENTIFIER.findall(text)
    assert not ENGLISH.findall(text), ENGLISH.findall(text)
