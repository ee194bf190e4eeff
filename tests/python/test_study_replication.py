"""[replicate]: a study adds seeds round by round until every condition's difference from the
reference is known to the target half-width, or max_seeds is reached (tiny real runs); each round
is kept with its numbers in replicate.toml and the manifest; bad rules are refused before any work."""
import math
import os
import tempfile
import tomllib
import unittest

import h5py
import numpy as np
from scipy import stats

from test_study import study, write_study


def replicate(target, max_seeds, extra=""):
    return (f"\n[replicate]\nmetric = \"val_loss\"\ntarget_halfwidth = {target}\nmax_seeds = {max_seeds}\n"
            f"seeds_per_round = 1\n{extra}")


def rounds(tmp):
    with open(os.path.join(tmp, "out", "replicate.toml"), "rb") as f:
        return tomllib.load(f)["rounds"]


def final(tmp, name, metric="val_loss"):
    with h5py.File(os.path.join(tmp, "out", "runs", name + ".h5"), "r") as f:
        return float(f["final"][metric][()])


class ReplicationTest(unittest.TestCase):
    def test_stops_at_the_target(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 4, replicate(1e6, 5))
            r = study("run", path, "--jobs", "2")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("precise enough, done", r.stdout)
            [only] = rounds(tmp)
            self.assertEqual((only["round"], only["seeds"], only["decision"], only["added"]), (1, [1, 2], "precise", []))
            self.assertEqual(len(os.listdir(os.path.join(tmp, "out", "decks"))), 4)  # no seed added
            with open(os.path.join(tmp, "out", "manifest.toml"), "rb") as f:
                self.assertEqual(tomllib.load(f)["replication_rounds"][0]["decision"], "precise")

    def test_adds_seeds_until_max_seeds_and_the_numbers_are_the_paired_half_widths(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 4, replicate(1e-9, 3))
            r = study("run", path, "--jobs", "2")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            first, second = rounds(tmp)
            self.assertEqual((first["decision"], first["added"]), ("add", [3]))
            self.assertEqual((second["seeds"], second["decision"]), ([1, 2, 3], "max_seeds"))
            self.assertIn("adding seed 3", r.stdout)
            self.assertIn("not reached with max_seeds = 3, done", r.stdout)
            # The half-width: t(0.975, n − 1) · sd / √n of the differences from the reference, paired by seed.
            d = [final(tmp, f"noise_std=0.5,seed={s}") - final(tmp, f"noise_std=0.0,seed={s}") for s in (1, 2, 3)]
            expected = stats.t.ppf(0.975, 2) * np.std(d, ddof=1) / math.sqrt(3)
            self.assertAlmostEqual(second["halfwidth"]["noise_std=0.5"], expected, delta=1e-9 * expected)
            self.assertAlmostEqual(second["widest"], expected, delta=1e-9 * expected)
            # Run again: every cell is complete and the round at these seeds is decided: nothing new.
            again = study("run", path)
            self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
            self.assertEqual(len(rounds(tmp)), 2)
            status = study("status", path)
            self.assertIn("seed=3", status.stdout)
            self.assertIn("replicate: val_loss to ±1e-09 (95 % CI half-width against the first condition), up to 3 "
                          "seeds, 1 per round\n  replication round 1 (2 seeds)", status.stdout)
            self.assertIn("adding seed 3\n  replication round 2 (3 seeds)", status.stdout)

    def test_bad_rules_are_refused_before_any_work(self):
        with tempfile.TemporaryDirectory() as tmp:
            for extra, message in (
                    (replicate(1.0, 5).replace('"val_loss"', '"loss"'),
                     "key 'replicate.metric' is \"loss\"; allowed: best_val_ppl, val_loss, val_ppl, expert_cv"),
                    (replicate(1.0, 1), "key 'replicate.max_seeds' (1) must be at least the study's 2 seeds"),
                    (replicate(0.0, 5), "key 'replicate.target_halfwidth' must be > 0"),
                    (replicate(1.0, 5, 'reference = "noise_std=0.2"'),
                     "key 'replicate.reference' names \"noise_std=0.2\", which is not a condition of the study; "
                     "the conditions are:\n  noise_std=0.0\n  noise_std=0.5")):
                path = write_study(tmp, 4, extra)
                r = study("run", path)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(message, r.stderr)
                self.assertFalse(os.path.exists(os.path.join(tmp, "out", "runs")))


if __name__ == "__main__":
    unittest.main()
