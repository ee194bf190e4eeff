"""Nothing lost: kill -9 at every crash point and at random instants, then --resume, must give
the uninterrupted run's record and weights bit for bit; a full disk fails cleanly and resumes;
a second run on the same files is refused; a finished result is not replaced unless asked;
bad data and paths fail before step 1."""
import glob
import os
import random
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import unittest

import h5py
import numpy as np

from kmoe_run import KILL_POINTS, KMOE_TRAIN, assert_same_run, train, write_corpus, write_deck

CHECKPOINTED = "[output]\ncheckpoint_every = 3\n"  # 12 steps, evaluations at 4, 8, 12

# Every crash point of a 12-step run with checkpoints at 3, 6, 9 (+ the final one) and record
# saves at the start, 3, 4, 6, 8, 9: "name": how many times the run passes it.
CRASH_POINTS = {"step": 12, "eval": 3, "checkpoint-write": 4, "checkpoint-rename": 4, "record-write": 6,
                "record-rename": 6, "weights-write": 1, "weights-rename": 1, "final-record-write": 1,
                "final-record-rename": 1}


def assert_readable_prefix(test, runs, name):
    """What a crash leaves: a readable .partial (if any) whose steps are 1..n, each once."""
    partial = os.path.join(runs, name + ".h5.partial")
    if os.path.exists(partial):
        with h5py.File(partial, "r") as f:
            test.assertEqual(f.attrs["status"], "running")
            steps = f["train/step"][:]
            np.testing.assert_array_equal(steps, np.arange(1, len(steps) + 1))


class FaultInjectionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.runs = os.path.join(cls.tmp.name, "runs")
        ref = train(write_deck(cls.tmp.name, "reference", CHECKPOINTED))
        assert ref.returncode == 0, ref.stdout + ref.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def deck(self, name):
        return write_deck(self.tmp.name, name, CHECKPOINTED)

    def check_against_reference(self, name):
        r = os.path.join(self.runs, "")
        assert_same_run(self, r + "reference.h5", r + name + ".h5", r + "reference.weights.h5",
                        r + name + ".weights.h5")
        leftovers = glob.glob(r + name + ".*tmp") + glob.glob(r + name + ".h5.partial")
        self.assertEqual(leftovers, [])

    def test_kill_at_every_crash_point_then_resume(self):
        for point, passes in CRASH_POINTS.items():
            for n in range(1, passes + 1):
                name = f"{point}-{n}"
                with self.subTest(kill=name):
                    deck = self.deck(name)
                    crashed = train(deck, crash_at=f"{point}:{n}")
                    self.assertEqual(crashed.returncode, -signal.SIGKILL, crashed.stdout + crashed.stderr)
                    KILL_POINTS.append(f"{point}:{n}")
                    assert_readable_prefix(self, self.runs, name)
                    resumed = train(deck, "--resume")
                    self.assertEqual(resumed.returncode, 0, resumed.stdout + resumed.stderr)
                    self.check_against_reference(name)

    def test_interrupted_resumes_and_a_truncated_partial_lose_nothing(self):
        deck = self.deck("chain")
        for crash in ("step:7", "record-write:1", "checkpoint-rename:1", "step:1"):
            r = train(deck, "--resume", crash_at=crash)
            self.assertEqual(r.returncode, -signal.SIGKILL, r.stdout + r.stderr)
            KILL_POINTS.append(crash)
            partial = os.path.join(self.runs, "chain.h5.partial")
            if os.path.exists(partial):
                with open(partial, "r+b") as f:
                    f.truncate(100)  # worse than a crash: a torn record
        r = train(deck, "--resume")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.check_against_reference("chain")

    def test_kill_at_random_instants_then_resume(self):
        rng = random.Random(2024)
        env = dict(os.environ, OMP_NUM_THREADS="2", OMP_PROC_BIND="false")
        for trial in range(6):
            name = f"random-{trial}"
            deck = self.deck(name)
            for _ in range(2):  # two kills, the second one inside the resumed run
                delay = rng.uniform(0.05, 0.6)
                run = subprocess.Popen([KMOE_TRAIN, deck, "--resume"], env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
                time.sleep(delay)
                run.kill()
                run.wait(timeout=60)
                KILL_POINTS.append(f"random:{delay:.2f}")
                assert_readable_prefix(self, self.runs, name)
            r = train(deck, "--resume")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.check_against_reference(name)


class FullDiskTest(unittest.TestCase):
    def test_out_of_space_fails_cleanly_and_resumes(self):
        with tempfile.TemporaryDirectory() as tmp:
            small = os.path.join(tmp, "small")
            os.mkdir(small)
            mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", small], capture_output=True)
            if mounted.returncode != 0:
                self.skipTest("this machine does not allow mounting a tmpfs: " + mounted.stderr.decode())
            try:
                reference = write_deck(tmp, "roomy", CHECKPOINTED)
                self.assertEqual(train(reference).returncode, 0)
                deck = write_deck(tmp, "full", CHECKPOINTED)
                with open(deck) as f:
                    text = f.read().replace(f'output_dir = "{tmp}/runs"', f'output_dir = "{small}"')
                with open(deck, "w") as f:
                    f.write(text)
                r = train(deck)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)  # a clean failure, no signal
                self.assertIn("No space left on device", r.stderr)
                self.assertEqual(glob.glob(os.path.join(small, "*.tmp")), [])
                records = [p for p in (os.path.join(small, "full.h5"), os.path.join(small, "full.h5.partial"))
                           if os.path.exists(p)]
                self.assertTrue(records)
                with h5py.File(records[0], "r") as f:  # readable
                    self.assertIn(f.attrs["status"], ("failed", "running"))
                subprocess.run(["mount", "-o", "remount,size=64m", small], check=True)
                r = train(deck, "--resume")
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                assert_same_run(self, os.path.join(tmp, "runs", "roomy.h5"), os.path.join(small, "full.h5"),
                                os.path.join(tmp, "runs", "roomy.weights.h5"), os.path.join(small, "full.weights.h5"))
            finally:
                subprocess.run(["umount", small])


