"""The statistics on known samples: quantiles against the printed t table, intervals and tests by hand."""

from __future__ import annotations

import math

import pytest

from results.stats import mann_whitney, summarize, t_quantile, welch

# t(0.975, df) for df = 1..30, from the standard printed tables (3 decimals).
T_975: tuple[float, ...] = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def test_t_quantiles_match_the_printed_table() -> None:
    for df, printed in enumerate(T_975, start=1):
        assert round(t_quantile(0.975, df), 3) == printed, df
    assert t_quantile(0.975, 10**7) == pytest.approx(1.95996, abs=1e-4)  # the normal's 1.96
    assert t_quantile(0.95, 5) == pytest.approx(2.015, abs=1e-3)  # one-sided 95 %, df 5
    assert t_quantile(0.995, 4) == pytest.approx(4.604, abs=1e-3)
    assert t_quantile(0.025, 3) == pytest.approx(-3.182, abs=1e-3)


def test_t_quantile_of_the_cauchy() -> None:
    # df 1 is the Cauchy distribution: t(p) = tan(pi (p - 1/2)).
    assert t_quantile(0.75, 1) == pytest.approx(1.0)
    assert t_quantile(0.9, 1) == pytest.approx(math.tan(math.pi * 0.4))
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)


def test_summary_of_a_known_sample() -> None:
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (s.n, s.median, s.min, s.max, s.mean) == (5, 3.0, 1.0, 5.0, 3.0)
    assert s.stdev == pytest.approx(math.sqrt(2.5))
    half = 2.776 * math.sqrt(2.5) / math.sqrt(5)  # t(0.975, 4) s / sqrt(n) = 1.9632
    assert s.ci_low == pytest.approx(3 - half, abs=1e-3)
    assert s.ci_high == pytest.approx(3 + half, abs=1e-3)


def test_summary_of_two_and_of_one() -> None:
    two = summarize([10.0, 12.0])
    assert two.median == 11.0 and two.stdev == pytest.approx(math.sqrt(2))
    assert (two.ci_low, two.ci_high) == pytest.approx((11 - 12.706, 11 + 12.706), abs=1e-3)  # t(1) s / sqrt 2 = 12.706
    one = summarize([7.5])
    assert (one.n, one.median, one.min, one.max, one.mean) == (1, 7.5, 7.5, 7.5, 7.5)
    assert one.stdev is None and one.ci_low is None and one.ci_high is None
    even = summarize([4.0, 1.0, 3.0, 2.0])
    assert even.median == 2.5
    with pytest.raises(ValueError):
        summarize([])


def test_welch_on_a_known_pair() -> None:
    # Means 10.125 and 8.875, variances 0.72917 and 0.08917 (n = 4 each), by hand:
    # se = sqrt(0.72917/4 + 0.08917/4) = 0.45222, t = 2.764, df = 3.72, p = 0.055:
    # just not significant at 95 %, so the interval of the difference just holds zero.
    a, b = [10.0, 11.0, 9.0, 10.5], [9.0, 8.5, 9.2, 8.8]
    w = welch(a, b)
    assert w.diff == pytest.approx(-1.25)
    assert w.df == pytest.approx(3.7229, abs=1e-3)
    se = math.sqrt(statistics_var(a) / 4 + statistics_var(b) / 4)
    assert se == pytest.approx(0.45222, abs=1e-4)
    # t(0.975, 3.7229) = 2.8599, between the table's 3.182 (df 3) and 2.776 (df 4)
    assert w.ci_high - w.diff == pytest.approx(2.8599 * se, abs=1e-3)
    assert w.p_value == pytest.approx(0.0549, abs=5e-4)
    assert w.ci_low < 0 < w.ci_high
    assert welch(a, b, level=0.90).ci_high < 0  # at 90 % it is
    same = welch([5.0, 5.0], [5.0, 5.0])
    assert same.diff == 0 and same.p_value == 1.0
    with pytest.raises(ValueError):
        welch([1.0], [1.0, 2.0])


def statistics_var(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def test_mann_whitney_on_known_pairs() -> None:
    # Every value of b below every value of a: U = 0; with n = 4 and 4 the exact two-sided
    # p is 2 / C(8, 4) = 2 / 70.
    low = mann_whitney([10.0, 11.0, 12.0, 13.0], [1.0, 2.0, 3.0, 4.0])
    assert low.u == 0 and low.p_value == pytest.approx(2 / 70)
    # Two against two: the smallest p a rank test can give is 2 / C(4, 2) = 1/3.
    assert mann_whitney([1.0, 2.0], [3.0, 4.0]).p_value == pytest.approx(1 / 3)
    even = mann_whitney([1.0, 3.0], [2.0, 4.0])
    assert even.u == 3 and even.p_value > 0.5
    with pytest.raises(ValueError):
        mann_whitney([], [1.0])
