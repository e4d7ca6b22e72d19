"""How sure is a ratio? Paired repetitions and a distribution-free interval for their median.

On a shared machine one repetition of a cell can run 30% faster or slower than the
next, whatever the server. A single ratio of medians then says little about a
difference of 5%. Two things help, and the report uses both:

* **Pairs.** ``run.py`` measures the contenders of a cell one after the other, in
  each repetition, and reverses their order every other repetition. Repetition *i*
  of a contender and repetition *i* of asyncio were measured moments apart, so
  their ratio cancels much of what the machine was doing at the time.
* **An interval for the median of those ratios** that assumes nothing about how
  the noise is distributed (the sign test's interval). Sort the *n* ratios; the
  true median lies between the *k*-th smallest and the *k*-th largest with
  probability ``1 - 2 * P(Binomial(n, 1/2) < k)``. The interval is the narrowest
  such range with at least the confidence asked for. It needs at least 6
  repetitions for 95%: with 5, even the smallest-to-largest range holds the median
  only 94% of the time.

An interval entirely above 1.0 says the contender was faster beyond this run's
noise; one that straddles 1.0 says this run cannot tell them apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_PAIRS = 6
"""The fewest values with a 95% interval: for 5, [smallest, largest] holds the median 93.75%."""


@dataclass(frozen=True)
class Interval:
    """The median of paired ratios, and a range that holds the true median."""

    median: float
    low: float
    high: float
    coverage: float  # probability that [low, high] holds the true median: at least the asked
    pairs: int

    def shown(self) -> str:
        """``1.06x [0.98-1.12]``: what a table prints.

        The range is rounded outwards (0.996 shows as 0.99, not 1.00), so that a range
        that reaches below 1.00 never looks as if it did not.
        """
        low = math.floor(round(self.low * 100, 6)) / 100
        high = math.ceil(round(self.high * 100, 6)) / 100
        return f"{self.median:.2f}x [{low:.2f}-{high:.2f}]"

    def as_dict(self) -> dict[str, float | int]:
        return {"median": self.median, "low": self.low, "high": self.high,
                "coverage": self.coverage, "pairs": self.pairs}


def paired_ratios(
    runs: Sequence[dict[str, Any]], baseline_runs: Sequence[dict[str, Any]]
) -> list[float]:
    """Repetition *i*'s echoes per second over the baseline's repetition *i*.

    A pair is skipped when either side failed, or when the baseline echoed nothing:
    there is no ratio to take.
    """
    ratios = []
    for run, base in zip(runs, baseline_runs):
        if run.get("error") is None and base.get("error") is None and base.get("echoes_per_s"):
            ratios.append(run["echoes_per_s"] / base["echoes_per_s"])
    return ratios


def below_probability(n: int, k: int) -> float:
    """P(Binomial(n, 1/2) < k): the chance that fewer than k of n values fall below the median."""
    return sum(math.comb(n, i) for i in range(k)) / 2**n


def median_interval(values: Sequence[float], confidence: float = 0.95) -> Interval | None:
    """The median of ``values`` and its sign-test interval, or None with too few values."""
    n = len(values)
    ordered = sorted(values)
    best = None
    for k in range(1, n // 2 + 1):  # widest (k = 1) to narrowest
        coverage = 1 - 2 * below_probability(n, k)
        if coverage < confidence:
            break
        best = (k, coverage)
    if best is None:
        return None
    k, coverage = best
    middle = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2
    return Interval(middle, ordered[k - 1], ordered[n - k], coverage, n)
