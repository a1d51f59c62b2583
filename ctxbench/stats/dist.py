"""Student t and chi-square distribution functions, numpy-free scalars in plain Python.

Why here and not scipy: ctxbench.stats promises numpy + pandas only (the report and the app must not
need a compiled scientific stack beyond them), and the variance-components test needs just four
functions: the t tail and quantile at non-integer degrees of freedom (Satterthwaite's), and the
chi-square quantile. They are computed from the regularized incomplete beta and gamma functions
(continued fractions and series as in Numerical Recipes, ch. 6.2 and 6.4), to about 1e-10 relative
accuracy; tests/stats/test_dist.py checks them against scipy where it is installed. df = inf is the
normal distribution.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

_EPS = 1e-15
_TINY = 1e-300
_NORMAL = NormalDist()


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom (df > 0; inf: normal)."""
    if math.isnan(t) or math.isnan(df) or df <= 0:
        return float("nan")
    if math.isinf(df) or df > 1e7:
        return 1.0 - _NORMAL.cdf(t) if t < 5 else 0.5 * math.erfc(t / math.sqrt(2.0))
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def t_two_sided(t: float, df: float) -> float:
    """Two-sided p-value 2 P(T > |t|)."""
    return min(1.0, 2.0 * t_sf(abs(t), df))


@lru_cache(maxsize=4096)
def t_ppf(p: float, df: float) -> float:
    """Quantile of Student's t: the x with P(T <= x) = p."""
    if not 0.0 < p < 1.0 or math.isnan(df) or df <= 0:
        return float("nan")
    if p == 0.5:
        return 0.0
    z = _NORMAL.inv_cdf(p)
    if math.isinf(df) or df > 1e7:
        return z
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    # Newton on the tail from the normal quantile, kept inside a bracket (bisection when a step leaves it)
    target = 1.0 - p
    lo, hi = 0.0, max(1.0, z)
    while t_sf(hi, df) > target:
        lo, hi = hi, hi * 2.0
        if hi > 1e12:
            return math.inf
    logc = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    x = min(max(z, lo), hi)
    for _ in range(100):
        f = t_sf(x, df) - target
        if f > 0:
            lo = x
        else:
            hi = x
        pdf = math.exp(logc - (df + 1) / 2 * math.log1p(x * x / df))
        step = f / pdf if pdf > 0 else 0.0
        nxt = x + step
        if not lo < nxt < hi:
            nxt = 0.5 * (lo + hi)
        if abs(nxt - x) <= 1e-12 * max(1.0, abs(x)):
            return nxt
        x = nxt
    return x


def gammainc(a: float, x: float) -> float:
    """Regularized lower incomplete gamma P(a, x)."""
    if x <= 0.0:
        return 0.0
    gln = math.lgamma(a)
    if x < a + 1.0:  # series
        ap, total = a, 1.0 / a
        delta = total
        for _ in range(1000):
            ap += 1.0
            delta *= x / ap
            total += delta
            if abs(delta) < abs(total) * _EPS:
                break
        return total * math.exp(-x + a * math.log(x) - gln)
    b = x + 1.0 - a  # continued fraction for Q
    c, d = 1.0 / _TINY, 1.0 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = b + an / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return 1.0 - math.exp(-x + a * math.log(x) - gln) * h


@lru_cache(maxsize=256)
def chi2_ppf(p: float, k: float) -> float:
    """Quantile of the chi-square distribution with k degrees of freedom."""
    if not 0.0 < p < 1.0 or k <= 0:
        return float("nan")
    lo, hi = 0.0, max(1.0, 2.0 * k)
    while gammainc(k / 2.0, hi / 2.0) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if gammainc(k / 2.0, mid / 2.0) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)
