"""The benchmarks' 'how sure' numbers: paired ratios and the sign test's interval for their median.

Checked against values worked out by hand from the binomial distribution, and against the
mistakes such code is prone to: an interval one order statistic too narrow (it then holds
the median less often than it says), pairs that ignore failed repetitions, and a verdict
that calls a difference real when the interval straddles the threshold.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))  # as run.py does: report.py imports intervals the same way

import intervals  # noqa: E402


def test_below_probability_is_the_binomial_tail() -> None:
    assert intervals.below_probability(7, 1) == pytest.approx(1 / 128)
    assert intervals.below_probability(9, 2) == pytest.approx(10 / 512)
    assert intervals.below_probability(21, 6) == pytest.approx(27896 / 2**21)
    assert intervals.below_probability(4, 0) == 0


@pytest.mark.parametrize(
    ("n", "k", "coverage"),
    [
        (6, 1, 1 - 2 / 64),  # smallest to largest: 96.9%
        (7, 1, 1 - 2 / 128),
        (9, 2, 1 - 20 / 512),  # the 2nd smallest to the 2nd largest: 96.1%
        (21, 6, 1 - 2 * 27896 / 2**21),  # 97.3%; k = 7 would give 92.2%, too little
    ],
)
def test_interval_is_the_narrowest_with_enough_coverage(n: int, k: int, coverage: float) -> None:
    values = [float(v) for v in range(n)]
    random.Random(n).shuffle(values)  # order must not matter
    interval = intervals.median_interval(values)
    assert interval is not None
    assert (interval.low, interval.high) == (k - 1, n - k)  # the k-th smallest and largest
    assert interval.coverage == pytest.approx(coverage)
    assert interval.coverage >= 0.95
    assert interval.median == pytest.approx((n - 1) / 2)
    assert interval.pairs == n


def test_too_few_values_give_no_interval() -> None:
    """With 5 values even [min, max] holds the median only 93.75% of the time."""
    assert intervals.median_interval([1.0, 2.0, 3.0, 4.0, 5.0]) is None
    assert intervals.median_interval([]) is None
    assert intervals.median_interval([1.0] * 5, confidence=0.9) is not None


def test_interval_holds_the_true_median_as_often_as_it_says() -> None:
    """Simulated noisy ratios around a known median: the interval misses it rarely."""
    rng = random.Random(7)
    misses = 0
    trials = 400
    for _ in range(trials):
        values = [math.exp(rng.gauss(0.05, 0.2)) for _ in range(21)]  # median exp(0.05)
        interval = intervals.median_interval(values)
        assert interval is not None
        misses += not (interval.low <= math.exp(0.05) <= interval.high)
    assert misses / trials <= 0.05  # promised: at most 2.7% with 21 pairs, plus chance


def test_paired_ratios_skip_failed_repetitions_and_keep_the_pairing() -> None:
    runs = [{"echoes_per_s": 110.0}, {"error": "timeout", "echoes_per_s": None},
            {"echoes_per_s": 90.0}, {"echoes_per_s": 50.0}]
    base = [{"echoes_per_s": 100.0}, {"echoes_per_s": 100.0},
            {"error": "timeout", "echoes_per_s": None}, {"echoes_per_s": 100.0}]
    assert intervals.paired_ratios(runs, base) == [pytest.approx(1.1), pytest.approx(0.5)]
    assert intervals.paired_ratios([{"echoes_per_s": 5.0}], [{"echoes_per_s": 0.0}]) == []


def test_interval_shows_median_and_range() -> None:
    interval = intervals.median_interval([1.01, 1.2, 0.98, 1.1, 1.05, 1.3, 1.07])
    assert interval is not None
    assert interval.shown() == "1.07x [0.98-1.30]"


def test_min_pairs_is_the_fewest_with_a_95_percent_interval() -> None:
    n = intervals.MIN_PAIRS
    assert intervals.median_interval([1.0] * n) is not None
    assert intervals.median_interval([1.0] * (n - 1)) is None


def test_the_range_is_rounded_outwards() -> None:
    """0.996 must not show as 1.00: the verdict says 'within noise', the table must agree."""
    interval = intervals.Interval(median=1.03, low=0.996, high=1.0741, coverage=0.97, pairs=41)
    assert interval.shown() == "1.03x [0.99-1.08]"
    exact = intervals.Interval(median=1.0, low=1.0, high=1.3, coverage=0.97, pairs=41)
    assert exact.shown() == "1.00x [1.00-1.30]"  # no spurious widening of exact values
