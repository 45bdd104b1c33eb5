"""The analysis' statistics (scylla/analysis/stats.py) on worked numbers: each expected value is computed here
by hand or from the formula written out (not by calling the same library the same way), with the edge cases
(n = 0, n = 1, all equal, zero pass rate, one judge, unbalanced designs). A value that cannot be computed is
None with a reason, never NaN, Infinity or a made-up number."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Literal

import krippendorff
import numpy as np
import orjson
import pytest

from scylla.analysis import stats
from scylla.analysis.stats import Estimate, Registry, Test

Z975 = NormalDist().inv_cdf(0.975)
Z80 = NormalDist().inv_cdf(0.8)


def mean_of(a: np.ndarray) -> np.ndarray:
    return a.mean(axis=1)


def missing(e: Estimate | Test, why: str) -> None:
    """Not computable: no number at all, and a reason that says why."""
    values = (e.value, e.ci_low, e.ci_high) if isinstance(e, Estimate) else (e.statistic, e.p)
    assert values == (None,) * len(values), e
    assert e.reason and why in e.reason, e.reason


# ---- proportions and descriptive statistics ----

def test_wilson_for_1_of_1_is_projectscyllas_published_interval_exactly() -> None:
    assert stats.wilson(1, 1) == Estimate(1.0, 0.2065493143772374, 1.0, 1)


def test_wilson_matches_its_formula_and_n_0_is_not_computable() -> None:
    k, n, z = 3, 10, Z975
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    e = stats.wilson(k, n)
    assert e.value == 0.3 and e.n == 10
    assert e.ci_low == pytest.approx((centre - half) / (1 + z * z / n), rel=1e-12)
    assert e.ci_high == pytest.approx((centre + half) / (1 + z * z / n), rel=1e-12)
    assert stats.wilson(0, 5).ci_low == 0.0 and stats.wilson(0, 5).value == 0.0      # zero pass rate
    missing(stats.wilson(0, 0), "n = 0")
    with pytest.raises(ValueError, match="k = 3"):
        stats.wilson(3, 2)


def test_mean_median_sd_and_their_edge_cases() -> None:
    assert stats.mean([1, 2, 3, 4]) == Estimate(2.5, n=4)
    assert stats.median([1, 2, 3, 10]) == Estimate(2.5, n=4)
    assert stats.sd([1, 2, 3, 4]).value == pytest.approx(math.sqrt((2.25 + 0.25 + 0.25 + 2.25) / 3), rel=1e-15)
    assert stats.sd([0.7, 0.7]).value == 0.0                      # all equal: a true zero, from 2 runs
    missing(stats.mean([]), "n = 0")
    missing(stats.median([]), "n = 0")
    missing(stats.sd([0.7]), "n = 1")


def test_consistency_is_one_minus_the_coefficient_of_variation_from_two_runs_on() -> None:
    # mean 0.7, SD √((0.04 + 0 + 0.04)/2) = 0.2
    assert stats.consistency([0.5, 0.7, 0.9]).value == pytest.approx(1 - 0.2 / 0.7, rel=1e-12)
    assert stats.consistency([0.8, 0.8]) == Estimate(1.0, n=2)
    missing(stats.consistency([0.9]), "n = 1")                    # ProjectScylla wrote 1.000 here
    missing(stats.consistency([]), "n = 0")
    missing(stats.consistency([0.0, 0.0]), "positive mean")


def test_pass_at_k_and_pass_hat_k_from_their_binomials() -> None:
    assert stats.pass_at_k(10, 3, 2).value == pytest.approx(1 - 21 / 45, rel=1e-15)    # 1 − C(7,2)/C(10,2)
    assert stats.pass_hat_k(10, 3, 2).value == pytest.approx(3 / 45, rel=1e-15)        # C(3,2)/C(10,2)
    assert stats.pass_at_k(10, 3, 1).value == pytest.approx(0.3) and stats.pass_hat_k(10, 3, 1).value == pytest.approx(0.3)
    assert stats.pass_at_k(5, 0, 3).value == 0.0 and stats.pass_hat_k(5, 5, 5).value == 1.0
    assert stats.pass_at_k(5, 3, 3).value == 1.0               # only 2 fail: 3 runs always include a pass
    missing(stats.pass_at_k(1, 1, 2), "k = 2 > n = 1")
    missing(stats.pass_hat_k(0, 0, 1), "k = 1 > n = 0")
    with pytest.raises(ValueError):
        stats.pass_at_k(3, 4, 1)


# ---- bootstrap ----

def test_bootstrap_of_two_values_spans_their_resample_means() -> None:
    # resample means of [0, 1] are 0, ½, 1 with chances ¼, ½, ¼: the 2.5 % and 97.5 % quantiles are 0 and 1
    assert stats.bootstrap_ci([0, 1], mean_of, resamples=2000, seed=1) == Estimate(0.5, 0.0, 1.0, 2)
    # all alike: every resample is 2, and a point (2, 2) would claim a certainty 3 runs cannot show
    same = stats.bootstrap_ci([2, 2, 2], mean_of, resamples=500)
    assert (same.value, same.ci_low, same.ci_high, same.n) == (2.0, None, None, 3)
    assert same.reason == "every resample gives the same value: the percentile bootstrap has no interval to show"


def test_wilson_bounds_at_none_and_all_are_exactly_0_and_1() -> None:
    for n in range(1, 40):
        assert stats.wilson(n, n).ci_high == 1.0 and stats.wilson(0, n).ci_low == 0.0
    # at k = n the lower bound is 1 / (1 + z²/n)
    assert stats.wilson(7, 7).ci_low == pytest.approx(1 / (1 + Z975 ** 2 / 7), rel=1e-9)


def test_bootstrap_of_a_mean_agrees_with_normal_theory() -> None:
    x = np.random.Generator(np.random.PCG64(7)).normal(10, 2, 200)
    e = stats.bootstrap_ci(x, mean_of, resamples=20_000, seed=3)
    half = Z975 * x.std(ddof=0) / math.sqrt(len(x))      # the bootstrap's plug-in SE of the mean
    assert e.value == pytest.approx(x.mean())
    assert e.ci_low == pytest.approx(x.mean() - half, abs=0.05 * half)
    assert e.ci_high == pytest.approx(x.mean() + half, abs=0.05 * half)


def test_bootstrap_of_one_value_has_no_interval_and_of_none_no_value() -> None:
    assert stats.bootstrap_ci([3.0], mean_of) == Estimate(3.0, None, None, 1, "n = 1: a bootstrap interval needs at least 2 runs")
    missing(stats.bootstrap_ci([], mean_of), "n = 0")


def test_percentile_bounds_next_to_an_unbounded_resample_are_none() -> None:
    # linear quantiles: position (B − 1)·q; a bound that would interpolate towards +inf is unbounded
    assert stats._bounds(np.array([1.0, 2.0, 3.0, np.inf]), 0.5) == (1.75, None)
    assert stats._bounds(np.array([1.0, 2.0, 3.0, 4.0, np.inf]), 0.5) == (2.0, 4.0)       # 4·0.75 = 3 exactly
    assert stats._bounds(np.array([np.inf] * 4), 0.5) == (None, None)
    assert stats._bounds(np.array([]), 0.5) == (None, None)                     # every resample left out


def test_cost_of_pass_is_total_cost_over_passes_with_an_unbounded_upper_bound_when_resamples_pass_nothing() -> None:
    e = stats.cost_of_pass([1, 2, 3, 4], [True, True, False, False], resamples=4000)
    # Σ cost / passes = 10/2; a resample draws no pass with chance (½)⁴ = 6.25 % > 2.5 %: unbounded above
    assert e.value == 5.0 and e.ci_high is None and e.ci_low is not None and 1.0 <= e.ci_low < 5.0
    assert e.reason and "upper bound is unbounded" in e.reason
    zero = int(e.reason.split()[0])
    assert zero == pytest.approx(4000 / 16, rel=0.2)


def test_cost_of_pass_with_every_run_passing_is_the_mean_cost_and_its_bootstrap() -> None:
    costs = [0.1, 0.2, 0.3, 0.4, 0.5]
    e = stats.cost_of_pass(costs, [True] * 5, resamples=3000, seed=5)
    assert e == stats.bootstrap_ci(costs, mean_of, resamples=3000, seed=5)       # the same draws: same bounds
    assert e.value == pytest.approx(0.3)


def test_cost_of_pass_edge_cases() -> None:
    missing(stats.cost_of_pass([1.0, 2.0], [False, False]), "no run passed")      # zero pass rate
    missing(stats.cost_of_pass([], []), "n = 0")
    assert stats.cost_of_pass([0.7], [True]) == Estimate(0.7, None, None, 1, "n = 1: a bootstrap interval needs at least 2 runs")
    many = stats.cost_of_pass([1.0] * 40, [True] * 30 + [False] * 10, resamples=2000)
    assert many.value == pytest.approx(40 / 30) and many.reason is None
    assert many.ci_low is not None and many.ci_high is not None and many.ci_low < 40 / 30 < many.ci_high
    with pytest.raises(ValueError, match="3 costs but 2 verdicts"):
        stats.cost_of_pass([1, 2, 3], [True, False])


def test_a_cluster_bootstrap_resamples_subtests_and_is_wider_than_the_iid_one() -> None:
    clusters = [[0.0] * 4, [1.0] * 4]
    # both drawn clusters are the 0-cluster with chance ¼: the cluster interval is (0, 1); i.i.d. runs give
    # k ones of 8 ~ Bin(8, ½), P(k ≤ 0) = 1/256 < 2.5 % < P(k ≤ 1) = 9/256: the quantiles are 1/8 and 7/8
    assert stats.cluster_bootstrap(clusters, resamples=4000) == Estimate(0.5, 0.0, 1.0, 8)
    assert stats.bootstrap_ci([0.0] * 4 + [1.0] * 4, mean_of, resamples=4000) == Estimate(0.5, 0.125, 0.875, 8)


def test_a_cluster_bootstrap_of_unbalanced_subtests_weighs_runs() -> None:
    # drawn (a, a): 1; (b, b): 2; (a, b): (1 + 6)/4 = 1.75 — the point estimate is the mean of all runs
    e = stats.cluster_bootstrap([[1.0], [2.0, 2.0, 2.0]], resamples=4000)
    assert e == Estimate(1.75, 1.0, 2.0, 4)
    inside = stats.cluster_bootstrap([[0.0, 1.0], [0.0, 1.0]], resamples=4000)        # runs are resampled too
    assert inside.ci_low == 0.0 and inside.ci_high == 1.0
    assert stats.cluster_bootstrap([[1.0, 3.0]]) == Estimate(2.0, None, None, 2, "one cluster: a cluster bootstrap needs at least 2 subtests")
    missing(stats.cluster_bootstrap([[], []]), "n = 0")


def test_clustered_standard_error_of_the_mean() -> None:
    # ȳ = 3.5; residual sums per subtest −4.5, +4.5: √(G/(G − 1)·(4.5² + 4.5²))/N = √81/6
    assert stats.cluster_se([[1, 2, 3], [4, 5, 6]]).value == pytest.approx(1.5, rel=1e-12)
    # unbalanced: residual sums −3, 1.5, 1.5: √(3/2·13.5)/6
    e = stats.cluster_se([[1, 3], [2, 4, 6], [5]])
    assert e.value == pytest.approx(0.75, rel=1e-12) and e.n == 6 and e.reason is None
    missing(stats.cluster_se([[1, 2, 3]]), "1 cluster")
    missing(stats.cluster_se([]), "0 cluster")


def test_icc_and_design_effect_from_the_one_way_anova() -> None:
    # means 2, 5, grand 3.5: MSB = 3·(1.5² + 1.5²)/1 = 13.5, MSW = 4/4 = 1, m₀ = 3 → (13.5 − 1)/(13.5 + 2·1)
    assert stats.icc([[1, 2, 3], [4, 5, 6]]).value == pytest.approx(25 / 31, rel=1e-12)
    assert stats.design_effect([[1, 2, 3], [4, 5, 6]]).value == pytest.approx(1 + 2 * 25 / 31, rel=1e-12)


def test_icc_of_unbalanced_subtests_uses_m0() -> None:
    # N 5, means 2 and 4, grand 3.2: MSB = 2·1.2² + 3·0.8² = 4.8, MSW = (2 + 8)/3, m₀ = (5 − 13/5)/1 = 2.4
    # ICC = (24/5 − 10/3)/(24/5 + 1.4·10/3) = 22/142; design effect 1 + (5/2 − 1)·11/71
    assert stats.icc([[1, 3], [2, 4, 6]]).value == pytest.approx(11 / 71, rel=1e-12)
    assert stats.design_effect([[1, 3], [2, 4, 6]]).value == pytest.approx(1 + 1.5 * 11 / 71, rel=1e-12)


def test_icc_edge_cases() -> None:
    assert stats.icc([[1, 2], [1, 2]]).value == pytest.approx(-1.0)       # MSB 0, MSW ½: reported as estimated
    assert stats.design_effect([[1, 2], [1, 2]]).value == 1.0            # … but no deflation
    missing(stats.icc([[1, 2, 3]]), "1 cluster")
    missing(stats.design_effect([[1.0], [2.0], [3.0]]), "one run per subtest")
    missing(stats.icc([[0.5, 0.5], [0.5, 0.5]]), "all values equal")


# ---- tests between groups ----

def test_kruskal_wallis_h_and_its_chi2_p() -> None:
    # rank sums 6, 15, 24: H = 12/(9·10)·(36 + 225 + 576)/3 − 3·10 = 7.2; χ² with 2 df: p = e^(−H/2)
    t = stats.kruskal([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert t.statistic == pytest.approx(7.2, rel=1e-12) and t.p == pytest.approx(math.exp(-3.6), rel=1e-12)
    # unbalanced: rank sums 3, 12, 30: H = 12/90·(9/2 + 144/3 + 900/4) − 30 = 7
    t = stats.kruskal([[1, 2], [3, 4, 5], [6, 7, 8, 9]])
    assert t.statistic == pytest.approx(7.0, rel=1e-12) and t.p == pytest.approx(math.exp(-3.5), rel=1e-12)
    assert t.n == 9


def test_kruskal_wallis_edge_cases() -> None:
    missing(stats.kruskal([[1, 2, 3]]), "1 group")
    missing(stats.kruskal([[1, 2], [3]]), "[1]")
    missing(stats.kruskal([[0.5, 0.5], [0.5, 0.5]]), "all values equal")


def test_mann_whitney_exact_for_small_samples_without_ties() -> None:
    # U of x = 0: the most extreme of C(6, 3) = 20 equally likely splits, two-sided p = 2/20
    assert stats.mann_whitney([1, 2, 3], [4, 5, 6]) == Test(0.0, 0.1, 6)
    assert stats.mann_whitney([1, 2], [3, 4, 5]) == Test(0.0, 0.2, 5)          # unbalanced: 2/C(5, 2)
    assert stats.mann_whitney([4, 5, 6], [1, 2, 3]).statistic == 9.0


def test_mann_whitney_normal_approximation_with_ties() -> None:
    x, y = [1, 2, 2, 3], [2, 3, 4, 4]
    u = sum((a > b) + 0.5 * (a == b) for a in x for b in y)                     # 3.5
    ties = [1, 3, 2, 2]                                                          # sizes of the tied groups 1, 2, 3, 4
    n = 8
    sigma = math.sqrt(16 / 12 * ((n + 1) - sum(t ** 3 - t for t in ties) / (n * (n - 1))))
    z = (abs(u - 8) - 0.5) / sigma                                               # continuity-corrected
    t = stats.mann_whitney(x, y)
    assert t.statistic == u and t.p == pytest.approx(2 * (1 - NormalDist().cdf(z)), rel=1e-9)


def test_mann_whitney_from_a_single_run_or_identical_values_is_not_computable() -> None:
    missing(stats.mann_whitney([0.9], [0.8, 0.7]), "n = 1 and 2")               # ProjectScylla: p = 1.0
    missing(stats.mann_whitney([0.9, 0.9], [0.9, 0.9]), "all values equal")
    missing(stats.mann_whitney([], []), "n = 0 and 0")


def test_cliffs_delta_counts_dominance_and_bootstraps_each_group() -> None:
    # x = 1, 2, 3 against y = 2, 3, 4: 1 pair x > y, 2 ties, 6 pairs x < y → (1 − 6)/9
    e = stats.cliffs_delta([1, 2, 3], [2, 3, 4], resamples=2000)
    assert e.value == pytest.approx(-5 / 9, rel=1e-15) and e.n == 6
    assert e.ci_low is not None and e.ci_high is not None and -1 <= e.ci_low < -5 / 9 < e.ci_high <= 1
    separated = stats.cliffs_delta([1, 2, 3], [4, 5, 6, 7], resamples=500)      # every resample: δ = −1
    assert (separated.value, separated.ci_low, separated.ci_high) == (-1.0, None, None)
    assert separated.reason and "every resample gives the same value" in separated.reason
    tied = stats.cliffs_delta([0.5, 0.5], [0.5, 0.5], resamples=500)
    assert (tied.value, tied.ci_low, tied.ci_high) == (0.0, None, None)


def test_cliffs_delta_bootstrap_equals_resampling_the_values() -> None:
    """A resample's δ from multiplicities equals δ of the resampled values themselves."""
    x, y = np.array([0.1, 0.4, 0.4, 0.9]), np.array([0.2, 0.4, 0.5])
    w = np.array([2.0, 0.0, 1.0, 1.0]), np.array([0.0, 2.0, 1.0])
    xs, ys = np.repeat(x, w[0].astype(int)), np.repeat(y, w[1].astype(int))
    by_values = (sum(a > b for a in xs for b in ys) - sum(a < b for a in xs for b in ys)) / 12
    signs = np.sign(x[:, None] - y[None, :])
    assert (w[0] @ signs * w[1]).sum() / 12 == pytest.approx(by_values, rel=1e-15)


