"""Statistics of repeated measurements: summaries, Welch's t-test and Mann-Whitney, from scipy.stats.

A point measured n times is summarised by its median (the figure the seed CSV shows), its
min and max, its mean and sample standard deviation, and a confidence interval **of the
mean** from Student's t distribution: mean +- t(1 - (1 - level) / 2, n - 1) * s / sqrt(n).
With n = 1 there is no spread and no interval (None).

`welch` compares two samples (Welch's unequal-variance t-test): the difference of the means,
its confidence interval, and the two-sided p-value. `mann_whitney` is the rank test offered
beside it for throughput, which is not normally distributed (a run's repeats are skewed by
the odd slow one).

scipy.stats is imported inside the functions that need it, not at the top: measured here,
`import scipy.stats` took 5.4-8.6 s (`python -X importtime`, three runs, 2 CPUs under load
average 7), and this module sits on the import path of every entry point (the lab, the
Pulumi program and its dynamic providers, `results parse`), most of which never summarise
more than one repeat. A run without repeats never loads scipy.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    min: float
    max: float
    mean: float
    stdev: float | None  # sample standard deviation (n - 1); None for n = 1
    ci_low: float | None  # confidence interval of the mean; None for n = 1
    ci_high: float | None
    level: float


def summarize(values: Sequence[float], level: float = 0.95) -> Summary:
    """n, median, min, max, mean, stdev and the `level` confidence interval of the mean."""
    if not values:
        raise ValueError("no values to summarise")
    n = len(values)
    mean = statistics.fmean(values)
    if n == 1:
        stdev = low = high = None
    else:
        stdev = statistics.stdev(values)
        half = t_quantile(1 - (1 - level) / 2, n - 1) * stdev / math.sqrt(n)
        low, high = mean - half, mean + half
    return Summary(n, statistics.median(values), min(values), max(values), mean, stdev, low, high, level)


@dataclass(frozen=True)
class Welch:
    diff: float  # mean(b) - mean(a)
    ci_low: float
    ci_high: float
    df: float
    p_value: float  # two-sided, for "the means are equal"


def welch(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Welch:
    """Welch's t-test of mean(b) - mean(a) (scipy's `ttest_ind`, unequal variances); n >= 2 each."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's test needs at least two values on each side")
    diff = statistics.fmean(b) - statistics.fmean(a)
    if statistics.variance(a) == 0 and statistics.variance(b) == 0:  # scipy gives NaN: no spread at all
        p = 1.0 if diff == 0 else 0.0
        return Welch(diff, diff, diff, float(len(a) + len(b) - 2), p)
    from scipy import stats  # see the module's docstring for why here

    test = stats.ttest_ind(b, a, equal_var=False)
    interval = test.confidence_interval(confidence_level=level)
    return Welch(diff, float(interval.low), float(interval.high), float(test.df), float(test.pvalue))


@dataclass(frozen=True)
class MannWhitney:
    u: float  # U of b against a: how often a value of b beats one of a (ties count half)
    p_value: float  # two-sided, for "neither side tends to be larger"


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> MannWhitney:
    """The Mann-Whitney U test of b against a (scipy's `mannwhitneyu`, two-sided); n >= 1 each.

    With few repeats its p-value cannot be small (n = 2 against 2: at least 0.33), which is
    what the data allow a rank test to say.
    """
    if not a or not b:
        raise ValueError("Mann-Whitney needs at least one value on each side")
    from scipy import stats  # see the module's docstring for why here

    test = stats.mannwhitneyu(b, a, alternative="two-sided")
    return MannWhitney(float(test.statistic), float(test.pvalue))


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p for Student's t with `df` degrees of freedom (scipy's `t.ppf`)."""
    if not 0 < p < 1:
        raise ValueError("p must lie strictly between 0 and 1")
    from scipy import stats  # see the module's docstring for why here

    return float(stats.t.ppf(p, df))
