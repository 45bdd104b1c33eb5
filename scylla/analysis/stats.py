"""The statistics of an analysis, as pure functions over plain numbers (no files, no doit).

A value that cannot be computed is never NaN, Infinity or a made-up number (ProjectScylla published a
consistency of 1.000, zero-width CIs and Mann–Whitney p = 1.0 from single runs): it is an `Estimate` (or a
`Test`) whose value is None with a `reason` that says why. Every bootstrap is a percentile bootstrap drawn from
`numpy.random.Generator(PCG64(seed))` in fixed chunks, so the same inputs and seed give the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import krippendorff
import numpy as np
import numpy.typing as npt
from scipy import stats as sps
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.contingency_tables import mcnemar as _mcnemar
from statsmodels.stats.inter_rater import cohens_kappa
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint

Array = npt.NDArray[np.float64]
Values = Sequence[float] | npt.NDArray[Any]       # numbers, as a list or an array
Statistic = Callable[[Array], Array]      # (resamples, n) -> (resamples,): the statistic of each row
CHUNK = 1000                              # resamples drawn at a time (fixed: the draws depend on it)
Level = Literal["interval", "ordinal", "nominal"]      # Krippendorff's levels of measurement we use
GRADE_RANK = {"F": 0, "D": 1, "C": 2, "B": 3, "A": 4, "S": 5}     # S > A > B > C > D > F
ALPHA = 0.05
POWER = 0.8


@dataclass(frozen=True)
class Estimate:
    """A number with its confidence interval; `value` None when it cannot be computed, `reason` says why
    (also why a bound is None, e.g. an unbounded upper bound)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    reason: str | None = None

    def __post_init__(self) -> None:
        for name in ("value", "ci_low", "ci_high"):
            object.__setattr__(self, name, _finite(getattr(self, name), name))
        object.__setattr__(self, "n", int(self.n))

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n,
                "reason": self.reason}


@dataclass(frozen=True)
class Test:
    """A hypothesis test's statistic and p-value; both None (with the reason) when it cannot be computed."""

    __test__ = False                      # (not a pytest test class)

    statistic: float | None
    p: float | None
    n: int = 0
    reason: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "statistic", _finite(self.statistic, "statistic"))
        object.__setattr__(self, "p", _finite(self.p, "p"))
        object.__setattr__(self, "n", int(self.n))

    def to_json(self) -> dict[str, Any]:
        return {"statistic": self.statistic, "p": self.p, "n": self.n, "reason": self.reason}


def _finite(x: Any, name: str) -> float | None:
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):          # a bug upstream: say so here rather than write NaN into a report
        raise ValueError(f"{name} = {x}: statistics hold finite numbers or None (with a reason)")
    return x


def _none(n: int, reason: str) -> Estimate:
    return Estimate(None, None, None, n, reason)


def _untested(n: int, reason: str) -> Test:
    return Test(None, None, n, reason)


def _array(values: Values) -> Array:
    return np.asarray(values, dtype=np.float64)


