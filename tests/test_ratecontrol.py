"""RateController's decisions, pure: ``now`` is an argument, no clock and no loop."""

from __future__ import annotations

import math

import pytest

from _rates import congest, steady
from qconnect_async import RateController


def test_quiet_is_counted_from_the_last_cut_and_ends_it_past_quiet() -> None:
    """The controller stays on for ``quiet`` seconds after a cut, and is off just after."""
    control = RateController(enabled=True, w_max=20.0, cut_at=2.0)
    control.on_quiet(2.0 + control.quiet)
    assert control.enabled is True
    control.on_quiet(2.0 + control.quiet + 0.001)
    assert control.enabled is False
    assert control.rate(20.0) == math.inf


def test_nothing_accepted_yet_is_a_rate_of_zero() -> None:
    """Before any answer the accepted rate is 0 requests/s, not a guess."""
    assert RateController().accepted_rate(5.0) == 0.0


def test_pacing_alone_again_probes_from_the_rate_given() -> None:
    """pace_at (a fleet member whose shared rate went away) paces at once at that rate, never
    below min_rate, and probes up from it (no recovery phase)."""
    control = RateController()
    control.pace_at(3.0, 20.0)
    assert control.enabled is True
    assert control.rate(3.0) == 20.0
    assert control.rate(3.1) == pytest.approx(20.0 + control.scale * 0.1**3)
    slow = RateController()
    slow.pace_at(0.0, 0.1)
    assert slow.rate(0.0) == slow.min_rate


def test_recovery_lasts_k_seconds_and_a_throttle_at_k_is_a_probe() -> None:
    """A throttle k seconds after the cut (back at w_max, probing) cuts from there: it is not
    the further cut (recut) of a throttle that comes while still recovering."""
    # Accepted faster than w_max lately (answers with no history of their own): the
    # ceiling decides, not the measure.
    fast = {"acc_value": 1000.0, "acc_at": 0.98, "acc_start": -10.0}
    control = RateController(enabled=True, w_max=100.0, k=1.0, cut_at=0.0, **fast)
    assert control.on_throttle(1.0, sent_at=0.6)
    assert control.w_max == 100.0
    recovering = RateController(enabled=True, w_max=100.0, k=1.0, cut_at=0.0, **fast)
    assert recovering.on_throttle(0.99, sent_at=0.6)
    assert recovering.w_max == pytest.approx(100.0 * (1 - 0.3 * 0.01**3) * recovering.recut)


def test_one_answer_since_the_first_cut_is_a_measure() -> None:
    """After the first cut's guess, a single accepted answer measures the service: the next
    cut goes to what it says, not to the (doubling) ceiling."""
    control = RateController()
    assert control.on_throttle(1.0, sent_at=0.99)  # the first cut: a guess
    control.on_accepted(1.5)
    measured = control.accepted_rate(3.0)
    assert control.on_throttle(3.0, sent_at=2.9)
    assert control.w_max == max(control.min_rate, measured)


def test_the_recovery_takes_the_cubic_s_k_seconds() -> None:
    """Back at w_max k = cbrt(w_max (1 - beta) / scale) seconds after a cut: a larger scale
    (growth in requests/s per s**3) recovers sooner."""
    for scale in (0.5, 8.0):
        control = RateController(scale=scale, max_k=100.0, enabled=True, w_max=500.0, cut_at=0.0)
        control.on_accepted(0.0)
        control.on_accepted(1.0)
        assert control.on_throttle(2.0, sent_at=1.9)
        k = math.cbrt(control.w_max * (1.0 - control.beta) / scale)
        assert control.k == pytest.approx(k)
        assert control.rate(2.0 + k) == pytest.approx(control.w_max)


def test_a_throttle_that_is_a_tenth_of_the_recent_answers_is_congestion() -> None:
    """Sporadic means throttles under ``sporadic`` (10%) of the recent answers: at 10% it cuts."""
    control = RateController(seen_value=9.0, seen_at=5.0)
    assert control.on_throttle(5.0, sent_at=4.9)
    assert control.enabled
    stray = RateController(seen_value=9.5, seen_at=5.0)
    assert not stray.on_throttle(5.0, sent_at=4.9)
    assert not stray.enabled


