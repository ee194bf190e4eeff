"""A study's result survives interruptions and concurrent commands: a cell killed while writing
its final record is finished by the rerun; a second runner is refused; `status` takes no lock;
a cell whose lock is held is reported still running, not failed; the runner's death (also with
two-rank cells), Ctrl-C to its process group and SIGHUP all leave checkpointed cells and no
orphans, and the rerun ends with the uninterrupted study's records."""
import fcntl
import os
import random
import signal
import subprocess
import tempfile
import time
import unittest

import h5py

from kmoe_run import assert_same_run
from test_study import KMOE_STUDY, SCREEN_THEN_BEST, study, write_study

STEPS = 1500  # long enough to interrupt the cells while they run
CELLS = ["noise_std=0.0,seed=1", "noise_std=0.0,seed=2", "noise_std=0.5,seed=1", "noise_std=0.5,seed=2"]


def status_of(record):
    with h5py.File(record, "r") as f:
        return str(f.attrs["status"])


def kmoe_train_processes(directory):
    """Pids of kmoe-train processes (and the mpirun of a multi-rank cell) whose command line names a
    deck under `directory`."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        launched = args[0].endswith(b"kmoe-train") or args[0].endswith(b"mpirun")
        if launched and any(directory.encode() in a for a in args):
            pids.append(int(pid))
    return pids


def wait_until_gone(directory, seconds=60):
    deadline = time.time() + seconds
    while kmoe_train_processes(directory) and time.time() < deadline:
        time.sleep(0.2)
    return kmoe_train_processes(directory)


MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def start_runner(path, ranks=1, **kwargs):
    more = ["--ranks-per-cell", str(ranks)] if ranks > 1 else []
    run = subprocess.Popen([KMOE_STUDY, "run", path, "--jobs", "2", *more], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=dict(os.environ, **MPI_ENV), **kwargs)
    started = 0
    for line in run.stdout:
        started += line.startswith("study: started")
        if started == 2:
            break
    time.sleep(random.uniform(0.3, 2.5))  # the cells get going; the interruption comes at a random instant
    return run


class StudyFaultTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        """The uninterrupted study every interrupted one must end equal to."""
        cls.reference_dir = tempfile.TemporaryDirectory()
        path = write_study(cls.reference_dir.name, STEPS)
        r = study("run", path, "--jobs", "2")
        assert r.returncode == 0, r.stdout + r.stderr
        cls.reference = os.path.join(cls.reference_dir.name, "out", "runs")

    @classmethod
    def tearDownClass(cls):
        cls.reference_dir.cleanup()

    def assert_same_records(self, runs):
        reference = self.reference
        for cell in CELLS:
            assert_same_run(self, os.path.join(reference, cell + ".h5"), os.path.join(runs, cell + ".h5"),
                            os.path.join(reference, cell + ".weights.h5"), os.path.join(runs, cell + ".weights.h5"))

    def test_a_cell_killed_while_writing_its_final_record_is_finished_by_the_rerun(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 6)
            r = subprocess.run([KMOE_STUDY, "run", path, "--jobs", "2"], capture_output=True, text=True, timeout=600,
                               env=dict(os.environ, KMOE_CRASH_AT="final-record-write:1"))
            self.assertNotEqual(r.returncode, 0, r.stdout)
            again = study("run", path, "--jobs", "2")
            self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
            self.assertIn("total: 4 cells, 4 complete", study("status", path).stdout)
            runs = os.path.join(tmp, "out", "runs")
            for cell in CELLS:
                self.assertEqual(status_of(os.path.join(runs, cell + ".h5")), "complete")
                self.assertTrue(os.path.exists(os.path.join(runs, cell + ".weights.h5")))
            self.assertEqual([n for n in os.listdir(runs) if n.endswith(".tmp")], [])

    def test_status_takes_no_lock_and_a_held_cell_is_still_running_not_failed(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 6)
            self.assertEqual(study("prepare", path).returncode, 0)
            runs = os.path.join(tmp, "out", "runs")
            os.makedirs(runs, exist_ok=True)
            lock_path = os.path.join(runs, CELLS[0] + ".lock")
            with open(lock_path, "w") as lock:
                lock.write("held by the test")
                lock.flush()
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another process runs this cell
                status = study("status", path)
                self.assertEqual(status.returncode, 0, status.stderr)
                self.assertIn(f"kmoe-train pid {os.getpid()}", status.stdout)
                self.assertEqual(open(lock_path).read(), "held by the test")  # status wrote nothing
                r = study("run", path, "--jobs", "2")
                self.assertEqual(r.returncode, 75, r.stdout + r.stderr)
                self.assertIn(f"{CELLS[0]} is still running (kmoe-train pid {os.getpid()})", r.stdout)
                self.assertNotIn("failed", r.stdout)
            finish = study("run", path, "--jobs", "2")
            self.assertEqual(finish.returncode, 0, finish.stdout + finish.stderr)
            self.assertIn("total: 4 cells, 4 complete", study("status", path).stdout)

    def test_a_second_runner_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 400)
            run = start_runner(path)
            try:
                second = study("run", path, "--jobs", "2")
                self.assertEqual(second.returncode, 1, second.stdout)
                self.assertIn("another kmoe-study run is running this study", second.stderr)
                status = study("status", path)  # while it runs: read-only, cells keep running
                self.assertEqual(status.returncode, 0)
            finally:
                run.send_signal(signal.SIGTERM)
                out, err = run.communicate(timeout=300)
            self.assertEqual(run.returncode, 75, out + err)
            self.assertNotIn("failed", out)

    def check_interruption(self, interrupt, new_session, checkpoints=True, ranks=1):
        """Interrupts a running study (of cells of `ranks` MPI ranks), checks that no kmoe-train is
        left and every started cell checkpointed, then finishes it (one process per cell) from
        another directory through an absolute path and compares the records with an
        uninterrupted study's."""
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, STEPS)
            run = start_runner(path, ranks, start_new_session=new_session)
            interrupt(run)
            try:
                run.communicate(timeout=300)
            except subprocess.TimeoutExpired:
                run.kill()
                raise
            self.assertEqual(wait_until_gone(tmp), [])  # no orphans
            runs = os.path.join(tmp, "out", "runs")
            partial = [n for n in os.listdir(runs) if n.endswith(".ckpt") or n.endswith(".h5.partial")]
            self.assertTrue(partial or not checkpoints, os.listdir(runs))
            self.assertNotIn("failed", study("status", path).stdout)
            finish = subprocess.run([KMOE_STUDY, "run", os.path.abspath(path), "--jobs", "2"], capture_output=True,
                                    text=True, timeout=600, cwd="/")
            self.assertEqual(finish.returncode, 0, finish.stdout + finish.stderr)
            self.assert_same_records(runs)

    def test_a_study_continues_through_another_spelling_of_its_path_and_after_a_move(self):
        with tempfile.TemporaryDirectory() as tmp:
            first = os.path.join(tmp, "first")
            os.makedirs(first)
            write_study(tmp, STEPS)  # the base deck and corpus stay in tmp; the study directory moves
            with open(os.path.join(tmp, "study.toml")) as f:
                text = f.read().replace('base = "base.toml"', 'base = "../base.toml"')
            with open(os.path.join(first, "study.toml"), "w") as f:
                f.write(text)
            run = subprocess.Popen([KMOE_STUDY, "run", "first/study.toml", "--jobs", "2"], cwd=tmp,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for line in run.stdout:
                if line.startswith("study: started"):
                    break
            time.sleep(1.0)
            run.send_signal(signal.SIGTERM)
            out, err = run.communicate(timeout=300)
            self.assertEqual(run.returncode, 75, out + err)
            moved = os.path.join(tmp, "moved")
            os.rename(first, moved)
            finish = subprocess.run([KMOE_STUDY, "run", os.path.join(moved, "study.toml"), "--jobs", "2"],
                                    capture_output=True, text=True, timeout=600, cwd="/")
            self.assertEqual(finish.returncode, 0, finish.stdout + finish.stderr)
            self.assert_same_records(os.path.join(moved, "out", "runs"))

    def test_names_and_paths_cannot_inject_lines_into_slurm_scripts(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 6)
            text = open(path).read()
            with open(path, "w") as f:
                f.write(text.replace('name = "tiny"', 'name = "tiny\\ntouch injected"'))
            r = study("slurm", path)
            self.assertEqual(r.returncode, 1)
            self.assertIn("study.name", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "out")))
            with open(path, "w") as f:
                f.write(text.replace('output_dir = "out"', 'output_dir = "out dir"'))
            r = study("slurm", path)
            self.assertEqual(r.returncode, 1)
            self.assertIn("#SBATCH lines cannot carry", r.stderr)

    def test_a_study_path_with_quotes_and_backslashes_keeps_its_records_inside(self):
        with tempfile.TemporaryDirectory() as tmp:
            odd = os.path.join(tmp, 'st"u\\dy')
            os.makedirs(odd)
            write_study(tmp, 6)  # the base deck and corpus stay in tmp; the study lives in the odd path
            with open(os.path.join(tmp, "study.toml")) as f:
                text = f.read().replace('base = "base.toml"', 'base = "../base.toml"')
            path = os.path.join(odd, "study.toml")
            with open(path, "w") as f:
                f.write(text)
            before = sorted(os.listdir(tmp))
            r = study("run", path, "--jobs", "2")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(sorted(n for n in os.listdir(os.path.join(odd, "out", "runs")) if n.endswith("1.h5")),
                             ["noise_std=0.0,seed=1.h5", "noise_std=0.5,seed=1.h5"])
            self.assertEqual(set(os.listdir(tmp)) - set(before), {"data"})  # only the base deck's prepared data

    def test_a_seeds_only_study_has_a_cell_per_seed_and_one_value_twice_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 6)
            text = open(path).read()
            with open(path, "w") as f:
                f.write(text.replace("[grid.moe]\nnoise_std = [0.0, 0.5]\n", ""))
            plan = study("plan", path)
            self.assertEqual(plan.returncode, 0, plan.stderr)
            self.assertIn("2 cells", plan.stdout)
            self.assertIn("seed=1", plan.stdout)
            self.assertEqual(study("slurm", path).returncode, 0)
            script = open(os.path.join(tmp, "out", "slurm", "stage-0-all.sbatch")).read()
            self.assertIn("--array=0-1", script)
            with open(path, "w") as f:
                f.write(text.replace("noise_std = [0.0, 0.5]", "noise_std = [1, 1.0]"))
            r = study("plan", path)
            self.assertEqual(r.returncode, 1)
            self.assertIn("would train the same deck", r.stderr)
            with open(path, "w") as f:  # a string-valued key: its cells are named without quotes
                f.write(text.replace("[grid.moe]\nnoise_std = [0.0, 0.5]", '[grid.optim]\ndecay = ["cosine", "linear"]'))
            plan = study("plan", path)
            self.assertEqual(plan.returncode, 0, plan.stderr)
            self.assertIn("decay=linear,seed=2", plan.stdout)

    def test_edited_settings_are_refused_not_mixed_and_rerun_on_request(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 6)
            self.assertEqual(study("run", path, "--jobs", "2").returncode, 0)
            decks = os.path.join(tmp, "out", "decks")
            before = {n: open(os.path.join(decks, n)).read() for n in os.listdir(decks)}
            text = open(path).read()
            with open(path, "w") as f:
                f.write(text.replace("max_steps = 6", "max_steps = 8"))
            r = study("run", path, "--jobs", "2")
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("4 cell(s) started under other settings", r.stderr)
            self.assertIn("train.max_steps 6 -> 8", r.stderr)
            self.assertIn("--rerun-changed", r.stderr)
            self.assertEqual(before, {n: open(os.path.join(decks, n)).read() for n in os.listdir(decks)})
            self.assertNotEqual(study("prepare", path).returncode, 0)
            with open(path, "w") as f:  # a loss weight: complete cells must not keep the old value silently
                f.write(text + "\n[set.moe]\nz_loss_weight = 0.01\n")
            r = study("run", path, "--jobs", "2")
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("moe.z_loss_weight", r.stderr)
            again = study("run", path, "--jobs", "2", "--rerun-changed")
            self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
            for cell in CELLS:
                with h5py.File(os.path.join(tmp, "out", "runs", cell + ".h5"), "r") as f:
                    self.assertIn("z_loss_weight = 0.01", f.attrs["deck"])
                    self.assertEqual(f.attrs["status"], "complete")
            self.assertEqual(study("run", path).returncode, 0)  # now they agree

    def test_a_gate_is_never_decided_on_missing_results(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 12, SCREEN_THEN_BEST)
            self.assertEqual(study("prepare", path).returncode, 0)
            early = study("cell", path, "--stage", "1", "--index", "0")
            self.assertEqual(early.returncode, 1, early.stdout)
            self.assertIn("needs every cell's result at step 6", early.stderr)
            self.assertIn("nothing was decided", early.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "out", "gates", "finish.toml")))
            r = study("run", path, "--jobs", "2")  # the whole study still decides once, on full data
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("1 of 2 conditions go on", r.stdout)

    def test_stage_and_promote_mistakes_are_found_before_any_compute(self):
        with tempfile.TemporaryDirectory() as tmp:
            stages = """
[[stages]]
name = "screen"
until_step = {until}

[[stages]]
name = "finish"
promote = {{ reference = "{reference}", better_by = 0.02 }}
"""
            path = write_study(tmp, 12, stages.format(until=6, reference="noise_std=0.7"))
            r = study("plan", path)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("stage 'finish'", r.stderr)
            self.assertIn("no reference", r.stderr)
            path = write_study(tmp, 12, stages.format(until=0, reference="noise_std=0.0"))
            r = study("plan", path)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("until_step must be >= 1", r.stderr)

    def test_one_unreadable_record_does_not_stop_status(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_study(tmp, 6)
            self.assertEqual(study("run", path, "--jobs", "2").returncode, 0)
            record = os.path.join(tmp, "out", "runs", CELLS[0] + ".h5")
            with open(record, "r+b") as f:
                f.truncate(100)
            status = study("status", path)
            self.assertEqual(status.returncode, 0, status.stderr)
            self.assertIn("unreadable", status.stdout)
            self.assertIn("3 complete", status.stdout)

    def test_kill_9_of_the_runner_and_its_cells_at_a_random_instant(self):
        def kill_everything(run):
            time.sleep(random.uniform(0.0, 2.0))
            directory = os.path.dirname(run.args[2])
            run.kill()
            for pid in kmoe_train_processes(directory):
                os.kill(pid, signal.SIGKILL)
        self.check_interruption(kill_everything, new_session=False, checkpoints=False)

    def test_kill_9_of_the_runner_stops_its_cells_with_a_checkpoint(self):
        self.check_interruption(lambda run: run.kill(), new_session=False)

    def test_kill_9_of_the_runner_stops_its_two_rank_cells_with_a_checkpoint(self):
        # mpirun, signalled, would kill its ranks a second later: the ranks watch the runner instead.
        self.check_interruption(lambda run: run.kill(), new_session=False, ranks=2)

    def test_ctrl_c_to_the_process_group_checkpoints_every_cell(self):
        self.check_interruption(lambda run: os.killpg(run.pid, signal.SIGINT), new_session=True)

    def test_sighup_stops_the_study_with_checkpoints(self):
        self.check_interruption(lambda run: os.killpg(run.pid, signal.SIGHUP), new_session=True)


if __name__ == "__main__":
    unittest.main()
