import json

import pytest


@pytest.fixture(autouse=True)
def _fresh_area_index():
    # The area index is cached per process; a rolled-back test must not leak areas.
    from sereno.geo import areas

    areas.invalidate()
    yield
    areas.invalidate()


@pytest.fixture
def write_json(tmp_path):
    def write(doc, name="areas.geojson"):
        path = tmp_path / name
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
        return path

    return write
