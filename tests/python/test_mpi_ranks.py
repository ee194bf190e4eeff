"""One run on several MPI ranks: the same record and weights bit for bit on 1 process and on 1, 2
and 4 ranks, across a checkpoint taken on one rank count and resumed on others, and after SIGTERM;
rank counts that cannot keep the sum's order are refused; a killed rank ends the job."""
import glob
import os
import signal
import subprocess
import tempfile
import time
import unittest

import h5py

from kmoe_run import KMOE_TRAIN, assert_same_run, train, write_deck

ACCUM = ("--set", "train.grad_accum=4")  # 1, 2 or 4 ranks
CHECKPOINTS = "[output]\ncheckpoint_every = 3\n"


def mpirun(ranks, deck, *args, wait=True):
    """kmoe-train on `ranks` ranks of one thread each (oversubscribed on 2 cores)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_PROC_BIND="false", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    command = ["mpirun", "-np", str(ranks), KMOE_TRAIN, deck, *ACCUM, *args]
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def rank_pids(job, deck, ranks):
    """The process ids of the job's ranks (not its launcher's), once all have started."""
    deadline, pids = time.time() + 120, []
    while len(pids) < ranks and time.time() < deadline:
        found = subprocess.run(["pgrep", "-f", f"kmoe-train {deck}"], capture_output=True, text=True).stdout
        pids = [int(p) for p in found.split() if int(p) != job.pid]
        time.sleep(0.1)
    return pids


class MpiRanks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.runs = os.path.join(cls.tmp.name, "runs", "")
        r = train(write_deck(cls.tmp.name, "reference", CHECKPOINTS), *ACCUM)
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def deck(self, name):
        return write_deck(self.tmp.name, name, CHECKPOINTS)

    def same_as_reference(self, name):
        r = self.runs
        assert_same_run(self, r + "reference.h5", r + name + ".h5", r + "reference.weights.h5", r + name + ".weights.h5")

    def test_every_allowed_rank_count_gives_the_same_run(self):
        for ranks in (1, 2, 4):
            with self.subTest(ranks=ranks):
                r = mpirun(ranks, self.deck(f"ranks{ranks}"))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.same_as_reference(f"ranks{ranks}")
                with h5py.File(self.runs + f"ranks{ranks}.h5", "r") as f:
                    self.assertEqual(f.attrs["ranks"], ranks)
        with self.subTest(ranks=2, optimizer="replicated on every rank"):
            r = mpirun(2, self.deck("replicated"), "--replicate-optimizer")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.same_as_reference("replicated")

    def test_a_checkpoint_resumes_on_any_rank_count(self):
        # --until-step evaluates where it stops, so the reference stops at the same steps, on one process.
        single, moving = self.deck("single"), self.deck("moving")
        for deck, launch in ((single, lambda *a: train(single, *ACCUM, *a)),
                             (moving, lambda *a: mpirun(2, moving, *a))):
            self.assertEqual(launch("--until-step", "5").returncode, 0)
        self.assertEqual(train(single, *ACCUM, "--until-step", "9", "--resume").returncode, 0)
        second = mpirun(4, moving, "--until-step", "9", "--resume")
        self.assertEqual(second.returncode, 0, second.stderr)
        for deck in (single, moving):  # the last leg on one process, no mpirun
            last = train(deck, *ACCUM, "--resume")
            self.assertEqual(last.returncode, 0, last.stderr)
        r = self.runs
        assert_same_run(self, r + "single.h5", r + "moving.h5", r + "single.weights.h5", r + "moving.weights.h5")

    def test_sigterm_checkpoints_every_rank_at_one_step(self):
        deck = self.deck("terminated")
        job = mpirun(2, deck, "--set", "train.debug_signal_step=4")  # each rank signals itself at step 5
        self.assertEqual(job.returncode, 75, job.stderr)
        r = mpirun(2, deck, "--resume")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.same_as_reference("terminated")

    def test_the_ranks_stop_with_a_checkpoint_when_the_watched_process_ends(self):
        # A study runner's multi-rank cells watch the runner (KMOE_STOP_WHEN_PID_ENDS): when it dies
        # they checkpoint and exit 75, with no signal from anyone.
        watched = subprocess.Popen(["sleep", "600"])
        deck = self.deck("watching")
        os.environ["KMOE_STOP_WHEN_PID_ENDS"] = str(watched.pid)
        try:
            job = mpirun(2, deck, "--set", "train.max_steps=400", wait=False)
        finally:
            del os.environ["KMOE_STOP_WHEN_PID_ENDS"]
        rank_pids(job, deck, 2)
        time.sleep(1)
        watched.kill()
        watched.wait()
        _, err = job.communicate(timeout=120)
        self.assertEqual(job.returncode, 75, err)
        with h5py.File(self.runs + "watching.h5", "r") as f:
            self.assertEqual(f.attrs["status"], "stopped")
            self.assertLess(f["train/step"].shape[0], 400)
        self.assertTrue(os.path.exists(self.runs + "watching.ckpt"))

    def test_a_sigterm_to_every_rank_stops_the_job_and_it_resumes(self):
        # As Slurm's time limit does: every task gets SIGTERM, at its own instant.
        deck = self.deck("signalled")
        job = mpirun(2, deck, "--set", "train.max_steps=400", wait=False)
        ranks = rank_pids(job, deck, 2)
        checkpoint = self.runs + "signalled.ckpt"
        deadline = time.time() + 120
        while not os.path.exists(checkpoint) and time.time() < deadline and job.poll() is None:
            time.sleep(0.1)
        for pid in ranks:
            os.kill(pid, signal.SIGTERM)
            time.sleep(0.05)
        _, err = job.communicate(timeout=120)
        self.assertEqual(job.returncode, 75, err)
        r = mpirun(1, deck, "--set", "train.max_steps=400", "--resume")
        self.assertEqual(r.returncode, 0, r.stderr)
        whole = self.deck("whole")
        self.assertEqual(train(whole, *ACCUM, "--set", "train.max_steps=400").returncode, 0)
        r = self.runs
        assert_same_run(self, r + "whole.h5", r + "signalled.h5", r + "whole.weights.h5", r + "signalled.weights.h5")

    def test_rank_counts_that_cannot_keep_the_order_are_refused(self):
        r = mpirun(3, self.deck("three"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("3 ranks cannot split train.grad_accum = 4", r.stderr)
        self.assertIn("allowed: 1, 2, 4", r.stderr)
        self.assertEqual(glob.glob(self.runs + "three.*h5"), [])

    def test_ranks_in_different_collective_calls_are_caught(self):
        probe = os.path.join(os.path.dirname(os.path.dirname(KMOE_TRAIN)), "tests", "collective_calls")
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                   KMOE_CHECK_COLLECTIVES="1")
        for case, expect in (("same", 0), ("mismatch", 1)):
            with self.subTest(case=case):
                r = subprocess.run(["mpirun", "-np", "2", probe, case], env=env, capture_output=True, text=True,
                                   timeout=60)
                self.assertEqual(r.returncode != 0, bool(expect), r.stderr)
        self.assertIn("ranks disagree on a collective call: rank 0 calls ranks (1 values), rank 1 calls stop "
                      "requested (1 values)", r.stderr)

    def test_a_killed_rank_ends_the_job(self):
        deck = self.deck("killed")
        job = mpirun(2, deck, "--set", "train.max_steps=400", wait=False)
        ranks = rank_pids(job, deck, 2)
        time.sleep(1.0)
        os.kill(ranks[-1], signal.SIGKILL)
        start = time.time()
        job.communicate(timeout=60)
        self.assertNotEqual(job.returncode, 0)
        self.assertLess(time.time() - start, 60)


class StudyRanks(unittest.TestCase):
    def test_a_study_of_two_rank_cells_gives_the_one_process_records(self):
        from test_study import KMOE_STUDY, write_study
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
            for tmp, ranks in ((one, "1"), (two, "2")):
                path = write_study(tmp, 6)  # grad_accum 2
                r = subprocess.run([KMOE_STUDY, "run", path, "--ranks-per-cell", ranks], env=env, capture_output=True,
                                   text=True, timeout=600)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("2 ranks x 1 threads", r.stdout)
            for cell in ("noise_std=0.0,seed=1", "noise_std=0.5,seed=2"):
                a, b = (os.path.join(d, "out", "runs", cell) for d in (one, two))
                assert_same_run(self, a + ".h5", b + ".h5", a + ".weights.h5", b + ".weights.h5")
            refused = subprocess.run([KMOE_STUDY, "run", path, "--ranks-per-cell", "4"], env=env,
                                     capture_output=True, text=True, timeout=600)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("--ranks-per-cell: cell noise_std=0.0,seed=1: 4 ranks cannot split", refused.stderr)

    def test_a_stopped_study_of_two_rank_cells_continues(self):
        from test_study import KMOE_STUDY, write_study
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 3000)
            run = subprocess.Popen([KMOE_STUDY, "run", path, "--ranks-per-cell", "2"], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
            runs, deadline = os.path.join(tmp, "out", "runs"), time.time() + 120
            while not glob.glob(os.path.join(runs, "*.h5.partial")) and time.time() < deadline:
                time.sleep(0.1)  # a cell is training (its ranks handle SIGTERM from their first step)
            time.sleep(1)
            run.send_signal(signal.SIGTERM)
            out, err = run.communicate(timeout=300)
            self.assertEqual(run.returncode, 75, out + err)
            self.assertIn("stopped", out)
            self.assertNotIn("failed", out)
            finish = subprocess.run([KMOE_STUDY, "run", path, "--ranks-per-cell", "2"], env=env, capture_output=True,
                                    text=True, timeout=600)
            self.assertEqual(finish.returncode, 0, finish.stdout + finish.stderr)
            self.assertIn("total: 4 cells, 4 complete", finish.stdout)


if __name__ == "__main__":
    unittest.main()
