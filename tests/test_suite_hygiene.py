"""Guards for the test suite itself."""

from collections import Counter
from pathlib import Path


def test_test_module_names_are_unique():
    # pytest's default import mode puts each test folder on sys.path, so two test files with one
    # basename shadow each other and collection fails; this names the culprits instead.
    names = Counter(p.name for p in Path(__file__).parent.rglob("test_*.py"))
    assert [n for n, k in names.items() if k > 1] == []
