"""Every deck the repository ships is valid: the run decks resolve and the study decks plan."""
import glob
import os
import subprocess
import unittest

from kmoe_run import BUILD_DIR

INPUTS = os.path.join(os.path.dirname(__file__), "..", "..", "inputs")


class InputDecks(unittest.TestCase):
    def test_run_decks_resolve_and_study_decks_plan(self):
        runs = sorted(glob.glob(os.path.join(INPUTS, "*.toml")))
        studies = sorted(glob.glob(os.path.join(INPUTS, "studies", "*.toml")))
        self.assertGreater(len(runs), 0)
        self.assertIn("routing-families.toml", [os.path.basename(s) for s in studies])
        for deck in runs:
            r = subprocess.run([os.path.join(BUILD_DIR, "apps", "kmoe-deck"), "resolve", deck], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, f"{deck}: {r.stderr}")
        for study in studies:
            r = subprocess.run([os.path.join(BUILD_DIR, "apps", "kmoe-study"), "plan", study], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, f"{study}: {r.stderr}")


if __name__ == "__main__":
    unittest.main()
