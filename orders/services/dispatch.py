"""The dispatch promise: when a packed parcel leaves the warehouse, for customer service to tell
the buyer before the buyer asks ("packed 14:05, leaves before 18:00 today").

The rule, on the warehouse's own clock (`Warehouse.time_zone`): a parcel packed on a working day
before the cut-off leaves with that day's carrier pickup; otherwise with the next working day's.
Public holidays are not modelled: a warehouse closed on a holiday still gets that day's promise
(operations can take the day out of the working days for the week, or say so to customer
service). When a carrier pickup was booked for a known later time, that time wins; none of our
carriers answer a booking with a time today, so the schedule is what we have.

The sentence is shown to customer service, who work on the hub's clock (Asia/Shanghai, the
project's display rule): times are shown in the display time zone, and "today"/"tomorrow" are
counted from the day the parcel was packed on that clock. When the warehouse keeps another time
zone, its local departure time is added with the zone's name, so nobody has to convert.

Pure functions: no database, no clock of their own, so every case is a unit test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

# A week: every working-day search ends within it.
_WEEK = 7


class DispatchScheduleError(ValueError):
    """The warehouse's schedule cannot give a promise (no working day, unknown time zone)."""


@dataclass(frozen=True)
class DispatchSchedule:
    """What the promise needs from a warehouse (a Warehouse row has these attributes)."""

    time_zone: str
    cutoff_time: dt.time
    pickup_time: dt.time
    working_days: str  # ISO weekday digits, "12345" = Monday to Friday

    @classmethod
    def of(cls, warehouse) -> DispatchSchedule:
        return cls(
            time_zone=warehouse.time_zone,
            cutoff_time=warehouse.cutoff_time,
            pickup_time=warehouse.pickup_time,
            working_days=warehouse.working_days,
        )


@dataclass(frozen=True)
class DispatchPromise:
    packed_at: dt.datetime  # aware
    leaves_before: dt.datetime  # aware, in the warehouse's time zone
    warehouse_zone: str
    # True when a booked carrier pickup (later than the schedule's) set the time.
    from_booking: bool = False

    def local(self, zone: dt.tzinfo | None = None) -> tuple[dt.datetime, dt.datetime]:
        """(packed, leaves) on the display clock (default: the active time zone)."""
        zone = zone or timezone.get_current_timezone()
        return self.packed_at.astimezone(zone), self.leaves_before.astimezone(zone)

    def days_after_packing(self, zone: dt.tzinfo | None = None) -> int:
        packed, leaves = self.local(zone)
        return (leaves.date() - packed.date()).days

    def day_word(self, zone: dt.tzinfo | None = None) -> str:
        """today / tomorrow / on Monday (within the week) / on 2026-02-03, counted from the day
        it was packed on the display clock; in the active language."""
        days = self.days_after_packing(zone)
        leaves = self.local(zone)[1]
        if days <= 0:
            return pgettext("dispatch day", "today")
        if days == 1:
            return pgettext("dispatch day", "tomorrow")
        if days < _WEEK:
            return _weekday_word(leaves.isoweekday())
        return pgettext("dispatch day", "on %(date)s") % {"date": leaves.strftime("%Y-%m-%d")}

    def sentence(self, zone: dt.tzinfo | None = None) -> str:
        """en "packed 14:05, leaves before 18:00 today", zh "14:05 已打包，今天 18:00 前发出"; with
        the warehouse's local time added when its zone differs from the display clock's."""
        zone = zone or timezone.get_current_timezone()
        packed, leaves = self.local(zone)
        text = _("packed %(packed)s, leaves before %(time)s %(day)s") % {
            "packed": packed.strftime("%H:%M"),
            "time": leaves.strftime("%H:%M"),
            "day": self.day_word(zone),
        }
        # The warehouse's own clock, when it reads differently (another zone): no converting.
        warehouse_local = self.leaves_before.astimezone(ZoneInfo(self.warehouse_zone))
        if warehouse_local.replace(tzinfo=None) != leaves.replace(tzinfo=None):
            text += _(" (%(zone)s local time: %(weekday)s %(time)s)") % {
                "zone": self.warehouse_zone,
                "weekday": _weekday_short(warehouse_local.isoweekday()),
                "time": warehouse_local.strftime("%H:%M"),
            }
        return text


