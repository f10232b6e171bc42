"""The gate's rules in words on Chinese pages (issue 14): a Chinese borrower's dispute hold shows as the lender's
policy in Chinese on the case page and in the performance page's chart of denials — never as Regulation F's rule id
"USF-20", and no rule id as the text a person reads (ids stay in tooltips and the CSV)."""

import csv
import io
import re

import pytest
from django.test import Client
from django.urls import reverse

from collections_app.labels import RULES, rule_label
from collections_app.services.holds import hold_place
from compliance.engine import HOLD_RULES
from compliance.presets import POLICY_HOLD_RULES, PRESETS
from core.models import UserSettings
from tests.factories import (
    BorrowerFactory,
    PhoneFactory,
    certified,
    make_case,
    overdue_loan,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db
TAG = re.compile(r"<[^>]+>")
RULE_ID = re.compile(r"\b(?:USF|BK|TCPA|MA|CN|UK|NO|HOLD|VUL|CERT)-[A-Z0-9]+\b")


def chinese(user):
    UserSettings.objects.update_or_create(user=user, defaults={"language": "zh-hans"})
    client = Client()
    client.force_login(user)
    return client


def visible_text(html: str) -> str:
    """What a person reads: the page without its tags (attributes such as tooltips included in the tags)."""
    return TAG.sub(" ", html)


@pytest.fixture
def disputed():
    """A Sanmenxia borrower's case in the Chinese team, on a dispute hold the collector placed."""
    manager = user_with_role("manager", "liu")
    collector = user_with_role("collector", "wang")
    team_with(collector, name="三门峡催收组", language="zh-hans", manager=manager, timezone="Asia/Shanghai")
    certified(collector)  # CERT-01: the desk's collectors are trained
    borrower = BorrowerFactory(country="CN", region="河南省", time_zones=["Asia/Shanghai"], language="zh-hans")
    case = make_case(loan=overdue_loan(borrower=borrower, currency="CNY"), worked_by=collector)
    PhoneFactory(borrower=borrower, number="+8613800138000", sms_consent=True, autodial_consent=True)
    hold_place(case_id=case.pk, actor=collector, kind="dispute", reason="借款人称金额有误")
    return manager, collector, case


def test_every_rule_the_gate_can_cite_has_words_in_both_languages():
    cited = {*HOLD_RULES.values(), *POLICY_HOLD_RULES.values()}
    cited |= {p["time_window"]["rule"] for p in PRESETS.values() if "time_window" in p}
    cited |= {p["collector_certification"]["rule"] for p in PRESETS.values() if "collector_certification" in p}
    cited |= {p[key]["rule"] for p in PRESETS.values() for key in ("arrears_notice", "default_notice") if key in p}
    cited |= {"FN-01"}  # the policy's formal notice response period, on the escalation
    assert cited <= RULES.keys()
    from django.utils import translation

    with translation.override("zh-hans"):
        for rule in RULES:
            words = rule_label(rule)
            assert words != rule and re.search(r"[\u4e00-\u9fff]", words), (rule, words)
    assert rule_label("XX-99") == "XX-99"  # a rule added later shows as it is rather than not at all


def test_the_case_page_of_a_chinese_borrowers_dispute_hold_says_the_lenders_policy_in_chinese(disputed):
    _, collector, case = disputed
    response = chinese(collector).get(reverse("case-detail", args=[case.pk]))
    assert response.status_code == 200
    panel = {a.channel: a for a in response.context["panel"]}
    assert ("HOLD-DISPUTE", "该笔债务有争议：寄出核实材料之前不得催收。") in panel["sms"].reasons
    body = response.content.decode()
    assert "USF-20" not in body  # not Regulation F's rule, not even in a tooltip
    assert "债务争议（公司政策）" in body
    assert not RULE_ID.findall(visible_text(body)), RULE_ID.findall(visible_text(body))


def test_the_chart_of_denials_names_the_rule_in_chinese_and_its_csv_keeps_the_id(disputed):
    manager, collector, case = disputed
    from compliance.services import contact_check

    contact_check(borrower_id=case.borrower_id, channel="sms", loan_id=case.loan_id, actor=collector)  # refused
    client = chinese(manager)
    response = client.get(reverse("performance"), {"days": 30})
    bars = response.context["charts"]["denials"].bars
    assert [(bar.label, bar.value) for bar in bars] == [("债务争议（公司政策）", 1)]
    assert "USF-20" not in response.content.decode()
    download = client.get(reverse("performance"), {"days": 30, "format": "csv", "chart": "denials"})
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows == [["rule", "rule_words", "count"], ["HOLD-DISPUTE", "债务争议（公司政策）", "1"]]
