import logging

import pytest

from collections_app.logging import MaskPersonalDataFilter, mask_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("sms to +16175550123 failed", "sms to *******0123 failed"),
        ("id 41120219900101123X matched", "id **************123X matched"),
        ("ssn 900-70-1234", "ssn *****1234"),
        ("call (617) 555-0123 now", "call ******0123 now"),
        ("loan L0000123 due 2026-01-31 amount 1234.56", "loan L0000123 due 2026-01-31 amount 1234.56"),
    ],
)
def test_phone_numbers_and_national_ids_are_masked_and_dates_and_amounts_are_not(text, masked):
    assert mask_text(text) == masked


def test_the_filter_masks_arguments_of_a_log_record(caplog):
    logger = logging.getLogger("tests.masking")
    logger.addFilter(MaskPersonalDataFilter())
    with caplog.at_level(logging.INFO, logger="tests.masking"):
        logger.info("sending to %s", "+8613812345678")
    assert "+8613812345678" not in caplog.text
    assert "*********5678" in caplog.text
