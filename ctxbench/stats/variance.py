"""Inference for the population a reader cares about, new items AND new training seeds: a
variance-components (items x seeds) t interval and t-test with Satterthwaite degrees of freedom.

Why not the bootstrap or the sign-flip test any more. The statistics audit behind issue 14 found the
sign-flip permutation p-value valid only for "these trained models": a seed's luck shifts every item's
difference the same way and the permutation reads that shift as signal (Holm FWER 0.30 over four
benchmarks at a seed sd of 2.6 points, 3 seeds, 500 items). The two-level bootstrap counted the 0/1
cell noise at both levels (1.3-1.6x too wide when items dominate) and under-estimated the seed spread
from S - 1 degrees of freedom (coverage 0.89 at 3 seeds when seeds dominate; 0.48-0.74 with one).
Both are replaced by one model, used by every interval and test of ctxbench.stats.arms:

  X_a[s, i] = mu_a + theta_i + gamma_ai + u_as + e_asi      (arm a, seed s, item i; one benchmark)

theta: item difficulty (shared by the arms, so items pair); gamma: item x arm interaction; u: the
seed effect (one seed is one model on every benchmark; seeds of different arms are independent); e:
cell noise (0/1 draws, samples). A statistic T = sum_b w_b sum_a c_a mean(X_ab) (a delta: c = +1/-1;
a level: c = 1; several benchmarks: weights w_b) has, over new items and new seeds,

  Var(T) = sum_b w_b^2 Var_i(d_bi) / N_b  +  sum_a c_a^2 sigma2_seed,a / S_a,   d_bi = sum_a c_a xbar_abi

Estimates: A = sum_b w_b^2 var_i(d_bi) / N_b (N_b - 1 df; it holds the interaction and the cell noise);
per arm, B_a = c_a^2 var_s(M_as) / S_a, the spread of its per-seed means M_as = sum_b w_b mean_i X_ab[s, i]
(S_a - 1 df), and C_a = c_a^2 / S_a sum_b w_b^2 MS_resid,ab / N_b, the cell noise those means carry
(MS_resid: the seed x item residual mean square; many df).

The interval: V = A + sum_a max(0, B_a - C_a), t quantile at Satterthwaite's df V^2 / sum(term^2/df),
where arm a's seed term enters with weight w(F) = min(1, (F - 1) / (F0 - 1))^2, F = B_a / C_a its seed
F ratio and F0 the 99.5% quantile of chi2_k / k (k = S_a - 1; k = 1 keeps w = 1). A seed mean square
that cannot be told from cell noise (F near 1) adds, after the positive-part truncation, little
variance and little uncertainty; one clearly above it counts in full, as in the classical formula.
That is what meets the width target: the classical formula (w = 1) covers 0.96 but is 1.39x the
needed width at 3 seeds when items dominate.

The test (p-value, the "significant" label, the MDE): the same estimate over V_test = max(0, A - sum_a
C_a) + sum_a B_a (the interaction plus each arm's whole seed-mean spread) with the classical df. Holm
over a table of m rows needs p-values that are right at alpha / m (0.004 for 12 rows), far in the tail,
where the calibrated df of the interval is not: used as a test it gave FWER 0.18; this one 0.04.

One seed: seed variance is not estimated (`seeds_estimated = False`): the interval then covers new
items for these trained models only, the p-value is NaN and nothing is called significant on it.
Arms in `fixed` (the untrained starting checkpoint) are one model, not a draw of seeds: no seed term.

Simulation (tests/stats/test_simulation.py, the audit's data model: binary scores, item difficulty sd
1.5 logit, interaction sd 0.4, seed sd in logits, 4 benchmarks at 30-75%, population delta +2 points
exact, 500 items; width / needed: mean width over 2 x 1.96 x the exact sd of the estimate; FWER: null
tables of 3 arms vs grpo x 4 benchmarks, a seed's effect half shared across benchmarks, Holm over 12):

  seeds  seed sd    coverage  width/needed  power(+2 pts)  FWER
  3      0          0.97      1.19          0.16           0.03
  3      1.0 pt     0.96      1.19          0.13           0.04
  3      2.6 pts    0.928     1.27          0.09           0.04
  3      5.2 pts    0.94      1.46          0.05           0.03
  5      0          0.96      1.12          0.29
  5      5.2 pts    0.95      1.16          0.08           0.03
  2      0-5.2 pts  0.95-0.98 2.1-3.1       0.02-0.09      0.04-0.06

(the audit's oracle z-test, which knows the true variance, has power 0.27 at 3 seeds and no seed
variance: a single +2-point effect on 500 items cannot be shown with 3 seeds.) Known weak spot: when
one arm carries all the seed variance and the other none, 3 seeds cover 0.91-0.92 and the far tail of
the test is heavier than nominal; train more seeds when the seed sd columns disagree.

The minimum detectable effect at power 1 - beta is (t_{1-alpha/2, df} + t_{1-beta, df}) x se of the
test, the usual power formula with the test's own df (ctxbench.stats.power plans with it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ctxbench.stats.dist import chi2_ppf, t_ppf, t_two_sided
from ctxbench.stats.panel import Panel

F0_QUANTILE = 0.995


def seed_weight(f_ratio: float, k: int) -> float:
    """The weight of a seed mean square in the Satterthwaite df (see the module docstring)."""
    if k <= 1 or math.isinf(f_ratio):
        return 1.0
    f0 = chi2_ppf(F0_QUANTILE, k) / k
    return min(1.0, max(0.0, (f_ratio - 1.0) / (f0 - 1.0))) ** 2


def resid_ms(x: np.ndarray) -> float:
    """Seed x item residual mean square of a seeds x items matrix (0 when it cannot be formed)."""
    s, n = x.shape
    if s < 2 or n < 2:
        return 0.0
    r = x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + x.mean()
    return float((r * r).sum() / ((s - 1) * (n - 1)))


@dataclass(frozen=True)
class Estimate:
    """A statistic with its variance over new items and new seeds (see the module docstring)."""

    estimate: float
    var: float
    df: float
    var_items: float
    var_seeds: float
    n_items: int
    seeds_estimated: bool
    seed_sd: dict = field(default_factory=dict)  # arm -> sd of one seed's mean around the arm's mean
    note: str = ""
    var_test: float = float("nan")  # the test's variance: interaction (>= 0) + each arm's seed-mean spread
    df_test: float = float("nan")   # classical Satterthwaite df of var_test

    @property
    def se(self) -> float:
        return math.sqrt(self.var) if self.var >= 0 else float("nan")

    def interval(self, ci: float = 0.95) -> tuple[float, float]:
        if not 0 < ci < 1:
            from ctxbench.core.errors import CtxbenchError

            raise CtxbenchError(f"ci must be in (0, 1), got {ci}")
        if math.isnan(self.var):
            return float("nan"), float("nan")
        if self.var == 0:
            return self.estimate, self.estimate
        q = t_ppf(1 - (1 - ci) / 2, self.df)
        return self.estimate - q * self.se, self.estimate + q * self.se

    def p_value(self) -> float:
        """Two-sided t-test of a zero population value (NaN when seed variance is not estimated)."""
        if not self.seeds_estimated or math.isnan(self.var):
            return float("nan")
        if self.var_test == 0:
            return 1.0 if self.estimate == 0 else 0.0
        return t_two_sided(self.estimate / math.sqrt(self.var_test), self.df_test)

    @property
    def se_test(self) -> float:
        return math.sqrt(self.var_test) if self.var_test >= 0 else float("nan")

    def mde(self, alpha: float = 0.05, power: float = 0.8) -> float:
        """The smallest true effect the test detects with `power` at level `alpha`."""
        return mde(self.se_test, self.df_test, alpha, power)


def mde(se: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true |effect| a two-sided level-alpha t-test detects with the given power."""
    if se is None or math.isnan(se) or math.isnan(df):
        return float("nan")
    return (t_ppf(1 - alpha / 2, df) + t_ppf(power, df)) * se


