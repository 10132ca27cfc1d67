"""Which slides a run covers and where each one's result goes.

Inputs are files, folders, globs or manifests (a CSV with a ``path`` column and an optional
``mpp`` column, as a study's slide list usually is); each slide gets one output name that no
other input shares, so two ``slide.tif`` in different folders are both done."""

from __future__ import annotations

import csv
import glob
import os
from dataclasses import dataclass
from pathlib import Path

from ..slides import SLIDE_SUFFIXES
from ..regular_file import require_regular
from .detect import OptionError, check_mpp

MANIFEST_SUFFIXES = (".csv",)


@dataclass(frozen=True)
class SlideInput:
    """A slide to process, and the µm/px its manifest states for it (None: the file's own)."""

    path: Path
    mpp: float | None = None


def read_manifest(path: str | Path) -> list[SlideInput]:
    """Slides listed in a CSV: a ``path`` column (relative paths are relative to the CSV's
    folder, so a study folder can move) and optionally ``mpp``; blank lines are ignored."""
    path = require_regular(path)  # a pipe or a device is refused, not waited on
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = {c.strip().lower(): c for c in (reader.fieldnames or [])}
        if "path" not in columns:
            raise OptionError(f"{path.name}: a slide manifest needs a 'path' column (found: {', '.join(columns) or 'none'})")
        slides = []
        for line, row in enumerate(reader, start=2):
            text = (row.get(columns["path"]) or "").strip()
            if not text:
                continue
            mpp_text = (row.get(columns["mpp"]) or "").strip() if "mpp" in columns else ""
            try:
                mpp = float(mpp_text) if mpp_text else None
                check_mpp(mpp)
            except (ValueError, OptionError) as exc:
                raise OptionError(f"{path.name}, line {line}: mpp {mpp_text!r}: {exc}") from None
            slide = Path(text).expanduser()
            slides.append(SlideInput(slide if slide.is_absolute() else path.parent / slide, mpp))
    return slides


def expand_inputs(inputs: list[str]) -> list[SlideInput]:
    """Files, folders (their slide files), globs and manifests, in a stable order, without repeats."""
    found: list[SlideInput] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += [SlideInput(p) for p in sorted(path.iterdir()) if p.suffix.lower() in SLIDE_SUFFIXES and p.is_file()]
        elif path.suffix.lower() in MANIFEST_SUFFIXES and path.is_file():
            found += read_manifest(path)
        elif any(ch in item for ch in "*?["):
            found += [SlideInput(Path(p)) for p in sorted(glob.glob(item))]
        else:
            found.append(SlideInput(path))
    seen, unique = set(), []
    for s in found:
        key = real_path(s.path)
        if key not in seen:
            seen.add(key)
            unique.append(s)
    return unique


def real_path(path: Path) -> Path:
    """``path`` with its links followed; a link loop (or another unreadable link) is left as
    written, so it fails as that one slide ("does not exist") instead of stopping the run."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return Path(os.path.abspath(path))


def output_names(slides: list[Path], suffix: str) -> list[str]:
    """One distinct output file name per input: the stem, or where two inputs share it
    (``x.tif`` and ``x.png``; ``a/slide.tif`` and ``b/slide.tif``) the full file name, then
    as many parent folders as it takes to tell them apart."""
    stems = [p.stem for p in slides]
    names = list(stems)
    clashing = {n for n in stems if stems.count(n) > 1}
    resolved = [real_path(p) for p in slides]
    for i, p in enumerate(slides):
        if names[i] not in clashing:
            continue
        parts = resolved[i].parts
        for depth in range(1, len(parts) + 1):
            candidate = "__".join(parts[-depth:]).lstrip("/\\")
            others = ["__".join(q.parts[-depth:]).lstrip("/\\") for j, q in enumerate(resolved) if j != i and stems[j] == stems[i]]
            if candidate not in others:
                names[i] = candidate
                break
    return [f"{n}{suffix}" for n in names]
