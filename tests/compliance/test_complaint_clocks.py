"""CMP-01: the complaint classifier and each clock's arithmetic across weekends and public holidays (US, UK, CN)."""

import datetime as dt

import pytest

from compliance.complaints import (
    add_business_days,
    cn_adjusted_workdays,
    complaint_deadlines,
    is_business_day,
    looks_like_complaint,
    regime_deadlines,
)

D = dt.date


@pytest.mark.parametrize(
    "text",
    [
        "I want to make a complaint about your collector",
        "I'll report you to the CFPB",
        "Stop calling me or I go to the FCA",
        "taking this to the Financial Ombudsman",
        "your agent harassed my mother",
        "我要投诉你们的催收员",
        "再打电话我就打12378",
        "我会向银保监举报",
    ],
)
def test_it_flags_complaints_in_english_and_chinese(text):
    assert looks_like_complaint(text)


@pytest.mark.parametrize("text", ["", "I will pay on Friday", "STOP", "好的，明天还款", "Can I get a payment plan?"])
def test_it_does_not_flag_ordinary_replies(text):
    assert not looks_like_complaint(text)


# --- US (CFPB: 15 and 60 calendar days; a due date on a weekend or federal holiday comes forward) ---------------
def test_a_us_clock_ending_on_thanksgiving_is_due_the_day_before():
    # 2026-11-11 + 15 days = Thursday 2026-11-26, Thanksgiving.
    assert regime_deadlines("CFPB", D(2026, 11, 11))[0] == D(2026, 11, 25)


def test_a_us_clock_ending_on_a_sunday_after_thanksgiving_is_due_on_the_friday():
    # + 15 = Sunday 2026-11-29; Friday 2026-11-27 is not a federal holiday.
    assert regime_deadlines("CFPB", D(2026, 11, 14))[0] == D(2026, 11, 27)


def test_the_us_60_day_clock_is_calendar_days_and_does_not_stretch_over_holidays():
    # Received the day before Thanksgiving: 60 days later is Sunday 2027-01-24 -> Friday 2027-01-22.
    assert regime_deadlines("CFPB", D(2026, 11, 25)) == (D(2026, 12, 10), D(2027, 1, 22))


def test_a_us_clock_over_new_year_lands_before_the_holiday():
    # 2026-12-17 + 15 = Friday 2027-01-01, New Year's Day -> Thursday 2026-12-31.
    assert regime_deadlines("CFPB", D(2026, 12, 17))[0] == D(2026, 12, 31)


# --- UK (DISP 1.6: summary resolution by the end of the 3rd business day; final response 8 weeks) --------------
def test_a_uk_complaint_before_christmas_skips_christmas_and_boxing_day_observed():
    # Wed 23 Dec 2026: Thu 24 (1), Fri 25 Christmas, Sat 26 Boxing Day, Sun, Mon 28 Boxing Day (substitute), Tue 29
    # (2), Wed 30 (3).
    assert regime_deadlines("FCA", D(2026, 12, 23))[0] == D(2026, 12, 30)


def test_a_uk_complaint_on_a_friday_counts_from_monday():
    assert add_business_days(D(2026, 6, 5), 3, "GB") == D(2026, 6, 10)


def test_the_uk_final_response_ending_on_a_bank_holiday_comes_forward():
    # 8 weeks after Mon 2027-03-01 is Mon 2027-04-26 (a working day).
    assert regime_deadlines("FCA", D(2027, 3, 1))[1] == D(2027, 4, 26)
    # 8 weeks after Mon 2026-10-05 is Mon 2026-11-30; after Mon 2026-11-02 is Mon 2026-12-28 (Boxing Day observed)
    # -> Thursday 2026-12-24.
    assert regime_deadlines("FCA", D(2026, 11, 2))[1] == D(2026, 12, 24)


# --- CN (15 calendar days; a last day on a rest day moves to the next working day, adjusted weekends work) -----
def test_a_cn_complaint_before_national_day_ends_after_golden_week():
    # 2026-09-16 + 15 = Thursday 2026-10-01 (National Day); 1-7 October is off -> Thursday 2026-10-08.
    assert regime_deadlines("CN", D(2026, 9, 16)) == (D(2026, 10, 8), D(2026, 10, 8))


def test_a_cn_clock_ending_on_an_adjusted_working_saturday_ends_that_saturday():
    # Saturday 2026-10-10 is worked in exchange for a day off in golden week.
    assert D(2026, 10, 10) in cn_adjusted_workdays(2026)
    assert is_business_day(D(2026, 10, 10), "CN")
    assert not is_business_day(D(2026, 10, 10), "GB")
    assert regime_deadlines("CN", D(2026, 9, 25)) == (D(2026, 10, 10), D(2026, 10, 10))


def test_a_cn_clock_ending_on_an_ordinary_sunday_moves_to_monday():
    assert regime_deadlines("CN", D(2026, 6, 6))[1] == D(2026, 6, 22)  # Sunday 06-21 -> Monday 06-22


def test_cn_business_days_count_the_adjusted_sunday_before_golden_week():
    # Sunday 2026-09-20 is a working day: the next business day after Saturday 09-19 is that Sunday.
    assert add_business_days(D(2026, 9, 19), 1, "CN") == D(2026, 9, 20)


# --- the strictest regime wins ----------------------------------------------------------------------------------
def test_the_strictest_regime_wins_for_each_date():
    deadlines = complaint_deadlines(D(2026, 12, 23), ["UK_CONC", "US_FED_REGF"])
    assert deadlines.acknowledge_by == D(2026, 12, 30)
    assert deadlines.acknowledge_regime == "FCA"
    # CFPB 60 days: Sunday 2027-02-21 -> Friday 02-19; FCA 8 weeks: Wednesday 2027-02-17.
    assert deadlines.final_by == D(2027, 2, 17)
    assert deadlines.final_regime == "FCA"


def test_a_borrower_without_a_profile_gets_the_strictest_of_all_clocks():
    deadlines = complaint_deadlines(D(2026, 6, 1), [])
    assert deadlines.regimes == ("CFPB", "FCA", "CN")
    assert deadlines.acknowledge_by == D(2026, 6, 4)  # FCA: 3rd business day
    assert deadlines.final_by == D(2026, 6, 16)  # CN: 15 days
