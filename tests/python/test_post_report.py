"""The study report on records the test writes with known values: table entries, the t-tests,
Holm's adjustment and the two-way ANOVA against hand computations, the files of a report (plots,
HTML page) and a study with a run still in progress."""
import math
import os
import sys
import tempfile
import unittest

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "postprocess"))
import kmoe_post  # noqa: E402
from kmoe_post import report, statistics, tables  # noqa: E402
from synthetic_records import write_record, write_study  # noqa: E402

# val_loss per (noise, seed); expert_cv alongside
REFERENCE = {("0.0", 1): (2.0, 0.10), ("0.0", 2): (2.1, 0.12), ("0.0", 3): (2.3, 0.14)}
NOISY = {("0.5", 1): (2.1, 0.30), ("0.5", 2): (2.3, 0.20), ("0.5", 3): (2.6, 0.40)}


class TablesTest(unittest.TestCase):
    def test_condition_means_stds_and_record_derived_columns(self):
        with tempfile.TemporaryDirectory() as tmp:
            study = kmoe_post.load(write_study(tmp, {**REFERENCE, **NOISY}))
            summary = tables.condition_summary(study.runs).set_index("condition")
            self.assertAlmostEqual(summary.loc["noise_std=0.0", "val_loss_mean"], (2.0 + 2.1 + 2.3) / 3)
            # sample std of 2.0, 2.1, 2.3: deviations -2/15, -1/30, 1/6
            std = math.sqrt(((2 / 15) ** 2 + (1 / 30) ** 2 + (1 / 6) ** 2) / 2)
            self.assertAlmostEqual(summary.loc["noise_std=0.0", "val_loss_std"], std)
            self.assertEqual(summary.loc["noise_std=0.5", "val_loss_n"], 3)
            runs = study.runs.set_index("run")
            one = runs.loc["noise_std=0.0,seed=1"]
            self.assertAlmostEqual(one["max_load_frac"], (1 / 4 + 3 / 4) / 2)  # layer mean of the max shares
            self.assertAlmostEqual(one["router_entropy"], 0.75)
            self.assertEqual(one["dropped_tokens"], 3 * 2)  # 1 per step per layer
            self.assertAlmostEqual(one["training_time_minutes"], 2.0)
            self.assertAlmostEqual(one["peak_memory_gb"], 0.5)
            display = tables.summary_display(tables.condition_summary(study.runs)).set_index("condition")
            self.assertEqual(display.loc["noise_std=0.0", "val loss"], f"{(2.0 + 2.1 + 2.3) / 3:.4f} ± {std:.4f}")

    def test_research_csv_has_the_research_columns(self):
        with tempfile.TemporaryDirectory() as tmp:
            study = kmoe_post.load(write_study(tmp, REFERENCE))
            csv = tables.research_csv(study.runs, study.varied)
            for column in ("seed", "noise_std", "load_balancing_weight", "val_loss", "val_accuracy",
                           "val_perplexity", "training_time_minutes", "peak_memory_gb", "best_val_perplexity",
                           "expert_usage_cv"):
                self.assertIn(column, csv.columns)
            self.assertEqual(sorted(csv["seed"]), [1, 2, 3])
            self.assertAlmostEqual(csv.set_index("seed").loc[2, "expert_usage_cv"], 0.12)
            # A varied key whose every run was left out (e.g. trained under other settings) is an empty column.
            csv = tables.research_csv(study.runs, study.varied + ["score"])
            self.assertTrue(csv["score"].isna().all())


