"""Statistics of repeated measurements, pure and dependency-free (no scipy).

A point measured n times is summarised by its median (the figure the seed CSV shows), its
min and max, its mean and sample standard deviation, and a confidence interval **of the
mean** from Student's t distribution: mean +- t(1 - (1 - level) / 2, n - 1) * s / sqrt(n).
With n = 1 there is no spread and no interval (None). Student's t is computed here from the
regularized incomplete beta function (a continued fraction, Numerical Recipes' `betacf`);
the tests check it against the printed t table and against scipy.

`welch` compares two samples (Welch's unequal-variance t-test): the difference of the means,
its confidence interval, and the two-sided p-value.
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
    """Welch's t-test of mean(b) - mean(a); both samples need n >= 2."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's test needs at least two values on each side")
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    diff = statistics.fmean(b) - statistics.fmean(a)
    se = math.sqrt(va + vb)
    if se == 0:
        p = 1.0 if diff == 0 else 0.0
        return Welch(diff, diff, diff, float(len(a) + len(b) - 2), p)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_quantile(1 - (1 - level) / 2, df) * se
    p = 2 * (1 - t_cdf(abs(diff) / se, df))
    return Welch(diff, diff - half, diff + half, df, min(1.0, max(0.0, p)))


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom (df > 0, not necessarily whole)."""
    if df <= 0:
        raise ValueError("df must be positive")
    x = df / (df + t * t)
    tail = 0.5 * _betainc(df / 2, 0.5, x)
    return 1 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p (0 < p < 1), by bisection on `t_cdf` (to 1e-10)."""
    if not 0 < p < 1:
        raise ValueError("p must lie strictly between 0 and 1")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-10:
            break
    return (lo + hi) / 2


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return h
