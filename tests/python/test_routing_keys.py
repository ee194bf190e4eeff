"""Every routing key changes what it should: a run with the key set differs from the run without it
in the quantity the key acts on (a setting that silently does nothing is a bug)."""
import os
import tempfile
import unittest

import h5py
import numpy as np

from kmoe_run import train, write_deck

# (base overrides, {key override: the record dataset it must change}).
CASES = [
    (("moe.aux_free_bias=true",), {
        'moe.score="sigmoid"': "train/total_loss",
        "moe.route_scale=2.5": "train/total_loss",
        'moe.gate_norm="none"': "train/total_loss",
        "moe.aux_free_bias_centre=true": "router/routing_bias",
        "moe.groups=2": "router/load",
        "moe.shared_experts=1": "train/total_loss",
        'moe.load_balancing_fractions="per_token"': "train/lb_loss",
        'moe.load_balancing_fractions="first_choice"': "train/lb_loss",
        'moe.load_balancing_layers="mean"': "train/lb_loss",
        'moe.load_balancing_layers="pooled"': "train/lb_loss",
        'moe.load_balancing_scope="sequence"': "train/lb_loss",
        'moe.load_balancing_scope="global_batch"': "train/lb_loss",
    }),
    (("moe.noise_std=0",), {
        'moe.routing="random"': "router/load",
    }),
    (("moe.noise_std=0", "moe.load_balancing_weight=0", "moe.load_balancing_weight_end=0", "moe.z_loss_weight=0"), {
        'moe.routing="sinkhorn"': "router/load",
        'moe.routing="hash"': "router/load",
    }),
    (("moe.noise_std=0", "moe.load_balancing_weight=0", "moe.load_balancing_weight_end=0", "moe.z_loss_weight=0",
      'moe.routing="hash"'), {
        'moe.hash_table="balanced"': "router/load",
    }),
    (("moe.load_balancing_weight=0", "moe.load_balancing_weight_end=0", 'moe.gate_norm="none"',
      "moe.capacity_factor=0.75"), {
        'moe.routing="expert_choice"': "router/load",
        'moe.drop_policy="probability"': "train/total_loss",
        "moe.renorm_after_drop=true": "train/total_loss",
    }),
    (("moe.load_balancing_weight=0", "moe.load_balancing_weight_end=0", 'moe.gate_norm="none"',
      "moe.capacity_factor=1.0", 'moe.routing="expert_choice"'), {
        'moe.expert_choice_group="sequence"': "train/total_loss",
    }),
    (("moe.shared_experts=1",), {
        "moe.shared_expert_d_ff=16": "train/total_loss",
        'moe.shared_gate="sigmoid"': "train/total_loss",
        'moe.shared_gate="convex"': "train/total_loss",
    }),
]


def sets(overrides):
    return [arg for o in overrides for arg in ("--set", o)]


class RoutingKeys(unittest.TestCase):
    def test_each_routing_key_changes_the_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            runs = os.path.join(tmp, "runs")
            for c, (base, keys) in enumerate(CASES):
                reference = f"base{c}"
                self.assertEqual(train(write_deck(tmp, reference), *sets(base)).returncode, 0)
                for i, (override, dataset) in enumerate(keys.items()):
                    with self.subTest(base=base, key=override):
                        name = f"case{c}_key{i}"
                        r = train(write_deck(tmp, name), *sets(base + (override,)))
                        self.assertEqual(r.returncode, 0, r.stderr)
                        with h5py.File(os.path.join(runs, name + ".h5"), "r") as f, \
                                h5py.File(os.path.join(runs, reference + ".h5"), "r") as g:
                            self.assertFalse(np.array_equal(f[dataset][()], g[dataset][()]),
                                             f"{override} left {dataset} unchanged")


    def test_the_record_says_which_balancing_convention_ran_and_its_value_at_balance(self):
        with tempfile.TemporaryDirectory() as tmp:
            runs = os.path.join(tmp, "runs")
            for name, overrides, convention, at_balance in (
                    ("default", (), "f per_pick, layers sum, scope micro_batch", 2.0),  # 1 per layer, 2 layers
                    ("hf", ('moe.load_balancing_fractions="per_token"', 'moe.load_balancing_layers="pooled"'),
                     "f per_token, layers pooled, scope micro_batch", 2.0)):  # k = 2
                self.assertEqual(train(write_deck(tmp, name), *sets(overrides)).returncode, 0)
                with h5py.File(os.path.join(runs, name + ".h5"), "r") as f:
                    self.assertEqual(f.attrs["routing_causal"], "yes")
                    self.assertEqual(f.attrs["load_balancing_convention"], convention)
                    self.assertEqual(f.attrs["load_balancing_at_balance"], at_balance)

    def test_the_record_says_expert_choice_is_not_causal(self):
        with tempfile.TemporaryDirectory() as tmp:
            overrides = ('moe.routing="expert_choice"', "moe.capacity_factor=1.0", 'moe.gate_norm="none"',
                         "moe.load_balancing_weight=0", "moe.load_balancing_weight_end=0",
                         'moe.expert_choice_group="sequence"')
            self.assertEqual(train(write_deck(tmp, "ec"), *sets(overrides)).returncode, 0)
            with h5py.File(os.path.join(tmp, "runs", "ec.h5"), "r") as f:
                self.assertEqual(f.attrs["routing_causal"], "no: expert choice sees the later tokens of its sequence")


if __name__ == "__main__":
    unittest.main()
