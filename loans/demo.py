"""A believable demo portfolio, built through the same intake services as real data (deterministic per seed).

Two lenders: an online lender in Sanmenxia, Henan (CNY, Asia/Shanghai, Chinese names, zh-hans) and a US consumer
lender (USD, borrowers across several US time zones including Massachusetts and Arizona, some whose phone's area code
points to another zone than their address). Each loan follows a repayment story: current, paid off, in grace, overdue
at some depth (with the odd partial payment), or a lapse — one installment paid weeks late within the last months, a
case that opened and cured —, so every DPD bucket is populated and the history (``collections_app.demo``) has cures
to show.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loans.intake import ImportSummary, Progress, loans_import, no_progress, payments_import
from loans.models import LoanProduct, PaymentSource
from loans.schedule import equal_installments

CN_PRODUCT = {
    "code": "smx-quickcash",
    "name": "三门峡快易贷 QuickCash",
    "lender_name": "三门峡豫信网络小额贷款有限公司",
    "lender_address": "河南省三门峡市湖滨区黄河路 88 号",
    "currency": "CNY",
    "timezone": "Asia/Shanghai",
    "allocation_order": ["fee", "interest", "principal"],
    # Its borrowers confirm the last 4 characters of their resident id card before their page shows amounts.
    "portal_factor": "national_id_last4",
}
US_PRODUCT = {
    "code": "us-personal",
    "name": "Personal Installment Loan",
    "lender_name": "Harbor Lane Finance",
    "lender_address": "1200 Harbor Lane, Suite 400\nBoston, MA 02110",
    # California's letters must show the lender's licence number (CA-LIC); the demo has California borrowers.
    "lender_licences": {"US_CA": "60DBO-123456"},
    "currency": "USD",
    "timezone": "America/New_York",
    "allocation_order": ["fee", "interest", "principal"],
}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "文",
    "红梅",
    "志强",
    "海燕",
    "晓东",
    "玉兰",
    "国庆",
    "俊杰",
    "子涵",
    "雨轩",
]
# Sanmenxia districts and counties with their resident-id area codes.
SANMENXIA = [
    ("湖滨区", "411202"),
    ("陕州区", "411203"),
    ("渑池县", "411221"),
    ("卢氏县", "411224"),
    ("义马市", "411281"),
    ("灵宝市", "411282"),
]
CN_MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "180",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "199",
]
STREETS_CN = ["崤山路", "黄河路", "六峰路", "和平路", "甘棠路", "大岭路", "建设路", "文明路"]

FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Maria",
    "Daniel",
    "Karen",
    "Wei",
    "Priya",
    "Andre",
    "Keisha",
    "Luis",
    "Emily",
    "Kevin",
    "Aisha",
    "Brian",
    "Nicole",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Nguyen",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Chen",
    "Patel",
]
# (state, city, postal code, area code): Eastern, Central, Mountain (with and without DST), Pacific, Hawaii.
US_PLACES = [
    ("MA", "Boston", "02118", "617"),
    ("MA", "Worcester", "01608", "508"),
    ("NY", "Buffalo", "14202", "716"),
    ("FL", "Miami", "33130", "305"),
    ("IL", "Chicago", "60614", "312"),
    ("TX", "Dallas", "75201", "214"),
    ("CO", "Denver", "80202", "303"),
    ("AZ", "Phoenix", "85004", "602"),
    ("AZ", "Tucson", "85701", "520"),
    ("CA", "Los Angeles", "90012", "213"),
    ("WA", "Seattle", "98101", "206"),
    ("HI", "Honolulu", "96813", "808"),
]
STREETS_US = ["Main St", "Oak Ave", "Maple Dr", "Washington Blvd", "Park Ln", "Cedar Ct", "Elm St", "Lake Rd"]

# Repayment stories and how often each happens.
STORIES = [
    ("current", 34),
    ("lapse", 12),
    ("paid_off", 6),
    ("grace", 10),
    ("early", 14),
    ("mid", 12),
    ("late", 8),
    ("deep", 4),
]
LAPSE_WITHIN = (20, 110)  # the lapsed installment fell due this many days before today
LAPSE_LATE = (8, 60)  # and was paid this many days late (at the latest yesterday)
DPD_RANGES = {"grace": (1, 5), "early": (6, 30), "mid": (31, 90), "late": (91, 180), "deep": (181, 420)}


def cn_resident_id(rng: random.Random, area: str) -> str:
    """A well-formed (fictional) 18-character PRC resident id with its ISO 7064 MOD 11-2 check character."""
    birth = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randrange(365 * 38))
    body = f"{area}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


@dataclass
class DemoResult:
    loans: ImportSummary
    payments: ImportSummary


def _cn_row(rng: random.Random, n: int, today: dt.date) -> dict[str, Any]:
    district, area = rng.choice(SANMENXIA)
    disbursed = today - dt.timedelta(days=rng.randrange(30, 420))
    term = rng.choice([3, 6, 6, 12, 12])
    return {
        "borrower": {
            "external_id": f"CN-B{n:06d}",
            "full_name": rng.choice(SURNAMES) + rng.choice(GIVEN),
            "national_id": cn_resident_id(rng, area),
            "language": "zh-hans",
            "address": {
                "line1": f"{rng.choice(STREETS_CN)}{rng.randrange(1, 300)}号",
                "city": f"三门峡市{district}",
                "region": "河南省",
                "postal_code": "472000",
                "country": "CN",
            },
            "phones": [
                {
                    "number": f"+86{rng.choice(CN_MOBILE_PREFIXES)}{rng.randrange(10**8):08d}",
                    "kind": "mobile",
                    "sms_consent": True,
                    "autodial_consent": rng.random() < 0.7,
                }
            ],
        },
        "loan": {
            "external_id": f"SMX-{n:07d}",
            "product": CN_PRODUCT["code"],
            "principal": str(Decimal(rng.randrange(20, 300)) * 100),
            "currency": "CNY",
            "disbursed_on": disbursed.isoformat(),
            "annual_rate": str(rng.choice([15.4, 18, 21.6, 23.9])),
            "term_months": term,
            "first_due_date": (disbursed + dt.timedelta(days=30)).isoformat(),
        },
    }


def _us_row(rng: random.Random, n: int, today: dt.date) -> dict[str, Any]:
    state, city, postal, area = rng.choice(US_PLACES)
    # One borrower in ten kept a phone number from another state: address and area code disagree.
    phone_area = rng.choice(US_PLACES)[3] if rng.random() < 0.1 else area
    first, last = rng.choice(FIRST), rng.choice(LAST)
    disbursed = today - dt.timedelta(days=rng.randrange(30, 700))
    phones = [
        {
            "number": f"+1{phone_area}55501{rng.randrange(100):02d}",
            "kind": "mobile",
            "sms_consent": rng.random() < 0.85,
            "autodial_consent": rng.random() < 0.6,
        }
    ]
    if rng.random() < 0.3:
        phones.append({"number": f"+1{area}55501{rng.randrange(100):02d}", "kind": rng.choice(["home", "work"])})
        if phones[1]["number"] == phones[0]["number"]:
            phones.pop()
    return {
        "borrower": {
            "external_id": f"US-B{n:06d}",
            "full_name": f"{first} {last}",
            "national_id": f"9{rng.randrange(10, 99)}-{rng.randrange(70, 99)}-{rng.randrange(10000):04d}",
            "language": "en",
            "address": {
                "line1": f"{rng.randrange(1, 9999)} {rng.choice(STREETS_US)}",
                "city": city,
                "region": state,
                "postal_code": postal,
                "country": "US",
            },
            "phones": phones,
            "emails": [{"address": f"{first}.{last}.{n}@example.com".lower(), "kind": "personal"}],
        },
        "loan": {
            "external_id": f"HLF-{n:07d}",
            "product": US_PRODUCT["code"],
            "principal": str(Decimal(rng.randrange(10, 150)) * 100),
            "currency": "USD",
            "disbursed_on": disbursed.isoformat(),
            "annual_rate": str(rng.choice([9.99, 14.5, 19.99, 24.99, 35.99])),
            "term_months": rng.choice([12, 24, 36]),
            "first_due_date": (disbursed + dt.timedelta(days=31)).isoformat(),
        },
    }


def _payments_for(rng: random.Random, row: dict[str, Any], today: dt.date, zone_offset: str) -> list[dict[str, Any]]:
    """Payments telling the loan's story: on time, paid off, a few days late, or stopped paying some time ago."""
    loan = row["loan"]
    schedule = equal_installments(
        principal=Decimal(loan["principal"]),
        annual_rate=Decimal(loan["annual_rate"]),
        term_months=loan["term_months"],
        first_due_date=dt.date.fromisoformat(loan["first_due_date"]),
        currency=loan["currency"],
    )
    story = rng.choices([s for s, _ in STORIES], weights=[w for _, w in STORIES])[0]
    if story == "paid_off":
        cutoff = today + dt.timedelta(days=10_000)
    elif story in DPD_RANGES:
        low, high = DPD_RANGES[story]
        cutoff = today - dt.timedelta(days=rng.randint(low, high))
    else:
        cutoff = today
    lapsed = None
    if story == "lapse":
        since = today - dt.timedelta(days=rng.randint(*LAPSE_WITHIN))
        lapsed = next((inst.number for inst in schedule if inst.due_date >= since), None)
    payments = []
    for inst in schedule:
        due_passed = inst.due_date < today
        if inst.number == lapsed and due_passed:
            late = inst.due_date + dt.timedelta(days=rng.randint(*LAPSE_LATE))
            if late < today:  # otherwise still unpaid today: a case open now
                payments.append(_payment(loan, inst.number, inst.amount, late, zone_offset, rng))
            continue
        if story == "paid_off":
            paid_day = min(inst.due_date - dt.timedelta(days=rng.randrange(0, 4)), today - dt.timedelta(days=1))
        elif inst.due_date < cutoff and due_passed:
            paid_day = inst.due_date - dt.timedelta(days=rng.randrange(0, 4))
        else:
            if inst.due_date >= cutoff and due_passed and rng.random() < 0.25:
                # A partial payment on the first missed installment.
                part = (inst.amount * Decimal(rng.choice(["0.3", "0.5"]))).quantize(Decimal("0.01"))
                when = min(inst.due_date + dt.timedelta(days=rng.randrange(1, 10)), today - dt.timedelta(days=1))
                payments.append(_payment(loan, inst.number, part, when, zone_offset, rng, suffix="P"))
            break
        payments.append(_payment(loan, inst.number, inst.amount, paid_day, zone_offset, rng))
    return payments