def test_a_congestion_event_cuts_once() -> None:
    """Throttles of sends made before the cut, or within a round trip after it, cut nothing."""
    control = RateController()
    steady(control, 40.0, 0.0, 2.0)
    assert congest(control, 2.0) <= 5  # a quota met at full speed: a handful, not one
    cut = control.rate(2.0)
    for i in range(30):  # late answers to requests sent before the cut
        assert not control.on_throttle(2.0 + i / 1000, sent_at=1.97 + i / 1000)
    assert not control.on_throttle(2.04, sent_at=2.02)  # sent 20 ms after, answered 20 ms later
    assert control.rate(2.0) == cut
    assert control.on_throttle(2.3, sent_at=2.25)  # well after, most sends throttled: a new one


def test_a_cut_goes_to_beta_of_what_the_service_accepted() -> None:
    """The cut is from the accepted rate, not from what was sent or allowed."""
    control = RateController()
    steady(control, 40.0, 0.0, 5.0)
    congest(control, 5.0)  # the first cut guesses: a cold start's answers measure nothing
    assert control.w_max == control.unmeasured_rate
    steady(control, 40.0, 5.0, 8.0)  # from then on the service's bucket is empty
    congest(control, 8.0)
    assert control.w_max == pytest.approx(40.0, rel=0.05)
    assert control.rate(8.0) == pytest.approx(control.beta * control.w_max)


def test_a_stray_throttle_while_off_cuts_nothing() -> None:
    """One throttle among hundreds of answers is not congestion: the limiter stays off."""
    control = RateController()
    steady(control, 400.0, 0.0, 5.0)
    assert not control.on_throttle(5.0, sent_at=4.99)
    assert not control.enabled
    assert control.rate(5.0) == math.inf


def recovery_bound(control: RateController, rate: float) -> float:
    """Seconds a recovery from ``rate`` may take: max(3 s, probe_requests at ``rate``)."""
    return max(3.0, control.probe_requests / rate)


@pytest.mark.parametrize("depth", [0.5, 1.0, 10.0, 40.0, 400.0])
def test_recovery_from_any_depth_ends_within_its_bound(depth: float) -> None:
    """With probe_requests=40, from any rate, max(3 s, 40 requests at it) after its probes'
    cut, 1000 times faster; and it holds w_max a while first where the time-based cycle is
    shorter than 40 requests (below about 16 req/s) only."""
    control = RateController(probe_requests=40.0)
    congest(control, 0.0)
    steady(control, depth, 0.0, 10.0)
    congest(control, 10.0)
    probe = 10.0
    for _ in range(2):  # the next throttles meet its own probes: a quota that stays
        start, probe = probe, probe + control.k + control.plateau + 0.3
        steady(control, depth, start, probe)
        congest(control, probe)
    bound = recovery_bound(control, control.w_max)  # the rate it last saw accepted
    assert control.rate(probe) <= 2 * depth  # a slow trickle reads a little high
    assert control.rate(probe + bound) >= min(2000.0, 1000 * control.w_max)  # 10 doublings
    if depth <= 10.0:  # it holds w_max a while before its next probe
        assert control.plateau > 0
        probe_from = probe + control.k + control.plateau
        assert control.rate(probe_from) == pytest.approx(control.w_max)
        assert control.rate(probe_from + 1.0) > control.w_max
    else:  # the time-based cycle is 40 requests or more already
        assert control.plateau == 0.0


def test_by_default_no_plateau_at_any_rate() -> None:
    """probe_requests is off by default: the time-based cycle at every rate (fair shares)."""
    control = RateController()
    assert control.probe_requests == 0.0
    congest(control, 0.0)
    assert control.on_throttle(0.2, sent_at=0.15)  # nothing accepted yet: the ceiling
    assert control.w_max > control.unmeasured_rate
    probe = 0.0
    for _ in range(4):  # a quota of 1 req/s that stays, its probes met again and again
        start, probe = probe, probe + max(control.k, 0.0) + 0.3
        steady(control, 1.0, start, probe)
        congest(control, probe)
        assert control.plateau == 0.0
    assert control.rate(probe + 3.0) >= 1000 * control.w_max  # back to full speed within 3 s


