from loans.timezones import candidate_time_zones, zones_for_address, zones_for_phone


def test_an_address_and_a_phone_in_different_zones_give_both_candidates():
    zones = candidate_time_zones(country="US", region="MA", phone_numbers=["+16025550123"])
    assert zones == ["America/New_York", "America/Phoenix"]


def test_a_stated_time_zone_overrides_every_other_signal():
    assert candidate_time_zones(
        override="America/Chicago", country="US", region="MA", phone_numbers=["+16025550123"]
    ) == ["America/Chicago"]


def test_a_state_split_between_zones_contributes_all_of_them():
    assert set(zones_for_address("US", "TN")) == {"America/Chicago", "America/New_York"}


def test_china_is_beijing_time_everywhere():
    assert zones_for_address("CN", "新疆") == ("Asia/Shanghai",)
    assert zones_for_phone("+8613812345678") == ("Asia/Shanghai",)


def test_unknown_signals_add_nothing():
    assert candidate_time_zones(country="US", region="", phone_numbers=["not a number"]) == []
