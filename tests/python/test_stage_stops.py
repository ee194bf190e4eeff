"""kmoe-train's clean stops below max_steps: --until-step (study stages) and the early-stop rule."""
import os
import tempfile
import unittest

import h5py
import numpy as np

from kmoe_run import train, write_deck


class UntilStepTest(unittest.TestCase):
    def test_a_run_cut_at_a_stage_continues_with_the_uninterrupted_trajectory(self):
        with tempfile.TemporaryDirectory() as tmp:
            whole, staged = write_deck(tmp, "whole"), write_deck(tmp, "staged")
            self.assertEqual(train(whole).returncode, 0)
            cut = train(staged, "--until-step", "6")
            self.assertEqual(cut.returncode, 0, cut.stderr)
            with h5py.File(os.path.join(tmp, "runs", "staged.h5"), "r") as f:
                self.assertEqual(f.attrs["status"], "stopped")
                self.assertEqual(f.attrs["stop_reason"], "until_step 6 of 12")
                self.assertEqual(f["train/step"].shape, (6,))
                self.assertEqual(f["eval/step"][-1], 6)  # the gate's numbers: an evaluation at the cut
            again = train(staged, "--resume", "--until-step", "6")  # already there: nothing trained
            self.assertEqual(again.returncode, 0, again.stderr)
            rest = train(staged, "--resume")
            self.assertEqual(rest.returncode, 0, rest.stderr)
            with h5py.File(os.path.join(tmp, "runs", "whole.h5"), "r") as a, \
                    h5py.File(os.path.join(tmp, "runs", "staged.h5"), "r") as b:
                self.assertEqual(b.attrs["status"], "complete")
                self.assertEqual(b.attrs["stop_reason"], "")
                for name in ("step", "total_loss", "grad_norm", "lr_muon", "aux_coef"):
                    np.testing.assert_array_equal(a["train"][name][:], b["train"][name][:], err_msg=name)
                self.assertEqual(list(b["eval/step"][:]), [4, 6, 8, 12])

    def test_until_step_must_be_a_positive_integer(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "bad")
            for value in ("0", "x", "-3"):
                self.assertEqual(train(deck, "--until-step", value).returncode, 2, value)


class EarlyStopTest(unittest.TestCase):
    def test_a_plateaued_run_stops_early_says_why_and_is_complete(self):
        with tempfile.TemporaryDirectory() as tmp:
            # min_delta larger than any improvement and loose slope / routing bounds: the rule
            # fires at the first evaluation after `patience` = 1 further one (step 4, then 8).
            deck = write_deck(tmp, "early", "[early_stop]\npatience = 1\nmin_delta = 100.0\nslope_window = 3\n"
                                            "max_slope = 100.0\nrouting_tolerance = 100.0\n")
            result = train(deck)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("early stop at step 8", result.stdout)
            with h5py.File(os.path.join(tmp, "runs", "early.h5"), "r") as f:
                self.assertEqual(f.attrs["status"], "complete")
                self.assertIn("early stop at step 8", f.attrs["stop_reason"])
                self.assertEqual(f["train/step"].shape, (8,))
                self.assertEqual(f["final/early_stop_step"][()], 8)
            again = train(deck, "--resume")  # complete: nothing to continue
            self.assertEqual(again.returncode, 0, again.stderr)
            self.assertIn("nothing to resume", again.stdout)

    def test_without_a_plateau_the_run_goes_to_max_steps(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "steady", "[early_stop]\npatience = 1\nmin_delta = 100.0\nslope_window = 3\n"
                                             "max_slope = 0.0\nrouting_tolerance = 0.0\n")
            self.assertEqual(train(deck).returncode, 0)
            with h5py.File(os.path.join(tmp, "runs", "steady.h5"), "r") as f:
                self.assertEqual(f["train/step"].shape, (12,))
                self.assertNotIn("early_stop_step", f["final"])


if __name__ == "__main__":
    unittest.main()
