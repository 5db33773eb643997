"""Write the benchmark suite specs to src/layercraft/world/suites/*.json (deterministic)."""

from layercraft.world.cli import app

if __name__ == "__main__":
    app(["suites"])
