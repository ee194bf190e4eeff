"""What a study found: factorial main and simple effects with their CIs against a hand computation
on a balanced 2 × 2 with seeds as blocks, the detectable difference and the seeds needed against
their closed forms, validation loss at matched steps, time to a target with "not reached", the
live report, and conditions in the manifest's order."""
import fcntl
import os
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "postprocess"))
from kmoe_post import effects, records, statistics, trajectories  # noqa: E402
from synthetic_records import write_study  # noqa: E402

REPORT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "report")
SEED_SHIFT = {1: 0.3, 2: -0.2, 3: 0.6}
NOISE = {1: [0.11, -0.05, 0.02, -0.13], 2: [-0.07, 0.04, 0.09, 0.01], 3: [0.03, 0.12, -0.08, -0.06]}


def two_by_two():
    """y = 10 + 4·[a = 0.5] + 1·[b = 0] + 0.5·[both] + a seed's shift + fixed noise, three seeds."""
    rows = []
    for seed in (1, 2, 3):
        for i, (a, b) in enumerate([(0.0, 0.01), (0.0, 0.0), (0.5, 0.01), (0.5, 0.0)]):
            y = 10 + 4 * (a == 0.5) + (b == 0.0) + 0.5 * (a == 0.5) * (b == 0.0) + SEED_SHIFT[seed] + NOISE[seed][i]
            rows.append({"a": a, "b": b, "seed": seed, "y": y, "condition": f"a={a},b={b}"})
    return pd.DataFrame(rows)


