import pytest
from data_photos import prepared, small_set


@pytest.fixture(scope="session")
def photo_dataset(tmp_path_factory):
    """(photos, dataset) prepared once per session from the real-photo set of `data_photos.build`."""
    return prepared(tmp_path_factory.getbasetemp() / "photo-dataset")


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """(photos, dataset): four photos of two people, one item per chunk, prepared in this process."""
    return small_set(tmp_path_factory.getbasetemp() / "small-dataset")
