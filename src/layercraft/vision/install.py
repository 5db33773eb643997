"""`python -m layercraft.vision.install`: extract the bundled vision models (what make.py runs)."""

from __future__ import annotations

import sys

from .assets import install_models, model_dir


def main() -> int:
    written = install_models()
    print(f"layercraft vision models in {model_dir()}: "
          + (f"installed {', '.join(written)}" if written else "up to date"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
