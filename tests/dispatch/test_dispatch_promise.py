"""The dispatch promise: the cut-off, weekends, a six-day warehouse, a warehouse in another time
zone (whose local day is not Shanghai's), a booked pickup, and the sentence in English and
Chinese on the hub's clock (Asia/Shanghai)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from orders.services.dispatch import (
    DispatchSchedule,
    DispatchScheduleError,
    dispatch_departure,
    dispatch_promise,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = DispatchSchedule("Asia/Shanghai", dt.time(16, 0), dt.time(18, 0), "12345")
SIX_DAYS = DispatchSchedule("Asia/Shanghai", dt.time(16, 0), dt.time(18, 0), "123456")
BERLIN_WEEKDAYS = DispatchSchedule("Europe/Berlin", dt.time(16, 0), dt.time(18, 0), "12345")


def shanghai(day: int, hour: int, minute: int = 0, *, month: int = 1) -> dt.datetime:
    """2026-01-26 is a Monday; 2026-01-30 a Friday, 01-31 a Saturday."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def sentence(schedule, packed_at, language="en", **kwargs) -> str:
    with translation.override(language):
        return dispatch_promise(schedule=schedule, packed_at=packed_at, **kwargs).sentence()


@pytest.mark.parametrize(
    ("packed", "leaves", "text"),
    [
        (shanghai(28, 15, 59), shanghai(28, 18), "packed 15:59, leaves before 18:00 today"),
        (shanghai(28, 16, 0), shanghai(29, 18), "packed 16:00, leaves before 18:00 tomorrow"),
        (shanghai(28, 16, 1), shanghai(29, 18), "packed 16:01, leaves before 18:00 tomorrow"),
        (shanghai(28, 0, 5), shanghai(28, 18), "packed 00:05, leaves before 18:00 today"),
        # Friday after the cut-off, Saturday and Sunday: Monday's pickup.
        (shanghai(30, 16, 1), shanghai(2, 18, month=2), "packed 16:01, leaves before 18:00 on Monday"),
        (shanghai(31, 10, 0), shanghai(2, 18, month=2), "packed 10:00, leaves before 18:00 on Monday"),
        (shanghai(1, 23, 0, month=2), shanghai(2, 18, month=2), "packed 23:00, leaves before 18:00 tomorrow"),
    ],
)
def test_around_the_cut_off_and_the_weekend(packed, leaves, text):
    assert dispatch_departure(schedule=WEEKDAYS, packed_at=packed) == leaves
    assert sentence(WEEKDAYS, packed) == text


def test_a_warehouse_working_monday_to_saturday():
    assert dispatch_departure(schedule=SIX_DAYS, packed_at=shanghai(30, 16, 1)) == shanghai(31, 18)
    assert sentence(SIX_DAYS, shanghai(31, 10, 0)) == "packed 10:00, leaves before 18:00 today"
    # Saturday after the cut-off: Sunday is off, Monday it is.
    assert dispatch_departure(schedule=SIX_DAYS, packed_at=shanghai(31, 16, 30)) == shanghai(2, 18, month=2)


def test_a_weekly_warehouse_names_the_date_a_week_ahead():
    mondays = DispatchSchedule("Asia/Shanghai", dt.time(16, 0), dt.time(18, 0), "1")
    assert sentence(mondays, shanghai(26, 16, 1)) == "packed 16:01, leaves before 18:00 on 2026-02-02"
    assert sentence(mondays, shanghai(26, 16, 1), "zh-hans") == "16:01 已打包，2026-02-02 18:00 前发出"