def test_cliffs_delta_edge_cases() -> None:
    assert stats.cliffs_delta([1.0], [0.0, 2.0]) == Estimate(0.0, None, None, 3, "a bootstrap interval needs at least 2 runs in each group")
    missing(stats.cliffs_delta([], [1.0]), "n = 0 and 1")


def test_correlations_on_worked_pairs() -> None:
    x, y = [1, 2, 3, 4], [2, 3, 5, 4]
    # Pearson: Σdxdy = 4, Σdx² = Σdy² = 5 → 0.8; Spearman: rank d² = 0 + 0 + 1 + 1 → 1 − 6·2/(4·15) = 0.8
    # both p from t = r√(n − 2)/√(1 − r²) with 2 df: p = 1 − t/√(t² + 2) = 0.2
    r = 0.8
    t = r * math.sqrt(2) / math.sqrt(1 - r * r)
    methods: tuple[Literal["pearson", "spearman"], ...] = ("pearson", "spearman")
    for method in methods:
        c = stats.correlation(x, y, method)
        assert c.statistic == pytest.approx(0.8, rel=1e-12) and c.p == pytest.approx(1 - t / math.sqrt(t * t + 2), rel=1e-9)
    missing(stats.correlation([1, 2], [2, 1], "pearson"), "n = 2")
    missing(stats.correlation([1, 2, 3], [0.5, 0.5, 0.5], "spearman"), "constant")


