"""`python -m layercraft.eval …` (e.g. `accelerate launch --num_processes 4 -m layercraft.eval run --shard auto`)."""

from .cli import app

if __name__ == "__main__":
    app()