def test_a_warehouse_in_berlin_decides_on_its_own_day_and_shows_its_own_clock():
    # Wednesday 22:30 in Shanghai is 15:30 in Berlin: before Berlin's cut-off, so Berlin's
    # Wednesday pickup, which is Thursday 01:00 in Shanghai.
    packed = shanghai(28, 22, 30)
    leaves = dispatch_departure(schedule=BERLIN_WEEKDAYS, packed_at=packed)
    assert leaves == dt.datetime(2026, 1, 28, 18, 0, tzinfo=BERLIN) == shanghai(29, 1)
    assert sentence(BERLIN_WEEKDAYS, packed) == (
        "packed 22:30, leaves before 01:00 tomorrow (Europe/Berlin local time: Wed 18:00)"
    )
    assert (
        sentence(BERLIN_WEEKDAYS, packed, "zh-hans")
        == "22:30 已打包，明天 01:00 前发出（Europe/Berlin 当地时间 周三 18:00）"
    )

    # Thursday 06:30 in Shanghai is still Wednesday 23:30 in Berlin, past its cut-off: Berlin's
    # Thursday pickup, although Shanghai's Thursday has only begun.
    assert dispatch_departure(schedule=BERLIN_WEEKDAYS, packed_at=shanghai(29, 6, 30)) == dt.datetime(
        2026, 1, 29, 18, 0, tzinfo=BERLIN
    )
    # Saturday 06:00 in Shanghai is Friday 23:00 in Berlin: Monday in Berlin, Tuesday here.
    assert sentence(BERLIN_WEEKDAYS, shanghai(31, 6, 0)) == (
        "packed 06:00, leaves before 01:00 on Tuesday (Europe/Berlin local time: Mon 18:00)"
    )


def test_a_zone_with_shanghais_clock_adds_nothing():
    hong_kong = DispatchSchedule("Asia/Hong_Kong", dt.time(16, 0), dt.time(18, 0), "12345")
    assert sentence(hong_kong, shanghai(28, 9, 0)) == "packed 09:00, leaves before 18:00 today"


def test_daylight_saving_keeps_the_local_pickup_time():
    # Europe/Berlin moves its clocks on Sunday 2026-03-29: Monday's 18:00 is then UTC+2.
    packed = dt.datetime(2026, 3, 27, 17, 0, tzinfo=BERLIN)
    leaves = dispatch_departure(schedule=BERLIN_WEEKDAYS, packed_at=packed)
    assert (leaves.date(), leaves.time(), leaves.utcoffset()) == (
        dt.date(2026, 3, 30),
        dt.time(18, 0),
        dt.timedelta(hours=2),
    )


def test_a_pickup_before_the_cut_off_never_promises_the_past():
    morning_pickup = DispatchSchedule("Asia/Shanghai", dt.time(16, 0), dt.time(10, 0), "12345")
    assert dispatch_departure(schedule=morning_pickup, packed_at=shanghai(28, 12, 0)) == shanghai(29, 10)


def test_a_booked_pickup_counts_when_it_is_later_than_the_schedule():
    packed = shanghai(28, 15, 0)
    later = dispatch_promise(schedule=WEEKDAYS, packed_at=packed, booked_pickup_at=shanghai(28, 19, 30))
    assert later.leaves_before == shanghai(28, 19, 30) and later.from_booking
    earlier = dispatch_promise(schedule=WEEKDAYS, packed_at=packed, booked_pickup_at=shanghai(28, 17, 0))
    assert earlier.leaves_before == shanghai(28, 18) and not earlier.from_booking


@pytest.mark.parametrize(
    ("language", "packed", "text"),
    [
        ("zh-hans", shanghai(28, 14, 5), "14:05 已打包，今天 18:00 前发出"),
        ("zh-hans", shanghai(28, 16, 5), "16:05 已打包，明天 18:00 前发出"),
        ("zh-hans", shanghai(30, 16, 5), "16:05 已打包，周一 18:00 前发出"),
        ("en", shanghai(28, 14, 5), "packed 14:05, leaves before 18:00 today"),
    ],
)
def test_the_sentence_in_both_languages(language, packed, text):
    assert sentence(WEEKDAYS, packed, language) == text


def test_a_schedule_that_cannot_promise_says_why():
    with pytest.raises(DispatchScheduleError, match="no working day"):
        dispatch_departure(
            schedule=DispatchSchedule("Asia/Shanghai", dt.time(16), dt.time(18), ""), packed_at=shanghai(28, 9)
        )
    with pytest.raises(DispatchScheduleError, match="Mars/Olympus"):
        dispatch_departure(
            schedule=DispatchSchedule("Mars/Olympus", dt.time(16), dt.time(18), "12345"), packed_at=shanghai(28, 9)
        )
    with pytest.raises(ValueError, match="aware"):
        dispatch_departure(schedule=WEEKDAYS, packed_at=dt.datetime(2026, 1, 28, 9, 0))
