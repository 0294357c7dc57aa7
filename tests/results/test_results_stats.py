"""The statistics against values computed elsewhere: the printed t table and scipy.stats.

Nothing here recomputes `results.stats`' own formulas with its own functions: every expected
number comes from a table typed from a textbook or from scipy (a test dependency only).
"""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from results.stats import summarize, t_cdf, t_quantile, welch

# t(0.975, df) for df = 1..30, as printed in the standard tables (3 decimals).
PRINTED_T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip

SAMPLES = (
    [1.0, 2.0, 3.0, 4.0, 5.0],
    [10.0, 12.0],
    [941.2, 955.0, 948.7, 950.1, 939.9, 962.3, 944.4],
    [0.5, 0.51, 0.49, 0.5, 0.52, 0.47, 0.5, 0.53, 0.48, 0.5, 0.5],
)


def test_t_quantiles_match_the_printed_table() -> None:
    for df, printed in enumerate(PRINTED_T_975, start=1):
        assert round(t_quantile(0.975, df), 3) == printed, df


@pytest.mark.parametrize("df", [1, 2, 3.72, 4, 7.5, 12, 29, 200, 10**6])
@pytest.mark.parametrize("p", [0.005, 0.025, 0.05, 0.5, 0.9, 0.95, 0.975, 0.995])
def test_t_quantile_and_cdf_agree_with_scipy(p: float, df: float) -> None:
    assert t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-6, abs=1e-9)
    x = float(scipy_stats.t.ppf(p, df))
    assert t_cdf(x, df) == pytest.approx(p, rel=1e-7)


@pytest.mark.parametrize("values", SAMPLES)
def test_summary_interval_of_the_mean_agrees_with_scipy(values: list[float]) -> None:
    s = summarize(values)
    assert s.mean == pytest.approx(sum(values) / len(values))
    assert s.stdev == pytest.approx(scipy_stats.tstd(values))
    low, high = scipy_stats.t.interval(0.95, len(values) - 1, loc=s.mean, scale=scipy_stats.sem(values))
    assert (s.ci_low, s.ci_high) == pytest.approx((low, high), rel=1e-9)


def test_summary_of_one_and_of_an_even_count() -> None:
    one = summarize([7.5])
    assert (one.n, one.median, one.min, one.max, one.mean) == (1, 7.5, 7.5, 7.5, 7.5)
    assert one.stdev is None and one.ci_low is None and one.ci_high is None
    assert summarize([4.0, 1.0, 3.0, 2.0]).median == 2.5
    with pytest.raises(ValueError):
        summarize([])


@pytest.mark.parametrize(
    ("a", "b"),
    [(SAMPLES[0], SAMPLES[1]), (SAMPLES[2], SAMPLES[2][::-1][:5]), ([10.0, 11.0, 9.0, 10.5], [9.0, 8.5, 9.2, 8.8])],
)
@pytest.mark.parametrize("level", [0.90, 0.95, 0.99])
def test_welch_agrees_with_scipy(a: list[float], b: list[float], level: float) -> None:
    ours = welch(a, b, level)
    theirs = scipy_stats.ttest_ind(b, a, equal_var=False)  # ours is the change from a to b
    interval = theirs.confidence_interval(level)
    assert ours.diff == pytest.approx(sum(b) / len(b) - sum(a) / len(a))
    assert ours.df == pytest.approx(theirs.df, rel=1e-9)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-6)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((interval.low, interval.high), rel=1e-7)


def test_welch_of_equal_samples_and_too_few() -> None:
    same = welch([5.0, 5.0], [5.0, 5.0])
    assert same.diff == 0 and same.p_value == 1.0
    with pytest.raises(ValueError):
        welch([1.0], [1.0, 2.0])
    assert math.isfinite(welch([1.0, 2.0], [3.0, 4.0]).p_value)