def _payment(
    loan: dict[str, Any], number: int, amount: Decimal, day: dt.date, offset: str, rng: random.Random, suffix: str = ""
) -> dict[str, Any]:
    moment = dt.time(rng.randrange(8, 22), rng.randrange(60), rng.randrange(60))
    return {
        "loan": loan["external_id"],
        "amount": str(amount),
        "reference": f"{loan['external_id']}-{number:02d}{suffix}",
        "received_at": f"{day.isoformat()}T{moment.isoformat()}{offset}",
    }


def demo_products_create() -> None:
    for spec in (CN_PRODUCT, US_PRODUCT):
        LoanProduct.objects.update_or_create(code=spec["code"], defaults=spec)


def demo_rows(
    *, loans: int, seed: int, today: dt.date
) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """The loans (numbered intake rows) and every payment of their stories up to the day before ``today``."""
    rng = random.Random(seed)
    loan_rows, payment_rows = [], []
    for n in range(1, loans + 1):
        chinese = rng.random() < 0.55
        row = _cn_row(rng, n, today) if chinese else _us_row(rng, n, today)
        loan_rows.append((n, row))
        payment_rows.extend(_payments_for(rng, row, today, "+08:00" if chinese else "-05:00"))
    return loan_rows, payment_rows


def seed_demo_portfolio(*, loans: int, seed: int, today: dt.date, progress: Progress = no_progress) -> DemoResult:
    """Create the two demo products and ``loans`` loans with their payment histories, all at once."""
    demo_products_create()
    loan_rows, payment_rows = demo_rows(loans=loans, seed=seed, today=today)
    loan_summary = loans_import(loan_rows, progress=progress)
    payment_summary = payments_import(
        list(enumerate(payment_rows, start=1)), progress=progress, source=PaymentSource.DEMO
    )
    return DemoResult(loans=loan_summary, payments=payment_summary)
