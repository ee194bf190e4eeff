"""Outputs never alias other files: a record path equal to the checkpoint's, to the corpus, or to a
file kmoe did not write is refused before anything is written, and leaves no lock beside it."""
import os
import tempfile
import unittest

from kmoe_run import train, write_deck


class OutputGuardTest(unittest.TestCase):
    def refused(self, tmp, *args):
        deck = write_deck(tmp, "run")
        result = train(deck, *args)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        return result.stderr

    def test_a_record_on_the_checkpoint_path_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = os.path.join(tmp, "runs", "run.ckpt")
            err = self.refused(tmp, "--set", f'output.hdf5="{ckpt}"')
            self.assertIn("both the record and the checkpoint", err)
            self.assertFalse(os.path.exists(ckpt))
            self.assertFalse(os.path.exists(ckpt + ".lock"))

    def test_a_record_on_the_corpus_is_refused_even_with_overwrite(self):
        with tempfile.TemporaryDirectory() as tmp:
            corpus = os.path.join(tmp, "corpus.txt")
            write_deck(tmp, "run")
            before = open(corpus).read()
            err = self.refused(tmp, "--set", f'output.hdf5="{corpus}"', "--overwrite")
            self.assertIn("data.corpus", err)
            self.assertEqual(open(corpus).read(), before)
            self.assertFalse(os.path.exists(corpus + ".lock"))

    def test_an_output_path_that_is_a_directory_is_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = os.path.join(tmp, "runs", "run.ckpt")
            os.makedirs(ckpt)
            err = self.refused(tmp)
            self.assertIn(ckpt + " is a directory", err)

    def test_resume_does_not_replace_a_file_kmoe_did_not_write(self):
        with tempfile.TemporaryDirectory() as tmp:
            notes = os.path.join(tmp, "notes.h5")
            with open(notes, "w") as f:
                f.write("my notes\n")
            err = self.refused(tmp, "--set", f'output.hdf5="{notes}"', "--resume")
            self.assertIn("not a file kmoe wrote", err)
            self.assertEqual(open(notes).read(), "my notes\n")


if __name__ == "__main__":
    unittest.main()