# ---- paired comparisons ----

def test_wilcoxon_signed_rank_exact_and_its_edge_cases() -> None:
    # 5 positive differences: rank sums 15 and 0, the most extreme of 2⁵ sign patterns: p = 2/32
    assert stats.wilcoxon([1, 2, 3, 4, 5], [0, 0, 0, 0, 0]) == Test(0.0, 0.0625, 5)
    # differences +1, −2, +3, +4 (the zero dropped): W− = 2; of the 2⁴ sign patterns, 3 have a rank sum ≤ 2
    # ({}, {1}, {2}) → p = 2·3/16
    assert stats.wilcoxon([1, 0, 3, 4, 7], [0, 2, 0, 0, 7]) == Test(2.0, 6 / 16, 5)
    missing(stats.wilcoxon([1, 1, 1], [1, 1, 2]), "1 pair(s) differ")
    missing(stats.wilcoxon([], []), "0 pair(s)")


def test_mcnemar_exact_on_discordant_pairs() -> None:
    x = [True] * 5 + [True, False, True]
    y = [False] * 5 + [True, False, True]
    # 5 pairs pass only in x, none only in y: p = 2·P(Bin(5, ½) ≤ 0) = 2/32
    assert stats.mcnemar(x, y) == Test(0.0, 0.0625, 8)
    # b = 1, c = 3: p = 2·(1 + 4)/16
    assert stats.mcnemar([True, False, False, False], [False, True, True, True]).p == pytest.approx(10 / 16)
    missing(stats.mcnemar([True, False], [True, False]), "no pair disagrees")


