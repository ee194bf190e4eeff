"""Every routing key changes what it should: a run with the key set differs from the default run in
the quantity the key acts on (a setting that silently does nothing is a bug)."""
import os
import tempfile
import unittest

import h5py
import numpy as np

from kmoe_run import train, write_deck

# key override → the record dataset it must change.
ROUTING_KEYS = {
    'moe.score="sigmoid"': "train/total_loss",
    "moe.route_scale=2.5": "train/total_loss",
    'moe.gate_norm="none"': "train/total_loss",
    "moe.aux_free_bias_centre=true": "router/routing_bias",
    "moe.groups=2": "router/load",
}


class RoutingKeys(unittest.TestCase):
    def test_each_routing_key_changes_the_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            runs = os.path.join(tmp, "runs")
            base = ("--set", "moe.aux_free_bias=true")
            self.assertEqual(train(write_deck(tmp, "default"), *base).returncode, 0)
            with h5py.File(os.path.join(runs, "default.h5"), "r") as f:
                default = {name: f[name][()] for name in set(ROUTING_KEYS.values())}
            for i, (override, dataset) in enumerate(ROUTING_KEYS.items()):
                with self.subTest(key=override):
                    name = f"key{i}"
                    r = train(write_deck(tmp, name), *base, "--set", override)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    with h5py.File(os.path.join(runs, name + ".h5"), "r") as f:
                        changed = f[dataset][()]
                    self.assertFalse(np.array_equal(changed, default[dataset]), f"{override} left {dataset} unchanged")


if __name__ == "__main__":
    unittest.main()
