"""Helpers for the Python tests that drive kmoe-train on a tiny synthetic corpus."""
import os
import random
import subprocess

import h5py
import numpy as np

BUILD_DIR = os.environ.get("KMOE_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build", "default"))
KMOE_TRAIN = os.path.join(BUILD_DIR, "apps", "kmoe-train")
KMOE_TRAIN_SERIAL = os.path.join(BUILD_DIR, "tests", "kmoe-train-serial")

WORDS = ("the union state of congress people nation law peace war trade money year great public "
         "shall federal duty treaty army navy citizen liberty justice").split()


def write_corpus(directory, documents=80, seed=5):
    rng = random.Random(seed)
    path = os.path.join(directory, "corpus.txt")
    with open(path, "w") as f:
        for _ in range(documents):
            # Word pairs follow a fixed pattern, so there is structure beyond unigram counts.
            words = []
            for _ in range(80):
                w = rng.choice(WORDS)
                words += [w, WORDS[(WORDS.index(w) * 7 + 3) % len(WORDS)]]
            f.write(" ".join(words) + ".\n")
    return path


def write_deck(directory, name, extra=""):
    corpus = write_corpus(directory)
    deck = f"""
[run]
name = "{name}"
seed = 7
output_dir = "{directory}/runs"

[model]
vocab_size = 320
d_model = 32
n_layers = 2
n_heads = 4
seq_len = 16
dropout = 0.1

[moe]
num_experts = 4
top_k = 2
expert_d_ff = 48
noise_std = 0.1
z_loss_weight = 0.001

[optim]
muon_lr = 0.02
adamw_lr = 0.003

[train]
max_steps = 12
batch_size = 4
grad_accum = 2

[eval]
every = 4
batches = 4

[data]
corpus = "{corpus}"
data_dir = "{directory}/data"
holdout_fraction = 0.2
{extra}
"""
    path = os.path.join(directory, name + ".toml")
    with open(path, "w") as f:
        f.write(deck)
    return path


# Every kill -9 point the fault-injection tests tried ("name:N" or "random:<seconds>").
KILL_POINTS = []


def train(deck, *args, binary=KMOE_TRAIN, threads=2, crash_at=None, env=None):
    """Runs kmoe-train; crash_at="name:N" kills it with SIGKILL at the N-th pass of that crash point;
    env adds variables."""
    env = dict(os.environ, **(env or {}), OMP_NUM_THREADS=str(threads), OMP_PROC_BIND="false")
    env.pop("KMOE_CRASH_AT", None)
    if crash_at:
        env["KMOE_CRASH_AT"] = crash_at
    return subprocess.run([binary, deck, *args], env=env, capture_output=True, text=True, timeout=600)


# Record fields that measure time or memory, which no two runs share.
TIMING = {"ms_per_step", "tokens_per_s", "seconds"}
RUN_DEPENDENT_FINALS = {"train_seconds", "eval_seconds", "peak_host_memory_mib", "peak_device_memory_mib"}


def assert_same_run(test, record_a, record_b, weights_a, weights_b):
    with h5py.File(record_a, "r") as fa, h5py.File(record_b, "r") as fb:
        test.assertEqual(fb.attrs["status"], "complete")
        for group in ("train", "router", "eval", "final"):
            test.assertEqual(set(fa[group]), set(fb[group]), group)
            for name in fa[group]:
                if name in TIMING or name in RUN_DEPENDENT_FINALS:
                    continue
                np.testing.assert_array_equal(fa[group][name][()], fb[group][name][()], err_msg=f"{group}/{name}")
    with h5py.File(weights_a, "r") as wa, h5py.File(weights_b, "r") as wb:
        test.assertEqual(set(wa), set(wb))
        for name in wa:
            np.testing.assert_array_equal(wa[name][:], wb[name][:], err_msg=name)