def _weekday_word(isoweekday: int) -> str:
    # One string per day, with the preposition: Chinese says "周一", English "on Monday".
    words = {
        1: pgettext("dispatch day", "on Monday"),
        2: pgettext("dispatch day", "on Tuesday"),
        3: pgettext("dispatch day", "on Wednesday"),
        4: pgettext("dispatch day", "on Thursday"),
        5: pgettext("dispatch day", "on Friday"),
        6: pgettext("dispatch day", "on Saturday"),
        7: pgettext("dispatch day", "on Sunday"),
    }
    return words[isoweekday]


def _weekday_short(isoweekday: int) -> str:
    words = {
        1: pgettext("weekday short", "Mon"),
        2: pgettext("weekday short", "Tue"),
        3: pgettext("weekday short", "Wed"),
        4: pgettext("weekday short", "Thu"),
        5: pgettext("weekday short", "Fri"),
        6: pgettext("weekday short", "Sat"),
        7: pgettext("weekday short", "Sun"),
    }
    return words[isoweekday]


def working_days_parse(working_days: str) -> frozenset[int]:
    days = frozenset(int(ch) for ch in (working_days or "") if ch in "1234567")
    if not days:
        raise DispatchScheduleError(_("The warehouse has no working day."))
    return days


def zone_or_error(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DispatchScheduleError(_("Unknown time zone “%(zone)s”.") % {"zone": name}) from None


def dispatch_departure(*, schedule: DispatchSchedule, packed_at: dt.datetime) -> dt.datetime:
    """The carrier pickup the parcel goes with, as an aware datetime in the warehouse's zone."""
    if timezone.is_naive(packed_at):
        raise ValueError("packed_at must be an aware datetime")
    zone = zone_or_error(schedule.time_zone)
    days = working_days_parse(schedule.working_days)
    local = packed_at.astimezone(zone)
    day = local.date()
    if not (day.isoweekday() in days and local.time() < schedule.cutoff_time):
        day = _next_working_day(day, days)
    departure = _at(day, schedule.pickup_time, zone)
    # A pickup earlier in the day than the cut-off (or a DST gap) must not promise the past.
    while departure <= packed_at:
        day = _next_working_day(day, days)
        departure = _at(day, schedule.pickup_time, zone)
    return departure


def _next_working_day(day: dt.date, days: frozenset[int]) -> dt.date:
    for step in range(1, _WEEK + 1):
        candidate = day + dt.timedelta(days=step)
        if candidate.isoweekday() in days:
            return candidate
    raise DispatchScheduleError(_("The warehouse has no working day."))  # unreachable with ≥ 1 day


def _at(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    # Through UTC and back, so a wall time that does not exist (a DST gap) becomes a real one.
    return dt.datetime.combine(day, time, tzinfo=zone).astimezone(dt.UTC).astimezone(zone)


def dispatch_promise(
    *, schedule: DispatchSchedule, packed_at: dt.datetime, booked_pickup_at: dt.datetime | None = None
) -> DispatchPromise:
    """The promise for a parcel packed at `packed_at` (aware). `booked_pickup_at`, when a carrier
    pickup was booked for a known time, is used if it is later than the schedule's departure
    (a booking for an earlier slot than the schedule cannot be counted on: the cut-off stands)."""
    departure = dispatch_departure(schedule=schedule, packed_at=packed_at)
    from_booking = False
    if booked_pickup_at is not None and booked_pickup_at > departure:
        departure = booked_pickup_at.astimezone(departure.tzinfo)
        from_booking = True
    return DispatchPromise(
        packed_at=packed_at,
        leaves_before=departure,
        warehouse_zone=schedule.time_zone,
        from_booking=from_booking,
    )


def dispatch_promise_for_event(event) -> DispatchPromise | None:
    """The promise for a packed event of an order with a warehouse; None for any other event,
    an order with no warehouse, or a schedule that cannot give one (the notification then goes
    out without the sentence rather than not at all)."""
    if event.action != "pack":
        return None
    warehouse = event.order.warehouse
    if warehouse is None:
        return None
    try:
        return dispatch_promise(schedule=DispatchSchedule.of(warehouse), packed_at=event.occurred_at)
    except DispatchScheduleError:
        return None


def dispatch_promise_text_for_event(event) -> str:
    """The sentence for a packed event in the active language and time zone, or ""."""
    promise = dispatch_promise_for_event(event)
    return promise.sentence() if promise else ""
