"""Every program's command line: --help answers with exit code 0 and says its options; a command line
that cannot be run exits 2 with one error style and no work done."""
import os
import subprocess
import unittest

from kmoe_run import BUILD_DIR

APPS = os.path.join(BUILD_DIR, "apps")


def run(program, *args):
    return subprocess.run([os.path.join(APPS, program), *args], capture_output=True, text=True, timeout=60)


class CommandLines(unittest.TestCase):
    def test_every_program_and_subcommand_answers_help(self):
        for command, option in ((["kmoe-train"], "--until-step"), (["kmoe-prep"], "--set"),
                                (["kmoe-deck"], "resolve"), (["kmoe-deck", "resolve"], "--set"),
                                (["kmoe-study"], "slurm"), (["kmoe-study", "run"], "--jobs"),
                                (["kmoe-study", "slurm"], "--submit"), (["kmoe-study", "cell"], "--index")):
            r = run(*command, "--help")
            self.assertEqual(r.returncode, 0, command)
            self.assertIn("Usage:", r.stdout, command)
            self.assertIn(option, r.stdout, command)

    def test_usage_errors_exit_2_naming_the_problem(self):
        cases = [
            (["kmoe-train"], "deck is required"),
            (["kmoe-train", "deck.toml", "--resume", "--overwrite"], "excludes"),
            (["kmoe-train", "deck.toml", "--until-step", "0"], "at least 1"),
            (["kmoe-train", "deck.toml", "--bogus"], "--bogus"),
            (["kmoe-prep"], "deck is required"),
            (["kmoe-deck"], "subcommand is required"),
            (["kmoe-deck", "explain"], "subcommand is required"),
            (["kmoe-study", "run", "study.toml", "--jobs", "0"], "at least 1"),
            (["kmoe-study", "run", "study.toml", "--submit"], "--submit"),
            (["kmoe-study", "cell", "study.toml", "--stage", "0"], "--index is required"),
        ]
        for command, words in cases:
            r = run(*command)
            self.assertEqual(r.returncode, 2, command)
            self.assertIn(words, r.stderr, command)
            self.assertIn("Run with --help for more information.", r.stderr, command)

    def test_overrides_repeat_and_may_come_before_the_deck(self):
        deck = os.path.join(os.path.dirname(__file__), "..", "..", "inputs", "quickstart.toml")
        r = run("kmoe-deck", "resolve", "--set", "moe.top_k=1", deck, "--set", 'moe.gate_norm="none"')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("top_k = 1", r.stdout)
        self.assertIn('gate_norm = "none"', r.stdout)


if __name__ == "__main__":
    unittest.main()
