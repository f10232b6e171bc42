"""What a key pressed on an automated reminder call does (issue 15, "voice reminders that listen"). The call's
``<Gather>`` menu (``notifications.voice``) posts each answer to a signed webhook; this answers it with TwiML:

- 9: the automated-call opt-out for the number called is recorded (compliance's consent history, which the gate
  reads: TCPA-02) before the reply confirms it — a key pressed on the call is a reasonable means of revoking consent
  (47 CFR 64.1200(a)(10));
- 1: a text with the balance and how to pay, asked of the gate first (a denial gets a neutral answer) and planned in
  the outbox once per call, sent by the dispatcher through the gate again like every message;
- 2: the number of days (0 to the policy's promise limit) by which the borrower will pay; the promise is recorded by
  the promise service as the borrower's own action;
- any other key: the menu once more, then a polite goodbye.

Every answer is recorded (``VoiceKeypress``) for the case timeline.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from collections_app.models import CollectionCase, PromiseStatus, PromiseToPay
from collections_app.services.arrangements import promise_record
from collections_app.services.cases import CaseError
from compliance.models import ConsentKind
from compliance.services import consent_record, contact_check
from loans.money import format_money
from loans.services import product_today
from notifications.models import (
    Channel,
    KeypressAction,
    KeypressStep,
    MessagePurpose,
    OutboundMessage,
    VoiceKeypress,
)
from notifications.planning import message_plan_once
from notifications.selectors import reminder_call_for_keypad
from notifications.services import keypress_record
from notifications.voice import DAYS, MENU, VOICES, days_twiml, final_twiml, menu_again_twiml, menu_url

logger = logging.getLogger(__name__)

OPT_OUT_KEY, BALANCE_KEY, PROMISE_KEY = "9", "1", "2"


def voice_menu_answer(*, message_id: int | None, call_sid: str, step: str, digits: str, attempt: int) -> str:
    """Act on the keys pressed at ``step`` of the menu of the reminder call ``message_id`` and return the TwiML the
    caller hears next. ``attempt`` 2 is the last chance after keys the step does not accept."""
    call = reminder_call_for_keypad(message_id=message_id, call_sid=call_sid)
    if call is None:
        logger.warning("a keypad answer for no reminder call we placed (message %s)", message_id)
        return final_twiml(language="en", text="Goodbye.")
    language = call.borrower.language if call.borrower.language in VOICES else "en"
    with translation.override(language):
        if step == DAYS:
            return _promise_days(call, call_sid, digits.strip().rstrip("#"), attempt, language)
        return _menu_choice(call, call_sid, digits.strip(), attempt, language)


def _help() -> dict[str, str]:
    return {"help_phone": settings.LENDER_HELP_PHONE}


def _menu_choice(call: OutboundMessage, call_sid: str, digits: str, attempt: int, language: str) -> str:
    record = partial(keypress_record, call=call, call_sid=call_sid, step=KeypressStep.MENU, digits=digits)
    if digits == OPT_OUT_KEY:
        with transaction.atomic():  # committed before the reply: the opt-out holds even if the caller hangs up now
            consent_record(
                borrower_id=call.borrower_id,
                medium="voice",
                address=call.to,
                kind=ConsentKind.OPT_OUT,
                source="voice_keypad",
                text="pressed 9 on an automated reminder call",
            )
            record(action=KeypressAction.OPT_OUT, done=True, result="automated calls stopped")
        return final_twiml(
            language=language, text=_("You will get no more automated calls from us at this number. Goodbye.")
        )
    if digits == BALANCE_KEY:
        return _balance_sms(call, record, language)
    if digits == PROMISE_KEY:
        case, limit, why = _promise_possible(call)
        record(action=KeypressAction.PROMISE, done=False, result=why or "asked for the days")
        if case is None:
            return final_twiml(language=language, text=_cannot_promise())
        return days_twiml(language=language, action=menu_url(message_id=call.pk, step=DAYS), limit=limit)
    record(action=KeypressAction.UNKNOWN, done=False)
    if attempt < 2:
        return menu_again_twiml(
            language=language,
            action=menu_url(message_id=call.pk, step=MENU, attempt=2),
            before=_("Sorry, that is not one of the choices."),
        )
    return final_twiml(
        language=language, text=_("Sorry, we did not understand. Please call us on %(help_phone)s. Goodbye.") % _help()
    )


def _balance_sms(call: OutboundMessage, record: Callable[..., VoiceKeypress], language: str) -> str:
    """Press 1: one text per call with the balance and the pay link — asked of the gate now, so that the caller
    hears whether it will come, and sent by the dispatcher, which asks the gate again at send time."""
    key = f"voice-menu:{call.pk}:balance"
    queued = _("We will send you a text message with your balance and how to pay in a few minutes. Goodbye.")
    if OutboundMessage.objects.filter(idempotency_key=key).exists():
        record(action=KeypressAction.BALANCE_SMS, done=True, result="already asked on this call")
        return final_twiml(language=language, text=queued)
    decision, result = contact_check(
        borrower_id=call.borrower_id,
        channel="sms",
        loan_id=call.loan_id,
        automated=True,
        purpose=MessagePurpose.BALANCE,
    )
    if not result.allowed:
        why = "; ".join(f"{r.rule}: {r.message}" for r in result.reasons)
        record(action=KeypressAction.BALANCE_SMS, done=False, result=f"the gate: {why}")
        # Neutral: the caller may not be the borrower, and the reason (a dispute, an opt-out…) is not for the phone.
        return final_twiml(
            language=language,
            text=_("We cannot send you a text message now. Please call us on %(help_phone)s. Goodbye.") % _help(),
        )
    with transaction.atomic():
        message, new = message_plan_once(
            key=key,
            borrower_id=call.borrower_id,
            loan_id=call.loan_id,
            case_id=call.case_id,
            channel=Channel.SMS,
            purpose=MessagePurpose.BALANCE,
        )
        result_text = f"text {message.pk} planned (decision {decision.pk})" if new else "already asked on this call"
        record(action=KeypressAction.BALANCE_SMS, done=True, result=result_text)
    return final_twiml(language=language, text=queued)


def _promise_possible(call: OutboundMessage) -> tuple[CollectionCase | None, int, str]:
    """The call's case if it can take a promise now, with the policy's limit in days; else why not."""
    case = call.case
    if case is None:
        return None, 0, "no case"
    if not can_proceed(case.take_promise):
        return None, 0, f"the case is {case.state}"
    if PromiseToPay.objects.filter(case=case, status=PromiseStatus.OPEN).exists():
        return None, 0, "the case already has an open promise"
    if _promise_amount(case) <= 0:
        return None, 0, "nothing overdue"
    return case, case.policy.promise_max_days, ""


def _promise_amount(case: CollectionCase) -> Decimal:
    """What the borrower promises by keypad: the amount overdue on the call's loan (at most its balance)."""
    return min(case.loan.amount_overdue, case.loan.outstanding_balance)


