"""Statistics of ``kernels benchmark`` against hand-computed values."""

from __future__ import annotations

import math

import pytest

from kernels.benchmark.stats import (
    Summary,
    compare,
    quantile,
    regularized_incomplete_beta,
    summarize,
    t_cdf,
    t_quantile,
    t_sf,
    welch_t_test,
)


def test_summary_of_five_samples_with_an_outlier() -> None:
    s = summarize([3.0, 1.0, 100.0, 2.0, 4.0])
    assert s.n == 5
    assert s.mean == 22.0
    # Sample variance: (21² + 20² + 19² + 18² + 78²) / 4 = 7610 / 4.
    assert s.std == pytest.approx(math.sqrt(1902.5), rel=1e-12)
    assert (s.min, s.max) == (1.0, 100.0)
    # Type-7 quartiles of 1, 2, 3, 4, 100 sit exactly on samples 2, 3 and 4.
    assert (s.q1, s.median, s.q3, s.iqr) == (2.0, 3.0, 4.0, 2.0)
    # Fences are 2 - 3 = -1 and 4 + 3 = 7: only 100 is outside.
    assert s.outliers == 1
    # t(0.975, 4) = 2.776445105; half width = t * std / sqrt(5).
    half = 2.776445105 * math.sqrt(1902.5) / math.sqrt(5)
    assert s.ci_low == pytest.approx(22.0 - half, rel=1e-9)
    assert s.ci_high == pytest.approx(22.0 + half, rel=1e-9)


def test_quartiles_interpolate_between_samples() -> None:
    # Positions (n-1)p = 0.75, 1.5, 2.25 in 10, 20, 30, 40.
    values = [10.0, 20.0, 30.0, 40.0]
    assert quantile(values, 0.25) == pytest.approx(17.5)
    assert quantile(values, 0.5) == pytest.approx(25.0)
    assert quantile(values, 0.75) == pytest.approx(32.5)
    s = summarize(values)
    assert s.iqr == pytest.approx(15.0)
    assert s.outliers == 0
    assert s.std == pytest.approx(math.sqrt(500.0 / 3.0))


def test_outliers_on_both_sides() -> None:
    # Q1 = 10, Q3 = 10, IQR = 0: everything not equal to 10 is an outlier.
    s = summarize([10.0] * 8 + [9.0, 11.5])
    assert (s.q1, s.q3, s.iqr) == (10.0, 10.0, 0.0)
    assert s.outliers == 2


def test_single_sample_has_no_interval() -> None:
    s = summarize([2.5])
    assert (s.n, s.mean, s.std, s.min, s.max, s.iqr, s.outliers) == (1, 2.5, 0.0, 2.5, 2.5, 0.0, 0)
    assert s.ci_low is None and s.ci_high is None


def test_summarize_rejects_empty_and_nan() -> None:
    with pytest.raises(ValueError):
        summarize([])
    with pytest.raises(ValueError):
        summarize([1.0, float("nan")])


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [
        # Published two-sided 95% / 99% critical values of Student's t.
        (0.975, 1, 12.706204736),
        (0.975, 2, 4.302652730),
        (0.975, 4, 2.776445105),
        (0.975, 10, 2.228138852),
        (0.975, 30, 2.042272456),
        (0.975, 99, 1.984216952),
        (0.995, 5, 4.032142984),
        (0.95, 2, 2.919985580),
        (0.975, math.inf, 1.959963985),
    ],
)
def test_t_quantile_matches_tables(p: float, df: float, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-8)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=1e-8)


@pytest.mark.parametrize("t", [-7.0, -1.3, -0.2, 0.0, 0.4, 1.3, 25.0])
def test_t_cdf_matches_closed_forms(t: float) -> None:
    # df = 1 is the Cauchy distribution; df = 2 has F(t) = 1/2 + t / (2 sqrt(2 + t²)).
    assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)
    assert t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-12)
    assert t_sf(t, 3) == pytest.approx(1 - t_cdf(t, 3), abs=1e-15)


def _t_pdf(x: float, df: float) -> float:
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_c - (df + 1) / 2 * math.log1p(x * x / df))


def test_t_sf_non_integer_df_matches_numeric_integration() -> None:
    # Simpson's rule on the density from 0 to t: P(T > t) = 1/2 - integral.
    df, t, steps = 5.882352941, 1.897366596, 20000
    h = t / steps
    total = _t_pdf(0, df) + _t_pdf(t, df)
    total += sum((4 if i % 2 else 2) * _t_pdf(i * h, df) for i in range(1, steps))
    assert t_sf(t, df) == pytest.approx(0.5 - total * h / 3, abs=1e-10)


def test_incomplete_beta_against_binomial_sum() -> None:
    # I_x(a, b) for integers = P(Binomial(a+b-1, x) >= a): I_0.4(2, 3) = 0.3456 + 0.1536 + 0.0256.
    assert regularized_incomplete_beta(2, 3, 0.4) == pytest.approx(0.5248, abs=1e-13)
    assert regularized_incomplete_beta(3, 2, 0.6) == pytest.approx(1 - 0.5248, abs=1e-13)
    assert regularized_incomplete_beta(1, 1, 0.3) == pytest.approx(0.3, abs=1e-14)


def test_welch_t_test_by_hand() -> None:
    a = summarize([1.0, 2.0, 3.0, 4.0, 5.0])  # mean 3, variance 2.5
    b = summarize([2.0, 4.0, 6.0, 8.0, 10.0])  # mean 6, variance 10
    t, df, p = welch_t_test(a, b)
    # t = (3 - 6) / sqrt(2.5/5 + 10/5); df = (0.5 + 2)² / (0.5²/4 + 2²/4).
    assert t == pytest.approx(-3 / math.sqrt(2.5), rel=1e-12)
    assert df == pytest.approx(6.25 / 1.0625, rel=1e-12)
    assert p == pytest.approx(2 * t_sf(3 / math.sqrt(2.5), 6.25 / 1.0625), rel=1e-12)
    assert p == pytest.approx(0.1075312, abs=1e-6)


def _summary(mean: float, std: float, n: int) -> Summary:
    return Summary(n, mean, std, mean, mean, mean, mean, mean, 0.0, 0, None, None)


def test_compare_speedup_and_verdicts() -> None:
    fast = summarize([1.0, 1.1, 0.9, 1.0, 1.05, 0.95])
    slow = summarize([2.0, 2.1, 1.9, 2.0, 2.05, 1.95])
    c = compare(fast, slow)  # kernel = fast, reference = slow
    assert c.speedup == pytest.approx(2.0)
    assert c.t is not None and c.t > 0 and c.significant and c.verdict == "faster"
    c = compare(slow, fast)
    assert c.speedup == pytest.approx(0.5)
    assert c.significant and c.verdict == "slower"
    noisy = summarize([1.0, 3.0, 1.0, 3.0])
    c = compare(noisy, summarize([2.0, 2.2, 1.8, 2.0]))
    assert not c.significant and c.verdict == "not significant"
    assert c.to_dict()["test"] == "welch"


def test_compare_edge_cases() -> None:
    # Zero variance on both sides: different means are certain, equal means are not different.
    assert compare(_summary(1.0, 0.0, 5), _summary(2.0, 0.0, 5)).p_value == 0.0
    assert compare(_summary(1.0, 0.0, 5), _summary(1.0, 0.0, 5)).p_value == 1.0
    # A single iteration gives a speedup but no test.
    c = compare(_summary(1.0, 0.0, 1), _summary(3.0, 0.0, 1))
    assert c.speedup == 3.0 and c.p_value is None and c.verdict == "n/a" and not c.significant
