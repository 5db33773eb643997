"""Packages whose names are imported from their submodules on first use (PEP 562).

`import layercraft.conditioning` (or one light submodule of it, which imports the package first) then costs
nothing beyond the package itself: `layercraft --help` and the canvas commands run without loading torch or
diffusers, and each name still reads `from layercraft.conditioning import pack`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, where: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """(`__getattr__`, `__dir__`) for `package`: name → attribute of submodule `where[name]`, cached once read."""
    module_globals = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> object:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        module_globals[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(module_globals) | set(where))

    return __getattr__, __dir__


def exports(**modules: str) -> dict[str, str]:
    """`exports(pruning="pack prune", ...)` → {"pack": "pruning", "prune": "pruning", ...}."""
    return {name: module for module, names in modules.items() for name in names.split()}
