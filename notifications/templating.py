"""Message templates: placeholders, rendering, SMS segments, and the checks a template must pass when saved.

Placeholders are ``{name}`` fields (Python format syntax without conversions or format specs), limited to the list
below so that a typo fails when the admin saves the template, not when a borrower's reminder is sent.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from compliance.engine import OPT_OUT_TEXT
from compliance.models import JurisdictionProfile
from notifications.mail import ATTACHMENT_MAKERS

PLACEHOLDERS = {
    "name": "the borrower's full name",
    "amount_due": "the amount overdue, with its currency (a reminder about several loans: their total)",
    "balance": "the loan's outstanding balance, with its currency",
    "loans": "each loan the message covers with its amount overdue (loan L-1: $100.00; loan L-2: $250.00)",
    "due_date": "the date of the oldest unpaid installment",
    "lender": "the lender's name",
    "pay_link": "the borrower's page (a signed link issued for each message)",
    "reference": "the loan's reference",
    "help_phone": "the number to call us",
}
# Channels whose text must tell the borrower how to opt out where a profile demands it (USF-07).
ELECTRONIC = {"sms", "email"}
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€")


class TemplateError(ValueError):
    """A template that cannot be saved, with a message per problem."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class Segments:
    encoding: str  # GSM-7 or UCS-2
    characters: int
    segments: int


def placeholders_in(text: str) -> list[str]:
    """The placeholder names a text uses; raises ValueError on broken braces or format specs."""
    names = []
    for _, field, spec, conversion in string.Formatter().parse(text):
        if field is None:
            continue
        if spec or conversion or not field.isidentifier():
            raise ValueError(f"{{{field}}} is not a plain placeholder")
        names.append(field)
    return names


def sms_segments(text: str) -> Segments:
    """How many SMS parts a text takes: GSM-7 (160, or 153 per part) or UCS-2 (70, or 67 per part)."""
    if all(c in GSM7 or c in GSM7_EXTENDED for c in text):
        length = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        return Segments("GSM-7", length, 1 if length <= 160 else -(-length // 153))
    length = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    return Segments("UCS-2", length, 1 if length <= 70 else -(-length // 67))


def template_check(
    *,
    purpose: str,
    channel: str,
    language: str,
    body: str,
    opt_out_required: bool,
    subject: str = "",
    attachment: str = "",
) -> Segments | None:
    """Raise TemplateError listing every problem; return the SMS segments of the sample rendering for SMS. An
    e-mail needs a subject; only e-mails and letters carry a document (``attachment``: a registered maker)."""
    problems: dict[str, list[str]] = {}
    for name, text in (("body", body), ("subject", subject)):
        try:
            unknown = sorted(set(placeholders_in(text)) - set(PLACEHOLDERS))
            if unknown:
                problems.setdefault(name, []).append(
                    "Unknown placeholder(s): " + ", ".join(f"{{{u}}}" for u in unknown) + "."
                )
        except ValueError as exc:
            problems.setdefault(name, []).append(f"Broken placeholder: {exc}.")
    if channel == "email" and not subject.strip():
        problems.setdefault("subject", []).append("An e-mail needs a subject.")
    if attachment and channel not in ("email", "letter"):
        problems.setdefault("attachment", []).append("Only e-mails and letters carry a document.")
    elif attachment and attachment not in ATTACHMENT_MAKERS:
        problems.setdefault("attachment", []).append(f"No document maker is named {attachment!r}.")
    # The one confirmation of an opt-out need not offer another (1006.6(e) asks it of collection messages).
    needs_opt_out = opt_out_required and channel in ELECTRONIC and purpose != "opt_out_confirmation"
    if needs_opt_out and not OPT_OUT_TEXT.search(body):
        problems.setdefault("body", []).append(
            "Say how to opt out (e.g. 'Reply STOP to opt out' / '回复TD退订'): the borrowers' jurisdiction requires it."
        )
    if problems:
        raise TemplateError(problems)
    if channel == "sms":
        return sms_segments(render(body, SAMPLE[language if language in SAMPLE else "en"]))
    return None


def render(body: str, values: dict[str, Any]) -> str:
    """The text with every placeholder filled (missing values render empty rather than failing a send)."""
    return string.Formatter().vformat(body, (), _Blank(values))


# Placeholders whose value is a web address: a link in an e-mail's HTML body.
LINKS = {"pay_link"}


def render_html(body: str, values: dict[str, Any]) -> SafeString:
    """The HTML of a template's text: the template's own words and every value escaped (a name such as
    ``<b>Ann</b>`` shows as typed, never as markup), web addresses as links, line breaks kept."""
    parts: list[str] = []
    for literal, name, _spec, _conversion in string.Formatter().parse(body):
        parts.append(str(escape(literal)))
        if name is None:
            continue
        value = str(values.get(name, ""))
        if name in LINKS and value.startswith(("https://", "http://")):
            parts.append(str(format_html('<a href="{}">{}</a>', value, value)))
        else:
            parts.append(str(escape(value)))
    return mark_safe("".join(parts).replace("\r\n", "\n").replace("\n", "<br>\n"))  # noqa: S308 - escaped above


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


SAMPLE = {
    "en": {
        "name": "Maria Garcia",
        "amount_due": "USD 1,234.56",
        "due_date": "2026-06-01",
        "lender": "Example Lending",
        "pay_link": "https://pay.example.com/p/Xq3vT9bKm2Lw8Rf4Ya7Pn1Zc6Hd0",
        "reference": "L-100234",
        "help_phone": "+1 800 555 0100",
    },
    "zh-hans": {
        "name": "王芳",
        "amount_due": "CNY 3,200.00",
        "due_date": "2026-06-01",
        "lender": "示例金融",
        "pay_link": "https://pay.example.cn/p/Xq3vT9bKm2Lw8Rf4Ya7Pn1Zc6Hd0",
        "reference": "L-100234",
        "help_phone": "400-800-0100",
    },
}


def opt_out_text_required() -> bool:
    """Does any current jurisdiction profile require opt-out instructions in texts and e-mails (USF-07)?"""

    return any(
        (p.params.get("electronic") or {}).get("require_opt_out_text")
        for p in JurisdictionProfile.objects.filter(is_current=True).only("params")
    )
