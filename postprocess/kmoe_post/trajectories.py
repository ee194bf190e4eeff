"""Comparisons along the training: validation loss at matched evaluation steps against the
reference condition, paired by seed, and the steps, tokens and seconds each run took to reach a
target validation loss."""
import numpy as np
import pandas as pd
from scipy import stats

from .effects import CONFIDENCE
from .tables import conditions


def paired_differences(study, reference, column="val_loss"):
    """Per run of another condition and evaluation step: its value minus the reference run's of the
    same seed at the same step (runs without a partner of the same seed are left out)."""
    evals = study.evals.merge(study.runs[["run", "condition", "seed"]], on="run")
    if column not in evals:
        return pd.DataFrame(columns=["run", "condition", "seed", "step", "diff"])
    base = evals[evals["condition"] == reference][["seed", "step", column]]
    others = evals[evals["condition"] != reference]
    paired = others.merge(base, on=["seed", "step"], suffixes=("", "_reference"))
    paired["diff"] = paired[column] - paired[column + "_reference"]
    return paired[["run", "condition", "seed", "step", column, column + "_reference", "diff"]].dropna(subset=["diff"])


def mean_with_ci(values):
    """Mean, 95 % CI (t over the pairs; none for one pair) and n of paired differences."""
    values = np.asarray(values, float)
    n, mean = len(values), float(np.mean(values))
    if n < 2:
        return mean, np.nan, np.nan, n
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * np.std(values, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half, n


def matched_steps(study, reference, column="val_loss"):
    """One row per condition and evaluation step: the condition's mean, its mean difference from the
    reference paired by seed, the difference's 95 % CI and the number of pairs."""
    evals = study.evals.merge(study.runs[["run", "condition"]], on="run")
    paired = paired_differences(study, reference, column)
    rows = []
    for condition in conditions(study.runs):
        mine = evals[evals["condition"] == condition]
        for step, group in mine.groupby("step"):
            row = {"condition": condition, "step": int(step), column: group[column].mean()}
            diffs = paired[(paired["condition"] == condition) & (paired["step"] == step)]["diff"]
            if condition != reference and len(diffs):
                row["diff"], row["ci_low"], row["ci_high"], row["pairs"] = mean_with_ci(diffs)
            rows.append(row)
    frame = pd.DataFrame(rows)
    for name in ("diff", "ci_low", "ci_high", "pairs"):
        if name not in frame:
            frame[name] = np.nan
    return frame


def matched_steps_display(frame, fmt=".3f"):
    """Condition × evaluation step: "value (diff [low, high])" cells, the reference's bare."""
    table = {}
    for row in frame.itertuples():
        cell = f"{row.val_loss:{fmt}}"
        if np.isfinite(row.diff):
            cell += f" ({row.diff:+{fmt}}"
            cell += f" [{row.ci_low:+{fmt}}, {row.ci_high:+{fmt}}])" if np.isfinite(row.ci_low) else ")"
        table.setdefault(row.condition, {})[f"step {row.step}"] = cell
    out = pd.DataFrame.from_dict(table, orient="index").fillna("–")
    return out.reset_index(names="condition")


def default_target(study, reference):
    """The reference condition's mean final validation loss (its runs' last evaluation)."""
    evals = study.evals.merge(study.runs[["run", "condition"]], on="run")
    last = evals[evals["condition"] == reference].sort_values("step").groupby("run").last()
    return float(last["val_loss"].mean()) if len(last) else np.nan


def time_to_target(study, target):
    """Per run: the first evaluation step whose validation loss is at most `target`, the tokens
    trained by then and the wall-clock seconds (training steps plus the evaluations so far); NaN
    where the run never reached it."""
    rows = []
    for run in study.runs.itertuples():
        evals = study.evals[study.evals["run"] == run.run].sort_values("step")
        steps = study.trajectory[study.trajectory["run"] == run.run].sort_values("step")
        reached = evals[evals["val_loss"] <= target]
        row = {"run": run.run, "condition": run.condition, "seed": getattr(run, "seed", np.nan),
               "step": np.nan, "tokens": np.nan, "seconds": np.nan}
        if len(reached):
            step = int(reached["step"].iloc[0])
            upto = steps[steps["step"] <= step]
            row["step"] = step
            if "tokens" in upto and len(upto):
                row["tokens"] = float(upto["tokens"].iloc[-1])
            train = upto["ms_per_step"].sum() / 1e3 if "ms_per_step" in upto else np.nan
            evaluation = evals[evals["step"] <= step]["seconds"].sum() if "seconds" in evals else 0.0
            row["seconds"] = train + evaluation
        rows.append(row)
    return pd.DataFrame(rows)


def time_to_target_summary(per_run, study):
    """Per condition: how many runs reached the target, and the median step, tokens and seconds of
    those that did (NaN when none did)."""
    rows = []
    for condition in conditions(study.runs):
        group = per_run[per_run["condition"] == condition]
        reached = group.dropna(subset=["step"])
        row = {"condition": condition, "reached": f"{len(reached)} of {len(group)}"}
        for column in ("step", "tokens", "seconds"):
            values = reached[column].dropna()
            row["median " + column] = values.median() if len(values) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def time_to_target_display(summary):
    """The summary as text, "not reached" for a condition none of whose runs did."""
    out = summary[["condition", "reached"]].copy()
    for column, fmt in (("median step", ".0f"), ("median tokens", ".0f"), ("median seconds", ".1f")):
        out[column] = ["not reached" if np.isnan(v) else f"{v:{fmt}}" for v in summary[column]]
    return out
