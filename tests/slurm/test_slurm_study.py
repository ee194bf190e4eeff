"""kmoe-study on a real one-node Slurm: `kmoe-study slurm --submit` runs every cell of a tiny
study as a job array after the preparation job; a cell sent SIGTERM mid-run (scancel
--signal=TERM) checkpoints, requeues itself and finishes with the same /train rows as an
uninterrupted run of its deck; a study of two-rank cells (srun --mpi=pmix) gives the
one-process run; a [replicate] study's round job adds a seed and submits the study again."""
import os
import subprocess
import sys
import tempfile
import time
import tomllib
import unittest

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from kmoe_run import KMOE_TRAIN, train, write_deck  # noqa: E402
from one_node_slurm import OneNodeSlurm, missing_programs  # noqa: E402

KMOE_STUDY = os.path.join(os.path.dirname(KMOE_TRAIN), "kmoe-study")
TIMING = {"ms_per_step", "tokens_per_s"}


def wait_for(condition, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError("timed out waiting for " + what)


class SlurmStudyTest(unittest.TestCase):
    def submit(self, name, study_text):
        """Writes a study of the test deck in a folder of its own, submits it; its folder, deck and array id."""
        work = os.path.join(self.tmp.name, name)
        os.makedirs(work)
        write_deck(work, "base")
        study = os.path.join(work, "study.toml")
        with open(study, "w") as f:
            f.write(study_text)
        submitted = subprocess.run([KMOE_STUDY, "slurm", study, "--submit"], env=self.slurm.env,
                                   capture_output=True, text=True, timeout=60)
        self.assertEqual(submitted.returncode, 0, submitted.stdout + submitted.stderr)
        return work, study, submitted.stdout.strip().splitlines()[-1].split()[-1]

    @classmethod
    def setUpClass(cls):
        missing = missing_programs()
        if missing:
            raise RuntimeError("Slurm is not installed (missing " + ", ".join(missing) +
                               "); scripts/test-slurm installs it")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.slurm = OneNodeSlurm(os.path.join(cls.tmp.name, "slurm"))
        os.makedirs(cls.slurm.dir)
        cls.slurm.start()

    @classmethod
    def tearDownClass(cls):
        cls.slurm.stop()
        cls.tmp.cleanup()

    def test_every_cell_completes_and_a_terminated_cell_resumes_identically(self):
        work, study, array = self.submit(
            "study", '[study]\nname = "tiny"\nbase = "base.toml"\noutput_dir = "out"\n'
                     '[grid.moe]\nnoise_std = [0.0, 0.5]\n[set.train]\nmax_steps = 3000\n[set.eval]\nevery = 500\n'
                     '[slurm]\ncpus_per_task = 1\n')
        runs = os.path.join(work, "out", "runs")
        first = os.path.join(runs, "noise_std=0.0.h5.partial")
        wait_for(lambda: os.path.exists(first), 120, "cell 0 to start")
        time.sleep(2)  # mid-run
        self.slurm.command("scancel", "--signal=TERM", f"{array}_0")

        def finished():
            return self.slurm.command("squeue", "-h", "-j", array).strip() == ""
        wait_for(finished, 300, "the array to finish")
        log = open(os.path.join(work, "out", "slurm", f"0-all-{array}_0.out")).read()
        self.assertIn("signal 15: checkpointed at step", log)
        self.assertIn(f"requeueing {array}_0", log)
        self.assertIn("resuming noise_std=0.0 at step", log)
        status = subprocess.run([KMOE_STUDY, "status", study], capture_output=True, text=True, timeout=60)
        self.assertIn("total: 2 cells, 2 complete", status.stdout, status.stdout + status.stderr)
        # The same deck uninterrupted, under another name, on the task's one thread (reductions
        # are bitwise reproducible at a fixed thread count).
        deck = os.path.join(work, "out", "decks", "noise_std=0.0.toml")
        reference = train(deck, "--set", "run.name=uninterrupted", threads=1)
        self.assertEqual(reference.returncode, 0, reference.stderr)
        with h5py.File(os.path.join(runs, "noise_std=0.0.h5"), "r") as a, \
                h5py.File(os.path.join(runs, "uninterrupted.h5"), "r") as b:
            self.assertEqual(a["train/step"].shape, (3000,))
            for name in b["train"]:
                if name not in TIMING:
                    np.testing.assert_array_equal(a["train"][name][:], b["train"][name][:], err_msg=name)


    def test_cells_of_two_ranks_give_the_one_process_run(self):
        # The test deck's grad_accum 2: two ranks take one micro-batch each.
        work, study, array = self.submit(
            "ranks", '[study]\nname = "ranks"\nbase = "base.toml"\noutput_dir = "out"\n'
                     '[grid.moe]\nnoise_std = [0.0, 0.5]\n[set.train]\nmax_steps = 6\n'
                     '[slurm]\ncpus_per_task = 1\nranks_per_cell = 2\n')
        wait_for(lambda: self.slurm.command("squeue", "-h", "-j", array).strip() == "", 300, "the array to finish")
        status = subprocess.run([KMOE_STUDY, "status", study], capture_output=True, text=True, timeout=60)
        logs = "".join(open(os.path.join(work, "out", "slurm", p)).read()
                       for p in os.listdir(os.path.join(work, "out", "slurm")) if p.endswith(".out"))
        self.assertIn("total: 2 cells, 2 complete", status.stdout, status.stdout + logs)
        self.assertIn("--mpi=pmix", logs)
        runs = os.path.join(work, "out", "runs")
        deck = os.path.join(work, "out", "decks", "noise_std=0.5.toml")
        reference = train(deck, "--set", "run.name=one_process", threads=1)
        self.assertEqual(reference.returncode, 0, reference.stderr)
        with h5py.File(os.path.join(runs, "noise_std=0.5.h5"), "r") as a, \
                h5py.File(os.path.join(runs, "one_process.h5"), "r") as b:
            self.assertEqual(a.attrs["ranks"], 2)
            for name in a["train"]:
                if name not in TIMING:
                    np.testing.assert_array_equal(a["train"][name][()], b["train"][name][()], err_msg=name)

    def test_a_replication_round_adds_a_seed_and_submits_the_study_again(self):
        work, study, _ = self.submit(
            "replicate", '[study]\nname = "replicate"\nbase = "base.toml"\noutput_dir = "out"\nseeds = [1, 2]\n'
                         '[grid.moe]\nnoise_std = [0.0, 0.5]\n[set.train]\nmax_steps = 4\n[slurm]\ncpus_per_task = 1\n'
                         '[replicate]\nmetric = "val_loss"\ntarget_halfwidth = 1e-9\nmax_seeds = 3\n')
        rounds_file = os.path.join(work, "out", "replicate.toml")

        def two_rounds_and_idle():
            if not os.path.exists(rounds_file):
                return False
            with open(rounds_file, "rb") as f:
                decided = tomllib.load(f).get("rounds", [])
            return len(decided) == 2 and self.slurm.command("squeue", "-h").strip() == ""
        wait_for(two_rounds_and_idle, 300, "two replication rounds")
        with open(rounds_file, "rb") as f:
            first, second = tomllib.load(f)["rounds"]
        self.assertEqual((first["decision"], first["added"]), ("add", [3]))
        self.assertEqual((second["seeds"], second["decision"]), ([1, 2, 3], "max_seeds"))
        status = subprocess.run([KMOE_STUDY, "status", study], capture_output=True, text=True, timeout=60)
        self.assertIn("total: 6 cells, 6 complete", status.stdout, status.stdout + status.stderr)


if __name__ == "__main__":
    unittest.main()
