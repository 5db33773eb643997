"""Two hundred seeded mutations of the bundled project through `layercraft canvas render`.

Each runs in a forked child under a memory cap; none may end in a traceback or an exit code other
than 0 (accepted) or 2 (refused, one line), and none may grow past the memory budget. The larger
run is `python scripts/fuzz_projects.py --count 5000`.
"""

import importlib.util
import sys
import warnings
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_projects.py"
MiB = 1 << 20


def _fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_projects", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fuzz_projects", module)
    spec.loader.exec_module(module)
    return module


def test_fuzzed_projects_are_accepted_or_refused_cleanly_in_bounded_memory():
    fuzz = _fuzzer()
    failures = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate entries it is asked to write
        report = fuzz.fuzz(200, seed=21, budget_growth=384 * MiB, memory_cap=1024 * MiB, log=failures.append,
                           big_side=2048)  # the script's larger run uses 4096² (the per-image limit)
    print(report.summary())
    assert report.failures == [], "\n".join(failures[:5])
    assert report.runs == 200
    assert report.accepted >= 15 and report.refused >= 100  # both paths were exercised
    assert len(report.kinds) == len(fuzz.Mutator.KINDS)  # every kind of mutation ran