def test_paired_difference_is_the_bootstrap_of_the_differences() -> None:
    e = stats.paired_difference([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], resamples=1000, seed=4)
    assert e == stats.bootstrap_ci([1.0, 2.0, 3.0], mean_of, resamples=1000, seed=4) and e.value == 2.0
    with pytest.raises(ValueError, match="3 values against 2"):
        stats.paired_difference([1, 2, 3], [1, 2])


def test_friedman_and_kendalls_w_over_tasks() -> None:
    # 3 tasks ranking 3 tiers identically: R = 3, 6, 9; χ² = 12/(3·3·4)·126 − 3·3·4 = 6, p = e^(−3); W = 6/(3·2)
    test, w = stats.friedman([[0.1, 0.2, 0.3], [0.4, 0.5, 0.9], [0.0, 0.6, 0.7]])
    assert test.statistic == pytest.approx(6.0) and test.p == pytest.approx(math.exp(-3)) and w.value == pytest.approx(1.0)
    # opposite rankings in 2 tasks: R = 4, 4, 4 → χ² = 0, W = 0, p = 1 (a computed p, from 2 blocks)
    test, w = stats.friedman([[1, 2, 3], [3, 2, 1]])
    assert test.statistic == pytest.approx(0.0) and test.p == pytest.approx(1.0) and w.value == pytest.approx(0.0)
    for blocks, why in (([[1, 2], [2, 1]], "3 treatments"), ([[1, 2, 3]], "2 blocks"), ([[1, 1, 1], [2, 2, 2]], "all equal")):
        t, k = stats.friedman(blocks)
        missing(t, why)
        missing(k, why)
    with pytest.raises(ValueError, match="every block needs a value"):
        stats.friedman([[1, 2, 3], [1, 2]])


