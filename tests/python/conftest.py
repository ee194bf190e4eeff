"""Reports what the fault-injection suite covered at the end of the pytest run."""
import kmoe_run


def pytest_terminal_summary(terminalreporter):
    if kmoe_run.KILL_POINTS:
        names = sorted({point.split(":")[0] for point in kmoe_run.KILL_POINTS})
        terminalreporter.write_line(f"fault injection: {len(kmoe_run.KILL_POINTS)} kill points tried "
                                    f"({', '.join(names)}), each resumed to a bit-identical result")
