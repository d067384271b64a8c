"""Statistics for benchmark timings, in pure Python (no numpy or scipy).

Definitions used throughout (and in ``docs/benchmark.md``):

* ``std`` is the *sample* standard deviation (divisor ``n - 1``); it is 0 for
  a single sample.
* Quartiles interpolate linearly between order statistics: the ``p``
  quantile of the sorted samples ``x[0..n-1]`` is taken at position
  ``h = (n - 1) * p`` (NumPy's default, Hyndman & Fan type 7).
* ``IQR = Q3 - Q1``; a sample is an *outlier* when it lies below
  ``Q1 - 1.5 IQR`` or above ``Q3 + 1.5 IQR`` (Tukey's fences).
* The 95% confidence interval of the mean is ``mean ± t * std / sqrt(n)``
  with ``t`` the 0.975 quantile of Student's t distribution with ``n - 1``
  degrees of freedom. The quantile is found by bisection on the t
  distribution's CDF, which is evaluated exactly through the regularized
  incomplete beta function (continued fraction); it matches published
  tables to better than 1e-9.
* Kernel and reference timings are compared with Welch's unequal-variances
  t-test (two-sided). A speedup is *significant* when ``p < alpha``
  (0.05 by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

#: Confidence level of the reported intervals.
CONFIDENCE = 0.95
#: Significance level of the kernel-vs-reference test.
ALPHA = 0.05

_EPS = 1e-15
_TINY = 1e-300


# ---------------------------------------------------------------------------
# Student's t distribution
# ---------------------------------------------------------------------------


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """``1 + d1/(1 + d2/(1 + ...))``, the continued fraction of the incomplete beta function.

    ``I_x(a, b) = x^a (1-x)^b / (a B(a, b) * fraction)``, evaluated with the
    modified Lentz method. The terms are ``d_{2m+1} = -(a+m)(a+b+m)x / ((a+2m)(a+2m+1))`` and
    ``d_{2m} = m(b-m)x / ((a+2m-1)(a+2m))``; it converges quickly for
    ``x < (a+1)/(a+b+2)``.
    """
    f = 1.0
    c = 1.0
    d = 0.0
    for step in range(1, 20001):
        m = step // 2
        if step % 2:
            numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:
            numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1.0 + numerator * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + numerator / c
        c = c if abs(c) > _TINY else _TINY
        delta = c * d
        f *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return f


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """``I_x(a, b)``, the CDF of the Beta(a, b) distribution at ``x``."""
    if a <= 0 or b <= 0:
        raise ValueError("a and b must be positive")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front / (a * _beta_continued_fraction(a, b, x))
    # Symmetry I_x(a, b) = 1 - I_{1-x}(b, a) keeps the fraction in its fast region.
    return 1.0 - front / (b * _beta_continued_fraction(b, a, 1.0 - x))


def normal_cdf(z: float) -> float:
    """The standard normal CDF."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def t_sf(t: float, df: float) -> float:
    """``P(T > t)`` for Student's t with ``df`` (> 0, not necessarily integer) degrees of freedom."""
    if df <= 0 or math.isnan(df):
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    if math.isinf(df):
        return normal_cdf(-t)
    # P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2).
    two_sided = regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 0.5 * two_sided if t >= 0 else 1.0 - 0.5 * two_sided


def t_cdf(t: float, df: float) -> float:
    """``P(T <= t)`` for Student's t with ``df`` degrees of freedom."""
    return 1.0 - t_sf(t, df)


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection on :func:`t_sf`)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    tail = 1.0 - p
    low, high = 0.0, 1.0
    while t_sf(high, df) > tail:
        low, high = high, high * 2.0
        if high > 1e300:  # pragma: no cover - only for absurd p
            return math.inf
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_sf(mid, df) > tail:
            low = mid
        else:
            high = mid
        if high - low <= 1e-13 * max(1.0, high):
            break
    return 0.5 * (low + high)


# ---------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------


def quantile(sorted_values: Sequence[float], p: float) -> float:
    """The ``p`` quantile of already sorted values, interpolating linearly (type 7)."""
    if not sorted_values:
        raise ValueError("quantile of no values")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    position = (len(sorted_values) - 1) * p
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = position - lower
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * weight


