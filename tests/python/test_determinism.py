"""Same seed => bitwise-identical initial weights and routing on 1 and 2 OpenMP threads; losses
agree to 1e-5 relative; a whole training run (records and weights) is bit for bit the same on 1
and 2 threads and on the Serial backend, under every BLAS kernel set this CPU can run."""
import os
import signal
import subprocess
import tempfile
import unittest

import h5py

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
        # Under every kernel set the installed OpenBLAS accepts on this CPU: its Haswell and Zen
        # sgemm/ssyrk give other bits on 1 and 2 threads when a call is threaded, and kmoe must not
        # depend on that (docs/blas-determinism.md). Clipping and Newton-Schulz read global norms:
        # OrderedSum keeps their bits fixed.
        tested = []
        for kernel in OPENBLAS_KERNELS:
            with self.subTest(kernel=kernel or "default"):
                if self.compare_thread_counts(kernel, TINY):
                    tested.append(kernel)
        self.assertIn("", tested)
        if cpu_has("avx2"):
            self.assertIn("Haswell", tested)  # the kernels that split thread-dependently
        for kernel in ("", "Haswell"):
            with self.subTest(kernel=kernel or "default", deck="wider"):
                self.compare_thread_counts(kernel, WIDER)

    def test_every_router_family_is_bit_for_bit_the_same_on_every_thread_count_and_backend(self):
        for name, overrides in ROUTER_FAMILIES.items():
            with self.subTest(family=name):
                self.compare_thread_counts("", overrides)

    def compare_thread_counts(self, kernel, overrides):
        """Trains the deck on 1 and 2 threads and on Serial with OPENBLAS_CORETYPE=kernel and
        asserts identical records and weights; False when this CPU cannot run that kernel."""
        variants = [("one_thread", 1, KMOE_TRAIN), ("two_threads", 2, KMOE_TRAIN)]
        if os.path.exists(KMOE_TRAIN_SERIAL):
            variants.append(("serial", 1, KMOE_TRAIN_SERIAL))
        env = {"OPENBLAS_CORETYPE": kernel} if kernel else {}
        with tempfile.TemporaryDirectory() as tmp:
            runs = os.path.join(tmp, "runs") + os.sep
            for name, threads, binary in variants:
                result = train(write_deck(tmp, name), *overrides, threads=threads, binary=binary, env=env)
                if kernel and result.returncode == -signal.SIGILL:
                    return False  # the kernel needs instructions this CPU lacks
                self.assertEqual(result.returncode, 0, result.stderr)
                with h5py.File(runs + name + ".h5", "r") as record:
                    library = record.attrs["matrix_products"]
                if kernel and not library.endswith("core " + kernel):
                    return False  # OpenBLAS fell back to another kernel
            for name, _, _ in variants[1:]:
                assert_same_run(self, runs + "one_thread.h5", runs + name + ".h5", runs + "one_thread.weights.h5",
                                runs + name + ".weights.h5")
        return True


# OPENBLAS_CORETYPE values of OpenBLAS's x86-64 DYNAMIC_ARCH builds ("" = its own choice).
OPENBLAS_KERNELS = ["", "Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Sandybridge", "Nehalem",
                    "Core2", "Penryn", "Dunnington", "Prescott", "Atom", "Barcelona", "Bulldozer", "Piledriver",
                    "Steamroller", "Excavator", "Opteron"]
TINY = ()
# Products large enough to be cut into many tiles (kernels/gemm_tiles.cpp), experts into row blocks.
WIDER = ("--set", "model.d_model=128", "--set", "model.seq_len=64", "--set", "train.batch_size=8", "--set",
         "moe.expert_d_ff=256", "--set", "train.max_steps=4", "--set", "eval.every=2")


def cpu_has(flag):
    with open("/proc/cpuinfo") as f:
        return any(line.startswith("flags") and flag in line.split() for line in f)


if __name__ == "__main__":
    unittest.main()
# The routing families beyond the default (softmax, renormalised gates).
ROUTER_FAMILIES = {
    "sigmoid_scaled_aux_free": ("--set", 'moe.score="sigmoid"', "--set", "moe.route_scale=2.5", "--set",
                                "moe.aux_free_bias=true", "--set", "moe.aux_free_bias_centre=true"),
    "sigmoid_unnormalised": ("--set", 'moe.score="sigmoid"', "--set", 'moe.gate_norm="none"'),
    "group_limited": ("--set", "moe.groups=2", "--set", 'moe.group_score="topk_sum"'),
    "shared_expert_gated": ("--set", "moe.shared_experts=1", "--set", 'moe.shared_gate="sigmoid"'),
    "hugging_face_balancing": ("--set", 'moe.load_balancing_fractions="per_token"', "--set",
                               'moe.load_balancing_layers="pooled"'),
    "global_batch_balancing": ("--set", 'moe.load_balancing_scope="global_batch"', "--set",
                               'moe.load_balancing_fractions="first_choice"'),
    "random_routing": ("--set", 'moe.routing="random"', "--set", "moe.noise_std=0"),
    "sequence_balancing": ("--set", 'moe.load_balancing_scope="sequence"', "--set", 'moe.load_balancing_layers="mean"'),
    "expert_choice": ("--set", 'moe.routing="expert_choice"', "--set", "moe.capacity_factor=1.0", "--set",
                      'moe.gate_norm="none"', "--set", "moe.load_balancing_weight=0", "--set",
                      "moe.load_balancing_weight_end=0"),
    "hash_balanced": ("--set", 'moe.routing="hash"', "--set", 'moe.hash_table="balanced"', "--set", "moe.noise_std=0",
                      "--set", "moe.z_loss_weight=0", "--set", "moe.load_balancing_weight=0", "--set",
                      "moe.load_balancing_weight_end=0"),
    "sinkhorn": ("--set", 'moe.routing="sinkhorn"', "--set", "moe.noise_std=0", "--set", "moe.load_balancing_weight=0",
                 "--set", "moe.load_balancing_weight_end=0"),
    "drop_by_probability_renormalised": ("--set", "moe.capacity_factor=0.75", "--set", 'moe.drop_policy="probability"',
                                         "--set", "moe.renorm_after_drop=true"),
}
