import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from campaigns.flows import paths, timing

LOCAL = ZoneInfo("Asia/Jerusalem")
TREE = [
    {"type": "wait", "days": 1},
    {
        "type": "branch",
        "rules": {},
        "yes": [{"type": "add_tag", "tag": "a"}, {"type": "branch", "rules": {}, "yes": [], "no": [{"type": "exit"}]}],
        "no": [],
    },
    {"type": "add_tag", "tag": "b"},
]


@pytest.mark.parametrize(
    "path, following",
    [("0", "1"), ("1", "2"), ("1.yes.0", "1.yes.1"), ("1.yes.1", "2"), ("1.yes.1.no.0", "2"), ("2", None)],
)
def test_after_climbs_out_of_branches_that_end(path, following):
    assert paths.after(TREE, path) == following


def test_into_an_empty_side_goes_to_the_step_after_the_branch():
    assert paths.into(TREE, "1", "yes") == "1.yes.0"
    assert paths.into(TREE, "1", "no") == "2"
    assert paths.into(TREE, "1.yes.1", "yes") == "2"


@pytest.mark.parametrize("path", ["", "9", "0.yes.0", "1.maybe.0", "x", "1.yes.7"])
def test_a_path_the_tree_does_not_have_names_no_step(path):
    assert paths.step_at(TREE, path) is None


def test_walk_lists_every_step_in_order():
    assert [p for p, _s in paths.walk(TREE)] == ["0", "1", "1.yes.0", "1.yes.1", "1.yes.1.no.0", "2"]


def test_the_next_local_time_crosses_midnight():
    late = dt.datetime(2026, 3, 10, 23, 0, tzinfo=LOCAL)
    assert timing.next_local_time(late, dt.time(9, 0)) == dt.datetime(2026, 3, 11, 9, 0, tzinfo=LOCAL)
    assert timing.next_local_time(late, dt.time(23, 30)) == dt.datetime(2026, 3, 10, 23, 30, tzinfo=LOCAL)


def test_a_local_time_skipped_when_clocks_go_forward_moves_forward_by_the_gap():
    # Israel goes from 02:00 to 03:00 on Friday 27 March 2026.
    moment = timing.at_local(dt.date(2026, 3, 27), dt.time(2, 30))
    assert moment.astimezone(LOCAL).time() == dt.time(3, 30)
    assert timing.at_local(dt.date(2026, 3, 27), dt.time(9, 0)) == dt.datetime(2026, 3, 27, 6, 0, tzinfo=dt.UTC)


def test_quiet_hours_over_midnight_end_at_their_local_end(settings):
    settings.QUIET_HOURS = "21:00-08:00"
    assert timing.quiet_until(dt.datetime(2026, 3, 10, 20, 59, tzinfo=LOCAL)) is None
    assert timing.quiet_until(dt.datetime(2026, 3, 10, 21, 0, tzinfo=LOCAL)) == dt.datetime(
        2026, 3, 11, 8, 0, tzinfo=LOCAL
    )
    assert timing.quiet_until(dt.datetime(2026, 3, 11, 7, 59, tzinfo=LOCAL)) == dt.datetime(
        2026, 3, 11, 8, 0, tzinfo=LOCAL
    )
    settings.QUIET_HOURS = ""
    assert timing.quiet_until(dt.datetime(2026, 3, 10, 23, 0, tzinfo=LOCAL)) is None


def test_quiet_hours_within_one_day(settings):
    settings.QUIET_HOURS = "13:00-15:00"
    assert timing.quiet_until(dt.datetime(2026, 3, 10, 14, 0, tzinfo=LOCAL)) == dt.datetime(
        2026, 3, 10, 15, 0, tzinfo=LOCAL
    )
    assert timing.quiet_until(dt.datetime(2026, 3, 10, 16, 0, tzinfo=LOCAL)) is None


def local(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=ZoneInfo("Asia/Jerusalem"))


@pytest.mark.parametrize(
    ("start", "step", "end"),
    [
        # Days are local calendar days: 10:00 stays 10:00 across the spring and autumn changes of 2026.
        (local(2026, 3, 26, 10, 0), {"days": 3}, local(2026, 3, 29, 10, 0)),
        (local(2026, 10, 24, 10, 0), {"days": 1}, local(2026, 10, 25, 10, 0)),
        # A day that lands in the skipped hour moves forward by the gap.
        (local(2026, 3, 26, 2, 30), {"days": 1}, local(2026, 3, 27, 3, 30)),
        # Hours are elapsed time: 24 hours across the spring change end at 11:00 on the clock.
        (local(2026, 3, 26, 10, 0), {"hours": 48}, local(2026, 3, 28, 11, 0)),
        (local(2026, 3, 10, 23, 50), {"minutes": 20}, local(2026, 3, 11, 0, 10)),
    ],
)
def test_a_wait_in_days_keeps_the_local_time_and_one_in_hours_counts_elapsed_time(start, step, end):
    from campaigns.flows.steps import wait_end

    assert wait_end(start, step) == end
