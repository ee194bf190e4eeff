"""kmoe-train end to end on a tiny corpus: record schema, resume, NaN detection."""
import os
import subprocess
import tempfile
import time
import unittest

import h5py
import numpy as np

from kmoe_run import KMOE_TRAIN, KMOE_TRAIN_SERIAL, TIMING, train, write_deck


class RecordSchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.deck = write_deck(cls.tmp.name, "schema", "[output]\ncheckpoint_every = 5\n")
        cls.result = train(cls.deck)
        cls.path = os.path.join(cls.tmp.name, "runs", "schema.h5")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_run_completes(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        self.assertIn("parameters:", self.result.stdout)
        self.assertIn("OpenMP", self.result.stdout)
        self.assertFalse(os.path.exists(self.path + ".partial"))

    def test_root_attributes(self):
        with h5py.File(self.path, "r") as f:
            self.assertEqual(f.attrs["status"], "complete")
            self.assertIn('name = "schema"', f.attrs["deck"])
            for key in ("kmoe_version", "git_commit", "kokkos_version", "backend", "start_time", "end_time"):
                self.assertTrue(f.attrs[key], key)
            self.assertGreater(int(f.attrs["total_params"]), int(f.attrs["active_params"]))
            self.assertGreater(float(f.attrs["unigram_entropy"]), 0)
            data = f.attrs["data"]  # provenance: splits, tokenizer and corpus sources with checksums
            for line in ("train = {", "val = {", "test = {", "tokenizer = { path = ", "source = { path = "):
                self.assertIn(line, data)
            self.assertIn('checksum = "fnv1a64:', data)

    def test_train_rows(self):
        with h5py.File(self.path, "r") as f:
            t = f["train"]
            np.testing.assert_array_equal(t["step"][:], np.arange(1, 13))
            np.testing.assert_array_equal(t["tokens"][:], np.arange(1, 13) * 4 * 2 * 16)
            for name in ("lr_muon", "lr_adamw", "ce_loss", "lb_loss", "z_loss", "total_loss", "accuracy",
                         "aux_coef", "grad_norm", "ms_per_step", "tokens_per_s", "nonfinite"):
                self.assertEqual(t[name].shape, (12,), name)
            np.testing.assert_allclose(t["total_loss"][:], t["ce_loss"][:] + 0.01 * t["lb_loss"][:]
                                       + 0.001 * t["z_loss"][:], rtol=1e-9)
            self.assertTrue(np.all(t["nonfinite"][:] == 0))
            self.assertLess(t["ce_loss"][-1], t["ce_loss"][0])

    def test_router_rows(self):
        with h5py.File(self.path, "r") as f:
            r = f["router"]
            self.assertEqual(r["load"].shape, (12, 2, 4))
            # Each layer routes 2 micro-batches × 64 tokens × top-2 assignments per update.
            np.testing.assert_array_equal(r["load"][:].sum(axis=2), 2 * 64 * 2)
            np.testing.assert_allclose(r["importance"][:].sum(axis=2), 1.0, rtol=1e-5)
            for name in ("entropy", "dropped", "max_load_frac", "min_load_frac", "lb_loss", "z_loss"):
                self.assertEqual(r[name].shape, (12, 2), name)

    def test_eval_rows_and_final(self):
        with h5py.File(self.path, "r") as f:
            e = f["eval"]
            np.testing.assert_array_equal(e["step"][:], [4, 8, 12])
            np.testing.assert_allclose(e["val_ppl"][:], np.exp(e["val_loss"][:]))
            np.testing.assert_allclose(e["best_val_ppl"][:], np.minimum.accumulate(e["val_ppl"][:]))
            self.assertEqual(e["expert_cv"].shape, (3, 2))
            self.assertEqual(e["load"].shape, (3, 2, 4))
            for name in ("best_val_ppl", "val_loss", "val_accuracy", "val_ppl", "expert_cv", "test_loss",
                         "test_ppl", "train_seconds", "eval_seconds", "peak_host_memory_mib",
                         "peak_device_memory_mib"):
                self.assertTrue(np.isfinite(f["final"][name][()]), name)
            self.assertAlmostEqual(f["final/best_val_ppl"][()], e["best_val_ppl"][-1])
            self.assertTrue(np.all(e["seconds"][:] > 0))
            self.assertAlmostEqual(f["final/eval_seconds"][()], e["seconds"][:].sum())


class ResumeTest(unittest.TestCase):
    def check_resume(self, binary, stop_threads=2):
        with tempfile.TemporaryDirectory() as tmp:
            whole = write_deck(tmp, "whole")
            split = write_deck(tmp, "split", "")
            a = train(whole, binary=binary)
            self.assertEqual(a.returncode, 0, a.stderr)
            b = train(split, "--set", "train.debug_signal_step=5", binary=binary, threads=stop_threads)
            self.assertEqual(b.returncode, 75, b.stdout + b.stderr)  # stopped after checkpointing
            with h5py.File(os.path.join(tmp, "runs", "split.h5"), "r") as f:
                self.assertEqual(f.attrs["status"], "stopped")
                self.assertEqual(f["train/step"].shape, (6,))
            c = train(split, "--set", "train.debug_signal_step=5", "--resume", binary=binary)
            self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
            with h5py.File(os.path.join(tmp, "runs", "whole.h5"), "r") as fa, \
                    h5py.File(os.path.join(tmp, "runs", "split.h5"), "r") as fb:
                self.assertEqual(fb.attrs["status"], "complete")
                for group in ("train", "router", "eval"):
                    for name in fa[group]:
                        if name in TIMING:
                            continue
                        np.testing.assert_array_equal(fa[group][name][:], fb[group][name][:],
                                                      err_msg=f"{group}/{name}")
            with h5py.File(os.path.join(tmp, "runs", "whole.weights.h5"), "r") as wa, \
                    h5py.File(os.path.join(tmp, "runs", "split.weights.h5"), "r") as wb:
                self.assertEqual(set(wa), set(wb))
                for name in wa:
                    np.testing.assert_array_equal(wa[name][:], wb[name][:], err_msg=name)

    def test_openmp_resume_is_bitwise_identical(self):
        self.check_resume(KMOE_TRAIN)

    def test_a_run_stopped_on_one_thread_and_resumed_on_two_is_bitwise_identical(self):
        # What a study's runner does when a rerun gives a cell more cores.
        self.check_resume(KMOE_TRAIN, stop_threads=1)

    def test_serial_resume_is_bitwise_identical(self):
        if not os.path.exists(KMOE_TRAIN_SERIAL):  # Kokkos without Serial (e.g. a CUDA node)
            self.skipTest("this Kokkos has no Serial backend")
        self.check_resume(KMOE_TRAIN_SERIAL)

    def test_resume_with_another_deck_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "refuse")
            self.assertEqual(train(deck, "--set", "train.debug_signal_step=2").returncode, 75)
            r = train(deck, "--set", "train.debug_signal_step=2", "--set", "moe.noise_std=0.3", "--resume")
            self.assertEqual(r.returncode, 1)
            self.assertIn("moe.noise_std 0.1 -> 0.3", r.stderr)