class StatisticsTest(unittest.TestCase):
    def test_paired_t_matches_the_hand_computation(self):
        # differences 0.1, 0.2, 0.3: mean 0.2, sd 0.1, t = 0.2 / (0.1 / sqrt 3), df 2
        test = statistics.paired([2.1, 2.3, 2.6], [2.0, 2.1, 2.3])
        t = 0.2 / (0.1 / math.sqrt(3))
        self.assertAlmostEqual(test.t, t)
        self.assertEqual(test.df, 2)
        # Student's t with 2 df: P(|T| > t) = 1 - t / sqrt(2 + t^2)
        self.assertAlmostEqual(test.p, 1 - t / math.sqrt(2 + t * t))
        self.assertAlmostEqual(test.effect, 2.0)
        half = 4.302652729749464 * 0.1 / math.sqrt(3)  # t(0.975, 2) = 4.30265...
        self.assertAlmostEqual(test.ci_low, 0.2 - half)
        self.assertAlmostEqual(test.ci_high, 0.2 + half)

    def test_welch_matches_the_hand_computation(self):
        a, b = np.array([2.1, 2.3, 2.6]), np.array([2.0, 2.1, 2.3])
        va, vb = a.var(ddof=1) / 3, b.var(ddof=1) / 3
        test = statistics.welch(a, b)
        self.assertAlmostEqual(test.t, 0.2 / math.sqrt(va + vb))
        self.assertAlmostEqual(test.df, (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 2))
        from statsmodels.stats.weightstats import ttest_ind
        self.assertAlmostEqual(test.p, ttest_ind(a, b, usevar="unequal")[1])

    def test_holm_adjusts_step_down_and_skips_missing(self):
        adjusted = statistics.holm([0.01, 0.04, np.nan, 0.03])
        # sorted 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> kept monotone at 0.06
        np.testing.assert_allclose(adjusted, [0.03, 0.06, np.nan, 0.06])

    def test_compare_pairs_by_seed_and_says_it_in_words(self):
        with tempfile.TemporaryDirectory() as tmp:
            study = kmoe_post.load(write_study(tmp, {**REFERENCE, **NOISY}))
            frame = statistics.compare(study.runs, "val_loss", reference="noise_std=0.0", fmt=".2f")
            row = frame.iloc[0]
            self.assertEqual(row["test"], "paired by seed")
            self.assertAlmostEqual(row["diff"], 0.2)
            self.assertAlmostEqual(row["p_holm"], row["p"])  # one comparison
            self.assertIn("noise_std=0.5 vs noise_std=0.0: +0.20 val loss [95 % CI", row["sentence"])
            self.assertIn("paired by seed (n = 3 vs 3)", row["sentence"])
            self.assertNotIn("Warning", row["sentence"])

    def test_too_few_seeds_are_warned_about(self):
        with tempfile.TemporaryDirectory() as tmp:
            two = {k: v for k, v in {**REFERENCE, **NOISY}.items() if k[1] < 3}
            frame = statistics.compare(kmoe_post.load(write_study(tmp, two)).runs, "val_loss")
            self.assertIn("too few runs", frame.iloc[0]["sentence"])

    def test_reference_by_pairs_must_match_one_condition(self):
        runs = pd.DataFrame({"condition": ["a=1,b=2", "a=1,b=3", "a=2,b=2"]})
        self.assertEqual(statistics.reference_condition(runs, "b=3"), "a=1,b=3")
        self.assertEqual(statistics.reference_condition(runs), "a=1,b=2")
        with self.assertRaisesRegex(ValueError, "matches 2 conditions"):
            statistics.reference_condition(runs, "a=1")

    def test_two_way_anova_interaction_on_a_constructed_2x2(self):
        # cell means 2, 5 / 4, 11 (two runs each, +-1): grand mean 5.5, rows 3.5 / 7.5, columns 3 / 8;
        # interaction residuals +-1 in every cell -> SS_AB = 2 runs x 4 cells x 1 = 8 (1 df);
        # within-cell SS = 8 cells-runs x 1 = 8 (4 df) -> F_AB = 8 / (8 / 4) = 4
        values = {(0, 0): (1, 3), (0, 1): (4, 6), (1, 0): (3, 5), (1, 1): (10, 12)}
        rows = [{"a": a, "b": b, "seed": seed, "y": y}
                for (a, b), ys in values.items() for seed, y in zip((1, 2), ys)]
        table, warning = statistics.two_way_anova(pd.DataFrame(rows), "y", "a", "b", block_by_seed=False)
        self.assertEqual(warning, "")
        self.assertAlmostEqual(table.loc["a × b", "sum_sq"], 8.0)
        self.assertAlmostEqual(table.loc["a × b", "F"], 4.0)
        self.assertAlmostEqual(table.loc["a", "sum_sq"], 2 * 2 * (2.0 ** 2 + 2.0 ** 2))
        self.assertAlmostEqual(table.loc["b", "sum_sq"], 2 * 2 * (2.5 ** 2 + 2.5 ** 2))
        self.assertAlmostEqual(table.loc["Residual", "df"], 4)
        # F(1, 4) = 4 is t(4) = 2: two-sided p = 1 - t (t^2 + 6) / (t^2 + 4)^1.5 = 1 - 20 / 8^1.5
        self.assertAlmostEqual(table.loc["a × b", "p"], 1 - 20 / 8 ** 1.5)
        blocked, _ = statistics.two_way_anova(pd.DataFrame(rows), "y", "a", "b")
        self.assertIn("seed (block)", blocked.index)


