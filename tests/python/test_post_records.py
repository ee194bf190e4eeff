"""kmoe_post.load on records the test writes with known values: run rows with deck, varied
values, state and finals; trajectory, router and evaluation frames; partial records."""
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "postprocess"))
import kmoe_post  # noqa: E402
from synthetic_records import write_record  # noqa: E402


class LoadTest(unittest.TestCase):
    def test_a_study_directory_becomes_tidy_frames(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            os.makedirs(os.path.join(out, "runs"))
            with open(os.path.join(tmp, "study.toml"), "w") as f:
                f.write('[study]\nname = "demo"\nbase = "b.toml"\noutput_dir = "out"\nseeds = [1, 2]\n')
            with open(os.path.join(out, "manifest.toml"), "w") as f:
                for noise in ("0.0", "0.5"):
                    for seed in (1, 2):
                        name = f"noise_std={noise},seed={seed}"
                        state = "running" if (noise, seed) == ("0.5", 2) else "complete"
                        f.write(f'[[cells]]\nname = "{name}"\ncondition = "noise_std={noise}"\nstate = "{state}"\n'
                                f'varied.moe.noise_std = {noise}\nvaried.run.seed = {seed}\n')
                        suffix = ".h5.partial" if state == "running" else ".h5"
                        write_record(os.path.join(out, "runs", name + suffix), noise, seed,
                                     "running" if state == "running" else "complete", val_loss=2.0 + seed / 10)
            write_record(os.path.join(out, "runs", "noise_std=0.0,seed=1.weights.h5"), "0.0", 1)  # not a record
            study = kmoe_post.load(os.path.join(tmp, "study.toml"))
            self.assertEqual(study.name, "demo")
            self.assertEqual(study.varied, ["noise_std", "seed"])
            runs = study.runs.set_index("run")
            self.assertEqual(len(runs), 4)
            self.assertEqual(runs.loc["noise_std=0.5,seed=2", "state"], "running")
            self.assertTrue(runs.loc["noise_std=0.5,seed=2", "partial"])
            self.assertTrue(np.isnan(runs.loc["noise_std=0.5,seed=2", "val_loss"]))
            self.assertAlmostEqual(runs.loc["noise_std=0.0,seed=2", "val_loss"], 2.2)
            self.assertEqual(runs.loc["noise_std=0.5,seed=1", "moe.noise_std"], 0.5)
            self.assertEqual(runs.loc["noise_std=0.5,seed=1", "noise_std"], 0.5)
            self.assertEqual(runs.loc["noise_std=0.5,seed=1", "condition"], "noise_std=0.5")
            self.assertEqual(len(study.trajectory), 4 * 3)
            self.assertEqual(len(study.router), 4 * 3 * 2 * 4)
            one = study.router[(study.router.run == "noise_std=0.0,seed=1") & (study.router.step == 2)]
            # step 2 is the second row of load = arange(...).reshape(3, 2, 4): values 8..15
            self.assertEqual(list(one.sort_values(["layer", "expert"])["load"]), list(range(8, 16)))
            self.assertEqual(list(study.evals.columns[:3]), ["run", "step", "val_loss"])

    def test_load_balance_measures_by_hand(self):
        from kmoe_post.load_balance import load_balance
        m = load_balance([[4, 4, 4, 4], [16, 0, 0, 0], [6, 2, 0, 0], [0, 0, 0, 0]])
        self.assertEqual(list(m["dead_experts"]), [0, 3, 2, 4])
        np.testing.assert_allclose(m["max_over_mean_load"][:3], [1.0, 4.0, 3.0])
        # KL(q ‖ 1/4): even 0; one expert log 4; (¾, ¼) ¾·log 3 + ¼·log 1 = ¾ log 3.
        np.testing.assert_allclose(m["load_kl_uniform"][:3], [0.0, np.log(4), 0.75 * np.log(3)], rtol=1e-14)
        self.assertTrue(np.isnan(m["load_kl_uniform"][3]) and np.isnan(m["max_over_mean_load"][3]))

    def test_router_layer_frames_carry_the_balance_measures(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.h5")
            write_record(path, "0.0", 1)
            study = kmoe_post.load([path])
            layers = study.router_layers
            # step 1, layer 0 of load = arange(24).reshape(3, 2, 4): loads 0, 1, 2, 3 (sum 6).
            first = layers[(layers.step == 1) & (layers.layer == 0)].iloc[0]
            self.assertEqual(first["dead_experts"], 1)
            self.assertAlmostEqual(first["max_over_mean_load"], 3 / 1.5)
            q = np.array([0, 1, 2, 3]) / 6
            self.assertAlmostEqual(first["load_kl_uniform"], sum(x * np.log(4 * x) for x in q if x > 0))

    def test_the_routing_probe_becomes_a_curve_column_and_a_coactivation_frame(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.h5")
            write_record(path, "0.0", 1)
            study = kmoe_post.load([path])
            self.assertAlmostEqual(study.evals["routing_change"].iloc[0], 0.2)  # layers 0.1 and 0.3
            self.assertEqual(study.runs["probe_tokens"].iloc[0], 4)
            c = study.coactivation
            self.assertEqual(len(c), 2 * 4 * 4)  # one evaluation, 2 layers, 4 × 4 experts
            both = c[(c.layer == 1) & (c.expert_i == 0) & (c.expert_j == 1)]["tokens"]
            self.assertEqual(list(both), [4])
            self.assertEqual(c[c.expert_i == 3]["tokens"].sum(), 0)

    def test_a_directory_or_a_list_of_records_loads_without_a_manifest(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_record(os.path.join(tmp, "a.h5"), "0.1", 3)
            write_record(os.path.join(tmp, "a.h5.partial"), "0.1", 3, status="running")  # superseded
            write_record(os.path.join(tmp, "b.h5.partial"), "0.1", 4, status="running")
            study = kmoe_post.load(tmp)
            self.assertEqual(sorted(study.runs["run"]), ["a", "b"])
            self.assertEqual(study.runs.set_index("run").loc["b", "state"], "running")
            self.assertEqual(len(kmoe_post.load([os.path.join(tmp, "a.h5")]).runs), 1)


if __name__ == "__main__":
    unittest.main()
