"""Guards for the test suite itself: unique module names, and a layout that mirrors the package."""

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).parent
ROOT = TESTS.parent
PACKAGE = ROOT / "src" / "layercraft"


def test_test_module_names_are_unique():
    # pytest's default import mode puts each test folder on sys.path, so two test files with one
    # basename shadow each other and collection fails; this names the culprits instead.
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [n for n, k in names.items() if k > 1] == []


def test_test_folders_are_not_packages_and_helpers_have_unique_names():
    # one convention for the whole suite: folders are plain directories (unique basenames above), and helper
    # modules are imported by their bare name (shared ones live at the top: lc_*.py), so those names are unique too
    assert sorted(str(p.relative_to(TESTS)) for p in TESTS.rglob("__init__.py")) == []
    helpers = Counter(p.name for p in TESTS.rglob("*.py") if not p.name.startswith("test_") and p.name != "conftest.py")
    assert [n for n, k in helpers.items() if k > 1] == []


def test_test_folders_mirror_the_package():
    # tests/<a>/<b>/test_x.py tests src/layercraft/<a>/<b>/ (or the top-level experiments/)
    folders = {p.parent.relative_to(TESTS) for p in TESTS.rglob("test_*.py")} - {Path(".")}
    stray = sorted(str(f) for f in folders
                   if not (PACKAGE / f).is_dir() and not (f.parts[0] == "experiments" and (ROOT / f).is_dir()))
    assert stray == []
