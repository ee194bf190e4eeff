"""A study's report from its records: tables (Markdown, CSV), statistics, plots (PNG) and one
self-contained report.html.

usage: scripts/report STUDY.toml | RECORDS_DIR [--out DIR] [--reference CONDITION] [--heat-maps RUN ...]
"""
import argparse
import dataclasses
import os
import sys

import pandas as pd

from . import html_page, plots, statistics, tables
from .metrics import BARS, FORMATS, LABELS, TESTED
from .records import load, study_output_dir
MAX_HEAT_MAPS = 6


def _default_out(source):
    if isinstance(source, (list, tuple)):
        return "report"
    if os.path.isdir(source):
        return os.path.join(source, "report")
    return os.path.join(study_output_dir(source)[1], "report")


def _factors(study):
    """The varied keys other than the seed that take more than one value."""
    return [k for k in study.varied if k != "seed" and k in study.runs and study.runs[k].nunique() > 1]


def _state_warning(runs):
    unfinished = runs[runs["state"] != "complete"]
    if unfinished.empty:
        return ""
    states = ", ".join(f"{n} {s}" for s, n in unfinished["state"].value_counts().items())
    return (f"{len(unfinished)} of {len(runs)} runs are not complete ({states}): they have no final metrics, "
            "their curves show what they have.")


@dataclasses.dataclass
class Report:
    """What a report says, computed from the records; `write` turns it into files."""
    source: object
    study: object
    heat_map_runs: list
    summary: pd.DataFrame
    display: pd.DataFrame
    research: pd.DataFrame
    seeds: dict            # metric -> per-seed frame
    comparisons: pd.DataFrame
    sentences: list
    anova: pd.DataFrame    # empty unless the grid has two factors
    anova_lines: list
    anova_parts: list      # ("text" | "table", content) for the page
    reference_name: str
    warning: str


def compute(source, reference=None, heat_map_runs=None):
    """Reads the records and computes every table and statistic of the report; writes nothing."""
    study = load(source)
    if study.runs.empty:
        raise SystemExit(f"{source}: no run records found" + "".join(f"\n  left out {p}: {why}"
                                                                     for p, why in study.left_out))
    unknown = sorted(set(heat_map_runs or []) - set(study.runs["run"]))
    if unknown:
        raise ValueError(f"--heat-maps: no run named {', '.join(unknown)}; the runs are "
                         + ", ".join(study.runs["run"]))
    runs = study.runs
    summary = tables.condition_summary(runs)
    seeds = {m: tables.per_seed(runs, m) for m in ("best_val_ppl", "expert_cv")} if "seed" in runs else {}
    comparisons = [statistics.compare(runs, m, reference, FORMATS[m]) for m in TESTED]
    comparisons = pd.concat([c for c in comparisons if not c.empty] or [pd.DataFrame()], ignore_index=True)
    sentences = list(comparisons["sentence"]) if not comparisons.empty else ["One condition: nothing to compare."]
    anova_frames, anova_parts, anova_lines = [], [], []
    factors = _factors(study)
    if len(factors) == 2:
        for metric in BARS:
            table, warning = statistics.two_way_anova(runs, metric, *factors)
            anova_lines += statistics.anova_sentences(table, metric) + ([warning] if warning else [])
            anova_frames.append(table.reset_index(names="term").assign(metric=metric))
            blocked = "seed (block)" in table.index
            anova_parts += [("text", f"{LABELS[metric]} ~ {factors[0]} × {factors[1]}"
                                     + (" + seed as a block" if blocked else "") + " (type II sums of squares)"),
                            ("table", tables.format_frame(anova_frames[-1]))]
    return Report(source, study, heat_map_runs, summary, tables.summary_display(summary),
                  tables.research_csv(runs, study.varied), seeds, comparisons, sentences,
                  pd.concat(anova_frames) if anova_frames else pd.DataFrame(), anova_lines, anova_parts,
                  statistics.reference_condition(runs, reference), _state_warning(runs))


