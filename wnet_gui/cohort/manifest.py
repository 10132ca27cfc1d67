"""The books of a cohort run: what was done with which input, model and options.

``OUT/cohort-manifest.json``, written only by the driver (atomically, after each slide), so a
rerun skips a slide only when its output is there *and* was made from the same file (size,
mtime), the same weights (sha256) and the same options — a re-scanned slide, a new model or
another threshold is redone."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

from ..regular_file import open_regular
from ..engine.detect import DetectOptions

MANIFEST_NAME = "cohort-manifest.json"
MAX_MANIFEST_BYTES = 64 << 20  # a line per slide; more is not a manifest this app wrote (read as none)
VERSION = 1
# options that change what is found (device, threads, batch size and prefetch do not)


def fingerprint(slide: Path, model_sha256: str, options: DetectOptions, region, out_format: str, points_as: str) -> dict[str, Any]:
    """What a result depends on; a missing input gets a fingerprint no result can match."""
    try:
        st = os.stat(slide)
        size, mtime = st.st_size, st.st_mtime_ns
    except OSError:
        size, mtime = -1, -1
    opts = options.affecting_results()
    from ..engine.slide_inputs import real_path

    return {
        "input": str(real_path(Path(slide))),
        "size": size,
        "mtime_ns": mtime,
        "model_sha256": model_sha256,
        "options": opts,
        "region": None if region is None else hashlib.sha256(pickle.dumps(region)).hexdigest(),
        "format": out_format,
        "points_as": points_as,
    }


class CohortManifest:
    def __init__(self, path: Path, entries: dict[str, dict[str, Any]] | None = None):
        self.path = path
        self.entries = entries or {}

    @classmethod
    def load(cls, out_dir: Path) -> "CohortManifest":
        """The folder's manifest; an unreadable one counts as empty (everything is redone)."""
        path = Path(out_dir) / MANIFEST_NAME
        try:
            with open_regular(path) as fh:  # a pipe or a device named like the manifest counts as none
                data = json.loads(fh.read(MAX_MANIFEST_BYTES).decode("utf-8"))
            entries = data.get("slides", {}) if isinstance(data, dict) else {}
            return cls(path, {k: v for k, v in entries.items() if isinstance(v, dict)})
        except (OSError, ValueError):
            return cls(path)

    def matches(self, name: str, entry: dict[str, Any], output: Path) -> bool:
        old = self.entries.get(name)
        if old is None or entry["size"] < 0:
            return False
        try:
            if output.stat().st_size != old.get("output_size"):
                return False
        except OSError:
            return False
        return all(old.get(k) == v for k, v in entry.items())

    def nuclei(self, name: str) -> int:
        return int(self.entries.get(name, {}).get("nuclei", 0))

    def record(self, name: str, entry: dict[str, Any], output: Path, nuclei: int) -> None:
        self.entries[name] = {**entry, "output_size": output.stat().st_size, "nuclei": nuclei}

    def save(self) -> None:
        from ..annotations.atomic_file import replacing

        with replacing(self.path) as tmp:
            tmp.write_text(json.dumps({"version": VERSION, "slides": self.entries}, indent=1), encoding="utf-8")


__all__ = ["CohortManifest", "MANIFEST_NAME", "fingerprint"]
