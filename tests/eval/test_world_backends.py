import numpy as np

from layercraft.eval.loading import load_backends
from layercraft.eval.world_backends import face_boxes


def test_face_box_is_the_highest_face_inside_each_person_else_the_top_of_the_box():
    persons = np.array([[0, 0, 50, 100], [100, 0, 150, 100]], float)
    faces = np.array([[15, 40, 35, 60], [15, 5, 35, 25], [300, 5, 320, 25]], float)
    fb = face_boxes(persons, faces)
    np.testing.assert_allclose(fb[0], [15, 5, 35, 25])
    np.testing.assert_allclose(fb[1], [115, 0, 135, 20])


def test_no_backends():
    assert load_backends("none").missing() == ["identity", "detector", "attributes", "features"]