def write(report, out):
    """Writes the report's files into out (CSV tables, PNG plots, report.md, report.html) and
    returns the page's path and the Markdown text."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} is a file; the report needs a directory")
    os.makedirs(out, exist_ok=True)
    path = (lambda name: os.path.join(out, name))
    study, runs, r = report.study, report.study.runs, report
    r.summary.to_csv(path("summary.csv"), index=False)
    r.research.to_csv(path("runs.csv"), index=False)
    for metric, frame in r.seeds.items():
        frame.to_csv(path(f"per_seed_{metric}.csv"), index=False)
    r.comparisons.to_csv(path("statistics.csv"), index=False)
    if not r.anova.empty:
        r.anova.to_csv(path("anova.csv"), index=False)

    figures = [plots.save(plots.loss_curves(study), path("loss_curves.png")),
               plots.save(plots.schedules(study), path("schedules.png"))]
    if not study.router_layers.empty:
        figures.append(plots.save(plots.routing_over_steps(study), path("routing.png")))
        figures.append(plots.save(plots.balance_over_steps(study), path("balance.png")))
    if "routing_change" in study.evals and study.evals["routing_change"].notna().any():
        figures.append(plots.save(plots.routing_change(study), path("routing_change.png")))
    if not study.coactivation.empty:
        figures.append(plots.save(plots.coactivation_heat_maps(study), path("coactivation.png"), legend=False,
                                  tight=False))
    figures.append(plots.save(plots.condition_bars(study, r.summary, BARS), path("conditions.png"), legend=False))
    if not study.router.empty:
        chosen = r.heat_map_runs or list(runs.groupby("condition", sort=False)["run"].first())[:MAX_HEAT_MAPS]
        figures += [plots.save(plots.load_heat_map(study, run), path(f"load_{i}.png"), legend=False, tight=False)
                    for i, run in enumerate(chosen)]

    seed_tables = {m: tables.format_frame(f, dict.fromkeys(f.columns, FORMATS[m])) for m, f in r.seeds.items()}
    markdown = [f"# {study.name}", "", tables.markdown(r.display), ""]
    for metric, frame in seed_tables.items():
        markdown += [f"## {LABELS[metric]} per seed", "", tables.markdown(frame), ""]
    markdown += [f"## Against {r.reference_name}", ""] + [f"- {s}" for s in r.sentences] + [""]
    if r.anova_lines:
        markdown += ["## Two-way ANOVA", ""] + [f"- {s}" for s in r.anova_lines] + [""]
    if r.warning:
        markdown += [f"Note: {r.warning}", ""]
    left_out = [f"{os.path.basename(p)}: {why}" for p, why in study.left_out]
    if left_out:
        markdown += ["## Left out", ""] + [f"- {line}" for line in left_out] + [""]
    with open(path("report.md"), "w") as f:
        f.write("\n".join(markdown))

    deck_text = ""
    if isinstance(r.source, str) and r.source.endswith(".toml"):
        with open(r.source) as f:
            deck_text = f.read()
    sections = [("Conditions (mean ± std over seeds)",
                 ([("warning", r.warning)] if r.warning else []) + [("table", r.display)])]
    sections += [(f"{LABELS[m]} per seed", [("table", frame)]) for m, frame in seed_tables.items()]
    sections.append((f"Statistics against {r.reference_name}",
                     [("text", s) for s in r.sentences]
                     + [("text", "Tests are paired by seed where two or more seeds pair up (same data order and "
                                 "initial weights), else Welch; Holm's adjustment runs over each metric's "
                                 "comparisons.")]))
    if r.anova_parts:
        sections.append(("Two-way ANOVA", [("text", s) for s in r.anova_lines] + r.anova_parts))
    if left_out:
        sections.append(("Records left out", [("text", line) for line in left_out]))
    sections.append(("Plots", [("image", f) for f in figures]))
    sections.append(("Runs", [("table", tables.format_frame(r.research))]))
    if deck_text:
        sections.append(("Study deck", [("pre", deck_text)]))
    page = path("report.html")
    with open(page + ".tmp", "w") as f:
        f.write(html_page.page(f"kmoe study report: {study.name}", sections))
    os.replace(page + ".tmp", page)
    return page, "\n".join(markdown)


def build(source, out=None, reference=None, heat_map_runs=None):
    """compute, then write into out (default: <study output_dir>/report); returns the page's path
    and the Markdown text."""
    return write(compute(source, reference, heat_map_runs), out or _default_out(source))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/report", description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a study deck (.toml) or a directory of run records")
    parser.add_argument("--out", help="report directory (default: the study's output_dir/report)")
    parser.add_argument("--reference", help="condition to compare against: its name or key=value pairs "
                                            "(default: the first condition)")
    parser.add_argument("--heat-maps", nargs="+", metavar="RUN", help="runs to draw load heat maps of "
                                                                     "(default: each condition's first run)")
    args = parser.parse_args(argv)
    try:
        page, text = build(args.source, args.out, args.reference, args.heat_maps)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"report: {error}")
    print(text)
    print(f"report: {page}")


if __name__ == "__main__":
    main()