# ---- multiple testing ----

def p_adjusted(registry: Registry, family: str) -> list[float | None]:
    return [row["p_adjusted"] for row in registry.to_json()[family]["tests"]]


def test_holm_and_benjamini_hochberg_per_declared_family() -> None:
    r = Registry()
    r.declare("consecutive tiers")
    r.declare("exploratory", correction="bh")
    for name, p in zip(("T0-T1", "T1-T2", "T2-T3"), (0.01, 0.04, 0.03)):
        r.add("consecutive tiers", name, Test(1.0, p, 10))
        r.add("exploratory", name, Test(1.0, p, 10))
    # Holm: sorted 0.01·3, 0.03·2, 0.04·1 = 0.03, 0.06, 0.04 → running max 0.03, 0.06, 0.06
    assert p_adjusted(r, "consecutive tiers") == pytest.approx([0.03, 0.06, 0.06])
    # BH: 0.01·3/1, 0.03·3/2, 0.04·3/3 = 0.03, 0.045, 0.04 → running min from the top: 0.03, 0.04, 0.04
    assert p_adjusted(r, "exploratory") == pytest.approx([0.03, 0.04, 0.04])
    out = r.to_json()
    assert [row["reject"] for row in out["consecutive tiers"]["tests"]] == [True, False, False]
    assert [row["reject"] for row in out["exploratory"]["tests"]] == [True, True, True]
    assert out["exploratory"]["correction"] == "bh" and out["consecutive tiers"]["alpha"] == 0.05
    orjson.dumps(out)


def test_a_test_that_cannot_be_computed_is_listed_and_not_counted() -> None:
    r = Registry()
    r.declare("tiers")
    r.add("tiers", "T0-T1", Test(1.0, 0.01, 10))
    r.add("tiers", "T1-T2", stats.mann_whitney([0.9], [0.8, 0.7]))
    r.add("tiers", "T2-T3", Test(1.0, 0.04, 10))
    rows = r.to_json()["tiers"]["tests"]
    assert [row["p_adjusted"] for row in rows] == pytest.approx([0.02, None, 0.04])        # Holm over 2
    assert rows[1]["reason"].startswith("n = 1") and rows[1]["reject"] is None


def test_the_registry_refuses_undeclared_families_duplicates_and_unknown_corrections() -> None:
    r = Registry()
    with pytest.raises(ValueError, match="not declared"):
        r.add("tiers", "T0-T1", Test(1.0, 0.5, 4))
    r.declare("tiers")
    r.add("tiers", "T0-T1", Test(1.0, 0.5, 4))
    with pytest.raises(ValueError, match="already has"):
        r.add("tiers", "T0-T1", Test(1.0, 0.5, 4))
    with pytest.raises(ValueError, match="declared twice"):
        r.declare("tiers")
    with pytest.raises(ValueError, match="bonferroni"):
        r.declare("other", correction="bonferroni")
    r.declare("empty")
    assert r.to_json()["empty"]["tests"] == []


# ---- judge agreement ----

def test_krippendorff_alpha_interval_by_hand() -> None:
    # values 1,1 | 2,2 | 3,4 (n = 6): D_o = (1 + 1)/6; D_e = 2·(4·1 + 2·4 + 2·9 + 2·1 + 2·4 + 1·1)/(6·5) = 82/30
    # α = 1 − (1/3)/(82/30) = 36/41; a unit scored by one judge (or none) adds nothing
    units: list[list[float | None]] = [[1, 1], [2, 2], [3, 4]]
    assert stats.alpha(units, "interval", resamples=10).value == pytest.approx(36 / 41, rel=1e-12)
    assert stats.alpha(units + [[5, None], [None, None]], "interval", resamples=10).value == pytest.approx(36 / 41, rel=1e-12)


def test_krippendorff_alpha_ordinal_on_grades_by_hand() -> None:
    # S>A>B>C>D>F as 5..0: ranks 5,4 | 3,3 | 0,1; n₀ = n₁ = n₄ = n₅ = 1, n₃ = 2. Ordinal δ²(c,k) =
    # (Σ_{g=c..k} n_g − (n_c + n_k)/2)²: observed pairs (4,5), (0,1) have δ² = 1: D_o = 4/6; over all pairs
    # Σ n_c·n_k·δ² = 102 (each unordered pair once), D_e = 2·102/30 = 6.8 → α = 1 − (4/6)/6.8 = 46/51
    ranks = stats.grade_ranks([["S", "A"], ["B", "B"], ["F", "D"]])
    assert ranks == [[5.0, 4.0], [3.0, 3.0], [0.0, 1.0]]
    assert stats.alpha(ranks, "ordinal", resamples=10).value == pytest.approx(46 / 51, rel=1e-12)


def test_krippendorff_alpha_nominal_on_pass_by_hand() -> None:
    # pass T,T | F,T | F,F: n₀ = n₁ = 3, one disagreeing unit (2 ordered pairs): D_o = 2/6, D_e = 2·9/30
    units: list[list[bool | None]] = [[True, True], [False, True], [False, False]]
    assert stats.alpha(units, "nominal", resamples=10).value == pytest.approx(4 / 9, rel=1e-12)