def test_a_throttle_with_nothing_accepted_since_the_first_cut_halves_the_guess() -> None:
    """With probe_requests on, nothing accepted since the first cut: the quota is below the
    guess, so half of it (the doubling since the guess is no measure); each halves again."""
    control = RateController(probe_requests=40.0)
    congest(control, 0.0)  # the first cut: the guess, doubling at once
    assert control.rate(0.2) > 2 * control.unmeasured_rate
    assert control.on_throttle(0.2, sent_at=0.15)
    assert control.w_max == 0.5 * control.unmeasured_rate
    assert control.on_throttle(0.5, sent_at=0.45)  # still recovering, nothing accepted
    assert control.w_max <= 0.25 * control.unmeasured_rate
    # The halved level is a guess: a quarter plateau (10 requests' time, less the cycle),
    # whose count then measures the quota.
    assert control.plateau > 0
    assert control.rate(0.5 + control.k + control.plateau) == pytest.approx(control.w_max)


def test_its_own_probe_met_once_starts_a_plateau_at_the_count() -> None:
    """With probe_requests=40, the first throttle of its own probe past w_max starts the
    plateau, at a lower bound of the quota: at least the cycle's count, at most the quota."""
    control = RateController(probe_requests=40.0)
    congest(control, 0.0)
    steady(control, 2.0, 0.0, 10.0)
    congest(control, 10.0)  # a cut at 2 req/s: recovering, then probing
    probe = 10.0 + control.k + 0.5  # in the cubic probe, near w_max
    steady(control, 2.0, 10.0, probe)
    n = control.acc_count
    congest(control, probe)  # the probe met the quota
    assert control.plateau > 0
    assert control.settle * (n - 0.5) / (probe - 10.0) <= control.w_max <= 2.0


def test_the_slow_starts_late_answers_measure_the_burst_not_the_rate() -> None:
    """With probe_requests on, sends made before the first cut and answered after it count
    as burst, not as rate."""
    control = RateController(probe_requests=40.0)
    for i in range(3):
        control.on_accepted(0.01 * i, sent_at=0.0)
    congest(control, 0.05)  # the last round: 2 of its sends are still on their way back
    control.on_accepted(0.06, sent_at=0.04)
    control.on_accepted(0.07, sent_at=0.04)
    assert control.burst_seen == 5.0  # what the service let through at once
    assert control.acc_count == 0.0 and control.accepted_rate(0.07) == 0.0
    control.on_accepted(0.5, sent_at=0.3)  # sent after the cut: the service's rate
    assert control.acc_count == 1.0 and control.burst_seen == 5.0


def test_an_isolated_throttle_is_a_brief_dip() -> None:
    """Pacing, a lone throttle among many successes: back to the old rate within 1.5 s."""
    control = RateController()
    steady(control, 100.0, 0.0, 5.0)
    congest(control, 5.0)
    steady(control, 100.0, 5.01, 10.0)  # recovered: the client sends what it needs
    control.on_throttle(10.0, sent_at=9.99)  # a cut, or (not pacing) none at all
    assert control.rate(10.0) >= 0.95 * control.beta * 100
    assert control.rate(11.5) >= 0.98 * 100


def test_sporadic_throttles_do_not_ratchet_the_rate_down() -> None:
    """A throttle every 2 s among successes at 100 req/s: every cut to ~70, never lower."""
    control = RateController()
    steady(control, 100.0, 0.0, 5.0)
    congest(control, 5.0)
    cuts = []
    for i in range(1, 11):
        t = 5.0 + 2.0 * i
        steady(control, 100.0, t - 1.99, t)  # demand stays 100 req/s
        control.on_throttle(t, sent_at=t - 0.01)
        cuts.append(control.rate(t))
    assert min(cuts) >= 0.95 * control.beta * 100, cuts


