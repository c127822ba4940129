import pytest

from tests.geo.conftest import _fresh_area_index, write_json  # noqa: F401


@pytest.fixture(autouse=True)
def _areas_cache_fresh(_fresh_area_index):  # noqa: F811
    yield
