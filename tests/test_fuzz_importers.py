"""Importers never crash or hang on garbage: they parse or raise their documented error."""


import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wnet_gui.annotations import GeoJSONError, NucleusStore
from wnet_gui.annotations.geojson import add_parsed, parse_geojson
from wnet_gui.slides import SlideError, open_slide

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
coords = st.recursive(st.one_of(st.floats(), st.integers(), st.text(max_size=3), st.none()), lambda inner: st.lists(inner, max_size=5), max_leaves=25)
geometry = st.fixed_dictionaries({"type": st.sampled_from(["Point", "MultiPoint", "Polygon", "MultiPolygon", "LineString", "Bogus", 3]),
                                  "coordinates": coords})
feature = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["Feature", "feature", None]),
        "geometry": st.one_of(geometry, json_value),
        "properties": st.one_of(
            st.none(),
            json_value,
            st.fixed_dictionaries(
                {
                    "objectType": st.sampled_from(["annotation", "detection", 5]),
                    "classification": json_value,
                    "measurements": json_value,
                    "wnet": st.one_of(json_value, st.fixed_dictionaries({"id": json_value, "ids": json_value, "centre": json_value, "scores": json_value})),
                }
            ),
        ),
    }
)
document = st.one_of(
    json_value,
    st.lists(feature, max_size=4),
    st.fixed_dictionaries({"type": st.just("FeatureCollection"), "features": st.one_of(st.lists(feature, max_size=5), json_value)}),
    feature,
    geometry,
)


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document)
def test_any_document_parses_or_raises_geojson_error(doc):
    store = NucleusStore()
    store.add(1.0, 1.0)
    try:
        parsed = parse_geojson(doc)
    except GeoJSONError:
        assert len(store) == 1
        return
    add_parsed(store, parsed)  # whatever parsed must be importable as is
    assert len(store) == 1 + len(parsed)
    assert np.isfinite(store.coordinates()).all()


def test_huge_numbers_are_errors_or_ignored():
    with pytest.raises(GeoJSONError, match="feature 0"):
        parse_geojson({"type": "Point", "coordinates": [10**400, 1]})
    parsed = parse_geojson({"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]},
                            "properties": {"wnet": {"id": 2**80}, "measurements": {"score": 10**400}}})
    store = NucleusStore()
    add_parsed(store, parsed)
    assert len(store) == 1 and np.isnan(store.get(store.ids()[0]).score)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4000), st.sampled_from([".tif", ".svs", ".png", ".jpg", ".ndpi", ".bmp"]))
def test_random_bytes_are_a_slide_error(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"random{suffix}"
    path.write_bytes(data)
    try:
        slide = open_slide(path)
        slide.read_region(0, 0, 16, 16)
    except SlideError as exc:
        assert path.name in str(exc)


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.1, 0.3, 0.6, 0.9, 0.99])
def test_truncated_sample_tiff(tmp_path, sample_tiff, fraction):
    data = sample_tiff.read_bytes()
    path = tmp_path / "cut.tif"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(SlideError, match="cut.tif"):
        open_slide(path).read_region(0, 0, 512, 512)
