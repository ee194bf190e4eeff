"""A study's report from its records: what it found (factorial effects with their precision),
tables (Markdown, CSV), statistics, plots (PNG) and one self-contained report.html.

usage: scripts/report STUDY.toml | RECORDS_DIR [--out DIR] [--reference CONDITION] [--min-effect D]
                      [--target-loss L] [--heat-maps RUN ...] [--watch SECONDS]
"""
import argparse
import dataclasses
import os
import sys
import time

import numpy as np
import pandas as pd

from . import effects, html_page, plots, statistics, tables, trajectories
from .metrics import BARS, FORMATS, LABELS, TESTED
from .records import load, study_output_dir, study_running, unfinished_cells
MAX_HEAT_MAPS = 6
PRIMARY = "best_val_ppl"  # --min-effect is in its units


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
    factors: list
    effects: pd.DataFrame      # every metric's main and simple effects
    effect_lines: list
    precision_lines: list
    matched: pd.DataFrame      # validation loss per condition and evaluation step, paired differences
    target_loss: float
    time_to_target: pd.DataFrame  # per run
    time_to_target_summary: pd.DataFrame


def _effects(runs, factors, reference_name, min_effect):
    """Main and simple effects of every BARS metric with a value in every run's condition, their
    sentences and the precision sentences."""
    frames, effect_lines, precision_lines = [], [], []
    if not factors:
        return pd.DataFrame(), ["One condition: nothing to compare."], []
    for metric in BARS:
        if metric not in runs or runs.groupby("condition")[metric].count().min() == 0:
            continue
        frame, model = effects.factorial_effects(runs, metric, factors, reference_name)
        if metric == PRIMARY and min_effect is not None and not frame.empty:
            frame["seeds_needed"] = [effects.seeds_detectable(r.se, r.seeds, model.df_with, min_effect)
                                     if np.isfinite(r.se) else np.nan for r in frame.itertuples()]
        frames.append(frame)
        effect_lines += effects.effect_sentences(frame, factors, LABELS[metric], FORMATS[metric])
        precision_lines += effects.precision_sentences(frame, model, LABELS[metric], FORMATS[metric],
                                                       min_effect if metric == PRIMARY else None)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(), effect_lines, precision_lines


def compute(source, reference=None, heat_map_runs=None, min_effect=None, target_loss=None):
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
    comparisons = effects.with_precision(comparisons, PRIMARY, min_effect)
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
    reference_name = statistics.reference_condition(runs, reference)
    factors = effects.factors_of(runs, study.varied)
    effect_frame, effect_lines, precision_lines = _effects(runs, factors, reference_name, min_effect)
    matched = trajectories.matched_steps(study, reference_name) if not study.evals.empty else pd.DataFrame()
    target = trajectories.default_target(study, reference_name) if target_loss is None else target_loss
    per_run = trajectories.time_to_target(study, target)
    return Report(source, study, heat_map_runs, summary, tables.summary_display(summary),
                  tables.research_csv(runs, study.varied), seeds, comparisons, sentences,
                  pd.concat(anova_frames) if anova_frames else pd.DataFrame(), anova_lines, anova_parts,
                  reference_name, _state_warning(runs), factors, effect_frame, effect_lines, precision_lines,
                  matched, target, per_run, trajectories.time_to_target_summary(per_run, study))


def _found_text(r):
    """The page's opening: what was compared, the effects, their precision."""
    design = (f"Factors: {' × '.join(r.factors)}" if r.factors != ["condition"] else "Conditions (not a full grid)")
    seeds = r.study.runs["seed"].nunique() if "seed" in r.study.runs else 1
    intro = (f"{design}; reference {r.reference_name}; {seeds} seed{'s' if seeds != 1 else ''}. Effects are "
             "differences of estimated marginal means from the model metric ~ factors (with interactions) + "
             "seed as a block, with 95 % confidence intervals.")
    return [intro] + r.effect_lines + r.precision_lines


def _time_to_target_title(r):
    return f"Time to validation loss {r.target_loss:.4f}" if np.isfinite(r.target_loss) else "Time to target"