class ReportTest(unittest.TestCase):
    def test_a_two_factor_study_with_a_run_in_progress_gives_every_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            values = {}
            for (noise, seed), (loss, cv) in {**REFERENCE, **NOISY}.items():
                values[(noise, "0.0", seed)] = (loss, cv)
                values[(noise, "0.01", seed)] = (loss - 0.05 * seed, cv / 2)
            study_path = write_study(tmp, values, states={("0.5", "0.01", 3): "running"},
                                     factors=("noise_std", "load_balancing_weight"))
            out = os.path.join(tmp, "report")
            page, text = report.build(study_path, out)
            for name in ("summary.csv", "runs.csv", "statistics.csv", "anova.csv", "report.md", "report.html",
                         "loss_curves.png", "schedules.png", "routing.png", "balance.png", "routing_change.png",
                         "coactivation.png", "conditions.png", "load_0.png", "differences.png",
                         "per_seed_best_val_ppl.csv", "effects.csv", "matched_steps.csv", "time_to_target.csv"):
                self.assertGreater(os.path.getsize(os.path.join(out, name)), 100, name)
            with open(page) as f:
                html = f.read()
            self.assertEqual(html.count("data:image/png;base64,"), 8 + 4)  # 8 figures + 4 load heat maps
            self.assertTrue(text.startswith("# demo\n\n## What the study found\n"), text[:200])
            self.assertIn("noise_std 0.5 vs 0.0: ", text)
            self.assertIn("averaged over load_balancing_weight; ", text)
            self.assertIn("Running: noise_std=0.5,load_balancing_weight=0.01,seed=3 (step 3)", html)
            self.assertNotIn('http-equiv="refresh"', html)
            self.assertIn("1 of 12 runs are not complete (1 running)", html)
            self.assertIn("noise_std=0.5,load_balancing_weight=0.01", html)
            self.assertIn("Two-way ANOVA", text)
            runs = pd.read_csv(os.path.join(out, "runs.csv")).set_index("run")
            self.assertEqual(runs.loc["noise_std=0.5,load_balancing_weight=0.01,seed=3", "state"], "running")
            summary = pd.read_csv(os.path.join(out, "summary.csv")).set_index("condition")
            self.assertEqual(summary.loc["noise_std=0.5,load_balancing_weight=0.01", "runs"],
                             "2 complete, 1 running")
            self.assertEqual(summary.loc["noise_std=0.5,load_balancing_weight=0.01", "val_loss_n"], 2)


class ComputeThenWriteTest(unittest.TestCase):
    def test_compute_writes_nothing_and_write_gives_the_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            study_path = write_study(tmp, {**REFERENCE, **NOISY})
            before = sorted(os.listdir(os.path.join(tmp, "out")))
            computed = report.compute(study_path)
            self.assertEqual(sorted(os.listdir(os.path.join(tmp, "out"))), before)
            self.assertEqual(list(computed.summary["condition"]), ["noise_std=0.0", "noise_std=0.5"])
            self.assertEqual(len(computed.sentences), 3)  # a comparison per tested metric
            page, _ = report.write(computed, os.path.join(tmp, "report"))
            self.assertTrue(os.path.exists(page))
            self.assertTrue(os.path.exists(os.path.join(tmp, "report", "summary.csv")))


