"""Reads a record written by the C++ HDF5 writer (tests/tools/write_sample_record) with h5py."""
import glob
import os
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

BUILD_DIR = os.environ.get("KMOE_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build", "default"))


class Hdf5WriterTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "sample.h5")
        tool = os.path.join(BUILD_DIR, "tests", "write_sample_record")
        subprocess.run([tool, self.path], check=True)

    def tearDown(self):
        self.tmp.cleanup()

    def test_file_is_written_whole_without_a_temporary_left(self):
        self.assertTrue(os.path.exists(self.path))
        self.assertEqual(glob.glob(self.path + "*.tmp"), [])

    def test_attributes(self):
        with h5py.File(self.path, "r") as f:
            self.assertEqual(f.attrs["status"], "complete")
            self.assertIn('name = "sample"', f.attrs["deck"])
            self.assertEqual(int(f.attrs["total_params"]), 79059840)
            self.assertAlmostEqual(float(f.attrs["lr"]), 0.001)
            self.assertAlmostEqual(float(f["final"].attrs["best_val_ppl"]), 12.5)

    def test_series_shapes_and_values(self):
        with h5py.File(self.path, "r") as f:
            np.testing.assert_array_equal(f["train/step"][:], np.arange(5))
            self.assertEqual(f["train/step"].dtype, np.int64)
            np.testing.assert_allclose(f["train/loss"][:], 10.0 - np.arange(5))
            load = f["router/load"][:]
            self.assertEqual(load.shape, (5, 2, 3))
            self.assertEqual(load[4, 1, 2], 405.0)
            self.assertEqual(load[2, 0, 1], 201.0)
            np.testing.assert_array_equal(f["train/nonfinite"][:], [0, 0, 0, 1, 0])

    def test_fixed_array_is_row_major(self):
        with h5py.File(self.path, "r") as f:
            w = f["weights/blocks.0.router"][:]
            self.assertEqual(w.shape, (3, 2))
            self.assertEqual(w.dtype, np.float32)
            self.assertEqual(w[1, 0], 3.0)


if __name__ == "__main__":
    unittest.main()
