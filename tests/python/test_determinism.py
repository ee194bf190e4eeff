"""Same seed => bitwise-identical initial weights and routing on 1 and 2 OpenMP threads; losses
agree to 1e-5 relative; a whole training run (records and weights) is bit for bit the same on 1
and 2 threads and on the Serial backend."""
import os
import subprocess
import tempfile
import unittest

from kmoe_run import KMOE_TRAIN, KMOE_TRAIN_SERIAL, assert_same_run, train, write_deck

BUILD_DIR = os.environ.get("KMOE_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build", "default"))


def fingerprint(threads, tool="model_fingerprint"):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_PROC_BIND="false")
    out = subprocess.run([os.path.join(BUILD_DIR, "tests", tool)], env=env,
                         check=True, capture_output=True, text=True).stdout
    fields = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        fields[key] = value
    return fields


class DeterminismTest(unittest.TestCase):
    def test_thread_count_does_not_change_the_run(self):
        one, two = fingerprint(1), fingerprint(2)
        self.assertEqual(one["init_hash"], two["init_hash"])
        self.assertEqual(one["expert_tokens"], two["expert_tokens"])  # same noise, same routing
        for key in ("loss", "ce", "lb", "z"):
            a, b = float(one[key]), float(two[key])
            self.assertLessEqual(abs(a - b), 1e-5 * abs(b), key)

    def test_serial_backend_gives_the_same_run(self):
        serial_tool = os.path.join(BUILD_DIR, "tests", "model_fingerprint_serial")
        if not os.path.exists(serial_tool):  # Kokkos built without Serial (e.g. a CUDA node)
            self.skipTest("this Kokkos has no Serial backend")
        serial, openmp = fingerprint(1, "model_fingerprint_serial"), fingerprint(2)
        self.assertEqual(serial["init_hash"], openmp["init_hash"])
        self.assertEqual(serial["expert_tokens"], openmp["expert_tokens"])
        for key in ("loss", "ce", "lb", "z"):
            a, b = float(serial[key]), float(openmp[key])
            self.assertLessEqual(abs(a - b), 1e-5 * abs(b), key)

    def test_repeated_runs_are_identical(self):
        self.assertEqual(fingerprint(2), fingerprint(2))

    def test_a_training_run_is_bit_for_bit_the_same_on_every_thread_count_and_backend(self):
        # Clipping and Newton-Schulz read global norms: OrderedSum keeps their bits fixed.
        variants = [("one_thread", 1, KMOE_TRAIN), ("two_threads", 2, KMOE_TRAIN)]
        if os.path.exists(KMOE_TRAIN_SERIAL):
            variants.append(("serial", 1, KMOE_TRAIN_SERIAL))
        with tempfile.TemporaryDirectory() as tmp:
            runs = os.path.join(tmp, "runs") + os.sep
            for name, threads, binary in variants:
                result = train(write_deck(tmp, name), threads=threads, binary=binary)
                self.assertEqual(result.returncode, 0, result.stderr)
            for name, _, _ in variants[1:]:
                assert_same_run(self, runs + "one_thread.h5", runs + name + ".h5", runs + "one_thread.weights.h5",
                                runs + name + ".weights.h5")


if __name__ == "__main__":
    unittest.main()
