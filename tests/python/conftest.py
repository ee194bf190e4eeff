"""The environment every test starts from, and what the fault-injection suite covered (reported at
the end of the pytest run)."""
import os

import kmoe_run

# Each test sets the thread counts it needs; a caller's shell must not change them (a study's
# runner splits the cores itself). OPENBLAS_CORETYPE stays: the tests must pass under each.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_PLACES", "OMP_WAIT_POLICY",
              "KMOE_CRASH_AT"):
    os.environ.pop(_name, None)
os.environ["OMP_PROC_BIND"] = "false"


def pytest_terminal_summary(terminalreporter):
    if kmoe_run.KILL_POINTS:
        names = sorted({point.split(":")[0] for point in kmoe_run.KILL_POINTS})
        terminalreporter.write_line(f"fault injection: {len(kmoe_run.KILL_POINTS)} kill points tried "
                                    f"({', '.join(names)}), each resumed to a bit-identical result")