def test_pacing_from_a_rate_counts_the_answers_from_then_on() -> None:
    """pace_at starts a new count: three answers in the 0.8 s after it, then a throttle, read
    as (3 + 0.5) / 0.8 sends/s at a low rate; the answers before it are not counted."""
    control = RateController(probe_requests=40)
    control.on_accepted(-5.0)
    control.on_accepted(-4.0)
    control.pace_at(0.0, 1.0)
    for t in (0.2, 0.4, 0.6):
        control.on_accepted(t)
    assert control.on_throttle(0.8, sent_at=0.75)
    assert control.w_max == pytest.approx((3 + 0.5) / 0.8)


@pytest.mark.parametrize("probe_requests", [40.0, 36.0])
def test_a_plateau_is_whole_once_probe_requests_over_8_answers_counted_it(
    probe_requests: float,
) -> None:
    """Its own probe met near w_max: a level counted over at least probe_requests / 8
    answers (5 for 40 and for 36) holds for probe_requests' time; over fewer (4) it is a
    guess, held a quarter of that time first."""

    def probe_met_after(answers: int) -> RateController:
        control = RateController(
            probe_requests=probe_requests, enabled=True, w_max=2.0, k=0.8, cut_at=0.0
        )
        for i in range(answers):
            control.on_accepted(0.5 + 0.8 * i / answers)
        assert control.on_throttle(1.5, sent_at=1.49)  # past k: its own probe
        return control

    counted, guessed = probe_met_after(5), probe_met_after(4)
    assert counted.w_max == guessed.w_max  # the ceiling: the same level either way
    assert guessed.plateau > 0
    assert counted.plateau - guessed.plateau == pytest.approx(0.75 * probe_requests / counted.w_max)


@pytest.mark.parametrize("probe_requests", [40.0, 1.0])
def test_any_probe_requests_halves_the_guess_however_soon_the_throttle_comes(
    probe_requests: float,
) -> None:
    """probe_requests on (any count above 0), nothing accepted since the first cut: a throttle
    0.06 s after it halves the guess (4 req/s here: a low rate); no answer count (0.5 / 0.06 s)
    stands in for a measure when there was no answer."""
    control = RateController(probe_requests=probe_requests, unmeasured_rate=4.0)
    congest(control, 0.0)
    assert control.on_throttle(0.06, sent_at=0.055)
    assert control.w_max == 0.5 * control.unmeasured_rate


def test_one_answer_since_pacing_is_read_as_a_count_not_the_decayed_measure() -> None:
    """At a low rate, one answer 0.8 s before a throttle reads as (1 + 0.5) / 0.9 sends/s over
    the 0.9 s since pacing began, where the decayed measure says about 0.8."""
    control = RateController(probe_requests=40)
    control.pace_at(0.0, 1.0)
    control.on_accepted(0.1)
    assert control.accepted_rate(0.9) < 0.9
    assert control.on_throttle(0.9, sent_at=0.85)
    assert control.w_max == pytest.approx(1.5 / 0.9)


@pytest.mark.parametrize("plateau", [0.5, 2.0])
def test_a_level_that_held_through_a_plateau_is_kept_by_the_next_probe(plateau: float) -> None:
    """Its own probe met after a plateau at 3 req/s, fewer answers counted than that (three
    in 1 to 3 s): the level held through the plateau is a lower bound of the quota, kept."""
    control = RateController(
        probe_requests=40, enabled=True, w_max=3.0, k=0.8, plateau=plateau, cut_at=0.0
    )
    for t in (0.2, 0.7, 1.2):
        control.on_accepted(t)
    now = control.k + plateau + 0.2  # probing past the plateau
    assert control.accepted_rate(now) < 3.0
    assert control.on_throttle(now, sent_at=now - 0.01)
    assert control.w_max == 3.0


