"""Time-to-drain arithmetic of the lag history (pure function of samples)."""

from kpoc.console._lag import LagSample, estimate


def s(t, lag, committed, high, parts=3):
    return LagSample(t, lag, committed, high, 1, parts)


def test_draining_group_gets_lag_over_net_rate():
    # Consumes 100/s, producers add 20/s: net 80/s; 800 behind → 10 s.
    e = estimate([s(0, 1600, 1000, 2600), s(10, 800, 2000, 2800)])
    assert e["consume_rate"] == 100 and e["produce_rate"] == 20
    assert e["seconds_to_drain"] == 10 and e["draining"] is True


def test_group_that_falls_behind_is_not_draining():
    e = estimate([s(0, 100, 0, 100), s(10, 200, 50, 250)])
    assert e["draining"] is False and e["seconds_to_drain"] is None


def test_caught_up_group_drains_in_zero_and_one_sample_says_nothing():
    assert estimate([s(0, 5, 0, 5), s(5, 0, 5, 5)])["seconds_to_drain"] == 0
    assert estimate([s(0, 5, 0, 5)])["consume_rate"] is None
    assert estimate([])["lag"] is None


def test_samples_over_another_partition_set_and_outside_the_window_are_ignored():
    samples = [s(0, 0, 0, 0, parts=0), s(200, 900, 100, 1000), s(290, 500, 500, 1000),
               s(300, 400, 600, 1000)]
    e = estimate(samples, window=120)
    # From t=200 (same 3 partitions, within 120 s) to t=300: 500 consumed in 100 s.
    assert e["consume_rate"] == 5 and e["seconds_to_drain"] == 80


def member_sample(t, lag, committed, high, members):
    return LagSample(t, lag, committed, high, members, 3)


def test_a_group_without_members_is_not_draining_whatever_its_history():
    # Members consumed, then left with lag behind: no drain time (was "26s to drain").
    e = estimate([member_sample(0, 900, 100, 1000, 2), member_sample(10, 500, 500, 1000, 2),
                  member_sample(20, 500, 500, 1000, 0)])
    assert e["draining"] is False and e["seconds_to_drain"] is None


def test_an_offset_reset_is_not_consumption():
    # No members; a reset moves committed 0 -> 1000 (to latest): nothing was consumed.
    e = estimate([member_sample(0, 1000, 0, 1000, 0), member_sample(5, 0, 1000, 1000, 0),
                  member_sample(10, 0, 1000, 1000, 1), member_sample(15, 0, 1000, 1000, 1)])
    assert e["consume_rate"] == 0 and e["seconds_to_drain"] == 0


def test_history_beyond_max_groups_goes_to_the_groups_looked_at():
    from kpoc.admin import GroupInfo
    from kpoc.config import ClientConfig
    from kpoc.console._lag import LagHistory

    hist = LagHistory(ClientConfig("127.0.0.1:1"), interval=0, max_groups=2)

    def info(name):
        return GroupInfo(name, "EMPTY", "CLASSIC", "", None, [], [])

    for name in ("a", "b", "c"):
        hist.record(info(name))
    assert [len(hist.history(g)) for g in "abc"] == [1, 1, 0]  # c: over the bound
    hist.record(info("c"), viewed=True)
    assert len(hist.history("c")) == 1 and sum(len(hist.history(g)) for g in "ab") == 1
    hist.record(info("d"), viewed=True)  # evicts a never-viewed group, not c
    assert len(hist.history("c")) == 1 and len(hist.history("d")) == 1
