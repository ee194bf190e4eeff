"""The report's tables: per condition mean ± std and n, per seed, and one row per run with the
research's CSV columns."""
import numpy as np
import pandas as pd

from .metrics import FORMATS, LABELS, METRICS

# The research's results CSV, its names on the left, kmoe's run columns on the right
RESEARCH_COLUMNS = (
    ("seed", "seed"), ("noise_std", "moe.noise_std"), ("load_balancing_weight", "moe.load_balancing_weight"),
    ("val_loss", "val_loss"), ("val_accuracy", "val_accuracy"), ("val_perplexity", "val_ppl"),
    ("training_time_minutes", "training_time_minutes"), ("peak_memory_gb", "peak_memory_gb"),
    ("best_val_perplexity", "best_val_ppl"), ("expert_usage_cv", "expert_cv"),
)
EXTRA_COLUMNS = (("test_perplexity", "test_ppl"), ("router_entropy", "router_entropy"),
                 ("max_load_frac", "max_load_frac"), ("dropped_tokens", "dropped_tokens"),
                 ("unrouted_tokens", "unrouted_tokens"),
                 ("tokens_per_s", "tokens_per_s"))


def conditions(runs):
    """The study's conditions in the order their first run appears (the manifest's order)."""
    return list(dict.fromkeys(runs["condition"]))


def _states(group):
    counts = group["state"].value_counts()
    return ", ".join(f"{n} {state}" for state, n in counts.items())


def condition_summary(runs):
    """One row per condition: mean, std and n of every metric (n counts the runs with a value),
    and the states of its runs."""
    rows = []
    for condition in conditions(runs):
        group = runs[runs["condition"] == condition]
        row = {"condition": condition, "runs": _states(group)}
        for column in (m.column for m in METRICS):
            values = group[column].dropna() if column in group else pd.Series(dtype=float)
            row[column + "_mean"] = values.mean() if len(values) else np.nan
            row[column + "_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
            row[column + "_n"] = len(values)
        rows.append(row)
    return pd.DataFrame(rows)


def _mean_std(mean, std, fmt):
    if np.isnan(mean):
        return "–"
    return f"{mean:{fmt}}" if np.isnan(std) else f"{mean:{fmt}} ± {std:{fmt}}"


def summary_display(summary, columns=None):
    """The summary as text cells, "mean ± std", with n of the first metric."""
    columns = columns or [m.column for m in METRICS]
    out = pd.DataFrame({"condition": summary["condition"], "n": summary[columns[0] + "_n"]})
    for column in columns:
        out[LABELS[column]] = [_mean_std(m, s, FORMATS[column])
                               for m, s in zip(summary[column + "_mean"], summary[column + "_std"])]
    if any(not r.endswith(" complete") or "," in r for r in summary["runs"]):
        out["runs"] = summary["runs"]
    return out


def per_seed(runs, column):
    """Condition × seed of one metric, with the condition's mean."""
    table = runs.pivot_table(index="condition", columns="seed", values=column, aggfunc="first", sort=False)
    table = table.reindex(conditions(runs))
    table.columns = [f"seed {s}" for s in table.columns]
    table["mean"] = table.mean(axis=1)
    return table.reset_index()


def research_csv(runs, varied):
    """One row per run: the research's columns first, then kmoe's extra metrics and the study's
    varied values (missing deck keys, e.g. noise for a dense run, are left empty)."""
    out = pd.DataFrame({"run": runs["run"], "condition": runs["condition"], "state": runs["state"]})
    for name, column in RESEARCH_COLUMNS + EXTRA_COLUMNS:
        out[name] = runs[column] if column in runs else np.nan
    for column in varied:  # a varied key whose every run was left out has no column
        if column not in out:
            out[column] = runs[column] if column in runs else np.nan
    return out


def format_frame(frame, formats=None):
    """Numbers as the tables print them: a column's format from METRICS, else 4 significant digits."""
    formats = formats or {}
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            fmt = formats.get(column, ".4g")
            out[column] = ["–" if np.isnan(v) else f"{v:{fmt}}" for v in out[column]]
    return out


def markdown(frame):
    """A GitHub-flavoured Markdown table of the frame's text."""
    text = frame.astype(str)
    header = "| " + " | ".join(map(str, text.columns)) + " |"
    rule = "|" + "|".join("---" for _ in text.columns) + "|"
    body = ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in text.itertuples(index=False)]
    return "\n".join([header, rule] + body)
