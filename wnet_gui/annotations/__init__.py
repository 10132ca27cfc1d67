"""Nuclei in memory (``NucleusStore``) and on disk (QuPath GeoJSON, CSV, Counting TSV)."""

from .geojson import GeoJSONError, import_geojson, merge_parsed, read_geojson, read_region_outline
from .geojson_export import store_to_geojson, write_geojson
from .store import MANUAL, Nucleus, NucleusStore

__all__ = ["GeoJSONError", "MANUAL", "Nucleus", "NucleusStore", "import_geojson", "merge_parsed", "read_geojson", "read_region_outline",
           "store_to_geojson", "write_geojson"]
