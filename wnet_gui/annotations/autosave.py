"""Autosave: atomic, versioned binary snapshots of a slide's nuclei (``snapshot_io``).

Each save writes a temporary file and renames it over the newest snapshot, after rotating
the previous ones (``.1`` … ``.N``), so a crash at any moment leaves at least one complete
snapshot. Snapshots live next to the slide when that folder is writable, else in the
user's data folder under a name derived from the slide's path.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from .snapshot_io import SnapshotError, read_snapshot, write_snapshot
from .store import NucleusStore

SUFFIX = ".wnet-autosave.npz"


def user_data_dir() -> Path:
    base = os.environ.get("WNET_DATA_HOME") or os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "wnet-annotator" / "autosave"


def autosave_path(slide_path: str | Path, beside: bool = True) -> Path:
    """Where the newest snapshot of ``slide_path``'s annotations goes: beside the slide when
    ``beside`` and its folder is writable, else in the user's data folder."""
    slide_path = Path(slide_path).resolve()
    if beside and os.access(slide_path.parent, os.W_OK):
        return slide_path.with_name(slide_path.name + SUFFIX)
    digest = hashlib.sha1(str(slide_path).encode()).hexdigest()[:12]
    return user_data_dir() / f"{slide_path.name}.{digest}{SUFFIX}"


class Autosaver:
    """Saves a store when its revision changed since the last save."""

    def __init__(self, slide_path: str | Path, store: NucleusStore, keep: int = 3, beside: bool = True):
        self.path = autosave_path(slide_path, beside)
        self.store = store
        self.keep = keep
        self.saved_revision = store.revision
        self.error: str | None = None
        self._thread: threading.Thread | None = None

    @property
    def dirty(self) -> bool:
        return self.store.revision != self.saved_revision

    def _rotate(self) -> None:
        for i in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            newer = self.path if i == 1 else self.path.with_name(f"{self.path.name}.{i - 1}")
            if newer.exists():
                os.replace(newer, older)

    def save(self, force: bool = False) -> bool:
        """Write now, on this thread (closing the app, tests, the CLI)."""
        self.wait()
        if not (force or self.dirty):
            return False
        self._write(self.store.snapshot())
        return True

    def save_in_background(self) -> bool:
        """Copy the store here (milliseconds) and serialise the copy on a worker thread, so
        the GUI never waits seconds for 100,000 nuclei to become JSON. One save at a time."""
        if not self.dirty or self.busy:
            return False
        snapshot = self.store.snapshot()
        self._thread = threading.Thread(target=self._write, args=(snapshot,), daemon=True, name="autosave")
        self._thread.start()
        return True

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _write(self, snapshot: NucleusStore) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".next")
            write_snapshot(snapshot, tmp)  # complete and renamed into place only when whole
            self._rotate()
            os.replace(tmp, self.path)
            self.saved_revision = snapshot.revision
            self.error = None
        except OSError as exc:  # disk full, folder gone: keep editing, say so, retry next time
            self.error = f"autosave to {self.path} failed: {exc}"

    def snapshots(self) -> list[Path]:
        """Existing snapshots, newest first."""
        names = [self.path] + [self.path.with_name(f"{self.path.name}.{i}") for i in range(1, self.keep)]
        return [p for p in names if p.exists()]

    def restore_into(self, store: NucleusStore) -> Path | None:
        """Load the newest readable snapshot into ``store``; returns which, or None."""
        for snapshot in self.snapshots():
            try:
                read_snapshot(snapshot, store)
                return snapshot
            except SnapshotError:
                continue
        return None

    def discard(self) -> None:
        for p in self.snapshots():
            p.unlink(missing_ok=True)
