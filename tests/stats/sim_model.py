"""The data model of the statistics audit behind issue 14, for simulating ablations with a known
population delta, and the exact sampling variance of a delta under it.

For benchmark b, arm a, seed s, item i: y ~ Bernoulli(expit(base_b + beta_ab + theta_bi + gamma_abi + u_abs)),
theta ~ N(0, 1.5^2) item difficulty (shared by the arms), gamma ~ N(0, 0.4^2) item x arm interaction,
u the seed effect (sd `seed_sd` logits; a share `rho` of it is common to a seed's benchmarks). The bases
give accuracies of 30-75%; beta is calibrated (Gauss-Hermite + bisection) so that the population delta
(new items AND new seeds) is exactly the target. Panels are built directly (no DataFrame), so
thousands of replicates run in seconds through the same `ctxbench.stats.variance.estimate` that
`compare_arms` calls.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ctxbench.stats.panel import Panel

THETA_SD, GAMMA_SD = 1.5, 0.4
ACCURACIES = (0.30, 0.45, 0.60, 0.75)
_X, _W = np.polynomial.hermite_e.hermegauss(60)
_W = _W / _W.sum()


def expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def pop_mean(eta: float, tau: float) -> float:
    """E[expit(eta + tau Z)], Z standard normal."""
    return float(_W @ expit(eta + tau * _X))


def _solve(f, target: float, lo: float = -8.0, hi: float = 8.0) -> float:
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
    return (lo + hi) / 2


@cache
def design(seed_sd: float, delta: float, accuracies=ACCURACIES) -> tuple[tuple[float, float], ...]:
    """(base, beta) per benchmark: arm 'A' has accuracy acc, arm 'B' acc + delta over new items and seeds."""
    tau = float(np.sqrt(THETA_SD**2 + GAMMA_SD**2 + seed_sd**2))
    out = []
    for acc in accuracies:
        base = _solve(lambda e: pop_mean(e, tau), acc)
        beta = _solve(lambda b, base=base: pop_mean(base + b, tau), acc + delta)
        out.append((base, beta))
    return tuple(out)


def simulate(rng, *, n_items: int, n_seeds: int, seed_sd: float, delta: float, arms=("A", "B"),
             rho: float = 0.0, null_arms=()) -> list[Panel]:
    """One replicate: a Panel per benchmark with every arm (the first is the baseline; arms in
    `null_arms` have delta 0, the others `delta`)."""
    panels = []
    shared = {a: rng.normal(0, 1, n_seeds) for a in arms}
    for bench, (base, beta) in enumerate(design(seed_sd, delta)):
        theta = rng.normal(0, THETA_SD, n_items)
        X, seeds = {}, {}
        for k, a in enumerate(arms):
            b = 0.0 if k == 0 or a in null_arms else beta
            u = seed_sd * (np.sqrt(rho) * shared[a] + np.sqrt(1 - rho) * rng.normal(0, 1, n_seeds))
            g = rng.normal(0, GAMMA_SD, n_items)
            p = expit(base + b + theta[None, :] + g[None, :] + u[:, None])
            X[a] = (rng.random(p.shape) < p).astype(float)
            seeds[a] = np.array([str(s) for s in range(n_seeds)], dtype=object)
        items = np.array([f"i{j}" for j in range(n_items)], dtype=object)
        panels.append(Panel(f"b{bench}", items, seeds, X, 0))
    return panels


def exact_delta_var(seed_sd: float, delta: float, n_items: int, n_seeds: int) -> list[float]:
    """Var(delta-hat) of B - A per benchmark over new items, seeds and 0/1 draws, by the ANOVA
    decomposition of a crossed mean: Var = Var(h_B(X_B) - h_A(X_A)) / N + sum_a [Var(k_a(u)) / S
    + (sigma2_xu,a + E p_a (1 - p_a)) / (N S)], with h_a(x) = E_u f_a(x, u), k_a(u) = E_x f_a(x, u)."""
    x1, w1 = np.polynomial.hermite_e.hermegauss(40)
    w1 = w1 / w1.sum()
    out = []
    for base, beta in design(seed_sd, delta):
        sx = np.sqrt(THETA_SD**2 + GAMMA_SD**2)
        total_seed = 0.0
        hs = {}
        for a, eta in (("A", base), ("B", base + beta)):
            f = expit(eta + sx * x1[:, None] + seed_sd * x1[None, :])  # x by u
            pw = w1[:, None] * w1[None, :]
            ef, ef2 = (pw * f).sum(), (pw * f * f).sum()
            h, k = f @ w1, w1 @ f
            var_h, var_k = w1 @ h**2 - (w1 @ h) ** 2, w1 @ k**2 - (w1 @ k) ** 2
            var_xu = (ef2 - ef**2) - var_h - var_k
            total_seed += var_k / n_seeds + (var_xu + ef - ef2) / (n_items * n_seeds)
            hs[a] = (eta, f)
        # item part: X_a = theta + gamma_a, correlated through theta
        th, ga, gb = np.meshgrid(x1, x1, x1, indexing="ij")
        wt = (w1[:, None, None] * w1[None, :, None] * w1[None, None, :]).ravel()

        def h_of(eta, xs):
            return expit(eta + xs[:, None] + seed_sd * x1[None, :]) @ w1

        xa = (THETA_SD * th + GAMMA_SD * ga).ravel()
        xb = (THETA_SD * th + GAMMA_SD * gb).ravel()
        diff = h_of(base + beta, xb) - h_of(base, xa)
        var_item = wt @ diff**2 - (wt @ diff) ** 2
        out.append(float(var_item / n_items + total_seed))
    return out
