"""The seams of the package, read from the source: who may import whom, and where scheme names are spelled."""

import ast
import re
from pathlib import Path

from layercraft.conditioning.names import SCHEME_NAMES

SRC = Path(__file__).resolve().parents[1] / "src" / "layercraft"


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """layercraft module → the layercraft modules it imports (at any depth of the file, lazy imports included)."""
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        mod = _module(path)
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        out = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.startswith("layercraft"):
                    out.add(target)
                    out.update(f"{target}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name.startswith("layercraft"))
        graph[mod] = out
    known = set(graph)
    return {m: {t for t in ts if t in known} - {m} for m, ts in graph.items()}


def _under(mod: str, package: str) -> bool:
    return mod == f"layercraft.{package}" or mod.startswith(f"layercraft.{package}.")


def test_pipelines_never_import_training_and_conditioning_knows_no_models():
    graph = _imports()
    bad = [(m, t) for m, ts in graph.items() for t in ts
           if (_under(m, "pipelines") and _under(t, "training"))
           or (_under(m, "conditioning") and (_under(t, "models") or _under(t, "pipelines") or _under(t, "denoise")))
           or (_under(m, "denoise") and (_under(t, "pipelines") or _under(t, "training")))
           or (_under(m, "canvas") and not _under(t, "canvas"))]
    assert not bad, bad


def test_no_import_cycle_among_modules():
    graph = _imports()
    # a package's __init__ re-exporting its own modules is not a cycle between files
    edges = {m: {t for t in ts if not (t.startswith(m + ".") or m.startswith(t + "."))} for m, ts in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state and (cycle := visit(t)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state and (cycle := visit(m)):
            raise AssertionError(" → ".join(cycle))


def test_each_scheme_name_is_spelled_in_one_module():
    for name in SCHEME_NAMES:
        pattern = re.compile(rf"[\"']{name}[\"']")
        where = [p for p in SRC.rglob("*") if p.suffix in (".py", ".ts") and "node_modules" not in p.parts
                 and pattern.search(p.read_text())]
        assert [p.relative_to(SRC).as_posix() for p in where] == ["conditioning/names.py"], name
