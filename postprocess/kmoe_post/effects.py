"""What a study found, factor by factor, and how precisely. The model is metric ~ factors with all
their interactions + seed (a block: cells of one seed share data order and initial weights)
fitted by least squares; a factor's main effect is the difference of its estimated marginal means
(each level averaged over the other factors' levels and the seeds), a simple effect the same at one
level of another factor. Each comes with its 95 % CI, the CI's half-width, the smallest difference
the study detects at 80 % power, and the seeds per condition needed to detect a given difference.

A study whose varied keys do not form a complete grid (a list of conditions, or a cell without a
value) is analysed with its condition as the one factor."""
import dataclasses
import itertools
import re

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
POWER = 0.80
MAX_SEEDS = 1000


@dataclasses.dataclass
class Effect:
    metric: str
    factor: str
    level: object
    reference_level: object
    at: str          # "" for a main effect, else "factor=level" of the simple effect
    diff: float      # level − reference level
    se: float
    df: float
    ci_low: float
    ci_high: float
    p: float
    half_width: float
    detectable: float  # the smallest difference detected with probability POWER at this precision
    seeds: int         # seeds per condition behind the estimate


def _safe(name):
    return "f_" + re.sub(r"\W", "_", str(name))


def factors_of(runs, varied):
    """The varied keys other than the seed that take more than one value, if every combination of
    their values has a run; else ["condition"]."""
    keys = [k for k in varied if k != "seed" and k in runs and runs[k].nunique() > 1]
    if not keys:
        return ["condition"] if runs["condition"].nunique() > 1 else []
    combos = runs[keys].astype(str).drop_duplicates()
    full = int(np.prod([runs[k].nunique() for k in keys]))
    return keys if len(combos) == full else ["condition"]


def seeds_detectable(se, seeds, df_of, min_effect):
    """The fewest seeds per condition (≥ 2) at which a difference of min_effect is detected with
    probability POWER: (t_crit(df) + t_power(df)) · se(n) ≤ min_effect, se(n) = se · √(seeds / n)."""
    for n in range(2, MAX_SEEDS + 1):
        df = df_of(n)
        if df < 1:
            continue
        if _detectable(se * np.sqrt(seeds / n), df) <= min_effect:
            return n
    return None


def _detectable(se, df):
    return (stats.t.ppf(0.5 + CONFIDENCE / 2, df) + stats.t.ppf(POWER, df)) * se


class FactorialModel:
    """metric ~ factors (all interactions) [+ seed] fitted to the runs with a value."""

    def __init__(self, runs, metric, factors):
        from statsmodels.formula.api import ols

        self.metric, self.factors = metric, list(factors)
        columns = {f: _safe(f) for f in self.factors}
        data = runs[self.factors + ["seed", metric]].dropna(subset=[metric]).copy()
        data = data.rename(columns={**columns, metric: "y"})
        for f in columns.values():
            data[f] = data[f].astype(str)
        self.levels = {f: list(dict.fromkeys(runs[f].dropna())) for f in self.factors}
        self.data, self.columns = data, columns
        self.seeds = sorted(data["seed"].dropna().unique())
        self.blocked = len(self.seeds) > 1
        terms = " * ".join(f"C({c})" for c in columns.values())
        self.model = ols(f"y ~ {terms}" + (" + C(seed)" if self.blocked else ""), data=data).fit()
        self.cells = int(np.prod([len(v) for v in self.levels.values()]))
        self.seeds_per_cell = int(data.groupby(list(columns.values())).size().min())

    @property
    def df(self):
        return float(self.model.df_resid)

    def df_with(self, seeds):
        """Residual degrees of freedom of a balanced study with `seeds` seeds per cell (seeds as blocks)."""
        return (self.cells - 1) * (seeds - 1)

    def _rows(self, fixed):
        """The design matrix's mean row over the grid's cells matching `fixed` (factor -> level) and
        over the seeds: an estimated marginal mean as a linear combination of the coefficients."""
        from patsy import build_design_matrices

        free = [f for f in self.factors if f not in fixed]
        grid = []
        for combo in itertools.product(*(self.levels[f] for f in free)):
            cell = {**fixed, **dict(zip(free, combo))}
            for seed in (self.seeds if self.blocked else [self.seeds[0] if self.seeds else 0]):
                grid.append({**{self.columns[f]: str(v) for f, v in cell.items()}, "seed": seed})
        design = build_design_matrices([self.model.model.data.design_info], pd.DataFrame(grid))[0]
        return np.asarray(design).mean(axis=0)

    def contrast(self, factor, level, reference_level, at=None):
        """The difference of the estimated marginal means level − reference_level of `factor`
        (averaged over the other factors, or at `at` = {factor: level})."""
        at = at or {}
        vector = self._rows({**at, factor: level}) - self._rows({**at, factor: reference_level})
        test = self.model.t_test(vector)
        diff, se = float(np.squeeze(test.effect)), float(np.squeeze(test.sd))
        df = self.df
        if df < 1 or not np.isfinite(se) or se == 0:
            nan = float("nan")
            return Effect(self.metric, factor, level, reference_level, _at_text(at), diff, nan, df, nan, nan, nan,
                          nan, nan, self.seeds_per_cell)
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, df) * se
        p = 2 * stats.t.sf(abs(diff / se), df)
        return Effect(self.metric, factor, level, reference_level, _at_text(at), diff, se, df, diff - half,
                      diff + half, p, half, _detectable(se, df), self.seeds_per_cell)

    def interaction_p(self, a, b):
        """The p-value of the a × b interaction (type II sums of squares); NaN without residual."""
        from statsmodels.stats.anova import anova_lm

        if self.df < 1:
            return float("nan")
        table = anova_lm(self.model, typ=2)
        names = {f"C({self.columns[a]}):C({self.columns[b]})", f"C({self.columns[b]}):C({self.columns[a]})"}
        rows = [t for t in table.index if t in names]
        return float(table.loc[rows[0], "PR(>F)"]) if rows else float("nan")


