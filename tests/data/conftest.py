import pytest
from data_photos import prepared


@pytest.fixture(scope="session")
def photo_dataset(tmp_path_factory):
    """(photos, dataset) prepared once per session from the real-photo set of `data_photos.build`."""
    return prepared(tmp_path_factory.getbasetemp() / "photo-dataset")
