"""Every run deck the repository ships resolves (the study decks: test_study.py)."""
import glob
import os
import subprocess
import unittest

from kmoe_run import BUILD_DIR

INPUTS = os.path.join(os.path.dirname(__file__), "..", "..", "inputs")


class InputDecks(unittest.TestCase):
    def test_every_shipped_run_deck_resolves(self):
        runs = sorted(glob.glob(os.path.join(INPUTS, "*.toml")))
        self.assertGreater(len(runs), 0)
        for deck in runs:
            r = subprocess.run([os.path.join(BUILD_DIR, "apps", "kmoe-deck"), "resolve", deck], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, f"{deck}: {r.stderr}")


if __name__ == "__main__":
    unittest.main()
