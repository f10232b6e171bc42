"""Log filter that masks personal data before a record reaches any handler.

Every process installs it on every handler that writes: Django's (``LOGGING`` in settings, including runserver's
request log), Celery's worker and beat (which replace the root logger's handlers with their own: see
``collections_app/celery.py``) and gunicorn's access and error logs (``collections_app/gunicorn_conf.py``).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote_plus, unquote_plus

# Keep the last four characters so operators can still tell records apart. Dates, amounts and short ids are left
# alone: only shapes that are phone numbers or national ids are masked.
_PII = re.compile(
    r"\+\d{8,15}|%2[Bb]\d{8,15}"  # E.164 phone numbers, also percent-encoded in a URL
    r"|\b\d{17}[\dXx]\b"  # PRC resident identity card numbers (18 characters, last may be X)
    r"|\b\d{3}-\d{2}-\d{4}\b"  # US social security numbers
    r"|\(\d{3}\)\s?\d{3}-\d{4}|\b\d{3}[-.]\d{3}[-.]\d{4}\b"  # US phone numbers as people write them
    r"|\b\d{9,}\b"  # any other long digit run (unformatted phone numbers and ids)
)
# A parameter of a URL's query string, as request logs print it (percent-encoded: "%2B8613812345678").
_QUERY_PARAMETER = re.compile(r"(?<=[?&])([\w.\-\[\]]+)=([^&\s\"'#]*)")
# Free-text searches (the case queue's ``q``: a name, a phone number or a loan number): a name is personal data
# too, so a search term is never logged in clear — a number in it keeps its last four digits, anything else is
# replaced whole.
SEARCH_PARAMETERS = frozenset({"q", "search"})
REDACTED = "****"
# A borrower page's link (/p/<token>, portal/): the token opens a person's debts, so a log keeps only its first four
# characters (enough to tell requests apart, useless to open the page).
_PORTAL_TOKEN = re.compile(r"(/p/[A-Za-z0-9_-]{4})[A-Za-z0-9_-]{8,}")


def _mask_match(match: re.Match[str]) -> str:
    raw = re.sub(r"[^\dXx]", "", re.sub(r"^%2[Bb]", "", match.group(0)))
    return "*" * (len(raw) - 4) + raw[-4:]


def _mask_parameter(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    decoded = unquote_plus(value)
    masked = _PII.sub(_mask_match, decoded)
    if name in SEARCH_PARAMETERS and decoded.strip() and masked == decoded:
        masked = REDACTED
    if masked == decoded:
        return match.group(0)
    return f"{name}={quote_plus(masked, safe='*')}"


def mask_text(text: str) -> str:
    """Replace phone-number-like and id-like digit runs with a masked form keeping the last four characters, also
    inside URL query strings (percent-encoded), search terms of URLs whole, and borrower-page tokens but for their
    first four characters."""
    if "=" in text:
        text = _QUERY_PARAMETER.sub(_mask_parameter, text)
    if "/p/" in text:
        text = _PORTAL_TOKEN.sub(r"\1" + REDACTED, text)
    return _PII.sub(_mask_match, text)


class MaskPersonalDataFilter(logging.Filter):
    """Rewrite the formatted message, and the traceback of an exception logged with it, so phone numbers and
    national ids never reach log files in clear."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logger's problem, not ours to hide
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        # A provider's error names the number it refused; the traceback would print it again. Formatters reuse
        # ``exc_text`` once it is set, so format it here, masked.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def mask_handlers(*loggers: logging.Logger) -> None:
    """Put the masking filter on every handler of these loggers (once: handlers are shared between loggers)."""
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, MaskPersonalDataFilter) for f in handler.filters):
                handler.addFilter(MaskPersonalDataFilter())
