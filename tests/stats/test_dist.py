"""ctxbench.stats.dist against scipy (where installed) and closed forms: the t tail and quantile at
non-integer degrees of freedom, the chi-square quantile, the incomplete beta and gamma behind them."""

from __future__ import annotations

import math

import pytest

from ctxbench.stats.dist import betainc, chi2_ppf, gammainc, t_ppf, t_sf, t_two_sided


def test_closed_forms():
    assert t_sf(0.0, 3.3) == pytest.approx(0.5)
    assert t_sf(1.0, 1.0) == pytest.approx(0.25)  # Cauchy
    assert t_ppf(0.975, 1.0) == pytest.approx(math.tan(math.pi * 0.475))
    assert t_ppf(0.975, math.inf) == pytest.approx(1.959963985, abs=1e-8)
    assert t_ppf(0.975, 2.0) == pytest.approx(4.302652730, rel=1e-9)
    assert chi2_ppf(0.99, 2) == pytest.approx(-2 * math.log(0.01))  # exponential
    assert gammainc(1.0, 2.0) == pytest.approx(1 - math.exp(-2))
    assert betainc(1.0, 1.0, 0.3) == pytest.approx(0.3)
    assert t_two_sided(-2.0, 10) == pytest.approx(2 * t_sf(2.0, 10))
    assert math.isnan(t_ppf(1.0, 3)) and math.isnan(t_sf(1.0, 0))


def test_against_scipy():
    st = pytest.importorskip("scipy.stats")
    for df in (0.7, 1.0, 2.0, 2.6, 4.0, 9.5, 57.0, 499.0, 1e5):
        for t in (-4.0, -1.0, 0.3, 1.96, 3.0, 8.0):
            assert t_sf(t, df) == pytest.approx(st.t.sf(t, df), rel=1e-7, abs=1e-300)
        for p in (0.6, 0.8, 0.975, 0.9979, 0.99999):
            assert t_ppf(p, df) == pytest.approx(st.t.ppf(p, df), rel=1e-7)
    for k in (1, 2, 3, 4, 9, 30):
        for p in (0.5, 0.95, 0.99, 0.995):
            assert chi2_ppf(p, k) == pytest.approx(st.chi2.ppf(p, k), rel=1e-9)