class FactorialEffectsTest(unittest.TestCase):
    def test_main_and_simple_effects_match_the_hand_computation(self):
        runs = two_by_two()
        frame, model = effects.factorial_effects(runs, "y", ["a", "b"], "a=0.0,b=0.01")
        cell = runs.groupby(["a", "b"])["y"].mean()
        seed = runs.groupby("seed")["y"].mean()
        grand = runs["y"].mean()
        # Residuals of cell + block: y − cell mean − seed mean + grand mean, df (4 − 1)(3 − 1) = 6.
        residual = [r.y - cell[(r.a, r.b)] - seed[r.seed] + grand for r in runs.itertuples()]
        variance = np.sum(np.square(residual)) / 6
        t = stats.t.ppf(0.975, 6)
        main = frame[(frame["factor"] == "a") & (frame["at"] == "")].iloc[0]
        expected = ((cell[(0.5, 0.01)] - cell[(0.0, 0.01)]) + (cell[(0.5, 0.0)] - cell[(0.0, 0.0)])) / 2
        self.assertAlmostEqual(main["diff"], expected, places=10)
        self.assertAlmostEqual(main["se"], np.sqrt(variance / 3), places=10)  # (1/4)·2 levels·2σ²/3
        self.assertAlmostEqual(main["ci_low"], expected - t * np.sqrt(variance / 3), places=10)
        self.assertEqual(main["df"], 6)
        simple = frame[(frame["factor"] == "a") & (frame["at"] == "b=0.0")].iloc[0]
        self.assertAlmostEqual(simple["diff"], cell[(0.5, 0.0)] - cell[(0.0, 0.0)], places=10)
        self.assertAlmostEqual(simple["se"], np.sqrt(2 * variance / 3), places=10)
        # The interaction's p is the F test of the a × b term with the seed as a block.
        interaction = (cell[(0.5, 0.0)] - cell[(0.0, 0.0)]) - (cell[(0.5, 0.01)] - cell[(0.0, 0.01)])
        f_value = interaction ** 2 / (4 * variance / 3)
        self.assertAlmostEqual(simple["interaction_p"], stats.f.sf(f_value, 1, 6), places=10)
        lines = effects.effect_sentences(frame, ["a", "b"], "y", ".2f")
        self.assertTrue(lines[0].startswith(f"a 0.5 vs 0.0: {expected:+.2f} y [95 % CI "), lines[0])
        self.assertIn("averaged over b; ", lines[0])
        self.assertIn(f"{cell[(0.5, 0.0)] - cell[(0.0, 0.0)]:+.2f} at b 0.0", lines[0])

    def test_detectable_difference_and_seeds_needed_match_their_closed_forms(self):
        runs = two_by_two()
        frame, model = effects.factorial_effects(runs, "y", ["a", "b"], "a=0.0,b=0.01")
        main = frame[(frame["factor"] == "a") & (frame["at"] == "")].iloc[0]
        closed = (stats.t.ppf(0.975, 6) + stats.t.ppf(0.8, 6)) * main["se"]
        self.assertAlmostEqual(main["detectable"], closed, places=10)
        self.assertAlmostEqual(main["half_width"], stats.t.ppf(0.975, 6) * main["se"], places=10)
        for target in (0.1, 0.05, 0.02):
            n = effects.seeds_detectable(main["se"], 3, model.df_with, target)
            detect = (lambda k: (stats.t.ppf(0.975, 3 * (k - 1)) + stats.t.ppf(0.8, 3 * (k - 1)))
                      * main["se"] * np.sqrt(3 / k))
            self.assertLessEqual(detect(n), target)
            self.assertGreater(detect(n - 1), target)
            # Many seeds: the normal approximation n ≈ ((z_0.975 + z_0.8) · σ_diff / target)².
            if target == 0.02:
                normal = ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * main["se"] * np.sqrt(3) / target) ** 2
                self.assertLess(abs(n - normal), 0.05 * normal + 1)
        sentence = effects.precision_sentences(frame, model, "y", ".2f", 0.05)[0]
        self.assertIn("with 3 seeds per condition", sentence)
        self.assertIn(f"detecting 0.05 needs {effects.seeds_detectable(main['se'], 3, model.df_with, 0.05)} seeds",
                      sentence)

    def test_every_pairwise_comparison_states_its_precision(self):
        runs = two_by_two()
        comparisons = effects.with_precision(statistics.compare(runs, "y", "a=0.0,b=0.01"), "y", 0.05)
        row = comparisons.set_index("condition").loc["a=0.5,b=0.0"]
        d = (runs[runs["condition"] == "a=0.5,b=0.0"]["y"].to_numpy()
             - runs[runs["condition"] == "a=0.0,b=0.01"]["y"].to_numpy())  # seeds 1, 2, 3 in order
        se = np.std(d, ddof=1) / np.sqrt(3)
        self.assertAlmostEqual(row["half_width"], stats.t.ppf(0.975, 2) * se, places=10)
        self.assertAlmostEqual(row["detectable"], (stats.t.ppf(0.975, 2) + stats.t.ppf(0.8, 2)) * se, places=10)
        n = int(row["seeds_needed"])
        detect = (lambda k: (stats.t.ppf(0.975, k - 1) + stats.t.ppf(0.8, k - 1)) * se * np.sqrt(3 / k))
        self.assertLessEqual(detect(n), 0.05)
        self.assertGreater(detect(n - 1), 0.05)

    def test_an_incomplete_grid_is_analysed_by_condition(self):
        runs = two_by_two()
        runs = runs[runs["condition"] != "a=0.5,b=0.0"]
        self.assertEqual(effects.factors_of(runs, ["a", "b", "seed"]), ["condition"])
        self.assertEqual(effects.factors_of(two_by_two(), ["a", "b", "seed"]), ["a", "b"])


def trajectory_study(losses):
    """A Study of runs with val_loss per evaluation: losses maps (condition, seed) to [(step, loss)]."""
    runs, evals, steps = [], [], []
    for (condition, seed), points in losses.items():
        run = f"{condition},seed={seed}"
        runs.append({"run": run, "condition": condition, "seed": seed})
        evals += [{"run": run, "step": s, "val_loss": v, "seconds": 2.0} for s, v in points]
        steps += [{"run": run, "step": s, "tokens": 100 * s, "ms_per_step": 500.0} for s in range(1, 31)]
    return records.Study("t", pd.DataFrame(runs), pd.DataFrame(steps), pd.DataFrame(), pd.DataFrame(),
                         pd.DataFrame(evals), ["seed"])


