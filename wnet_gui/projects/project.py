"""A project: a study's slides and where each one stands, kept in a small JSON file.

``wnet-project.json`` in the slide folder (or, when that folder is read-only, in the user's
data folder under a name derived from the folder's path) — human-readable, versioned, with
slide paths relative to the folder so the folder can be moved or shared. A slide that went
missing stays listed as missing; a file written by an older version is upgraded on reading.
The annotations themselves stay where the app always keeps them (the slide's autosave), so a
project adds bookkeeping, never a second copy of the points.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from ..regular_file import open_regular
from ..settings import PROJECT_FILE, names_project_file, user_data_dir
from ..slides import SLIDE_SUFFIXES
from ..slides.scale import valid_mpp

FORMAT = "wnet-project"
VERSION = 2
STATES = ("new", "detected", "reviewing", "reviewed")  # where the review stands; exporting is recorded beside it


class ProjectError(ValueError):
    """A project file that cannot be read (names the file and why)."""


@dataclass
class SlideEntry:
    """One slide of the project: where it is (relative to the project folder) and where it stands."""

    path: str
    state: str = "new"
    nuclei: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    width: int | None = None
    height: int | None = None
    mpp: float | None = None
    reviewed_mm2: float = 0.0
    view: dict[str, float] | None = None  # centre x, y (level-0) and scale, restored when reopened
    updated: str = ""
    exported: str = ""  # when the slide was last exported (ISO time); the review state stays what it was

    @property
    def name(self) -> str:
        return Path(self.path).name


def project_file_for(folder: Path) -> Path:
    """Where a folder's project file lives: in the folder, or in the user's data folder when
    the folder cannot be written (a read-only share of slides)."""
    folder = Path(folder).resolve()
    inside = folder / PROJECT_FILE
    if inside.exists() or os.access(folder, os.W_OK):
        return inside
    digest = hashlib.sha1(str(folder).encode()).hexdigest()[:12]
    return user_data_dir("projects") / f"{folder.name}.{digest}.{PROJECT_FILE}"


MAX_PROJECT_BYTES = 64 << 20  # one short line per slide: 64 MiB is some 200,000 slides
MAX_SLIDES = 200_000
MAX_CLASSES_PER_SLIDE = 1_000
MAX_SIDE = 10_000_000  # px: larger than any scanner's slide, smaller than a typo's damage


def _upgrade(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """Older files: version 1 kept a plain list of paths under "slides" and a "status" word."""
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProjectError(f"{path.name}: 'version' is not a whole number ({str(version)[:20]!r}); the file is damaged")
    if version > VERSION:
        raise ProjectError(f"{path.name} was written by a newer version of W-Net Annotator (format {version}); update the app")
    slides = data.get("slides", [])
    if not isinstance(slides, list):
        raise ProjectError(f"{path.name}: 'slides' is not a list")
    if len(slides) > MAX_SLIDES:
        raise ProjectError(f"{path.name} lists {len(slides):,} slides, more than the {MAX_SLIDES:,} a project may hold")
    upgraded = []
    for item in slides:
        if isinstance(item, str):  # version 1
            item = {"path": item}
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            continue  # an entry we cannot read is skipped, the others kept
        if "status" in item and "state" not in item:  # version 1's name
            item["state"] = item.pop("status")
        if item.get("state") == "exported":  # once a state of its own, which hid the review's: it was at least under review
            item["state"] = "reviewing"
            item.setdefault("exported", item.get("updated") or "yes")
        upgraded.append(item)
    data["slides"] = upgraded
    data["version"] = VERSION
    return data


def inside_path(text: str) -> str | None:
    """A slide path as the project may hold it: relative, inside the project folder, in one
    spelling ('a/./b.tif' and 'a/b.tif' are one slide); None for anything else (absolute,
    '../', a drive, NUL, absurdly long). A project file comes from anyone: it never points
    the app (and the autosaves it writes beside each slide) outside its folder."""
    if not text or len(text) > 4096 or "\x00" in text:
        return None
    pure = PurePosixPath(text.replace("\\", "/"))
    if pure.is_absolute() or PureWindowsPath(text).drive or ".." in pure.parts:
        return None
    parts = [p for p in pure.parts if p not in ("", ".")]
    return "/".join(parts) if parts else None


def _number(value: Any, low: float, high: float, whole: bool = False) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)):
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def entry_from(item: dict[str, Any]) -> SlideEntry | None:
    """A slide entry with every field checked like the command line's options: what does not
    pass is dropped (the entry keeps its defaults there); a path that does not pass drops the entry."""
    path = inside_path(item.get("path", ""))
    if path is None:
        return None
    entry = SlideEntry(path)
    if item.get("state") in STATES:
        entry.state = item["state"]
    entry.nuclei = _number(item.get("nuclei"), 0, 10**9, whole=True) or 0
    classes = item.get("classes")
    if isinstance(classes, dict) and len(classes) <= MAX_CLASSES_PER_SLIDE:
        entry.classes = {k[:200]: v for k, v in classes.items() if isinstance(k, str) and _number(v, 0, 10**9, whole=True) is not None}
    entry.width = _number(item.get("width"), 1, MAX_SIDE, whole=True)
    entry.height = _number(item.get("height"), 1, MAX_SIDE, whole=True) if entry.width else None
    entry.width = entry.width if entry.height else None
    entry.mpp = valid_mpp(item.get("mpp"))
    entry.reviewed_mm2 = _number(item.get("reviewed_mm2"), 0, 1e6) or 0.0
    view = item.get("view")
    if isinstance(view, dict) and all(_number(view.get(k), -1e9, 1e9) is not None for k in ("x", "y")) \
            and _number(view.get("scale"), 1e-6, 1e3) is not None:
        entry.view = {k: float(view[k]) for k in ("x", "y", "scale")}
    for key in ("updated", "exported"):
        if isinstance(item.get(key), str):
            setattr(entry, key, item[key][:40])
    return entry


class Project:
    def __init__(self, folder: Path, file: Path, slides: list[SlideEntry], current: str | None = None):
        self.folder = Path(folder).resolve()
        self.file = Path(file)
        self.slides = slides
        self.current = current

    # -- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, where: str | Path, scan: bool = True) -> "Project":
        """A folder (its project file, created if absent) or a project file. With ``scan``
        the folder's slide files are added to the list; entries whose file is gone stay."""
        where = Path(where)
        if where.is_file() and names_project_file(where):
            file = where
            folder = where.parent
            data = cls._read(file)
            folder = cls._kept_elsewhere(file, data) or folder
        elif where.is_dir():
            folder = where.resolve()
            file = project_file_for(folder)
            data = cls._read(file) if file.exists() else {"slides": []}
        else:
            raise ProjectError(f"{where} is neither a folder nor a {PROJECT_FILE}")
        known = set()
        slides = []
        for item in data.get("slides", []):
            entry = entry_from(item)
            if entry is not None and entry.path not in known:  # one entry per slide
                known.add(entry.path)
                slides.append(entry)
        current = inside_path(data["current"]) if isinstance(data.get("current"), str) else None
        project = cls(folder, file, slides, current)
        if scan and folder.is_dir():
            project.scan()
        return project

    @staticmethod
    def _kept_elsewhere(file: Path, data: dict[str, Any]) -> Path | None:
        """The slide folder of a project file kept in the user's data folder (its "folder"
        key). Honoured only there, and only when the file's name is the one this app gives
        that folder's project: a "folder" key in a file beside the slides redirects nothing."""
        folder = data.get("folder")
        if not isinstance(folder, str) or file.parent.resolve() != user_data_dir("projects").resolve():
            return None
        folder_path = Path(folder)
        if not folder_path.is_absolute() or not folder_path.is_dir():
            raise ProjectError(f"{file.name}: its slide folder {folder[:200]} is not there")
        expected = f"{folder_path.resolve().name}.{hashlib.sha1(str(folder_path.resolve()).encode()).hexdigest()[:12]}.{PROJECT_FILE}"
        if file.name != expected:
            raise ProjectError(f"{file.name} names a slide folder ({folder[:200]}) that is not its own")
        return folder_path.resolve()

    @staticmethod
    def _read(file: Path) -> dict[str, Any]:
        try:
            with open_regular(file) as fh:  # a pipe or a device named like a project file is refused, not waited on
                text = fh.read(MAX_PROJECT_BYTES + 1)
            if len(text) > MAX_PROJECT_BYTES:
                raise ProjectError(f"{file.name} is larger than {MAX_PROJECT_BYTES >> 20} MiB; a project file is one short line per slide")
            data = json.loads(text.decode("utf-8"))
        except RecursionError:
            raise ProjectError(f"{file.name} cannot be read: it is nested too deeply to be a project file") from None
        except (OSError, ValueError) as exc:
            raise ProjectError(f"{file.name} cannot be read: {str(exc)[:200]}") from exc
        if not isinstance(data, dict) or data.get("format", FORMAT) != FORMAT:
            raise ProjectError(f"{file.name} is not a W-Net Annotator project")
        return _upgrade(data, file)

    def scan(self) -> int:
        """Add the folder's slide files not yet listed; returns how many were added."""
        before = len(self.slides)
        for p in sorted(self.folder.iterdir()):
            if p.is_file() and p.suffix.lower() in SLIDE_SUFFIXES and not p.name.startswith("."):
                self.add(p)
        return len(self.slides) - before

    def add(self, path: Path) -> SlideEntry:
        rel = inside_path(self.relative(path))
        if rel is None:
            raise ProjectError(f"{path} is not inside the project folder {self.folder}")
        for entry in self.slides:
            if entry.path == rel:
                return entry
        entry = SlideEntry(rel)
        self.slides.append(entry)
        return entry

    # -- paths --------------------------------------------------------------------------
    def relative(self, path: Path) -> str:
        """``path`` relative to the folder, as written (a slide linked into the folder stays
        the link's name); through its real location when the folder was reached by a link."""
        for candidate in (Path(os.path.abspath(path)), Path(path).resolve()):
            try:
                return candidate.relative_to(self.folder).as_posix()
            except ValueError:
                continue
        path = Path(path).resolve()
        return os.path.relpath(path, self.folder).replace(os.sep, "/") if path.anchor == self.folder.anchor else str(path)

    def absolute(self, entry: SlideEntry) -> Path:
        return self.folder / entry.path  # entries are inside the folder by construction (inside_path)

    def missing(self, entry: SlideEntry) -> bool:
        return not self.absolute(entry).exists()

    def entry_for(self, path: str | Path) -> SlideEntry | None:
        rel = self.relative(Path(path))
        return next((e for e in self.slides if e.path == rel), None)

    # -- bookkeeping --------------------------------------------------------------------
    def update(self, path: str | Path, **changes) -> SlideEntry:
        entry = self.entry_for(path) or self.add(Path(path))
        state = changes.get("state")
        if state is not None and state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        for key, value in changes.items():
            setattr(entry, key, value)
        entry.updated = datetime.now().isoformat(timespec="seconds")
        return entry

    def save(self) -> None:
        """Write atomically; the file stays small and readable (one slide per line)."""
        from ..annotations.atomic_file import replacing

        self.file.parent.mkdir(parents=True, exist_ok=True)
        slides = ",\n".join("    " + json.dumps({k: v for k, v in asdict(e).items() if v not in (None, {}, "")}, ensure_ascii=False)
                            for e in self.slides)
        head = {"format": FORMAT, "version": VERSION, "current": self.current}
        if self.file.parent.resolve() != self.folder:
            head["folder"] = str(self.folder)  # a project kept in the user folder must know its slides' folder
        text = json.dumps(head, ensure_ascii=False)[:-1] + ',\n  "slides": [\n' + slides + "\n  ]\n}\n"
        with replacing(self.file) as tmp:
            tmp.write_text(text, encoding="utf-8")

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATES}
        for e in self.slides:
            out[e.state] += 1
        return out


__all__ = ["PROJECT_FILE", "Project", "ProjectError", "STATES", "SlideEntry", "project_file_for"]
