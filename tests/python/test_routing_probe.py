"""The evaluation's routing probe: the routing change since the previous evaluation and the expert
co-activation counts on the fixed probe batch, checked against what they must be."""
import os
import tempfile
import unittest

import h5py
import numpy as np

from kmoe_run import train, write_deck


EXPERT_CHOICE = ('moe.routing="expert_choice"', 'moe.gate_norm="none"', "moe.load_balancing_weight=0",
                 "moe.load_balancing_weight_end=0")


def datasets(test, tmp, name, overrides, *paths):
    """Trains the test deck with the overrides and returns the record's datasets at `paths` and its attributes."""
    r = train(write_deck(tmp, name), *[arg for o in overrides for arg in ("--set", o)])
    test.assertEqual(r.returncode, 0, r.stderr)
    with h5py.File(os.path.join(tmp, "runs", name + ".h5"), "r") as f:
        return [f[p][:] for p in paths] + [dict(f.attrs)]


class RoutingProbe(unittest.TestCase):
    def test_change_and_coactivation_on_the_probe_batch(self):
        with tempfile.TemporaryDirectory() as tmp:
            for name, overrides, pairs_per_token in (
                    ("token_choice", (), 2),  # top_k = 2, dropless: 2 pairs per probe token
                    ("hash", ('moe.routing="hash"', "moe.noise_std=0", "moe.z_loss_weight=0",
                              "moe.load_balancing_weight=0", "moe.load_balancing_weight_end=0"), 2),
                    ("expert_choice", EXPERT_CHOICE + ("moe.capacity_factor=1.0",), None)):
                with self.subTest(routing=name):
                    change, counts, attrs = datasets(self, tmp, name, overrides, "eval/routing_change",
                                                     "eval/coactivation")
                    tokens = int(attrs["routing_probe_tokens"])
                    evals, layers, experts, _ = counts.shape
                    self.assertEqual(change.shape, (evals, layers))
                    self.assertTrue(np.all(np.isnan(change[0])))  # nothing to compare with yet
                    self.assertTrue(np.all((change[1:] >= 0) & (change[1:] <= 1)))
                    for matrix in counts.reshape(-1, experts, experts):
                        np.testing.assert_array_equal(matrix, matrix.T)
                        self.assertTrue(np.all(matrix <= np.minimum.outer(matrix.diagonal(), matrix.diagonal())))
                    if pairs_per_token:
                        np.testing.assert_array_equal(counts.diagonal(axis1=2, axis2=3).sum(axis=2),
                                                      pairs_per_token * tokens)
                    if name == "hash":  # a fixed table: the same pairs at every evaluation
                        np.testing.assert_array_equal(change[1:], 0)
                        np.testing.assert_array_equal(counts[0], counts[-1])
                    else:  # the routers train: some pairs move
                        self.assertGreater(np.nanmax(change), 0)
                    if name == "token_choice":
                        # a token's two experts are distinct: Σ_{i≠j} counts = 2 per token (each pair twice)
                        off_diagonal = counts.sum(axis=(2, 3)) - counts.diagonal(axis1=2, axis2=3).sum(axis=2)
                        np.testing.assert_array_equal(off_diagonal, 2 * tokens)

    def test_unrouted_tokens_count_the_tokens_no_expert_took(self):
        # Micro-batches of 4 × 16 = 64 tokens, 2 per update, 4 experts, top_k 2. A capacity factor of
        # 0.25 keeps 8 rows per expert, 32 of the micro-batch's 64 tokens at most: ≥ 32 left each.
        with tempfile.TemporaryDirectory() as tmp:
            for name, overrides, at_least in (
                    ("dropless", (), 0),
                    ("token_choice", ("moe.capacity_factor=0.25",), 2 * 32),
                    ("expert_choice", EXPERT_CHOICE + ("moe.capacity_factor=0.25",), 2 * 32)):
                with self.subTest(routing=name):
                    unrouted, dropped, _ = datasets(self, tmp, name, overrides, "router/unrouted_tokens",
                                                    "router/dropped")
                    self.assertTrue(np.all(unrouted >= at_least) and np.all(unrouted <= 128), unrouted)
                    if name == "dropless":
                        np.testing.assert_array_equal(unrouted, 0)
                    if name == "token_choice":  # a token is unrouted only when both its picks were dropped
                        self.assertTrue(np.all(2 * unrouted <= dropped))


if __name__ == "__main__":
    unittest.main()
