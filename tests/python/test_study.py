"""kmoe-study end to end on a tiny study: plan, run, a rerun that skips complete cells, a study
stopped by SIGTERM mid-way that the same command finishes, and status."""
import os
import signal
import subprocess
import tempfile
import unittest

import h5py

from kmoe_run import KMOE_TRAIN, write_deck

KMOE_STUDY = os.path.join(os.path.dirname(KMOE_TRAIN), "kmoe-study")


def write_study(directory, max_steps, extra=""):
    write_deck(directory, "base")
    path = os.path.join(directory, "study.toml")
    with open(path, "w") as f:
        f.write(f"""[study]
name = "tiny"
base = "base.toml"
output_dir = "out"
seeds = [1, 2]

[grid.moe]
noise_std = [0.0, 0.5]

[set.train]
max_steps = {max_steps}
{extra}""")
    return path


# Every cell to step 6, then only the best condition goes on to max_steps.
SCREEN_THEN_BEST = """
[[stages]]
name = "screen"
until_step = 6

[[stages]]
name = "finish"
promote = { top = 1 }
"""


def study(*args, **kwargs):
    return subprocess.run([KMOE_STUDY, *args], capture_output=True, text=True, timeout=600, **kwargs)


class StudyTest(unittest.TestCase):
    def test_run_rerun_and_status(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 6)
            plan = study("plan", path)
            self.assertEqual(plan.returncode, 0, plan.stderr)
            self.assertIn("4 cells", plan.stdout)
            self.assertFalse(os.path.exists(os.path.join(tmp, "out")))  # plan writes nothing
            r = study("run", path, "--jobs", "2")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            runs = os.path.join(tmp, "out", "runs")
            records = sorted(p for p in os.listdir(runs) if p.endswith(".h5") and "weights" not in p)
            self.assertEqual(records, ["noise_std=0.0,seed=1.h5", "noise_std=0.0,seed=2.h5",
                                       "noise_std=0.5,seed=1.h5", "noise_std=0.5,seed=2.h5"])
            with h5py.File(os.path.join(runs, records[3]), "r") as f:
                self.assertEqual(f.attrs["status"], "complete")
                self.assertIn("noise_std = 0.5", f.attrs["deck"])
                self.assertIn("seed = 2", f.attrs["deck"])
            stamps = {p: os.stat(os.path.join(runs, p)).st_mtime_ns for p in records}
            again = study("run", path)
            self.assertEqual(again.returncode, 0, again.stderr)
            self.assertNotIn("started", again.stdout)
            self.assertEqual(stamps, {p: os.stat(os.path.join(runs, p)).st_mtime_ns for p in records})
            status = study("status", path)
            self.assertIn("total: 4 cells, 4 complete", status.stdout)
            self.assertIn('state = "complete"', open(os.path.join(tmp, "out", "manifest.toml")).read())

    def test_gpus_run_a_cell_on_each_device_at_a_time(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 6)
            r = study("run", path, "--gpus", "3,5")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            started = [line for line in r.stdout.splitlines() if line.startswith("study: started")]
            self.assertEqual(len(started), 4)
            self.assertEqual(sum("(device 3, " in line for line in started) +
                             sum("(device 5, " in line for line in started), 4)
            self.assertTrue("(device 3, " in started[0] and "(device 5, " in started[1], started)
            self.assertIn("total: 4 cells, 4 complete", study("status", path).stdout)
            refused = study("run", path, "--gpus", "0", "--ranks-per-cell", "2")
            self.assertIn("--gpus gives each cell one device", refused.stderr)

    def test_a_stopped_study_continues_with_the_same_command(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 400)
            run = subprocess.Popen([KMOE_STUDY, "run", path, "--jobs", "2"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
            started = 0
            for line in run.stdout:
                started += line.startswith("study: started")
                if started == 2:
                    break
            run.send_signal(signal.SIGTERM)
            out, err = run.communicate(timeout=300)
            self.assertEqual(run.returncode, 75, out + err)
            status = study("status", path)
            self.assertNotIn("running", status.stdout)
            finish = study("run", path, "--jobs", "2")
            self.assertEqual(finish.returncode, 0, finish.stdout + finish.stderr)
            self.assertIn("total: 4 cells, 4 complete", study("status", path).stdout)


class StagedStudyTest(unittest.TestCase):
    def test_stages_cut_every_cell_then_the_gate_prunes_and_the_rest_finish(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 12, SCREEN_THEN_BEST)
            r = study("run", path, "--jobs", "2")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("gate into stage finish at step 6: 1 of 2 conditions go on", r.stdout)
            gate = open(os.path.join(tmp, "out", "gates", "finish.toml")).read()
            self.assertIn("at_step = 6", gate)
            self.assertIn("rank 1 of 2", gate)
            self.assertIn("rank 2 of 2", gate)
            status = study("status", path).stdout
            self.assertIn("total: 4 cells, 2 complete, 2 pruned", status)
            runs = os.path.join(tmp, "out", "runs")
            by_state = {}
            for name in os.listdir(runs):
                if name.endswith(".h5") and "weights" not in name:
                    with h5py.File(os.path.join(runs, name), "r") as f:
                        by_state.setdefault(str(f.attrs["status"]), []).append((name, f["train/step"].shape[0]))
            self.assertEqual(sorted(n for _, n in by_state["complete"]), [12, 12])
            self.assertEqual(sorted(n for _, n in by_state["stopped"]), [6, 6])  # the pruned condition's seeds
            conditions = {n.split(",seed")[0] for n, _ in by_state["complete"]}
            self.assertEqual(len(conditions), 1)  # both seeds of the promoted condition
            manifest = open(os.path.join(tmp, "out", "manifest.toml")).read()
            self.assertIn('state = "pruned"', manifest)
            self.assertIn("[[gates]]", manifest)
            again = study("run", path)
            self.assertEqual(again.returncode, 0, again.stderr)
            self.assertNotIn("started", again.stdout)  # nothing left: pruned cells stay pruned

    def test_a_slurm_dry_run_writes_the_scripts(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 12, "[[stages]]\nname = \"screen\"\nuntil_step = 6\n[[stages]]\nname = \"rest\"\n")
            r = study("slurm", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            scripts = sorted(os.listdir(os.path.join(tmp, "out", "slurm")))
            self.assertEqual(scripts, ["prepare.sbatch", "stage-0-screen.sbatch", "stage-1-rest.sbatch"])
            # The jobs' commands work without Slurm: prepare, then cell 0 of stage 0 trains to step 6.
            early = study("cell", path, "--stage", "0", "--index", "0")
            self.assertEqual(early.returncode, 1)
            self.assertIn("kmoe-study prepare", early.stderr)
            self.assertEqual(study("prepare", path).returncode, 0)
            cell = study("cell", path, "--stage", "0", "--index", "0")
            self.assertEqual(cell.returncode, 0, cell.stdout + cell.stderr)
            self.assertIn("--until-step 6", cell.stdout)
            again = study("cell", path, "--stage", "0", "--index", "0")
            self.assertIn("nothing to do (at the end of stage screen", again.stdout)


class ShippedStudyDecksTest(unittest.TestCase):
    def test_every_study_deck_in_inputs_expands(self):
        decks = os.path.join(os.path.dirname(__file__), "..", "..", "inputs", "studies")
        names = sorted(n for n in os.listdir(decks) if n.endswith(".toml"))
        self.assertEqual(names, ["ablations.toml", "capacity.toml", "noise-lb-small.toml", "noise-lb.toml",
                                 "routing-families.toml", "zloss.toml"])
        for name in names:
            plan = study("plan", os.path.join(decks, name))
            self.assertEqual(plan.returncode, 0, name + ": " + plan.stderr)
        self.assertIn("total: 18 cells", study("plan", os.path.join(decks, "noise-lb.toml")).stdout)
        self.assertIn("total: 18 cells", study("plan", os.path.join(decks, "routing-families.toml")).stdout)


if __name__ == "__main__":
    unittest.main()