def test_krippendorff_alpha_with_three_judges_and_missing_values_matches_the_formula() -> None:
    # units × 3 judges, unbalanced (one judge missing on two units): α from coincidences written out
    units: list[list[float | None]] = [[0.9, 0.8, None], [0.5, 0.6, 0.5], [0.2, None, 0.3], [0.7, 0.7, 0.6]]
    o: dict[tuple[float, float], float] = {}
    for row in units:
        vals = [v for v in row if v is not None]
        for i, a in enumerate(vals):
            for j, b in enumerate(vals):
                if i != j:
                    o[a, b] = o.get((a, b), 0.0) + 1 / (len(vals) - 1)
    n_v: dict[float, float] = {}
    for (a, _), w in o.items():
        n_v[a] = n_v.get(a, 0.0) + w
    n = sum(n_v.values())
    d_o = sum(w * (a - b) ** 2 for (a, b), w in o.items()) / n
    d_e = sum(n_v[a] * n_v[b] * (a - b) ** 2 for a in n_v for b in n_v) / (n * (n - 1))
    assert stats.alpha(units, "interval", resamples=10).value == pytest.approx(1 - d_o / d_e, rel=1e-9)


def test_krippendorff_alpha_edge_cases() -> None:
    missing(stats.alpha([[0.9], [0.8]], "interval"), "1 judge")                    # one judge
    missing(stats.alpha([], "interval"), "0 judge")
    missing(stats.alpha([[0.9, 0.9], [0.9, 0.9]], "interval"), "all values equal")
    missing(stats.alpha([[0.9, None], [None, 0.8]], "interval"), "no unit has values from 2 judges")
    one = stats.alpha([[0.9, 0.8]], "interval")
    assert one.value is not None and one.ci_low is None and one.reason and "one pairable unit" in one.reason


@pytest.mark.parametrize("level", ["interval", "ordinal", "nominal"])
def test_the_bootstrap_alpha_is_krippendorffs_alpha_of_the_resampled_units(level: Any) -> None:
    """The fast α of a resample (from unit multiplicities) equals krippendorff.alpha of the repeated units."""
    rng = np.random.Generator(np.random.PCG64(11))
    data = (np.round(rng.random((30, 3)), 1) if level == "interval" else rng.integers(0, 6 if level == "ordinal" else 2, (30, 3)).astype(float))
    data[rng.random(data.shape) < 0.2] = np.nan
    domain = np.unique(data[~np.isnan(data)])
    counts = (data[..., None] == domain).sum(axis=1)
    counts = counts[counts.sum(axis=1) >= 2]
    weights = rng.multinomial(len(counts), np.full(len(counts), 1 / len(counts)), size=4).astype(float)
    fast = stats._alphas(counts, domain, level, weights)
    for w, a in zip(weights, fast):
        repeated = np.repeat(counts, w.astype(int), axis=0)
        assert a == pytest.approx(krippendorff.alpha(value_counts=repeated, value_domain=domain, level_of_measurement=level), abs=1e-12)


def test_the_closed_form_interval_alpha_is_krippendorffs_on_many_distinct_scores() -> None:
    """Interval α in closed form (point value and each resample) equals krippendorff.alpha, unbalanced units
    with missing values and as many distinct scores as a large experiment has."""
    rng = np.random.Generator(np.random.PCG64(5))
    data = rng.random((60, 3))
    data[rng.random(data.shape) < 0.25] = np.nan
    data = data[(~np.isnan(data)).sum(axis=1) >= 2]
    domain = np.unique(data[~np.isnan(data)])
    counts = (data[..., None] == domain).sum(axis=1)
    reference = krippendorff.alpha(reliability_data=data.T, level_of_measurement="interval")
    units = [[None if np.isnan(v) else float(v) for v in row] for row in data]
    assert stats.alpha(units, "interval", resamples=10).value == pytest.approx(reference, abs=1e-12)
    weights = next(stats._weights(stats._rng(1), len(data), 5))
    for w, a in zip(weights, stats._interval_alphas(data, counts, weights)):
        repeated = np.repeat(counts, w.astype(int), axis=0)
        assert a == pytest.approx(krippendorff.alpha(value_counts=repeated, value_domain=domain,
                                                     level_of_measurement="interval"), abs=1e-12)
    # a resample drawing one unit whose judges agree has a single value: undefined, not 1 − 0/0
    same = np.array([[0.5, 0.5], [0.2, 0.9]])
    assert np.isnan(stats._interval_alphas(same, (same[..., None] == np.unique(same)).sum(axis=1),
                                           np.array([[2.0, 0.0]])))[0]


def test_krippendorff_alpha_bootstrap_interval_and_undefined_resamples() -> None:
    units: list[list[float | None]] = [[1, 1], [2, 2], [3, 4]]
    e = stats.alpha(units, "interval", resamples=400, seed=2)
    assert e.ci_low is not None and e.ci_high is not None and e.ci_low <= 36 / 41 <= e.ci_high <= 1.0
    # a resample of the two equal units only has a single value: α undefined there, left out and counted
    assert e.reason and e.reason.endswith("resamples had a single value and were left out")
    undefined = int(e.reason.split()[0])
    assert undefined == pytest.approx(400 * 2 / 27, rel=0.4)      # all 3 draws from the same of units 1, 2