def _at_text(at):
    return ", ".join(f"{k}={v}" for k, v in at.items())


def reference_levels(runs, factors, reference_condition):
    """Each factor's level in the reference condition (for "condition": the condition itself)."""
    row = runs[runs["condition"] == reference_condition].iloc[0]
    return {f: row[f] for f in factors}


def factorial_effects(runs, metric, factors, reference_condition):
    """Every factor's main effects (each level against the reference's) and simple effects at each
    level of each other factor, as a frame, and the fitted model."""
    model = FactorialModel(runs, metric, factors)
    reference = reference_levels(runs, factors, reference_condition)
    rows = []
    for factor in factors:
        for level in model.levels[factor]:
            if level == reference[factor]:
                continue
            rows.append(model.contrast(factor, level, reference[factor]))
            for other in factors:
                if other == factor:
                    continue
                for other_level in model.levels[other]:
                    rows.append(model.contrast(factor, level, reference[factor], {other: other_level}))
    frame = pd.DataFrame([dataclasses.asdict(r) for r in rows])
    if not frame.empty:
        frame["interaction_p"] = [model.interaction_p(r.factor, r.at.split("=")[0]) if r.at else np.nan
                                  for r in frame.itertuples()]
    return frame, model


def _signed(value, fmt):
    return f"{value:+{fmt}}"


def _p(value):
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def effect_sentences(frame, factors, label, fmt):
    """One sentence per (factor, level): the main effect with its CI, then its simple effects and
    the interaction's p for each other factor."""
    lines = []
    if frame.empty:
        return lines
    main = frame[frame["at"] == ""]
    for row in main.itertuples():
        name = "" if row.factor == "condition" else f"{row.factor} "
        text = f"{name}{row.level} vs {row.reference_level}: {_signed(row.diff, fmt)} {label}"
        if np.isfinite(row.half_width):
            text += f" [95 % CI {row.ci_low:{fmt}}, {row.ci_high:{fmt}}]"
        else:
            text += " (one run per cell: no error estimate)"
        others = [f for f in factors if f != row.factor]
        if others:
            text += " averaged over " + " and ".join(others)
        for other in others:
            simple = frame[(frame["factor"] == row.factor) & (frame["level"] == row.level)
                           & frame["at"].str.startswith(other + "=")]
            parts = [f"{_signed(s.diff, fmt)} at {s.at.replace('=', ' ', 1)}" for s in simple.itertuples()]
            p = simple["interaction_p"].iloc[0] if len(simple) else np.nan
            text += "; " + ", ".join(parts) + (f" (interaction {_p(p)})" if np.isfinite(p) else "")
        lines.append(text + ".")
    return lines


def precision_sentences(frame, model, label, fmt, min_effect=None):
    """One sentence per factor: the widest CI half-width of its main effects, the smallest
    difference the study detects at 80 % power, and (given min_effect) the seeds per condition
    needed to detect it."""
    lines = []
    main = frame[frame["at"] == ""] if not frame.empty else frame
    for factor in dict.fromkeys(main["factor"]) if not main.empty else []:
        rows = main[main["factor"] == factor]
        worst = rows.loc[rows["se"].idxmax()] if rows["se"].notna().any() else rows.iloc[0]
        seeds = int(worst["seeds"])
        if not np.isfinite(worst["se"]):
            lines.append(f"{factor}: one run per cell leaves no error estimate; add seeds.")
            continue
        text = (f"{'Conditions' if factor == 'condition' else factor}: with {seeds} seed{'s' if seeds != 1 else ''} per condition its effects on {label} are "
                f"known to ±{worst['half_width']:{fmt}} (95 % CI half-width); differences of "
                f"{worst['detectable']:{fmt}} or more are detected with 80 % power")
        if min_effect is not None:
            needed = seeds_detectable(worst["se"], seeds, model.df_with, min_effect)
            text += (f"; detecting {min_effect:{fmt}} needs "
                     + (f"{needed} seeds per condition" if needed else f"more than {MAX_SEEDS} seeds per condition"))
        lines.append(text + ".")
    return lines


def with_precision(comparisons, metric, min_effect=None):
    """The pairwise comparisons (statistics.compare) with each one's CI half-width, the difference
    it detects at 80 % power and, for `metric` given min_effect, the seeds per condition needed to
    detect min_effect (a paired test's n − 1 degrees of freedom, Welch's about 2n − 2)."""
    out = comparisons.copy()
    if out.empty:
        return out
    t = stats.t.ppf(0.5 + CONFIDENCE / 2, out["df"])
    se = (out["ci_high"] - out["diff"]) / t
    out["half_width"] = out["ci_high"] - out["diff"]
    out["detectable"] = (t + stats.t.ppf(POWER, out["df"])) * se
    if min_effect is not None:
        needed = []
        for row, error in zip(out.itertuples(), se):
            paired = row.test == "paired by seed"
            seeds = row.n_pairs if paired else min(row.n, row.n_reference)
            usable = row.metric == metric and np.isfinite(error) and error > 0
            needed.append(seeds_detectable(error, seeds, (lambda n: n - 1) if paired else (lambda n: 2 * n - 2),
                                           min_effect) if usable else np.nan)
        out["seeds_needed"] = needed
    return out