def write(report, out, refresh=None):
    """Writes the report's files into out (CSV tables, PNG plots, report.md, report.html; the page
    reloading itself every `refresh` seconds when given) and returns the page's path and the
    Markdown text."""
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
    r.effects.to_csv(path("effects.csv"), index=False)
    r.matched.to_csv(path("matched_steps.csv"), index=False)
    r.time_to_target.to_csv(path("time_to_target.csv"), index=False)
    difference = None
    if r.factors and not r.matched.empty and r.matched["diff"].notna().any():
        difference = plots.save(plots.difference_curves(study, r.reference_name), path("differences.png"))

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
    matched = trajectories.matched_steps_display(r.matched) if not r.matched.empty else pd.DataFrame()
    reached = trajectories.time_to_target_display(r.time_to_target_summary)
    markdown = [f"# {study.name}", "", "## What the study found", ""] + [f"- {s}" for s in _found_text(r)] + [""]
    markdown += ["## Conditions", "", tables.markdown(r.display), ""]
    if not matched.empty:
        markdown += [f"## Validation loss at matched steps (difference from {r.reference_name}, paired by seed)", "",
                     tables.markdown(matched), ""]
    markdown += [f"## {_time_to_target_title(r)}", "", tables.markdown(reached), ""]
    for metric, frame in seed_tables.items():
        markdown += [f"## {LABELS[metric]} per seed", "", tables.markdown(frame), ""]
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
    running = runs[runs["state"] == "running"]
    live = [("warning", "Running: " + ", ".join(f"{row.run} (step {row.steps})" for row in running.itertuples()))
            ] if len(running) else []
    sections = [("What the study found", live + ([("warning", r.warning)] if r.warning else [])
                 + [("text", s) for s in _found_text(r)] + ([("image", difference)] if difference else []))]
    sections.append(("Conditions (mean ± std over seeds)", [("table", r.display)]))
    if not matched.empty:
        sections.append((f"Validation loss at matched steps (difference from {r.reference_name}, paired by seed, "
                         "95 % CI)", [("table", matched)]))
    sections.append((_time_to_target_title(r),
                     [("text", "Steps, tokens and wall-clock seconds (training and evaluation) until a run's "
                               "validation loss first reached the target; medians over the runs that did. "
                               "Default target: the reference's mean final validation loss (--target-loss).")]
                     + [("table", reached)]))
    sections += [(f"{LABELS[m]} per seed", [("table", frame)]) for m, frame in seed_tables.items()]
    sections.append(("Pairwise tests", [("text", "Every condition against the reference, paired by seed (else "
                                                 "Welch), Holm-adjusted per metric: statistics.csv.")]))
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
        f.write(html_page.page(f"kmoe study report: {study.name}", sections, refresh))
    os.replace(page + ".tmp", page)
    return page, "\n".join(markdown)


def build(source, out=None, reference=None, heat_map_runs=None, min_effect=None, target_loss=None, refresh=None):
    """compute, then write into out (default: <study output_dir>/report); returns the page's path
    and the Markdown text."""
    return write(compute(source, reference, heat_map_runs, min_effect, target_loss), out or _default_out(source),
                 refresh)


def watch(args):
    """Rewrites the report every args.watch seconds, the page reloading itself as often, while the
    study has cells to finish or its runner is at work (between stages, or adding seeds); then once
    more without reloading. Returns the page's path."""
    options = (args.source, args.out, args.reference, args.heat_maps, args.min_effect, args.target_loss)
    while unfinished_cells(args.source) or study_running(args.source):
        try:
            page, _ = build(*options, refresh=args.watch)
            print(f"report: {page} ({time.strftime('%H:%M:%S')})", flush=True)
        except SystemExit as nothing_yet:  # no record yet
            print(nothing_yet, flush=True)
        time.sleep(args.watch)
    return build(*options)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/report", description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a study deck (.toml) or a directory of run records")
    parser.add_argument("--out", help="report directory (default: the study's output_dir/report)")
    parser.add_argument("--reference", help="condition to compare against: its name or key=value pairs "
                                            "(default: the first condition)")
    parser.add_argument("--heat-maps", nargs="+", metavar="RUN", help="runs to draw load heat maps of "
                                                                     "(default: each condition's first run)")
    parser.add_argument("--min-effect", type=float, metavar="D",
                        help=f"a difference in {LABELS[PRIMARY]} worth detecting: the report says how many seeds "
                             "per condition detect it with 80 %% power")
    parser.add_argument("--target-loss", type=float, metavar="L",
                        help="validation loss for the time-to-target table (default: the reference's final)")
    parser.add_argument("--watch", type=float, metavar="SECONDS",
                        help="rewrite the report every SECONDS while the study runs (the page reloads itself); "
                             "ends when no cell is pending or running, or on Ctrl-C")
    args = parser.parse_args(argv)
    try:
        if args.watch:
            try:
                page = watch(args)
            except KeyboardInterrupt:
                return
            print(f"report: {page}")
            return
        page, text = build(args.source, args.out, args.reference, args.heat_maps, args.min_effect, args.target_loss)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"report: {error}")
    print(text)
    print(f"report: {page}")


if __name__ == "__main__":
    main()
