import logging

import pytest

from core.logging import MaskPersonalDataFilter, mask_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("sms to +16175550123 failed", "sms to *******0123 failed"),
        ("id 41120219900101123X matched", "id **************123X matched"),
        ("ssn 900-70-1234", "ssn *****1234"),
        ("call (617) 555-0123 now", "call ******0123 now"),
        ("loan L0000123 due 2026-01-31 amount 1234.56", "loan L0000123 due 2026-01-31 amount 1234.56"),
        # Request lines: percent-encoded numbers, and search terms (a name is personal data too) whole.
        ('"GET /cases/?q=%2B8618962328931&page=2 HTTP/1.1" 200', '"GET /cases/?q=*********8931&page=2 HTTP/1.1" 200'),
        ("GET /cases/?q=+8618962328931", "GET /cases/?q=+*********8931"),
        ("GET /cases/?stage=reminder&q=%E7%8E%8B%E8%8A%B3", "GET /cases/?stage=reminder&q=****"),
        ("GET /api/v1/contacts/?to=%2B16175550123&page=3", "GET /api/v1/contacts/?to=*******0123&page=3"),
        ("GET /cases/?q=&page=2", "GET /cases/?q=&page=2"),
        ("path /borrowers/%2B16175550123/", "path /borrowers/*******0123/"),
        # A borrower page's link opens their debts: only its first four characters stay.
        ('"GET /p/uzN1OFmcku2LV6rf7vr1WxDRw3rG?lang=en HTTP/1.1" 200', '"GET /p/uzN1****?lang=en HTTP/1.1" 200'),
        ("POST /p/uzN1OFmcku2LV6rf7vr1WxDRw3rG/check", "POST /p/uzN1****/check"),
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


def test_the_filter_masks_the_traceback_of_a_logged_exception(capsys):
    logger = logging.getLogger("tests.masking.traceback")
    handler = logging.StreamHandler()
    handler.addFilter(MaskPersonalDataFilter())
    logger.addHandler(handler)
    try:
        raise ValueError("21211: The 'To' number +8613812345678 is not a valid phone number")
    except ValueError:
        logger.exception("send failed")
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert "send failed" in err and "ValueError: 21211: The 'To' number *********5678 is not" in err
    assert "8613812345678" not in err