def test_judge_pairs_are_each_pair_once_over_the_units_both_scored() -> None:
    units: list[list[float | None]] = [[1, 2, None], [2, 3, 1], [3, 5, 2], [4, 4, None]]
    pairs = stats.judge_pairs(units)
    assert [p.judges for p in pairs] == [(0, 1), (0, 2), (1, 2)]                 # no diagonal, no pair twice
    assert pairs[0].spearman.statistic == pytest.approx(0.8) and pairs[0].pearson.statistic == pytest.approx(0.8)
    assert pairs[0].mean_abs_diff == Estimate(1.0, n=4)                          # (1 + 1 + 2 + 0)/4
    assert pairs[2].mean_abs_diff == Estimate(2.5, n=2)                          # (2 + 3)/2, units 2 and 3
    missing(pairs[1].pearson, "n = 2")
    assert stats.judge_pairs([[0.5], [0.6]]) == []                               # one judge: no pair
    none_shared = stats.judge_pairs([[0.5, None], [None, 0.6]])[0]
    missing(none_shared.mean_abs_diff, "no unit scored by both judges")
    orjson.dumps([p.to_json() for p in pairs])


def test_leniency_is_each_judges_gap_to_the_others() -> None:
    units: list[list[float | None]] = [[0.9, 0.7, 0.8], [0.6, 0.5, 0.4], [0.3, None, None], [None, 0.2, 0.6]]
    first, second, third = stats.leniency(units, resamples=500)
    # judge 0: 0.9 − 0.75, 0.6 − 0.45 (unit 3 has no other judge, unit 4 not judge 0's)
    assert first.value == pytest.approx(0.15) and first.n == 2
    # judge 1: 0.7 − 0.85, 0.5 − 0.5, 0.2 − 0.6 → mean −0.55/3; judge 2: −0.0, −0.15, +0.4
    assert second.value == pytest.approx((-0.15 + 0.0 - 0.4) / 3) and third.value == pytest.approx((0.0 - 0.15 + 0.4) / 3)
    assert None not in (second.ci_low, second.ci_high) and second.ci_low <= second.value <= second.ci_high  # type: ignore[operator]
    missing(stats.leniency([[0.9], [0.5]])[0], "no unit scored by this judge and another")      # one judge


def test_weighted_kappa_on_grades_by_hand() -> None:
    # ranks 5,4,3 against 5,3,3: Σ w·o = (0 + 1 + 0)/3; margins (⅓, ⅓, ⅓) on 3, 4, 5 and (⅔, ⅓) on 3, 5:
    # Σ w·e = ⅓(⅓·4) + ⅓(⅔·1 + ⅓·1) + ⅓(⅔·4) = 5/3 → κ = 1 − (1/3)/(5/3) = 0.8
    e = stats.weighted_kappa(["S", "A", "B", None], ["S", "B", "B", "C"])
    assert e.value == pytest.approx(0.8, rel=1e-12) and e.n == 3
    assert stats.weighted_kappa(["F", "S"], ["F", "S"]).value == pytest.approx(1.0)
    missing(stats.weighted_kappa(["A", "A"], ["A", "A"]), "one and the same grade")
    missing(stats.weighted_kappa(["A", None], [None, "B"]), "no unit graded by both")


# ---- cost–quality frontier ----

def test_pareto_set_keeps_what_nothing_dominates() -> None:
    points = [(1.0, 0.5), (2.0, 0.9), (3.0, 0.8), (1.0, 0.5), (0.5, 0.1), (2.0, 0.85)]
    # (3, 0.8) costs more and scores less than (2, 0.9); (2, 0.85) is no cheaper and worse; ties both stay
    assert stats.pareto(points) == [0, 1, 3, 4]
    assert stats.pareto([]) == []


def test_frontier_probability_over_bootstrapped_tiers() -> None:
    cheap = ([1.0, 1.1, 0.9], [0.5, 0.6, 0.4])            # always cheapest: always on the frontier
    best = ([2.0, 2.0, 2.0], [0.9, 0.95, 0.99])           # always best: always on it
    worse = ([3.0, 3.0], [0.8, 0.7])                      # dearer and worse than `best` in every resample
    assert [e.value for e in stats.frontier_probability([cheap, best, worse], resamples=500)] == [1.0, 1.0, 0.0]
    # two tiers at the same cost whose quality overlaps: each is on the frontier when not beaten
    a, b = ([1.0, 1.0], [0.0, 1.0]), ([1.0, 1.0], [0.4, 0.6])
    pa, pb = (e.value for e in stats.frontier_probability([a, b], resamples=4000, seed=3))
    # a's resample mean is 0, ½, 1 (¼, ½, ¼); b's 0.4, 0.5, 0.6 (¼, ½, ¼): a loses when its mean is below b's
    # (a = 0: ¼; a = ½ and b = 0.6: ½·¼) → P(a on it) = 1 − ¼ − ⅛ = 5/8, and symmetrically P(b) = 5/8
    assert pa == pytest.approx(5 / 8, abs=0.03) and pb == pytest.approx(5 / 8, abs=0.03)
    lone = stats.frontier_probability([([1.0], [0.5]), cheap], resamples=100)
    assert lone[0].reason and "n = 1" in lone[0].reason
    assert all(e.value is None for e in stats.frontier_probability([([], []), cheap]))


# ---- prospective power ----

def test_minimum_detectable_difference_between_pass_rates() -> None:
    # Cohen's h = (z₀.₉₇₅ + z₀.₈)·√(2/n); from 0.5: p₂ = sin²(π/4 + h/2), so |p₂ − 0.5| = sin(h)/2.
    # (statsmodels also counts the far tail's power, ~1e-6: hence rel 1e-5)
    h = (Z975 + Z80) * math.sqrt(2 / 30)
    assert stats.detectable_difference(30).value == pytest.approx(math.sin(h) / 2, rel=1e-5)
    # from 0.9 the farther end is 0: p₂ = sin²(asin √0.9 − h/2)
    h5 = (Z975 + Z80) * math.sqrt(2 / 5)
    expected = 0.9 - math.sin(math.asin(math.sqrt(0.9)) - h5 / 2) ** 2
    assert stats.detectable_difference(5, baseline=0.9).value == pytest.approx(expected, rel=1e-5)
    missing(stats.detectable_difference(1), "n = 1")
    missing(stats.detectable_difference(2), "no pass rate differs enough")          # h = 2.8 > π/2