def _cannot_promise() -> str:
    return _("We cannot record a promise on this call. Please call us on %(help_phone)s. Goodbye.") % _help()


def _promise_days(call: OutboundMessage, call_sid: str, digits: str, attempt: int, language: str) -> str:
    record = partial(keypress_record, call=call, call_sid=call_sid, step=KeypressStep.PROMISE_DAYS, digits=digits)
    case, limit, why = _promise_possible(call)
    if case is None:
        record(action=KeypressAction.PROMISE, done=False, result=why)
        return final_twiml(language=language, text=_cannot_promise())
    days = int(digits) if digits.isascii() and digits.isdigit() else None
    if days is None or days > limit:
        record(action=KeypressAction.PROMISE, done=False, result=f"not 0 to {limit} days")
        if attempt < 2:
            said = _("Sorry, we can only accept a number of days from 0 to %(limit)s.") % {"limit": limit}
            action = menu_url(message_id=call.pk, step=DAYS, attempt=2)
            return days_twiml(language=language, action=action, limit=limit, before=said)
        return final_twiml(language=language, text=_cannot_promise())
    promised_on = product_today(case.loan.product) + dt.timedelta(days=days)
    amount = _promise_amount(case)
    try:
        with transaction.atomic():
            promise_record(
                case_id=case.pk,
                actor=None,
                by_borrower=True,
                amount=amount,
                promised_on=promised_on,
                note="keyed on an automated reminder call",
            )
            record(action=KeypressAction.PROMISE, done=True, result=f"promise by {promised_on}")
    except CaseError as exc:  # the case moved on between the two keypad answers
        record(action=KeypressAction.PROMISE, done=False, result=str(exc))
        return final_twiml(language=language, text=_cannot_promise())
    words = _("Thank you. We have recorded your promise to pay %(amount)s by %(date)s. Goodbye.") % {
        "amount": format_money(amount, case.loan.currency),
        "date": formats.date_format(promised_on, "DATE_FORMAT"),
    }
    return final_twiml(language=language, text=words)
