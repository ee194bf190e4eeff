"""Which differences between conditions are real: each condition against a reference, Welch and
seed-paired t-tests with confidence intervals and effect sizes, Holm-adjusted across the
comparisons of one metric; a two-way ANOVA with interaction for two-factor grids."""
import dataclasses
import re

import numpy as np
import pandas as pd
from scipy import stats

from .metrics import LABELS
from .tables import conditions

FEW_SEEDS = 3  # below this many runs per condition a t-test says little


@dataclasses.dataclass
class TTest:
    t: float
    df: float
    p: float
    diff: float      # mean difference (condition − reference)
    ci_low: float
    ci_high: float
    effect: float    # Cohen's d (pooled SD) for Welch, d_z (mean / SD of the differences) when paired


@np.errstate(divide="ignore", invalid="ignore")  # identical values: infinite t, undefined d; said as such
def welch(a, b, confidence=0.95):
    """Welch's t-test of mean(a) − mean(b) with its Welch–Satterthwaite degrees of freedom."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff, se = a.mean() - b.mean(), np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    t = diff / se
    half = stats.t.ppf(0.5 + confidence / 2, df) * se
    pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    return TTest(t, df, 2 * stats.t.sf(abs(t), df), diff, diff - half, diff + half, diff / pooled)


@np.errstate(divide="ignore", invalid="ignore")
def paired(a, b, confidence=0.95):
    """Paired t-test of a − b, element by element."""
    d = np.asarray(a, float) - np.asarray(b, float)
    n, sd = len(d), d.std(ddof=1)
    se = sd / np.sqrt(n)
    t = d.mean() / se
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * se
    return TTest(t, n - 1, 2 * stats.t.sf(abs(t), n - 1), d.mean(), d.mean() - half, d.mean() + half, d.mean() / sd)


def holm(pvalues):
    """Holm's step-down adjustment; NaN p-values stay NaN and do not count."""
    p = np.asarray(pvalues, float)
    valid = np.flatnonzero(~np.isnan(p))
    adjusted = np.full_like(p, np.nan)
    running = 0.0
    for rank, index in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (len(valid) - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def reference_condition(runs, reference=None):
    """The named condition, or the one whose name holds all of the given key=value pairs, or the
    first condition."""
    names = conditions(runs)
    if reference is None:
        return names[0]
    if reference in names:
        return reference
    pairs = [p.strip() for p in reference.split(",") if p.strip()]
    matches = [n for n in names if all(p in n.split(",") for p in pairs)]
    if len(matches) != 1:
        raise ValueError(f"reference {reference!r} matches {len(matches)} conditions; the conditions are: "
                         + "; ".join(names))
    return matches[0]


def _number(value, fmt):
    return f"{value:+{fmt}}" if fmt else f"{value:+.3g}"


def _p(value):
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def compare(runs, metric, reference=None, fmt=".2f"):
    """Every other condition against the reference on one metric: a frame with both tests, the
    Holm-adjusted p of the test reported (paired by seed where two or more seeds pair up, else
    Welch) and a sentence."""
    reference = reference_condition(runs, reference)
    base = runs[runs["condition"] == reference].dropna(subset=[metric])
    rows = []
    for condition in conditions(runs):
        if condition == reference:
            continue
        group = runs[runs["condition"] == condition].dropna(subset=[metric])
        row = {"metric": metric, "condition": condition, "reference": reference,
               "n": len(group), "n_reference": len(base), "mean": group[metric].mean(),
               "reference_mean": base[metric].mean(), "test": "", "warning": ""}
        w = welch(group[metric], base[metric]) if len(group) >= 2 and len(base) >= 2 else None
        matched = group.merge(base, on="seed", suffixes=("", "_ref"))
        if len(matched) >= 2:
            test = paired(matched[metric], matched[metric + "_ref"])
            row.update(test="paired by seed", n_pairs=len(matched))
        elif w is not None:
            test = w
            row.update(test="Welch")
        else:
            test = None
            row["warning"] = "fewer than 2 runs: no test"
        if w is not None:
            row.update(welch_t=w.t, welch_df=w.df, welch_p=w.p, cohens_d=w.effect)
        if test is not None:
            row.update(diff=test.diff, ci_low=test.ci_low, ci_high=test.ci_high, t=test.t, df=test.df, p=test.p,
                       effect=test.effect)
            if min(len(group), len(base)) < FEW_SEEDS:
                row["warning"] = f"n = {min(len(group), len(base))}: too few runs for the test to mean much"
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    for column in ("diff", "ci_low", "ci_high", "t", "df", "p", "effect", "welch_p"):
        if column not in frame:
            frame[column] = np.nan
    frame["p_holm"] = holm(frame["p"])
    frame["sentence"] = [_sentence(r, fmt) for r in frame.itertuples()]
    return frame


def _sentence(row, fmt):
    label = LABELS.get(row.metric, row.metric)
    if np.isnan(row.diff):
        return f"{row.condition} vs {row.reference}: {label} not tested ({row.warning})."
    effect = "d_z" if row.test == "paired by seed" else "d"
    text = (f"{row.condition} vs {row.reference}: {_number(row.diff, fmt)} {label} "
            f"[95 % CI {row.ci_low:{fmt}}, {row.ci_high:{fmt}}], {row.test} (n = {row.n} vs {row.n_reference}), "
            f"{_p(row.p)}, Holm-adjusted {_p(row.p_holm)}; {effect} = {row.effect:.2f}.")
    return text + (f" Warning: {row.warning}." if row.warning else "")


def _safe(name):
    return re.sub(r"\W", "_", name)


def two_way_anova(runs, metric, factor_a, factor_b, block_by_seed=True):
    """Type II ANOVA of metric ~ a * b, with the seed as a block when every seed ran in every cell
    (cells of one seed share data order and initial weights, so the seed is a source of variance of
    its own): a frame with one row per term (a, b, a × b, [seed,] Residual) and a warning when a
    cell has fewer than two runs."""
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    a, b = _safe(factor_a), _safe(factor_b)
    data = runs[[metric, factor_a, factor_b, "seed"]].dropna()
    data.columns = ["y", a, b, "seed"]
    cells = data.groupby([a, b])
    blocked = block_by_seed and data["seed"].nunique() > 1 and all(
        set(g["seed"]) == set(data["seed"]) for _, g in cells)
    model = ols(f"y ~ C({a}) * C({b})" + (" + C(seed)" if blocked else ""), data=data).fit()
    table = anova_lm(model, typ=2)
    terms = {f"C({a})": factor_a, f"C({b})": factor_b, f"C({a}):C({b})": f"{factor_a} × {factor_b}",
             "C(seed)": "seed (block)"}
    table.index = [terms.get(t, t) for t in table.index]
    warning = "" if cells.size().min() >= 2 else "a cell has a single run: no residual to test against"
    return table.rename(columns={"PR(>F)": "p"}), warning


def anova_sentences(table, metric):
    label = LABELS.get(metric, metric)
    lines = []
    for term, row in table.iterrows():
        if term != "Residual" and not np.isnan(row["F"]):
            lines.append(f"{label}: {term}: F({row['df']:.0f}, {table.loc['Residual', 'df']:.0f}) = {row['F']:.2f}, "
                         f"{_p(row['p'])}.")
    return lines
