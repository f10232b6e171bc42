"""The keys a borrower presses on an automated reminder call, recorded (``VoiceKeypress``, shown on the case timeline).
What each key does is ``collections_app.services.voice_menu``; which call an answer is about,
``notifications.selectors``."""

from __future__ import annotations

from notifications.models import OutboundMessage, VoiceKeypress


def keypress_record(
    *, call: OutboundMessage, call_sid: str, step: str, digits: str, action: str, done: bool, result: str = ""
) -> VoiceKeypress:
    """Append what the borrower pressed on ``call`` and what it did."""
    return VoiceKeypress.objects.create(
        call=call,
        borrower_id=call.borrower_id,
        case_id=call.case_id,
        call_sid=call_sid[:64],
        step=step,
        digits=digits[:16],
        action=action,
        done=done,
        result=result[:2000],
    )
