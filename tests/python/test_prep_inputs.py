"""kmoe-prep on awkward inputs: a corpus too small for every split fails before a tokenizer is
trained, and a corpus file with a very long name gets a prepared-data directory that fits."""
import os
import subprocess
import tempfile
import unittest

from kmoe_run import KMOE_TRAIN, write_corpus, write_deck

KMOE_PREP = os.path.join(os.path.dirname(KMOE_TRAIN), "kmoe-prep")


def prep(deck, *args):
    return subprocess.run([KMOE_PREP, deck, *args], capture_output=True, text=True, timeout=300)


class PrepInputsTest(unittest.TestCase):
    def test_a_one_document_corpus_fails_before_the_tokenizer_is_trained(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "run")
            one = os.path.join(tmp, "one.txt")
            with open(one, "w") as f:
                f.write("a single long document " * 20000 + "\n")
            r = prep(deck, "--set", f'data.corpus="{one}"')
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("split of " + one, r.stderr)
            self.assertNotIn("training a", r.stdout)

    def test_a_long_corpus_file_name_is_prepared(self):
        with tempfile.TemporaryDirectory() as tmp:
            deck = write_deck(tmp, "run")
            long_name = os.path.join(tmp, "c" * 240 + ".txt")
            os.rename(write_corpus(tmp), long_name)
            r = prep(deck, "--set", f'data.corpus="{long_name}"')
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