class TrajectoriesTest(unittest.TestCase):
    LOSSES = {("ref", 1): [(10, 3.0), (20, 2.5), (30, 2.2)], ("ref", 2): [(10, 3.2), (20, 2.7), (30, 2.4)],
              ("fast", 1): [(10, 2.8), (20, 2.2), (30, 2.0)], ("fast", 2): [(10, 3.1), (20, 2.3), (30, 2.1)],
              ("slow", 1): [(10, 3.5), (20, 3.0), (30, 2.9)], ("slow", 2): [(10, 3.6), (20, 3.1), (30, 2.8)]}

    def test_matched_steps_pair_by_seed(self):
        frame = trajectories.matched_steps(trajectory_study(self.LOSSES), "ref").set_index(["condition", "step"])
        row = frame.loc[("fast", 20)]
        self.assertAlmostEqual(row["diff"], ((2.2 - 2.5) + (2.3 - 2.7)) / 2)
        half = stats.t.ppf(0.975, 1) * np.std([2.2 - 2.5, 2.3 - 2.7], ddof=1) / np.sqrt(2)
        self.assertAlmostEqual(row["ci_high"], row["diff"] + half)
        self.assertEqual(row["pairs"], 2)
        self.assertTrue(np.isnan(frame.loc[("ref", 20), "diff"]))

    def test_time_to_target_says_not_reached(self):
        study = trajectory_study(self.LOSSES)
        target = trajectories.default_target(study, "ref")
        self.assertAlmostEqual(target, (2.2 + 2.4) / 2)
        per_run = trajectories.time_to_target(study, target).set_index("run")
        self.assertEqual(per_run.loc["fast,seed=1", "step"], 20)  # 2.2 ≤ 2.3 at step 20
        self.assertEqual(per_run.loc["fast,seed=1", "tokens"], 2000)
        self.assertAlmostEqual(per_run.loc["fast,seed=1", "seconds"], 20 * 0.5 + 2 * 2.0)
        self.assertEqual(per_run.loc["ref,seed=1", "step"], 30)
        self.assertTrue(np.isnan(per_run.loc["ref,seed=2", "step"]))  # 2.4 > 2.3
        summary = trajectories.time_to_target_display(trajectories.time_to_target_summary(
            per_run.reset_index(), study)).set_index("condition")
        self.assertEqual(summary.loc["slow", "reached"], "0 of 2")
        self.assertEqual(summary.loc["slow", "median step"], "not reached")
        self.assertEqual(summary.loc["fast", "median step"], "20")
        self.assertEqual(summary.loc["ref", "reached"], "1 of 2")


class ConditionOrderTest(unittest.TestCase):
    def test_conditions_follow_the_manifest_not_the_file_names(self):
        values = {("0.5", s): (2.2, 0.2) for s in (1, 2)}  # listed first in the manifest
        values.update({("0.0", s): (2.0, 0.1) for s in (1, 2)})
        with tempfile.TemporaryDirectory() as tmp:
            study = records.load(write_study(tmp, values))
            self.assertEqual(list(dict.fromkeys(study.runs["condition"])), ["noise_std=0.5", "noise_std=0.0"])


class LiveReportTest(unittest.TestCase):
    def test_watch_rewrites_a_refreshing_page_until_the_study_is_done(self):
        values = {("0.0", s): (2.0 + 0.1 * s, 0.1) for s in (1, 2)}
        values.update({("0.5", s): (2.2 + 0.1 * s, 0.2) for s in (1, 2)})
        with tempfile.TemporaryDirectory() as tmp:
            study = write_study(tmp, values, states={("0.5", 2): "running"})
            page = os.path.join(tmp, "report", "report.html")
            watcher = subprocess.Popen([REPORT, study, "--out", os.path.join(tmp, "report"), "--watch", "1"],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            deadline = time.time() + 60
            while not os.path.exists(page) and time.time() < deadline:
                time.sleep(0.2)
            with open(page) as f:
                html = f.read()
            self.assertIn('<meta http-equiv="refresh" content="1">', html)
            self.assertIn("Running: noise_std=0.5,seed=2 (step 3)", html)
            self.assertIsNone(watcher.poll())
            # The cell ends while the study's runner still holds its lock (a next stage, a replication
            # round): the watch goes on until the runner lets go.
            runner = os.open(os.path.join(tmp, "out", "study.lock"), os.O_RDWR | os.O_CREAT)
            fcntl.flock(runner, fcntl.LOCK_EX)
            runs = os.path.join(tmp, "out", "runs")
            os.rename(os.path.join(runs, "noise_std=0.5,seed=2.h5.partial"), os.path.join(runs, "noise_std=0.5,seed=2.h5"))
            time.sleep(3)
            self.assertIsNone(watcher.poll())
            os.close(runner)
            out, _ = watcher.communicate(timeout=60)
            self.assertEqual(watcher.returncode, 0, out)
            with open(page) as f:
                self.assertNotIn("http-equiv", f.read())


if __name__ == "__main__":
    unittest.main()
