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
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..slides import SLIDE_SUFFIXES

PROJECT_FILE = "wnet-project.json"
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


def _user_projects_dir() -> Path:
    base = os.environ.get("WNET_DATA_HOME") or os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "wnet-annotator" / "projects"


def project_file_for(folder: Path) -> Path:
    """Where a folder's project file lives: in the folder, or in the user's data folder when
    the folder cannot be written (a read-only share of slides)."""
    folder = Path(folder).resolve()
    inside = folder / PROJECT_FILE
    if inside.exists() or os.access(folder, os.W_OK):
        return inside
    digest = hashlib.sha1(str(folder).encode()).hexdigest()[:12]
    return _user_projects_dir() / f"{folder.name}.{digest}.{PROJECT_FILE}"


def _upgrade(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """Older files: version 1 kept a plain list of paths under "slides" and a "status" word."""
    version = data.get("version", 1)
    if not isinstance(version, int) or version > VERSION:
        raise ProjectError(f"{path.name} was written by a newer version of W-Net Annotator (format {version}); update the app")
    slides = data.get("slides", [])
    if not isinstance(slides, list):
        raise ProjectError(f"{path.name}: 'slides' is not a list")
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
        if where.is_file() and where.name.endswith(PROJECT_FILE):
            file = where
            folder = where.parent
            data = cls._read(file)
            folder = Path(data.get("folder") or folder)
        elif where.is_dir():
            folder = where.resolve()
            file = project_file_for(folder)
            data = cls._read(file) if file.exists() else {"slides": []}
        else:
            raise ProjectError(f"{where} is neither a folder nor a {PROJECT_FILE}")
        known = set()
        slides = []
        for item in data.get("slides", []):
            entry = SlideEntry(**{k: v for k, v in item.items() if k in SlideEntry.__dataclass_fields__})
            if entry.state not in STATES:
                entry.state = "new"
            if entry.path not in known:
                known.add(entry.path)
                slides.append(entry)
        project = cls(folder, file, slides, data.get("current"))
        if scan and folder.is_dir():
            project.scan()
        return project

    @classmethod
    def from_list(cls, paths: list[str | Path], file: str | Path) -> "Project":
        """A project over an explicit list of slides (paths kept relative to the file's folder where possible)."""
        file = Path(file)
        project = cls.open(file, scan=False) if file.exists() else cls(file.parent, file, [])
        for p in paths:
            project.add(Path(p))
        return project

    @staticmethod
    def _read(file: Path) -> dict[str, Any]:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ProjectError(f"{file.name} cannot be read: {exc}") from exc
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
        rel = self.relative(path)
        for entry in self.slides:
            if entry.path == rel:
                return entry
        entry = SlideEntry(rel)
        self.slides.append(entry)
        return entry

    # -- paths --------------------------------------------------------------------------
    def relative(self, path: Path) -> str:
        path = Path(path).resolve()
        try:
            return path.relative_to(self.folder).as_posix()
        except ValueError:
            return os.path.relpath(path, self.folder).replace(os.sep, "/") if path.anchor == self.folder.anchor else str(path)

    def absolute(self, entry: SlideEntry) -> Path:
        p = Path(entry.path)
        return p if p.is_absolute() else self.folder / p

    def missing(self, entry: SlideEntry) -> bool:
        return not self.absolute(entry).exists()

    def entry_for(self, path: str | Path) -> SlideEntry | None:
        rel = self.relative(Path(path))
        return next((e for e in self.slides if e.path == rel), None)

    def index_of(self, path: str | Path) -> int | None:
        entry = self.entry_for(path)
        return None if entry is None else self.slides.index(entry)

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