def _common_seeds(panels: list[Panel], arm: str) -> list:
    sets = [set(p.seeds[arm]) for p in panels]
    return sorted(set.intersection(*sets))


def estimate(panels: list[Panel], coef: dict[str, float], *, weights=None, fixed=()) -> Estimate:
    """The variance-components estimate of T = sum_b w_b sum_a coef[a] mean(X_ab) over `panels`
    (each with items; default weights equal). `fixed`: arms without a seed term."""
    if not panels or any(p.n_items == 0 for p in panels):
        return Estimate(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), 0, False,
                        note="no items")
    w = np.full(len(panels), 1.0 / len(panels)) if weights is None else np.asarray(weights, dtype=float)
    arms = [a for a, c in coef.items() if c != 0]
    est = float(sum(wb * sum(coef[a] * p.X[a].mean() for a in arms) for wb, p in zip(w, panels)))
    var_items, den, notes = 0.0, 0.0, []
    den_items = 0.0
    for wb, p in zip(w, panels):
        d = sum(coef[a] * p.X[a].mean(axis=0) for a in arms)
        if p.n_items < 2:
            var_items = float("nan")
            notes.append(f"{p.benchmark}: one item, so no variance over items can be estimated")
            continue
        v = wb * wb * float(np.var(d, ddof=1)) / p.n_items
        var_items += v
        den += v * v / (p.n_items - 1)
        den_items += v * v / (p.n_items - 1)
    var_seeds, estimated, seed_sd = 0.0, True, {}
    spreads, cells, den_spreads = 0.0, 0.0, 0.0
    for a in arms:
        if a in fixed:
            seed_sd[a] = 0.0
            continue
        common = _common_seeds(panels, a)
        if any(len(p.seeds[a]) != len(common) for p in panels):
            notes.append(f"{a}: only its {len(common)} seed(s) scored on every benchmark enter the seed term")
        s = len(common)
        if s < 2:
            estimated = False
            seed_sd[a] = float("nan")
            continue
        means = np.zeros(s)
        cell, cell_den = 0.0, 0.0
        for wb, p in zip(w, panels):
            rows = [int(np.flatnonzero(p.seeds[a] == sd)[0]) for sd in common]
            x = p.X[a][rows]
            means += wb * x.mean(axis=1)
            ms = resid_ms(x) * wb * wb / p.n_items
            cell += ms
            if p.n_items > 1:
                cell_den += (coef[a] ** 2 / s * ms) ** 2 / ((s - 1) * (p.n_items - 1))
        spread = float(np.var(means, ddof=1))
        seed_sd[a] = math.sqrt(max(0.0, spread - cell))
        b_ms, c_ms = coef[a] ** 2 * spread / s, coef[a] ** 2 * cell / s
        spreads += b_ms
        cells += c_ms
        den_spreads += b_ms * b_ms / (s - 1)
        comp = b_ms - c_ms
        if comp > 0:
            var_seeds += comp
            f_ratio = b_ms / c_ms if c_ms > 0 else math.inf
            den += seed_weight(f_ratio, s - 1) * (b_ms * b_ms / (s - 1) + cell_den)
    var = var_items + var_seeds
    df = var * var / den if den > 0 else math.inf
    interaction = var_items - cells  # the item part without the cell noise the seed spreads carry
    var_test = max(interaction, 0.0) + spreads
    den_test = (den_items if interaction > 0 else 0.0) + den_spreads
    df_test = var_test * var_test / den_test if den_test > 0 else math.inf
    n_items = int(sum(p.n_items for p in panels))
    return Estimate(est, var, df, var_items, var_seeds, n_items, estimated, seed_sd, "; ".join(notes),
                    var_test, df_test)