class NonFiniteTest(unittest.TestCase):
    def test_injected_nan_fails_the_run_with_step_and_tensor(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "nan", "")
            r = train(deck, "--set", "train.debug_nan_step=3")
            self.assertEqual(r.returncode, 1)
            self.assertIn("non-finite values at step 4", r.stdout)
            self.assertIn("non-finite values at step 4", r.stderr)  # errors reach stderr too
            self.assertIn("blocks.0.attn_norm", r.stdout)
            with h5py.File(os.path.join(tmp, "runs", "nan.h5"), "r") as f:
                self.assertEqual(f.attrs["status"], "failed")
                self.assertIn("step 4", f.attrs["error"])
                np.testing.assert_array_equal(f["train/nonfinite"][:], [0, 0, 0, 1])


class AuxLossFreeBiasTest(unittest.TestCase):
    def test_bias_is_recorded_and_survives_resume(self):
        with tempfile.TemporaryDirectory() as tmp:
            extra = "[output]\ncheckpoint_every = 3\n"
            whole = write_deck(tmp, "bias_whole", extra)
            split = write_deck(tmp, "bias_split", extra)
            flags = ["--set", "moe.aux_free_bias=true", "--set", "moe.aux_free_bias_rate=0.01",
                     "--set", "moe.load_balancing_weight=0"]
            self.assertEqual(train(whole, *flags).returncode, 0)
            self.assertEqual(train(split, *flags, "--set", "train.debug_signal_step=6").returncode, 75)
            self.assertEqual(train(split, *flags, "--set", "train.debug_signal_step=6", "--resume").returncode, 0)
            with h5py.File(os.path.join(tmp, "runs", "bias_whole.h5"), "r") as fa, \
                    h5py.File(os.path.join(tmp, "runs", "bias_split.h5"), "r") as fb:
                bias = fa["router/routing_bias"][:]
                self.assertEqual(bias.shape, (12, 2, 4))
                np.testing.assert_array_equal(bias[0], 0)
                self.assertGreater(np.abs(bias[-1]).max(), 0)   # it moved
                steps = np.abs(np.diff(bias, axis=0))  # each update moves a bias by 0 or ± rate
                self.assertTrue(np.all((steps < 1e-6) | (np.abs(steps - 0.01) < 1e-6)))
                np.testing.assert_array_equal(bias, fb["router/routing_bias"][:])


class LiveRecordTest(unittest.TestCase):
    def test_record_can_be_read_while_the_run_continues(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "live")
            env = dict(os.environ, OMP_NUM_THREADS="2", OMP_PROC_BIND="false")
            run = subprocess.Popen([KMOE_TRAIN, deck, "--set", "train.max_steps=100000", "--set", "eval.every=5"],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            partial = os.path.join(tmp, "runs", "live.h5.partial")
            try:
                eval_rows = 0
                for _ in range(300):
                    time.sleep(0.1)
                    if not os.path.exists(partial):
                        continue
                    try:  # between flushes a reader may catch the file mid-update: look again
                        with h5py.File(partial, "r") as f:
                            status = f.attrs["status"]
                            eval_rows = f["eval/step"].shape[0]
                    except (OSError, KeyError, RuntimeError):
                        continue
                    self.assertEqual(status, "running")
                    if eval_rows >= 2:
                        break
                self.assertGreaterEqual(eval_rows, 2)
            finally:
                run.terminate()
                self.assertEqual(run.wait(timeout=60), 75)


class LearningTest(unittest.TestCase):
    def test_validation_loss_falls_well_below_the_unigram_entropy(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "learn")
            r = train(deck, "--set", "train.max_steps=150", "--set", "eval.every=50", "--set", "eval.batches=0")
            self.assertEqual(r.returncode, 0, r.stderr)
            with h5py.File(os.path.join(tmp, "runs", "learn.h5"), "r") as f:
                entropy = float(f.attrs["unigram_entropy"])
                val_loss = float(f["final/val_loss"][()])
                self.assertLess(val_loss, entropy - 1.0)


if __name__ == "__main__":
    unittest.main()
