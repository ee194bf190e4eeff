"""postprocess/ installs as a package: a virtual environment made with --system-site-packages (so
Debian's numpy, pandas, h5py … stay visible) gets `import kmoe_post` and the kmoe-report command,
outside the repository."""
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


class PackageTest(unittest.TestCase):
    def test_pip_install_editable_into_a_venv(self):
        with tempfile.TemporaryDirectory() as tmp:
            venv = os.path.join(tmp, "venv")
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True)
            pip = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--no-index", "--no-build-isolation",
                                  "-e", os.path.join(ROOT, "postprocess")], capture_output=True, text=True,
                                 timeout=300, cwd=tmp)
            self.assertEqual(pip.returncode, 0, pip.stdout + pip.stderr)
            probe = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                                    "import kmoe_post, kmoe_post.effects; print(kmoe_post.__file__)"],
                                   capture_output=True, text=True, cwd=tmp, env={"PATH": "/usr/bin:/bin"})
            self.assertEqual(probe.returncode, 0, probe.stderr)
            self.assertEqual(probe.stdout.strip(), os.path.join(ROOT, "postprocess", "kmoe_post", "__init__.py"))
            usage = subprocess.run([os.path.join(venv, "bin", "kmoe-report"), "--help"], capture_output=True,
                                   text=True, cwd=tmp)
            self.assertEqual(usage.returncode, 0, usage.stderr)
            self.assertIn("--watch", usage.stdout)


if __name__ == "__main__":
    unittest.main()