class PlotsTest(unittest.TestCase):
    def test_plots_draw_on_given_axes_and_return_them(self):
        import matplotlib.pyplot as plt
        from kmoe_post import plots
        with tempfile.TemporaryDirectory() as tmp:
            study = kmoe_post.load(write_study(tmp, {**REFERENCE, **NOISY}))
            fig, axes = plt.subplots(1, 3)  # a notebook's own figure: two loss panels and one bar panel
            drawn = plots.loss_curves(study, axes=axes[:2])
            self.assertIs(drawn[0, 0], axes[0])
            self.assertEqual(len(axes[0].lines), 2 + 1)  # a curve per condition and the unigram entropy
            bars = plots.condition_bars(study, tables.condition_summary(study.runs), ["expert_cv"],
                                        axes=axes[2:])
            self.assertIs(bars[0, 0], axes[2])
            self.assertEqual(len(axes[2].patches), 2)  # a bar per condition
            own = plots.loss_curves(study)  # without axes: a figure of its own
            self.assertIsNot(own[0, 0].figure, fig)
            path = plots.save(own, os.path.join(tmp, "loss.png"))
            self.assertGreater(os.path.getsize(path), 1000)
            plt.close(fig)


class LeftOutTest(unittest.TestCase):
    def test_unreadable_removed_and_foreign_records_are_left_out_and_said_so(self):
        with tempfile.TemporaryDirectory() as tmp:
            directory = os.path.join(tmp, "glob[1]")  # a name glob would read as a pattern
            os.makedirs(directory)
            study_path = write_study(directory, {**REFERENCE, **NOISY})
            runs = os.path.join(directory, "out", "runs")
            with open(os.path.join(runs, "noise_std=0.0,seed=9.h5"), "wb") as f:
                f.write(b"\x89HDF\r\n\x1a\n truncated")  # a cell's record cut short
            write_record(os.path.join(runs, "noise_std=0.9,seed=1.h5"), "0.9", 1)  # a cell no longer in the grid
            study = kmoe_post.load(study_path)
            self.assertEqual(len(study.runs), 6)
            reasons = {os.path.basename(p): why for p, why in study.left_out}
            self.assertIn("unreadable", reasons["noise_std=0.0,seed=9.h5"])
            self.assertIn("not a cell of the study", reasons["noise_std=0.9,seed=1.h5"])
            page, text = report.build(study_path, os.path.join(tmp, "report"))
            self.assertIn("## Left out", text)
            self.assertIn("noise_std=0.9,seed=1.h5", open(page).read())

    def test_records_of_another_study_in_the_directory_do_not_merge(self):
        with tempfile.TemporaryDirectory() as tmp:
            for (noise, seed), (loss, cv) in {**REFERENCE, **NOISY}.items():
                write_record(os.path.join(tmp, f"noise_std={noise},seed={seed}.h5"), noise, seed, val_loss=loss)
            write_record(os.path.join(tmp, "noise_std=0.5,seed=4.h5"), "0.5", 4, experts=8)  # another study's
            study = kmoe_post.load(tmp)
            self.assertEqual(len(study.runs), 6)
            (path, why), = study.left_out
            self.assertTrue(path.endswith("noise_std=0.5,seed=4.h5"))
            self.assertIn("moe.num_experts", why)

    def test_a_file_as_out_and_an_unknown_heat_map_run_are_clear_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            study_path = write_study(tmp, {**REFERENCE, **NOISY})
            a_file = os.path.join(tmp, "taken")
            open(a_file, "w").close()
            with self.assertRaises(SystemExit) as caught:
                report.main([study_path, "--out", a_file])
            self.assertIn("is a file", str(caught.exception))
            with self.assertRaises(SystemExit) as caught:
                report.main([study_path, "--heat-maps", "nope"])
            self.assertIn("no run named nope", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
