"""What an automated reminder call says and listens for, as TwiML built with the ``twilio`` SDK: the reminder, then a
keypad menu (``<Gather>``) — 1 for the balance and how to pay by text, 2 to promise a date, 9 to stop these calls — in
the borrower's language. The menu's answers go to the signed webhook ``twilio-voice-menu``
(``collections_app.views.voice_menu``), whose URL names the call's outbox row and the step; the caller's replies are
built here too. No database: callers pass what the call says."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from twilio.twiml.voice_response import Gather, VoiceResponse

# <Say> voices per borrower language: Amazon Polly voices Twilio offers (Mandarin for zh-hans).
VOICES = {"en": ("en-US", "Polly.Joanna"), "zh-hans": ("cmn-CN", "Polly.Zhiyu")}

MENU, DAYS = "menu", "days"  # the steps the webhook answers
MENU_SECONDS, DAYS_SECONDS = 6, 8  # how long the keypad waits for the first key
# The seeded voice templates end with a goodbye (notifications 0003); with a menu it is said after the menu instead.
GOODBYES = ("Goodbye.", "再见。")


def menu_url(*, message_id: int, step: str = MENU, attempt: int = 1) -> str:
    """The absolute URL the keypad answers go to (Twilio signs it, query included); '' without a public base URL,
    and then the call has no menu (inline TwiML has no document URL a relative action could resolve against)."""
    base = settings.TWILIO_WEBHOOK_BASE_URL.rstrip("/")
    if not base:
        return ""
    query = {"message": message_id, "step": step, **({"try": attempt} if attempt > 1 else {})}
    return f"{base}{reverse('twilio-voice-menu')}?{urlencode(query)}"


def _say(verb: VoiceResponse | Gather, text: str, language: str) -> None:
    code, voice = VOICES.get(language, VOICES["en"])
    verb.say(text, language=code, voice=voice)


def _menu(response: VoiceResponse, *, language: str, action: str, before: str = "") -> None:
    gather = response.gather(action=action, method="POST", input="dtmf", num_digits=1, timeout=MENU_SECONDS)
    with translation.override(language):
        if before:
            _say(gather, before, language)
        _say(gather, menu_words(), language)
        goodbye = _("Goodbye.")
    _say(response, goodbye, language)  # no key pressed: the call ends politely


def menu_words() -> str:
    """The menu, in the active language."""
    return _(
        "Press 1 to get your balance and how to pay by text message. "
        "Press 2 to promise a date to pay. Press 9 to stop these calls."
    )


def reminder_twiml(*, say: str, language: str, action: str) -> str:
    """The reminder call: the message, then the keypad menu when there is somewhere to send the answer."""
    response = VoiceResponse()
    if not action:
        _say(response, say, language)
        return str(response)
    text = say.rstrip()
    for goodbye in GOODBYES:
        text = text.removesuffix(goodbye).rstrip()
    _menu(response, language=language, action=action, before=text)
    return str(response)


def menu_again_twiml(*, language: str, action: str, before: str) -> str:
    """The menu once more, after ``before`` (the key was not one of the choices)."""
    response = VoiceResponse()
    _menu(response, language=language, action=action, before=before)
    return str(response)


def days_twiml(*, language: str, action: str, limit: int, before: str = "") -> str:
    """Ask for the number of days from today (0 to ``limit``) by which the borrower will pay, ended by #."""
    response = VoiceResponse()
    gather = response.gather(
        action=action,
        method="POST",
        input="dtmf",
        num_digits=len(str(limit)),
        finish_on_key="#",
        timeout=DAYS_SECONDS,
    )
    with translation.override(language):
        if before:
            _say(gather, before, language)
        words = _(
            "Enter the number of days from today by which you will pay, from 0 to %(limit)s, then press the hash key."
        ) % {"limit": limit}
        _say(gather, words, language)
        goodbye = _("Goodbye.")
    _say(response, goodbye, language)
    return str(response)


def final_twiml(*, language: str, text: str) -> str:
    """Say ``text`` and end the call."""
    response = VoiceResponse()
    _say(response, text, language)
    response.hangup()
    return str(response)