@dataclass(frozen=True)
class Summary:
    """Descriptive statistics of one series of timings (milliseconds)."""

    n: int
    mean: float
    std: float
    min: float
    max: float
    q1: float
    median: float
    q3: float
    iqr: float
    outliers: int
    #: Bounds of the confidence interval of the mean; ``None`` below two samples.
    ci_low: Optional[float]
    ci_high: Optional[float]
    confidence: float = CONFIDENCE

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "mean_ms": self.mean,
            "std_ms": self.std,
            "min_ms": self.min,
            "max_ms": self.max,
            "q1_ms": self.q1,
            "median_ms": self.median,
            "q3_ms": self.q3,
            "iqr_ms": self.iqr,
            "outliers": self.outliers,
            "ci_low_ms": self.ci_low,
            "ci_high_ms": self.ci_high,
            "confidence": self.confidence,
        }


def summarize(samples: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """Mean, sample std, extremes, quartiles, Tukey outliers and the CI of the mean."""
    values = [float(v) for v in samples]
    n = len(values)
    if n == 0:
        raise ValueError("no samples to summarize")
    if any(math.isnan(v) for v in values):
        raise ValueError("samples contain NaN")
    ordered = sorted(values)
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    q1 = quantile(ordered, 0.25)
    median = quantile(ordered, 0.5)
    q3 = quantile(ordered, 0.75)
    iqr = q3 - q1
    low_fence, high_fence = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    outliers = sum(1 for v in values if v < low_fence or v > high_fence)
    if n > 1:
        half_width = t_quantile(0.5 + confidence / 2.0, n - 1) * std / math.sqrt(n)
        ci_low, ci_high = mean - half_width, mean + half_width
    else:
        ci_low = ci_high = None
    return Summary(n, mean, std, ordered[0], ordered[-1], q1, median, q3, iqr, outliers, ci_low, ci_high, confidence)


# ---------------------------------------------------------------------------
# Kernel versus reference
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """How the kernel's timings compare with the reference's (Welch's t-test)."""

    #: ``reference mean / kernel mean``: above 1 means the kernel is faster.
    speedup: float
    #: Welch's t statistic of ``reference - kernel`` (positive: the kernel is faster).
    t: Optional[float]
    df: Optional[float]
    p_value: Optional[float]
    alpha: float = ALPHA

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < self.alpha

    @property
    def verdict(self) -> str:
        """``faster``, ``slower``, ``not significant`` or ``n/a`` (too few samples)."""
        if self.p_value is None:
            return "n/a"
        if not self.significant:
            return "not significant"
        return "faster" if self.speedup > 1.0 else "slower"

    def to_dict(self) -> dict:
        return {
            "speedup": self.speedup,
            "test": "welch",
            "t": self.t,
            "df": self.df,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "significant": self.significant,
            "verdict": self.verdict,
        }


def welch_t_test(a: Summary, b: Summary) -> tuple[float, float, float]:
    """Welch's two-sided t-test of ``mean(a) - mean(b)``: ``(t, df, p)``.

    Needs two samples on each side. ``df`` is the Welch-Satterthwaite
    approximation. With zero variance on both sides the means are either
    equal (``p = 1``) or different beyond doubt (``p = 0``).
    """
    if a.n < 2 or b.n < 2:
        raise ValueError("Welch's t-test needs at least two samples on each side")
    var_a = a.std ** 2 / a.n
    var_b = b.std ** 2 / b.n
    diff = a.mean - b.mean
    se2 = var_a + var_b
    if se2 == 0.0:
        if diff == 0.0:
            return 0.0, math.inf, 1.0
        return math.copysign(math.inf, diff), math.inf, 0.0
    t = diff / math.sqrt(se2)
    df = se2 ** 2 / (var_a ** 2 / (a.n - 1) + var_b ** 2 / (b.n - 1))
    p = min(1.0, 2.0 * t_sf(abs(t), df))
    return t, df, p


def compare(kernel: Summary, reference: Summary, alpha: float = ALPHA) -> Comparison:
    """Speedup of ``kernel`` over ``reference`` and whether it is significant."""
    speedup = reference.mean / kernel.mean if kernel.mean > 0 else math.inf
    if kernel.n < 2 or reference.n < 2:
        return Comparison(speedup, None, None, None, alpha)
    t, df, p = welch_t_test(reference, kernel)
    return Comparison(speedup, t, df, p, alpha)