def json_safe(obj: Any, where: str = "$") -> Any:
    """`obj` with numpy scalars and tuples turned into JSON types; a NaN or infinity anywhere in it is a
    ValueError naming where (orjson would silently write null, and json.dumps bare NaN)."""
    if isinstance(obj, (Estimate, Test, Pair)):
        return json_safe(obj.to_json(), where)
    if isinstance(obj, Mapping):
        return {k: json_safe(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        if not math.isfinite(float(obj)):
            raise ValueError(f"{where} = {float(obj)}: not a JSON number (a statistic must be None with a reason)")
        return float(obj)
    return obj


# ---- proportions and descriptive statistics -------------------------------------------------------------

def wilson(k: int, n: int, level: float = 0.95) -> Estimate:
    """The proportion k/n with its Wilson score interval (Wilson 1927):
    (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n), z the normal quantile at (1 + level)/2."""
    if not 0 <= k <= n:
        raise ValueError(f"wilson: k = {k} must be within 0..n = {n}")
    if n == 0:
        return _none(0, "n = 0: no runs")
    low, high = proportion_confint(k, n, alpha=_tail(level), method="wilson")
    # at k = 0 or k = n the bound is exactly 0 or 1 (floating point gives 0.9999999999999999 for 7/7)
    return Estimate(k / n, 0.0 if k == 0 else low, 1.0 if k == n else high, n)


def mean(values: Values) -> Estimate:
    """The arithmetic mean Σx/n."""
    x = _array(values)
    return Estimate(float(np.mean(x)), n=len(x)) if len(x) else _none(0, "n = 0: no values")


def median(values: Values) -> Estimate:
    """The median (the mean of the two middle values when n is even)."""
    x = _array(values)
    return Estimate(float(np.median(x)), n=len(x)) if len(x) else _none(0, "n = 0: no values")


def sd(values: Values) -> Estimate:
    """The sample standard deviation √(Σ(x − x̄)²/(n − 1)) (Bessel's correction: needs n ≥ 2)."""
    x = _array(values)
    if len(x) < 2:
        return _none(len(x), f"n = {len(x)}: a standard deviation needs at least 2 runs")
    return Estimate(float(np.std(x, ddof=1)), n=len(x))


def consistency(values: Values) -> Estimate:
    """1 − SD/mean (one minus the coefficient of variation) of a subtest's run scores, SD the sample SD."""
    x = _array(values)
    if len(x) < 2:
        return _none(len(x), f"n = {len(x)}: consistency needs at least 2 runs")
    m = float(np.mean(x))
    if m <= 0:
        return _none(len(x), f"mean = {m}: consistency (1 − SD/mean) needs a positive mean")
    return Estimate(1 - float(np.std(x, ddof=1)) / m, n=len(x))


def pass_at_k(n: int, c: int, k: int) -> Estimate:
    """pass@k, the unbiased estimator of the chance that at least one of k runs passes (Chen et al. 2021):
    1 − C(n − c, k)/C(n, k), n runs of which c passed."""
    return _of_k(n, c, k, "pass@k", lambda: 1 - math.comb(n - c, k) / math.comb(n, k))


def pass_hat_k(n: int, c: int, k: int) -> Estimate:
    """pass^k, the unbiased estimator of the chance that all k runs pass (Yao et al. 2024, τ-bench):
    C(c, k)/C(n, k)."""
    return _of_k(n, c, k, "pass^k", lambda: math.comb(c, k) / math.comb(n, k))


def _of_k(n: int, c: int, k: int, name: str, formula: Callable[[], float]) -> Estimate:
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"{name}: needs 0 <= c = {c} <= n = {n} and k = {k} >= 1")
    if k > n:
        return _none(n, f"k = {k} > n = {n}: {name} needs at least k runs")
    return Estimate(formula(), n=n)       # exact integer binomials, one correctly rounded division


# ---- bootstrap ----------------------------------------------------------------------------------------

def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def _indices(rng: np.random.Generator, n: int, resamples: int) -> Iterator[npt.NDArray[np.int64]]:
    """Resampled row indices (with replacement), CHUNK resamples at a time."""
    for start in range(0, resamples, CHUNK):
        yield rng.integers(0, n, size=(min(CHUNK, resamples - start), n))


def _weights(rng: np.random.Generator, n: int, resamples: int) -> Iterator[Array]:
    """How often each of n rows is drawn in each resample (the counts of n draws with replacement, as
    `_indices` draws them), CHUNK resamples at a time."""
    for idx in _indices(rng, n, resamples):
        offsets = np.arange(len(idx))[:, None] * n
        yield np.bincount((idx + offsets).ravel(), minlength=len(idx) * n).reshape(len(idx), n).astype(np.float64)


def _tail(level: float) -> float:
    """1 − level, read as the decimal it was written as (1 − 0.95 is 0.050000000000000044 in floating point;
    Wilson's interval for 1/1 at 0.95 is then 0.20654931437723745, not the published 0.2065493143772374)."""
    return float(f"{1 - level:.12g}")


def _bounds(samples: Array, level: float) -> tuple[float | None, float | None]:
    """The percentile interval of bootstrap statistics (numpy's linear quantiles); a bound that falls on or
    next to an infinite (unbounded) resample is None."""
    qs = (_tail(level) / 2, 1 - _tail(level) / 2)
    if len(samples) == 0:
        return None, None
    if np.isfinite(samples).all():
        low, high = np.quantile(samples, qs)
        return float(low), float(high)
    s = np.sort(samples)                 # +inf sort last
    out: list[float | None] = []
    for q in qs:
        h = (len(s) - 1) * q
        j = math.floor(h)
        hi = s[min(j + 1, len(s) - 1)] if h > j else s[j]
        out.append(float(s[j] + (h - j) * (hi - s[j])) if math.isfinite(hi) else None)
    return out[0], out[1]


def _estimate(value: float, samples: Array, level: float, n: int, reason: str | None = None) -> Estimate:
    """`value` with the percentile interval of its bootstrap `samples`; none when every resample gives the
    same value (all runs alike, or one group always ahead): a point would claim a certainty the runs
    cannot show (ProjectScylla published such zero-width intervals)."""
    finite = samples[np.isfinite(samples)]
    if len(finite) == len(samples) and len(samples) and np.ptp(samples) <= 1e-12 * max(1.0, abs(value)):
        why = "every resample gives the same value: the percentile bootstrap has no interval to show"
        return Estimate(value, None, None, n, f"{reason}; {why}" if reason else why)
    low, high = _bounds(samples, level)
    return Estimate(value, low, high, n, reason)


def bootstrap_ci(values: Values, statistic: Statistic, *, resamples: int = 10_000, seed: int = 0,
                 level: float = 0.95) -> Estimate:
    """statistic(values) with its percentile bootstrap interval (Efron 1979): the (1 ∓ level)/2 quantiles of
    the statistic over `resamples` resamples of the values with replacement. `statistic` maps a
    (resamples, n) array to one value per row, e.g. `lambda a: a.mean(axis=1)`."""
    x = _array(values)
    if len(x) == 0:
        return _none(0, "n = 0: no values")
    value = float(statistic(x[None, :])[0])
    if len(x) < 2:
        return Estimate(value, n=1, reason="n = 1: a bootstrap interval needs at least 2 runs")
    rng = _rng(seed)
    samples = np.concatenate([statistic(x[idx]) for idx in _indices(rng, len(x), resamples)])
    return _estimate(value, samples, level, len(x))


def cost_of_pass(costs: Values, passed: Sequence[bool], *, resamples: int = 10_000, seed: int = 0,
                 level: float = 0.95) -> Estimate:
    """Cost of pass = mean cost / pass rate = Σ cost / number passed, with a percentile bootstrap interval
    over runs (cost and verdict resampled together). A resample in which no run passed has an unbounded cost
    of pass: when such resamples reach the upper quantile, the upper bound is None (unbounded)."""
    c, p = _array(costs), np.asarray(passed, dtype=bool)
    if len(c) != len(p):
        raise ValueError(f"cost_of_pass: {len(c)} costs but {len(p)} verdicts")
    if len(c) == 0:
        return _none(0, "n = 0: no runs")
    if not p.any():
        return _none(len(c), f"no run passed (0 of {len(c)}): the cost of a pass is unbounded")
    value = float(c.sum() / p.sum())
    if len(c) < 2:
        return Estimate(value, n=1, reason="n = 1: a bootstrap interval needs at least 2 runs")
    parts, zero = [], 0
    for idx in _indices(_rng(seed), len(c), resamples):
        wins = p[idx].sum(axis=1)
        zero += int((wins == 0).sum())
        parts.append(np.divide(c[idx].sum(axis=1), wins, out=np.full(len(idx), np.inf), where=wins > 0))
    samples = np.concatenate(parts)
    reason = None
    if _bounds(samples, level)[1] is None:
        reason = f"{zero} of {resamples} resamples had no passing run: the upper bound is unbounded"
    return _estimate(value, samples, level, len(c), reason)


def cluster_bootstrap(clusters: Sequence[Values], *, resamples: int = 10_000, seed: int = 0,
                      level: float = 0.95) -> Estimate:
    """The mean of all runs with a two-stage cluster bootstrap interval (Davison & Hinkley 1997, §3.8): per
    resample, draw the clusters (subtests) with replacement, then within each drawn cluster its runs with
    replacement; the statistic is the mean of the drawn runs. Unbalanced clusters weigh by their size."""
    groups = [_array(g) for g in clusters if len(g)]
    n = sum(len(g) for g in groups)
    if n == 0:
        return _none(0, "n = 0: no runs")
    value = float(np.concatenate(groups).mean())
    if len(groups) < 2:
        return Estimate(value, n=n, reason="one cluster: a cluster bootstrap needs at least 2 subtests")
    sizes = np.array([len(g) for g in groups])
    padded = np.zeros((len(groups), sizes.max()))
    for i, g in enumerate(groups):
        padded[i, :len(g)] = g
    rng, k, parts = _rng(seed), len(groups), []
    for start in range(0, resamples, CHUNK):
        b = min(CHUNK, resamples - start)
        chosen = rng.integers(0, k, size=(b, k))
        m = sizes[chosen]                                           # (b, k) sizes of the drawn clusters
        runs = np.floor(rng.random((b, k, sizes.max())) * m[..., None]).astype(np.int64)
        drawn = padded[chosen[..., None], runs]
        used = np.arange(sizes.max()) < m[..., None]                # each cluster draws as many runs as it has
        parts.append((drawn * used).sum(axis=(1, 2)) / m.sum(axis=1))
    return _estimate(value, np.concatenate(parts), level, n)


def cluster_se(clusters: Sequence[Values]) -> Estimate:
    """The cluster-robust (Liang–Zeger 1986, CR1) standard error of the mean of all runs, clusters being the
    subtests: √(G/(G − 1)·Σ_g (Σᵢ (y_gi − ȳ))²)/N (statsmodels OLS on a constant, cov_type "cluster"), to set
    beside the i.i.d. SD/√N."""
    groups = [_array(g) for g in clusters if len(g)]
    n = sum(len(g) for g in groups)
    if len(groups) < 2:
        return _none(n, f"{len(groups)} cluster(s): a clustered standard error needs at least 2 subtests")
    y = np.concatenate(groups)
    labels = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    fit = OLS(y, np.ones((n, 1))).fit(cov_type="cluster", cov_kwds={"groups": labels})
    return Estimate(float(fit.bse[0]), n=n)


def icc(clusters: Sequence[Values]) -> Estimate:
    """The intraclass correlation ICC(1) from a one-way ANOVA (Shrout & Fleiss 1979; unbalanced sizes by
    m₀, Snedecor & Cochran): (MSB − MSW)/(MSB + (m₀ − 1)·MSW), MSB = Σ mᵢ(ȳᵢ − ȳ)²/(k − 1),
    MSW = ΣΣ(y − ȳᵢ)²/(N − k), m₀ = (N − Σmᵢ²/N)/(k − 1). It may be negative (reported as estimated)."""
    groups = [_array(g) for g in clusters if len(g)]
    k, n = len(groups), sum(len(g) for g in groups)
    if k < 2:
        return _none(n, f"{k} cluster(s): an intraclass correlation needs at least 2 subtests")
    if n == k:
        return _none(n, "one run per subtest: an intraclass correlation needs a subtest with 2 runs or more")
    grand = np.concatenate(groups).mean()
    msb = sum(len(g) * (g.mean() - grand) ** 2 for g in groups) / (k - 1)
    msw = sum(((g - g.mean()) ** 2).sum() for g in groups) / (n - k)
    m0 = (n - sum(len(g) ** 2 for g in groups) / n) / (k - 1)
    denominator = msb + (m0 - 1) * msw
    if denominator == 0:
        return _none(n, "all values equal: the intraclass correlation is undefined")
    return Estimate(float((msb - msw) / denominator), n=n)


def design_effect(clusters: Sequence[Values]) -> Estimate:
    """The design effect of runs nested in subtests (Kish 1965): 1 + (m̄ − 1)·ICC, m̄ the mean number of
    runs per subtest and ICC the one-way ANOVA ICC(1) (`icc`), a negative estimate taken as 0 (clustering
    does not shrink a variance). The i.i.d. variance of a mean times this is its variance under clustering."""
    rho = icc(clusters)
    if rho.value is None:
        return rho
    m = rho.n / sum(1 for g in clusters if len(g))
    return Estimate(1 + (m - 1) * max(rho.value, 0.0), n=rho.n)


# ---- tests between groups -----------------------------------------------------------------------------

def _all_equal(*groups: Array) -> bool:
    both = np.concatenate(groups)
    return bool((both == both[0]).all())


def kruskal(groups: Sequence[Values]) -> Test:
    """The Kruskal–Wallis H test (scipy.stats.kruskal): H = 12/(N(N+1))·Σ Rᵢ²/nᵢ − 3(N+1), divided by the
    tie correction 1 − Σ(t³ − t)/(N³ − N), p from χ² with k − 1 degrees of freedom."""
    xs = [_array(g) for g in groups]
    n = sum(len(x) for x in xs)
    if len(xs) < 2:
        return _untested(n, f"{len(xs)} group(s): the Kruskal–Wallis test needs at least 2")
    small = [i for i, x in enumerate(xs) if len(x) < 2]
    if small:
        return _untested(n, f"group(s) {small} have fewer than 2 runs: the test needs at least 2 per group")
    if _all_equal(*xs):
        return _untested(n, "all values equal: no ranks to compare")
    h, p = sps.kruskal(*xs)
    return Test(h, p, n)


def mann_whitney(x: Values, y: Values) -> Test:
    """The two-sided Mann–Whitney U test (Wilcoxon rank-sum; scipy.stats.mannwhitneyu, method "auto": exact
    for small samples without ties, else the normal approximation with tie and continuity corrections).
    The statistic is U of x: #(x > y) + ½·#(x = y)."""
    a, b = _array(x), _array(y)
    n = len(a) + len(b)
    if len(a) < 2 or len(b) < 2:
        return _untested(n, f"n = {len(a)} and {len(b)}: the test needs at least 2 runs in each group")
    if _all_equal(a, b):
        return _untested(n, "all values equal: no ranks to compare")
    u, p = sps.mannwhitneyu(a, b, alternative="two-sided")
    return Test(u, p, n)


def cliffs_delta(x: Values, y: Values, *, resamples: int = 10_000, seed: int = 0,
                 level: float = 0.95) -> Estimate:
    """Cliff's δ = (#(x > y) − #(x < y))/(nₓ·n_y) (Cliff 1993), with a percentile bootstrap interval that
    resamples each group on its own (a resample's δ is its multiplicities wₓᵀ·sign(xᵢ − yⱼ)·w_y/(nₓ·n_y))."""
    a, b = _array(x), _array(y)
    n = len(a) + len(b)
    if len(a) == 0 or len(b) == 0:
        return _none(n, f"n = {len(a)} and {len(b)}: Cliff's δ needs runs in both groups")
    signs = np.sign(a[:, None] - b[None, :])
    value = float(signs.mean())
    if len(a) < 2 or len(b) < 2:
        return Estimate(value, n=n, reason="a bootstrap interval needs at least 2 runs in each group")
    rng = _rng(seed)
    parts = [((wa @ signs) * wb).sum(axis=1) / (len(a) * len(b))
             for wa, wb in zip(_weights(rng, len(a), resamples), _weights(rng, len(b), resamples))]
    return _estimate(value, np.concatenate(parts), level, n)


def mean_difference(x: Values, y: Values, *, resamples: int = 10_000, seed: int = 0,
                    level: float = 0.95) -> Estimate:
    """mean(x) − mean(y) of two independent groups, with a percentile bootstrap interval that resamples each
    group on its own."""
    a, b = _array(x), _array(y)
    n = len(a) + len(b)
    if len(a) == 0 or len(b) == 0:
        return _none(n, f"n = {len(a)} and {len(b)}: a difference needs runs in both groups")
    value = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return Estimate(value, n=n, reason="a bootstrap interval needs at least 2 runs in each group")
    rng = _rng(seed)
    parts = [(wa @ a) / len(a) - (wb @ b) / len(b)
             for wa, wb in zip(_weights(rng, len(a), resamples), _weights(rng, len(b), resamples))]
    return _estimate(value, np.concatenate(parts), level, n)


def correlation(x: Values, y: Values, method: Literal["spearman", "pearson"]) -> Test:
    """Spearman's ρ (scipy.stats.spearmanr) or Pearson's r (scipy.stats.pearsonr) of paired values with the
    two-sided p-value; needs 3 pairs or more and neither side constant."""
    a, b = _array(x), _array(y)
    if len(a) != len(b):
        raise ValueError(f"correlation: {len(a)} values against {len(b)}")
    if len(a) < 3:
        return _untested(len(a), f"n = {len(a)}: a correlation needs at least 3 pairs")
    if _all_equal(a) or _all_equal(b):
        return _untested(len(a), "one side is constant: the correlation is undefined")
    r, p = (sps.spearmanr if method == "spearman" else sps.pearsonr)(a, b)
    return Test(r, p, len(a))


# ---- paired comparisons (two experiments sharing cells; tiers over tasks) -----------------------------

def wilcoxon(x: Values, y: Values) -> Test:
    """The two-sided Wilcoxon signed-rank test of paired values (scipy.stats.wilcoxon: zero differences
    dropped, exact without ties for small n, else the normal approximation). The statistic is the smaller
    of the positive and negative rank sums."""
    a, b = _array(x), _array(y)
    if len(a) != len(b):
        raise ValueError(f"wilcoxon: {len(a)} values against {len(b)}: the test needs pairs")
    nonzero = int((a != b).sum())
    if nonzero < 2:
        return _untested(len(a), f"{nonzero} pair(s) differ: the signed-rank test needs at least 2")
    w, p = sps.wilcoxon(a, b, alternative="two-sided")
    return Test(w, p, len(a))


def mcnemar(x: Sequence[bool], y: Sequence[bool]) -> Test:
    """McNemar's exact test of paired pass/fail verdicts (statsmodels mcnemar, exact): with b pairs passing
    only in x and c only in y, p = min(1, 2·P(Binomial(b + c, ½) ≤ min(b, c))); the statistic is min(b, c)."""
    a, b = np.asarray(x, dtype=bool), np.asarray(y, dtype=bool)
    if len(a) != len(b):
        raise ValueError(f"mcnemar: {len(a)} verdicts against {len(b)}: the test needs pairs")
    only_x, only_y = int((a & ~b).sum()), int((~a & b).sum())
    if only_x + only_y == 0:
        return _untested(len(a), "no pair disagrees: nothing to test")
    table = [[int((a & b).sum()), only_x], [only_y, int((~a & ~b).sum())]]
    result = _mcnemar(table, exact=True)
    return Test(result.statistic, result.pvalue, len(a))


def paired_difference(x: Values, y: Values, *, resamples: int = 10_000, seed: int = 0,
                      level: float = 0.95) -> Estimate:
    """The mean paired difference mean(x − y) with a percentile bootstrap interval over the pairs."""
    a, b = _array(x), _array(y)
    if len(a) != len(b):
        raise ValueError(f"paired_difference: {len(a)} values against {len(b)}")
    return bootstrap_ci(a - b, lambda d: d.mean(axis=1), resamples=resamples, seed=seed, level=level)


def friedman(blocks: Sequence[Values]) -> tuple[Test, Estimate]:
    """The Friedman test of k treatments (tiers) over n blocks (tasks; a blocks × treatments matrix,
    scipy.stats.friedmanchisquare: χ²_F = 12/(n·k(k + 1))·Σ Rⱼ² − 3n(k + 1), tie-corrected, χ² with k − 1
    df) and Kendall's W = χ²_F/(n(k − 1)), the agreement of the blocks' rankings (0 none, 1 complete)."""
    rows = [_array(b) for b in blocks]
    if len({len(r) for r in rows}) > 1:
        raise ValueError(f"friedman: blocks of {sorted({len(r) for r in rows})} values: every block needs a value "
                         "for every treatment")
    n, k = len(rows), len(rows[0]) if rows else 0
    size = n * k
    if n < 2 or k < 3:
        why = f"{n} block(s) × {k} treatment(s): the Friedman test needs at least 2 blocks and 3 treatments"
        return _untested(size, why), _none(size, why)
    if all(_all_equal(row) for row in rows):
        why = "every block ranks its treatments all equal: no ranking to test"
        return _untested(size, why), _none(size, why)
    chi2, p = sps.friedmanchisquare(*np.array(rows).T)
    return Test(chi2, p, size), Estimate(float(chi2) / (n * (k - 1)), n=size)


def ranks(values: Values) -> list[float]:
    """Ranks from the highest (1) down, ties sharing the mean of their ranks (scipy.stats.rankdata)."""
    return [float(r) for r in sps.rankdata(-_array(values), method="average")]


# ---- judge agreement ----------------------------------------------------------------------------------

def grade_ranks(rows: Sequence[Sequence[str | None]]) -> list[list[float | None]]:
    """Grades as ordinal ranks for `alpha(..., "ordinal")`: F 0, D 1, C 2, B 3, A 4, S 5 (None stays)."""
    return [[None if g is None else float(GRADE_RANK[g]) for g in row] for row in rows]


def _matrix(units: Sequence[Sequence[float | bool | None]]) -> Array:
    """A units × judges matrix with NaN where a judge gave no value."""
    return np.array([[np.nan if v is None else float(v) for v in row] for row in units], dtype=np.float64)


def alpha(units: Sequence[Sequence[float | bool | None]], level: Level,
          *, resamples: int = 1000, seed: int = 0, ci_level: float = 0.95) -> Estimate:
    """Krippendorff's α = 1 − D_o/D_e (Krippendorff 2004) on a units × judges matrix (None: no value), at the
    level of measurement: interval on scores, ordinal on grade ranks (`grade_ranks`), nominal on pass
    (booleans). Ordinal and nominal α come from `krippendorff.alpha`; interval α from its closed form
    (`_interval_alphas`, tested equal), whose cost does not grow with the number of distinct scores. The
    interval is a percentile bootstrap over units; resamples whose α is undefined (a single value) are left
    out and counted in the reason."""
    data = _matrix(units)
    n = len(data)
    if n == 0 or data.shape[1] < 2:
        return _none(n, f"{data.shape[1] if n else 0} judge(s): agreement needs at least 2 judges")
    data = data[(~np.isnan(data)).sum(axis=1) >= 2]                    # only pairable units carry information
    if len(data) == 0:
        return _none(n, "no unit has values from 2 judges")
    domain = np.unique(data[~np.isnan(data)])
    if len(domain) < 2:
        return _none(n, "all values equal: α is undefined (no disagreement is expected)")
    counts = (data[..., None] == domain).sum(axis=1)                  # units × values
    one = np.ones((1, len(data)))
    value = float(_interval_alphas(data, counts, one)[0] if level == "interval" else
                  krippendorff.alpha(value_counts=counts, value_domain=domain, level_of_measurement=level))
    if len(data) < 2:
        return Estimate(value, n=n, reason="one pairable unit: a bootstrap interval needs at least 2")
    draws = _weights(_rng(seed), len(data), resamples)
    samples = np.concatenate([_interval_alphas(data, counts, w) if level == "interval"
                              else _alphas(counts, domain, level, w) for w in draws])
    undefined = int(np.isnan(samples).sum())
    reason = f"{undefined} of {resamples} resamples had a single value and were left out" if undefined else None
    return _estimate(value, samples[~np.isnan(samples)], ci_level, n, reason)


def _interval_alphas(data: Array, counts: npt.NDArray[np.int64], weights: Array) -> Array:
    """Interval α of each resample (row of `weights`: how often each pairable unit was drawn), NaN where only
    one value was drawn. With interval δ² = (a − b)², a unit's ordered pairs sum to 2(m·Σx² − (Σx)²), so
    α = 1 − (n − 1)·Σᵤ wᵤ(mᵤΣx² − (Σx)²)/(mᵤ − 1) / (n·T₂ − T₁²), n = Σ wᵤmᵤ, T₂ = Σ wᵤΣx², T₁ = Σ wᵤΣx
    (the coincidence formula of `_alphas` summed in closed form). Values are centred first (α does not
    change) so that the sums stay small."""
    x = data - np.nanmean(data)
    m = (~np.isnan(x)).sum(axis=1).astype(np.float64)
    s1, s2 = np.nansum(x, axis=1), np.nansum(x * x, axis=1)
    n, t1, t2 = weights @ m, weights @ s1, weights @ s2
    within = weights @ ((m * s2 - s1 * s1) / (m - 1))
    expected = n * t2 - t1 * t1
    several = ((weights @ counts) > 0).sum(axis=1) >= 2                # a single value: α undefined
    out = np.full(len(weights), np.nan)
    out[several] = 1 - (n[several] - 1) * within[several] / expected[several]
    return out


def _alphas(counts: npt.NDArray[np.int64], domain: Array, level: Level, weights: Array) -> Array:
    """α of each resample of the units (row b of `weights`: how often each unit was drawn), NaN where it is
    undefined. The same formula as krippendorff.alpha (tested equal) without its units × values × values
    arrays: the coincidences are Σᵤ wᵤ·cᵤcᵤᵀ/(mᵤ − 1) (minus a diagonal that every metric zeroes), and
    α = 1 − (n − 1)·Σ o∘δ / (n_vᵀ δ n_v)."""
    pairable = counts.sum(axis=1) - 1.0
    out = np.full(len(weights), np.nan)
    for b, w in enumerate(weights):
        n_v = w @ counts
        delta = _distances(domain, n_v, level)
        expected = n_v @ delta @ n_v
        if expected > 0:
            o = (counts.T * (w / pairable)) @ counts
            out[b] = 1 - (n_v.sum() - 1) * (o * delta).sum() / expected
    return out


def _distances(domain: Array, n_v: Array, level: Level) -> Array:
    """Krippendorff's squared distances δ² between the values of the domain (sorted) at the level."""
    if level == "interval":
        return np.asarray((domain[:, None] - domain[None, :]) ** 2, dtype=np.float64)
    if level == "nominal":
        return (domain[:, None] != domain[None, :]).astype(np.float64)
    cum = np.cumsum(n_v)                  # ordinal: (Σ_{g=c..k} n_g − (n_c + n_k)/2)²
    i, j = np.minimum.outer(np.arange(len(domain)), np.arange(len(domain))), \
        np.maximum.outer(np.arange(len(domain)), np.arange(len(domain)))
    return np.asarray((cum[j] - cum[i] + n_v[i] - (n_v[i] + n_v[j]) / 2) ** 2, dtype=np.float64)


@dataclass(frozen=True)
class Pair:
    """Two judges' agreement over the units both scored."""

    judges: tuple[int, int]
    spearman: Test
    pearson: Test
    mean_abs_diff: Estimate

    def to_json(self) -> dict[str, Any]:
        return {"judges": list(self.judges), "spearman": self.spearman.to_json(),
                "pearson": self.pearson.to_json(), "mean_abs_diff": self.mean_abs_diff.to_json()}


def judge_pairs(units: Sequence[Sequence[float | None]]) -> list[Pair]:
    """Each pair of judges (i < j: no diagonal, no pair twice) on a units × judges matrix: Spearman's ρ,
    Pearson's r and the mean absolute difference mean|xᵢ − xⱼ| over the units both scored."""
    data = _matrix(units)
    judges = data.shape[1] if len(data) else 0
    out = []
    for i in range(judges):
        for j in range(i + 1, judges):
            both = ~np.isnan(data[:, i]) & ~np.isnan(data[:, j])
            a, b = data[both, i], data[both, j]
            diff = (Estimate(float(np.abs(a - b).mean()), n=len(a)) if len(a)
                    else _none(0, "no unit scored by both judges"))
            out.append(Pair((i, j), correlation(a, b, "spearman"), correlation(a, b, "pearson"), diff))
    return out


def leniency(units: Sequence[Sequence[float | None]], *, resamples: int = 10_000, seed: int = 0,
             level: float = 0.95) -> list[Estimate]:
    """Each judge's leniency: the mean over units of its score minus the mean of the other judges' scores on
    that unit (units it and at least one other judge scored), with a percentile bootstrap interval over
    those units. Positive: more lenient than the rest of the panel."""
    data = _matrix(units)
    judges = data.shape[1] if len(data) else 0
    out = []
    for j in range(judges):
        others = np.delete(data, j, axis=1)
        seen = ~np.isnan(data[:, j]) & (~np.isnan(others)).any(axis=1)
        if judges < 2 or not seen.any():
            out.append(_none(int(seen.sum()), "no unit scored by this judge and another"))
            continue
        gaps = data[seen, j] - np.nanmean(others[seen], axis=1)
        out.append(bootstrap_ci(gaps, lambda g: g.mean(axis=1), resamples=resamples, seed=seed, level=level))
    return out


def weighted_kappa(a: Sequence[str | None], b: Sequence[str | None]) -> Estimate:
    """Cohen's weighted κ with quadratic weights (Fleiss–Cohen; statsmodels cohens_kappa) of two judges'
    grades over the units both graded, on the scale F < D < C < B < A < S: κ = 1 − Σ w·o / Σ w·e with
    w = (i − j)², o the observed and e the chance (product of the margins) proportions."""
    if len(a) != len(b):
        raise ValueError(f"weighted_kappa: {len(a)} grades against {len(b)}")
    pairs = [(GRADE_RANK[x], GRADE_RANK[y]) for x, y in zip(a, b) if x is not None and y is not None]
    if not pairs:
        return _none(0, "no unit graded by both judges")
    table = np.zeros((len(GRADE_RANK), len(GRADE_RANK)))
    for i, j in pairs:
        table[i, j] += 1
    rows, cols = table.sum(axis=1) > 0, table.sum(axis=0) > 0
    if rows.sum() == 1 and cols.sum() == 1:
        return _none(len(pairs), "both judges gave one and the same grade: κ is undefined")
    kappa = cohens_kappa(table, weights=np.arange(len(GRADE_RANK)), wt="quadratic", return_results=False)
    return Estimate(float(kappa), n=len(pairs))


# ---- cost–quality frontier ----------------------------------------------------------------------------

def pareto(points: Sequence[tuple[float, float]]) -> list[int]:
    """The indices of the Pareto set of (cost, quality) points: those no other point dominates (costs no
    more and is no worse, and is cheaper or better)."""
    c = _array([p[0] for p in points])
    q = _array([p[1] for p in points])
    return [i for i in range(len(points)) if not _dominated(c[None, :], q[None, :])[0, i]]


def _dominated(c: Array, q: Array) -> npt.NDArray[np.bool_]:
    """(rows, points): whether another point of the row dominates each point."""
    ci, cj, qi, qj = c[:, :, None], c[:, None, :], q[:, :, None], q[:, None, :]
    return np.asarray(((cj <= ci) & (qj >= qi) & ((cj < ci) | (qj > qi))).any(axis=2), dtype=np.bool_)


def frontier_probability(groups: Sequence[tuple[Values, Values]], *, resamples: int = 10_000,
                         seed: int = 0) -> list[Estimate]:
    """Each group's (tier's) bootstrap probability of being on the Pareto set of (mean cost, mean quality):
    per resample, each group's runs are drawn with replacement (cost and quality together) and the
    share of resamples in which no other group dominates it is reported."""
    sizes = [len(c) for c, _ in groups]
    if any(len(c) != len(q) for c, q in groups):
        raise ValueError(f"frontier_probability: costs and qualities differ in length ({sizes})")
    if not groups or 0 in sizes:
        return [_none(n, "no runs in this group" if n == 0 else "a group has no runs: no frontier") for n in sizes]
    rng, on = _rng(seed), np.zeros(len(groups))
    for start in range(0, resamples, CHUNK):
        b = min(CHUNK, resamples - start)
        cost, quality = np.empty((b, len(groups))), np.empty((b, len(groups)))
        for k, (c, q) in enumerate(groups):
            w = rng.multinomial(len(c), np.full(len(c), 1 / len(c)), size=b)
            cost[:, k], quality[:, k] = w @ _array(c) / len(c), w @ _array(q) / len(c)
        on += (~_dominated(cost, quality)).sum(axis=0)
    return [Estimate(float(x / resamples), n=n, reason=None if n > 1 else "n = 1: this group's point never varies")
            for x, n in zip(on, sizes)]


# ---- multiple testing ---------------------------------------------------------------------------------

CORRECTIONS = {"holm": "holm", "bh": "fdr_bh"}      # our name -> statsmodels' multipletests method


class Registry:
    """Every p-value of an analysis, each in a declared family corrected on its own: Holm (1979,
    family-wise error) by default or Benjamini–Hochberg (1995, false discovery rate), by statsmodels'
    multipletests. A test that could not be computed is listed with its reason and not counted."""

    def __init__(self, alpha: float = ALPHA) -> None:
        self.alpha = alpha
        self._families: dict[str, tuple[str, dict[str, Test]]] = {}

    def declare(self, family: str, correction: str = "holm") -> None:
        if correction not in CORRECTIONS:
            raise ValueError(f"family {family!r}: correction {correction!r} is not one of {sorted(CORRECTIONS)}")
        if family in self._families:
            raise ValueError(f"family {family!r} is declared twice")
        self._families[family] = (correction, {})

    def add(self, family: str, name: str, test: Test) -> None:
        if family not in self._families:
            raise ValueError(f"test {name!r}: family {family!r} is not declared (declare it first)")
        tests = self._families[family][1]
        if name in tests:
            raise ValueError(f"family {family!r} already has a test {name!r}")
        tests[name] = test

    def to_json(self) -> dict[str, Any]:
        """{family: {correction, alpha, tests: [{name, statistic, p, p_adjusted, reject, n, reason}]}}, in the
        order declared and added."""
        out = {}
        for family, (correction, tests) in self._families.items():
            ps = [t.p for t in tests.values() if t.p is not None]
            reject, adjusted = ([], []) if not ps else multipletests(ps, alpha=self.alpha,
                                                                     method=CORRECTIONS[correction])[:2]
            rows, i = [], 0
            for name, t in tests.items():
                row = {"name": name, **t.to_json(), "p_adjusted": None, "reject": None}
                if t.p is not None:
                    row |= {"p_adjusted": float(adjusted[i]), "reject": bool(reject[i])}
                    i += 1
                rows.append(row)
            out[family] = {"correction": correction, "alpha": self.alpha, "tests": rows}
        return json_safe(out)


# ---- prospective power --------------------------------------------------------------------------------

def _room(baseline: float) -> tuple[float, float]:
    """arcsin √p and the room in Cohen's h toward the farther end (0 or 1) from p."""
    if not 0 <= baseline <= 1:
        raise ValueError(f"baseline pass rate {baseline} must be within 0..1")
    a = math.asin(math.sqrt(baseline))
    return a, max(2 * a, math.pi - 2 * a)


def _toward(a: float, h: float) -> float:
    """The pass rate h away from arcsine-angle a, toward the farther end."""
    return math.sin(a + h / 2) ** 2 if a <= math.pi / 4 else math.sin(a - h / 2) ** 2


def detectable_difference(n: int, baseline: float = 0.5, alpha: float = ALPHA, power: float = POWER) -> Estimate:
    """The minimum detectable difference between two pass rates with n runs per group: a two-sided test at
    alpha = 0.05 with power 0.8 under the normal approximation on Cohen's h = 2·arcsin√p₂ − 2·arcsin√p₁
    (statsmodels NormalIndPower: h ≈ (z₁₋α/₂ + z₁₋β)·√(2/n)), turned back into |p₂ − p₁| from the baseline
    pass rate p₁ (0.5, the widest, by default) toward the farther end."""
    if n < 2:
        return _none(n, f"n = {n} per group: a comparison needs at least 2 runs per group")
    h = float(NormalIndPower().solve_power(effect_size=None, nobs1=n, alpha=alpha, power=power, ratio=1.0))
    a, room = _room(baseline)
    if h > room:
        return _none(n, f"n = {n} per group: no pass rate differs enough from {baseline} to be detected")
    return Estimate(abs(_toward(a, h) - baseline), n=n)


def runs_needed(difference: float, baseline: float = 0.5, alpha: float = ALPHA, power: float = POWER) -> Estimate:
    """Runs per group to detect `difference` between two pass rates from the baseline p₁ (toward the farther
    end): n = ⌈(z₁₋α/₂ + z₁₋β)²·2/h²⌉ with h Cohen's h (two-sided alpha = 0.05, power 0.8, normal
    approximation; statsmodels NormalIndPower)."""
    a = _room(baseline)[0]
    target = baseline + difference if a <= math.pi / 4 else baseline - difference
    if difference <= 0 or not 0 <= target <= 1:
        return _none(0, f"difference {difference} from {baseline}: the other pass rate must lie within 0..1")
    h = abs(2 * math.asin(math.sqrt(target)) - 2 * a)
    n = float(NormalIndPower().solve_power(effect_size=h, nobs1=None, alpha=alpha, power=power, ratio=1.0))
    return Estimate(float(math.ceil(n)), n=0)