def test_runs_needed_for_a_target_difference() -> None:
    h = 2 * math.asin(math.sqrt(0.7)) - 2 * math.asin(math.sqrt(0.5))
    assert stats.runs_needed(0.2).value == math.ceil(2 * ((Z975 + Z80) / h) ** 2) == 93
    n = 40
    assert stats.runs_needed(stats.detectable_difference(n).value or 0).value in (n, n + 1)   # the round trip
    missing(stats.runs_needed(0.6), "within 0..1")
    missing(stats.runs_needed(0.0), "difference 0.0")
    with pytest.raises(ValueError, match="baseline pass rate 1.5"):
        stats.detectable_difference(10, baseline=1.5)


# ---- determinism and JSON ----

def bootstraps(seed: int) -> list[Estimate]:
    x = [0.1, 0.5, 0.4, 0.9, 0.7, 0.3]
    return [stats.bootstrap_ci(x, mean_of, resamples=1500, seed=seed),
            stats.cost_of_pass([0.2, 0.4, 0.1, 0.3, 0.5, 0.2], [True, False, True, True, False, True], resamples=1500, seed=seed),
            stats.cluster_bootstrap([x[:2], x[2:5], x[5:]], resamples=1500, seed=seed),
            stats.cliffs_delta(x[:3], x[3:], resamples=1500, seed=seed),
            stats.alpha([[0.1, 0.2], [0.5, 0.4], [0.9, 0.6], [0.3, 0.3]], "interval", resamples=1500, seed=seed)]


def test_same_seed_same_numbers_another_seed_other_draws() -> None:
    first, again, other = bootstraps(0), bootstraps(0), bootstraps(1)
    assert first == again
    assert all(a.value == b.value for a, b in zip(first, other))
    assert any((a.ci_low, a.ci_high) != (b.ci_low, b.ci_high) for a, b in zip(first, other))


def edge_outputs() -> list[Estimate | Test]:
    return [stats.wilson(0, 0), stats.wilson(1, 1), stats.mean([]), stats.sd([1.0]), stats.consistency([2.0]),
            stats.consistency([0.0, 0.0]), stats.pass_at_k(1, 0, 2), stats.bootstrap_ci([1.0], mean_of),
            stats.cost_of_pass([1.0], [False]), stats.cost_of_pass([1.0, 2.0], [True, False], resamples=200),
            stats.cluster_bootstrap([[1.0]]), stats.icc([[1.0], [2.0]]), stats.design_effect([[1.0, 1.0], [1.0, 1.0]]),
            stats.kruskal([[1.0], [2.0]]), stats.mann_whitney([1.0], [1.0]), stats.mann_whitney([1.0, 1.0], [1.0, 1.0]),
            stats.cliffs_delta([], []), stats.correlation([1.0, 1.0, 1.0], [1.0, 2.0, 3.0], "pearson"),
            stats.alpha([[1.0], [2.0]], "interval"), stats.alpha([[1.0, 1.0]], "nominal"),
            stats.detectable_difference(0), stats.runs_needed(2.0), stats.cluster_se([[1.0]]),
            stats.weighted_kappa(["A"], ["A"]), *stats.frontier_probability([([], [])]), stats.wilcoxon([1.0], [2.0]),
            stats.mcnemar([True], [True]), *stats.friedman([[1.0, 1.0, 1.0]]), *stats.leniency([[1.0]])]


def test_every_edge_case_is_json_with_nulls_and_a_reason_never_nan() -> None:
    for e in edge_outputs():
        out = e.to_json()
        assert stats.json_safe(out) == out
        assert orjson.loads(orjson.dumps(out)) == out
        number = out["value"] if isinstance(e, Estimate) else out["p"]
        if number is None or (isinstance(e, Estimate) and None in (out["ci_low"], out["ci_high"]) and out["reason"]):
            assert out["reason"], out
        assert all(v is None or math.isfinite(v) for k, v in out.items() if k in ("value", "ci_low", "ci_high", "statistic", "p"))


def test_an_estimate_refuses_nan_and_infinity() -> None:
    with pytest.raises(ValueError, match="value = nan"):
        Estimate(float("nan"))
    with pytest.raises(ValueError, match="ci_high = inf"):
        Estimate(1.0, 0.5, float("inf"))
    with pytest.raises(ValueError, match="p = nan"):
        Test(1.0, float("nan"))


def test_json_safe_names_where_a_nan_or_infinity_sits_and_converts_numpy() -> None:
    with pytest.raises(ValueError, match=r"\$\.tiers\[1\]\.p = nan"):
        stats.json_safe({"tiers": [{"p": 0.1}, {"p": float("nan")}]})
    with pytest.raises(ValueError, match=r"\$\.cost = -inf"):
        stats.json_safe({"cost": np.float64("-inf")})
    out = stats.json_safe({"n": np.int64(3), "x": np.float32(0.5), "ok": np.bool_(True), "t": (1, None), "e": Estimate(None, n=0, reason="n = 0")})
    assert out == {"n": 3, "x": 0.5, "ok": True, "t": [1, None],
                   "e": {"value": None, "ci_low": None, "ci_high": None, "n": 0, "reason": "n = 0"}}
    assert type(out["n"]) is int and type(out["x"]) is float and type(out["ok"]) is bool
