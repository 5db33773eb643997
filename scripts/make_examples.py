"""Write the bundled example projects into src/layercraft/assets/examples/."""

from layercraft.canvas import save_project
from layercraft.examples import example_path, four_friends

if __name__ == "__main__":
    path = save_project(four_friends(), example_path("four-friends"), stride=16)
    print("wrote", path)
