"""Log filter that masks personal data before a record reaches any handler."""

from __future__ import annotations

import logging
import re

# Keep the last four characters so operators can still tell records apart. Dates, amounts and short ids are left
# alone: only shapes that are phone numbers or national ids are masked.
_PII = re.compile(
    r"\+\d{8,15}"  # E.164 phone numbers
    r"|\b\d{17}[\dXx]\b"  # PRC resident identity card numbers (18 characters, last may be X)
    r"|\b\d{3}-\d{2}-\d{4}\b"  # US social security numbers
    r"|\(\d{3}\)\s?\d{3}-\d{4}|\b\d{3}[-.]\d{3}[-.]\d{4}\b"  # US phone numbers as people write them
    r"|\b\d{9,}\b"  # any other long digit run (unformatted phone numbers and ids)
)


def mask_text(text: str) -> str:
    """Replace phone-number-like and id-like digit runs with a masked form keeping the last four characters."""

    def _mask(match: re.Match[str]) -> str:
        raw = re.sub(r"[^\dXx]", "", match.group(0))
        return "*" * (len(raw) - 4) + raw[-4:]

    return _PII.sub(_mask, text)


class MaskPersonalDataFilter(logging.Filter):
    """Rewrite the formatted message so phone numbers and national ids never reach log files in clear."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logger's problem, not ours to hide
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
