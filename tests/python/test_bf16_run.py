"""train.precision = "bf16" end to end on the CPU (bf16-rounded operands, fp32 products): the
run trains like the fp32 run of the same deck and its record says which precision ran."""
import os
import tempfile
import unittest

import h5py
import numpy as np

from kmoe_run import train, write_deck


class Bf16RunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.records = {}
        for precision in ("fp32", "bf16"):
            deck = write_deck(cls.tmp.name, precision)
            result = train(deck, "--set", f"train.precision={precision}", "--set", "train.max_steps=30")
            assert result.returncode == 0, result.stderr
            cls.records[precision] = os.path.join(cls.tmp.name, "runs", precision + ".h5")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def read(self, precision):
        with h5py.File(self.records[precision], "r") as f:
            return (f.attrs["precision"], f["train"]["ce_loss"][:], float(f["final"]["val_loss"][()]))

    def test_record_names_the_precision(self):
        self.assertEqual(self.read("fp32")[0], "fp32")
        self.assertEqual(self.read("bf16")[0], "bf16")

    def test_bf16_trains_within_a_few_percent_of_fp32(self):
        _, ce32, val32 = self.read("fp32")
        _, ce16, val16 = self.read("bf16")
        self.assertFalse(np.array_equal(ce16, ce32))  # the setting takes effect
        self.assertLess(ce16[-1], 0.8 * ce16[0])  # and the run learns
        self.assertLess(abs(val16 - val32), 0.03 * val32)
        np.testing.assert_allclose(ce16, ce32, rtol=0.03)


if __name__ == "__main__":
    unittest.main()