def test_without_a_plateau_before_the_level_follows_the_measure_even_below_one() -> None:
    """Its own probe met with no plateau before it, one answer since the cut: the level is
    what the service accepted (about 0.8 sends/s), nothing held from before."""
    control = RateController(probe_requests=40, enabled=True, w_max=1.0, k=1.0, cut_at=0.0)
    control.on_accepted(0.5)
    measured = control.accepted_rate(1.3)
    assert control.on_throttle(1.3, sent_at=1.29)
    assert control.w_max == pytest.approx(measured) and measured < 1.0


def test_with_probe_requests_a_throttle_at_k_is_its_own_probe_and_starts_a_plateau() -> None:
    """probe_requests=40, a throttle exactly k seconds after the cut, three answers since: it
    met the controller's own probe (not a throttle while recovering), so a plateau follows."""
    control = RateController(probe_requests=40, enabled=True, w_max=2.0, k=1.0, cut_at=0.0)
    for t in (0.2, 0.5, 0.8):
        control.on_accepted(t)
    assert control.on_throttle(1.0, sent_at=0.99)
    assert control.plateau > 0


@pytest.mark.parametrize(
    ("answers", "read_as_count"),
    [((0.05, 0.4, 0.75), True), ((0.1, 0.3, 0.5, 0.7), False)],
)
def test_answers_since_pacing_are_read_as_a_count_only_at_a_low_rate(
    answers: tuple[float, ...], read_as_count: bool
) -> None:
    """probe_requests=40, a throttle 0.9 s after pacing began: three answers (about 3.3 sends/s
    measured, a low rate: a quarter plateau would hold there) read as (3 + 0.5) / 0.9; four
    (about 4.5 measured, above the low rates) keep the decayed measure, though (4 + 0.5) /
    0.9 is more."""
    control = RateController(probe_requests=40)
    control.pace_at(0.0, 1.0)
    for t in answers:
        control.on_accepted(t)
    measured, count = control.accepted_rate(0.9), (len(answers) + 0.5) / 0.9
    assert measured < count
    assert control.on_throttle(0.9, sent_at=0.89)
    assert control.w_max == pytest.approx(count if read_as_count else measured)


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
def test_after_a_counted_probe_the_next_one_comes_probe_requests_later(scale: float) -> None:
    """Its own probe met, its level counted: recovery (k), plateau, hold and ten doublings
    take probe_requests' time at the new level, whatever the cubic's scale."""
    control = RateController(
        probe_requests=40, scale=scale, enabled=True, w_max=2.0, k=0.8, cut_at=0.0
    )
    for i in range(5):
        control.on_accepted(0.5 + 0.8 * i / 5)
    assert control.on_throttle(1.5, sent_at=1.49)
    cycle = control.k + control.plateau + max(control.hold, control.k) + 10 * control.doubling
    assert control.plateau > 0
    assert cycle == pytest.approx(40 / control.w_max)


@pytest.mark.parametrize("tau", [0.5, 1.0])
def test_a_probe_met_in_the_doubling_sets_the_level_less_the_burst_it_drained(
    tau: float,
) -> None:
    """Its own probe met in the doubling, ten answers in its last second: the level is what
    the service accepted less the burst the probe drained (burst_seen answers over tau)."""
    control = RateController(
        probe_requests=40, tau=tau, enabled=True, w_max=2.0, k=0.8, cut_at=0.0, burst_seen=1.0
    )
    for i in range(10):
        control.on_accepted(2.0 + 0.1 * i)
    measured = control.accepted_rate(3.0)
    assert control.on_throttle(3.0, sent_at=2.99)
    assert control.w_max == pytest.approx(measured - 1.0 / tau)


def test_after_a_plateau_a_probe_met_deep_in_the_doubling_keeps_the_level_held() -> None:
    """A plateau held at 3 req/s, then its own probe met deep in the doubling (the ceiling
    far above twice the level) with fewer answers than that: the plateau's level is kept."""
    control = RateController(
        probe_requests=40, enabled=True, w_max=3.0, k=0.8, plateau=0.5, cut_at=0.0
    )
    for t in (0.5, 1.5, 2.3):
        control.on_accepted(t)
    assert control.rate(2.5) > 2 * 3.0 and control.accepted_rate(2.5) < 3.0
    assert control.on_throttle(2.5, sent_at=2.49)
    assert control.w_max == 3.0