class ConcurrentRunTest(unittest.TestCase):
    def test_a_second_run_on_the_same_files_is_refused_and_a_killed_run_leaves_no_lock(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "twice")
            env = dict(os.environ, OMP_NUM_THREADS="1", OMP_PROC_BIND="false")
            first = subprocess.Popen([KMOE_TRAIN, deck, "--set", "train.max_steps=100000", "--set",
                                      "output.checkpoint_every=5"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            try:
                partial = os.path.join(tmp, "runs", "twice.h5.partial")
                for _ in range(300):
                    if os.path.exists(os.path.join(tmp, "runs", "twice.ckpt")):
                        break
                    time.sleep(0.1)
                second = train(deck, "--set", "run.seed=8", "--overwrite")
                self.assertEqual(second.returncode, 1)
                self.assertIn("another kmoe-train", second.stderr)
                self.assertIn(f"pid {first.pid}", second.stderr)
                self.assertTrue(os.path.exists(partial))  # the first run's files are untouched
            finally:
                first.kill()
                first.wait(timeout=60)
            third = subprocess.Popen([KMOE_TRAIN, deck, "--set", "train.max_steps=100000", "--set",
                                      "output.checkpoint_every=5", "--resume"], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
            for line in third.stdout:
                if line.startswith("resuming twice at step"):
                    third.send_signal(signal.SIGTERM)
                    break
            out, err = third.communicate(timeout=120)
            self.assertNotIn("another kmoe-train", err)
            self.assertEqual(third.returncode, 75, out + err)


def file_digest(path):
    with open(path, "rb") as f:
        return hash(f.read())


class RerunTest(unittest.TestCase):
    def test_a_finished_result_is_kept_unless_asked(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "done")
            self.assertEqual(train(deck).returncode, 0)
            record = os.path.join(tmp, "runs", "done.h5")
            weights = os.path.join(tmp, "runs", "done.weights.h5")
            before = (file_digest(record), file_digest(weights))
            for args in ((), ("--set", "run.seed=99"), ("--set", "run.seed=99", "--set", "model.d_model=8")):
                r = train(deck, *args)
                self.assertEqual(r.returncode, 1, args)
                self.assertIn("complete run", r.stderr)
                self.assertIn("--overwrite", r.stderr)
            self.assertEqual((file_digest(record), file_digest(weights)), before)
            again = train(deck, "--resume")  # nothing to do: no duplicate evaluation row
            self.assertEqual(again.returncode, 0, again.stderr)
            self.assertIn("nothing to resume", again.stdout)
            self.assertEqual((file_digest(record), file_digest(weights)), before)
            with h5py.File(record, "r") as f:
                np.testing.assert_array_equal(f["eval/step"][:], [4, 8, 12])
            r = train(deck, "--set", "run.seed=99", "--overwrite")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("--overwrite: removing", r.stdout)
            with h5py.File(record, "r") as f:
                self.assertIn("seed = 99", f.attrs["deck"])

    def test_a_stopped_run_is_not_restarted_silently(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "stopped")
            self.assertEqual(train(deck, "--set", "train.debug_signal_step=2").returncode, 75)
            r = train(deck, "--set", "train.debug_signal_step=2")
            self.assertEqual(r.returncode, 1)
            self.assertIn("--resume", r.stderr)

    def test_max_steps_may_grow_only_where_exact(self):
        with tempfile.TemporaryDirectory() as tmp:
            constant = ["--set", "optim.decay=constant", "--set", "optim.warmup_frac=0"]
            straight = write_deck(tmp, "straight")
            self.assertEqual(train(straight, *constant, "--set", "train.max_steps=16").returncode, 0)
            grown = write_deck(tmp, "grown")
            self.assertEqual(train(grown, *constant, "--set", "train.max_steps=8").returncode, 0)
            r = train(grown, *constant, "--set", "train.max_steps=16", "--resume")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            runs = os.path.join(tmp, "runs", "")
            assert_same_run(self, runs + "straight.h5", runs + "grown.h5", runs + "straight.weights.h5",
                            runs + "grown.weights.h5")
            cosine = write_deck(tmp, "cosine")
            self.assertEqual(train(cosine, "--set", "train.max_steps=8").returncode, 0)
            r = train(cosine, "--set", "train.max_steps=16", "--resume")
            self.assertEqual(r.returncode, 1)
            self.assertIn("train.max_steps 8 -> 16", r.stderr)
            self.assertIn("decay = \"constant\"", r.stderr)


def write_shard(path, tokens):
    header = [20240520, 1, len(tokens)] + [0] * 253
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", *header))
        f.write(struct.pack(f"<{len(tokens)}H", *tokens))


class EarlyFailureTest(unittest.TestCase):
    def assert_fails_before_step_one(self, deck, *args, says):
        r = train(deck, *args)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        for words in says:
            self.assertIn(words, r.stderr)
        self.assertNotIn("step 1/", r.stdout)

    def test_a_validation_shard_shorter_than_a_window_fails_before_step_one(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_shard(os.path.join(tmp, "train.bin"), list(range(300)) * 4)
            write_shard(os.path.join(tmp, "val.bin"), list(range(10)))
            deck = write_deck(tmp, "short", f'train_shard = "{tmp}/train.bin"\nval_shard = "{tmp}/val.bin"\n')
            self.assert_fails_before_step_one(deck, says=["val.bin: 10 tokens, fewer than one window"])

    def test_an_output_path_that_is_a_directory_fails_before_step_one(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.mkdir(os.path.join(tmp, "adir"))
            deck = write_deck(tmp, "dir", f'[output]\nhdf5 = "{tmp}/adir"\n')
            self.assert_fails_before_step_one(deck, says=["is a directory"])

    def test_a_model_that_cannot_fit_says_how_much_it_needs(self):
        with tempfile.TemporaryDirectory() as tmp:
            self.assert_fails_before_step_one(write_deck(tmp, "huge"), "--set", "train.batch_size=1048576",
                                              says=["this run needs about", "GiB are available"])


class StaleDataTest(unittest.TestCase):
    def test_a_changed_corpus_is_prepared_again(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "first")
            self.assertEqual(train(deck).returncode, 0)
            second = write_deck(tmp, "second")
            write_corpus(tmp, seed=6)  # same path, other text
            r = train(second)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("changed since", r.stdout)
            with h5py.File(os.path.join(tmp, "runs", "first.h5"), "r") as a, \
                    h5py.File(os.path.join(tmp, "runs", "second.h5"), "r") as b:
                self.assertNotEqual(a.attrs["data"], b.attrs["data"])

    def test_a_shard_changed_before_resume_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "shard")
            self.assertEqual(train(deck, "--set", "train.debug_signal_step=2").returncode, 75)
            (val,) = glob.glob(os.path.join(tmp, "data", "prepared", "*", "val.bin"))
            with open(val, "r+b") as f:
                f.seek(1030)
                f.write(b"\x01\x00")
            r = train(deck, "--set", "train.debug_signal_step=2", "--resume")
            self.assertEqual(r.returncode, 1)
            self.assertIn("token data changed", r.stderr)
            self.assertIn("val", r.stderr)


class PrepErrorsTest(unittest.TestCase):
    def prep(self, deck, *args):
        tool = os.path.join(os.path.dirname(KMOE_TRAIN), "kmoe-prep")
        return subprocess.run([tool, deck, *args], capture_output=True, text=True, timeout=300)

    def test_prep_reports_every_failure_without_aborting(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "prep")
            self.assertEqual(self.prep(deck).returncode, 0)
            (meta,) = glob.glob(os.path.join(tmp, "data", "prepared", "*", "meta.toml"))
            with open(meta, "w") as f:
                f.write("settings = [unclosed\n")
            for args, words in ((), (meta, "corrupt")), \
                    (("--set", "data.data_dir=/dev/null/x"), ("/dev/null/x",)), \
                    (("--set", f"data.tokenizer_model={tmp}"), ("data.tokenizer_model", "not a file")):
                r = self.prep(deck, *args)
                self.assertEqual(r.returncode, 1, r.stderr)
                for word in words:
                    self.assertIn(word, r.stderr)
            r = train(deck)
            self.assertEqual(r.returncode, 1)
            self.assertIn(meta, r.stderr)

    def test_sigterm_during_preparation_keeps_the_output(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "slowprep")
            write_corpus(tmp, documents=3000)
            env = dict(os.environ, OMP_NUM_THREADS="2", OMP_PROC_BIND="false")
            run = subprocess.Popen([KMOE_TRAIN, deck], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
            time.sleep(0.3)
            run.send_signal(signal.SIGTERM)
            out, _ = run.communicate(timeout=120)
            self.assertIn(run.returncode, (75, 0))
            self.assertIn("data:", out)
            if run.returncode == 75:
                self.assertIn("before the first step", out)


if __name__ == "__main__":
    unittest.main()