@pytest.mark.parametrize("probe_requests", [1.0, 40.0])
def test_any_probe_requests_starts_a_plateau_after_its_own_probe_at_min_rate(
    probe_requests: float,
) -> None:
    """probe_requests on (1 as 40), its own probe met at min_rate with one answer counted: a
    plateau follows at min_rate."""
    control = RateController(
        probe_requests=probe_requests, enabled=True, w_max=0.5, k=1.2, cut_at=0.0
    )
    control.on_accepted(0.1)
    assert control.on_throttle(1.9, sent_at=1.89)
    assert control.w_max == control.min_rate
    assert control.plateau > 0


def test_only_the_slow_start_s_late_answers_with_probe_requests_on_count_as_burst() -> None:
    """A send made before a cut and answered after it is burst only after the first cut with
    probe_requests on (1 as 40); off, or after a later cut or pace_at, it is rate."""

    def late_answer(control: RateController) -> RateController:
        control.on_accepted(control.cut_at + 0.01, sent_at=control.cut_at - 0.01)
        return control

    for probe_requests in (1.0, 40.0):
        first = RateController(probe_requests=probe_requests)
        congest(first, 0.05)
        assert late_answer(first).burst_seen == 1.0 and first.acc_count == 0.0
    off = RateController()
    congest(off, 0.05)
    assert late_answer(off).acc_count == 1.0 and off.burst_seen == 0.0
    later = RateController(probe_requests=40, enabled=True, w_max=2.0, k=0.8, cut_at=3.0)
    assert late_answer(later).acc_count == 1.0 and later.burst_seen == 0.0
    paced = RateController(probe_requests=40)
    paced.pace_at(3.0, 2.0)
    assert late_answer(paced).acc_count == 1.0 and paced.burst_seen == 0.0


def test_a_throttle_after_pace_at_starts_no_plateau() -> None:
    """pace_at's rate was handed over (a fleet's shared rate), not met by a probe of this
    controller: a throttle in the probe that follows it, with probe_requests on, starts the
    time-based cycle (no plateau), from the rate it was sending at."""
    control = RateController(probe_requests=40)
    control.pace_at(0.0, 2.0)
    control.on_accepted(0.2)
    sending = control.rate(0.4)
    assert sending <= 2.0 * control.w_max  # still near the rate handed over
    assert control.on_throttle(0.4, sent_at=0.39)
    assert control.plateau == 0.0
    assert control.w_max == pytest.approx(sending)


def test_with_probe_requests_the_guess_doubles_only_a_token_after_the_first_cut() -> None:
    """With probe_requests on, the first cut's guess is held for a whole token of it (the
    service's bucket is empty: a send before then is throttled whatever the quota), then
    doubles; by default the doubling starts at once."""
    control = RateController(probe_requests=40.0)
    congest(control, 0.0)
    token = 1.0 / control.unmeasured_rate
    assert control.rate(0.9 * token) == pytest.approx(control.unmeasured_rate, rel=0.02)
    assert control.rate(token + 0.1) > 2 * control.unmeasured_rate
    default = RateController()
    congest(default, 0.0)
    assert default.rate(0.6 * token) > 2 * default.unmeasured_rate


def test_the_guess_met_after_one_answer_is_measured_from_the_first_token() -> None:
    """With probe_requests on, the guess met after one answer: the accepted rate counts from
    the first send after the cut (a token at the guess), not from the cut, so one answer soon
    after it reads at least the guess (from the cut: 6 req/s, which would be held low)."""
    control = RateController(probe_requests=40.0)
    congest(control, 0.0)
    control.on_accepted(0.11, sent_at=0.1)
    assert control.on_throttle(0.16, sent_at=0.15)
    assert control.w_max >= control.unmeasured_rate


def test_a_throttle_with_one_answer_since_a_halving_halves_again() -> None:
    """With probe_requests on, a halved level is a guess: a throttle with one answer since
    (anywhere within a whole answer of the rate) halves it again, and the plateau after it
    ends before what is not sent could fill the service's bucket (its cold-start burst)."""
    control = RateController(probe_requests=40.0)
    for _ in range(5):  # the cold start's answers: the service's burst
        control.on_accepted(-0.05)
    congest(control, 0.0)
    assert control.on_throttle(0.2, sent_at=0.15)  # nothing accepted since: halved
    halved = control.w_max
    assert halved == 0.5 * control.unmeasured_rate
    control.on_accepted(0.6, sent_at=0.55)
    assert control.on_throttle(0.7, sent_at=0.65)
    assert control.w_max <= 0.5 * halved
    assert 0 < control.plateau <= control.burst_seen / control.w_max - control.k


@pytest.mark.parametrize(("late", "cut"), [(30, True), (60, False)])
def test_the_slow_start_s_late_answers_count_once_each_among_the_recent_answers(
    late: int, cut: bool
) -> None:
    """The slow start's answers that come after the first cut (the service's burst) count,
    one each, among the answers a throttle while recovering is weighed against (decayed over
    tau): two throttles before it, 60 late answers 0.75 s earlier make it stray (under 10%),
    30 do not. Late on the clock (t = 100 s), as any time is."""
    control = RateController(probe_requests=40)
    assert control.on_throttle(100.0, sent_at=99.99)  # the first cut, before any answer
    for _ in range(late):
        control.on_accepted(100.05, sent_at=99.95)
    assert control.on_throttle(100.5, sent_at=100.4)  # a cut; recovering from it until k
    assert 100.8 - control.cut_at < control.k
    assert control.on_throttle(100.8, sent_at=100.7) is cut


@pytest.mark.parametrize("probe_requests", [1.0, 40.0])
def test_any_probe_requests_holds_the_guess_a_token_and_counts_from_it(
    probe_requests: float,
) -> None:
    """The hold of the first cut's guess, and what is accepted counted from its token, come
    with any probe_requests above 0 (one request is a rule in requests too)."""
    control = RateController(probe_requests=probe_requests)
    congest(control, 0.0)
    token = 1.0 / control.unmeasured_rate
    assert control.k == pytest.approx(-control.hold + token)
    assert control.acc_start == pytest.approx(token)


def test_a_small_guess_is_held_at_most_half_the_hold_before_doubling() -> None:
    """A guess below 2 / hold (a token longer than half the hold) is held half the hold, not a
    whole token: the doubling must start soon enough to find a quota above the guess."""
    control = RateController(probe_requests=40.0, unmeasured_rate=1.0)
    congest(control, 0.0)
    assert control.k == pytest.approx(-0.5 * control.hold)


def test_a_halved_level_met_after_two_answers_is_measured_not_halved_again() -> None:
    """Two answers since a halving measure the rate (within half an answer): the level is
    read from them, not halved again."""
    control = RateController(probe_requests=40.0)
    congest(control, 0.0)
    assert control.on_throttle(0.2, sent_at=0.15)  # nothing accepted since: halved
    halved = control.w_max
    control.on_accepted(0.6, sent_at=0.55)
    control.on_accepted(0.65, sent_at=0.6)
    assert control.on_throttle(0.7, sent_at=0.65)
    assert control.w_max > 0.5 * halved


def test_halved_again_with_a_burst_too_small_to_wait_for_there_is_no_plateau() -> None:
    """Halved again after an answer when the burst seen at the cold start is refilled before
    the probe would start: the plateau is what is left of that time, none at all here."""
    control = RateController(probe_requests=40.0)
    control.on_accepted(-0.05)  # a burst of one
    congest(control, 0.0)
    assert control.on_throttle(0.2, sent_at=0.15)
    control.on_accepted(0.6, sent_at=0.55)
    assert control.on_throttle(0.7, sent_at=0.65)
    room = control.burst_seen / control.w_max - control.k
    assert room < 1.0
    assert control.plateau == pytest.approx(max(0.0, room))
