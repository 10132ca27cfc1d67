"""Autosave: atomic, versioned binary snapshots of a slide's nuclei (``snapshot_io``).

Each save writes a uniquely named temporary file and renames it over the newest snapshot,
after rotating the previous ones (``.1`` … ``.N``), so a crash at any moment leaves at
least one complete snapshot. Snapshots live next to the slide when that folder is
writable, else (or when writing there fails: a full disk, a folder gone) in the user's
data folder under a name derived from the slide's path.

One app instance at a time owns a slide's autosave: a lock (``flock``, released by the
kernel even on kill -9) makes a second instance read-only for that slide instead of
letting two writers overwrite each other's snapshots. Whether the last save really
happened is always known (``error``) so the app never claims a save that did not happen.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..settings import user_data_dir
from .atomic_file import sibling_name
from .snapshot_io import SnapshotError, read_snapshot, write_snapshot
from .store import NucleusStore

SUFFIX = ".wnet-autosave.npz"


def autosave_dir() -> Path:
    return user_data_dir("autosave")


def _slide_key(slide_path: Path) -> str:
    return f"{slide_path.name}.{hashlib.sha1(str(slide_path).encode()).hexdigest()[:12]}"


def autosave_path(slide_path: str | Path, beside: bool = True) -> Path:
    """Where the newest snapshot of ``slide_path``'s annotations goes: beside the slide when
    ``beside`` and its folder is writable, else in the user's data folder."""
    slide_path = Path(slide_path).resolve()
    if beside and os.access(slide_path.parent, os.W_OK):
        return slide_path.with_name(sibling_name(slide_path.name, SUFFIX, room=48))  # room for the series' and temporary suffixes
    return autosave_dir() / sibling_name(_slide_key(slide_path), SUFFIX, room=48)


class SlideLock:
    """An exclusive, advisory lock on one slide's autosave, held while the slide is open.

    ``flock`` on a file beside the slide, where the autosaves are, so two users (two data
    folders) or two machines on a shared folder see each other; and on one in the user's data
    folder, which also covers slides in read-only folders. The kernel (or the NFS lock
    manager) drops it when the process ends, however it ends."""

    def __init__(self, slide_path: Path, beside: bool = True):
        self.paths = [autosave_dir() / "locks" / sibling_name(_slide_key(slide_path), ".lock")]
        if beside and os.access(slide_path.parent, os.W_OK):
            self.paths.insert(0, slide_path.with_name(sibling_name(f".{slide_path.name}", ".wnet-lock")))
        self.path = self.paths[-1]
        self._held: list = []
        self.owner = ""  # who holds it, when we could not take it

    def acquire(self) -> bool:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no lock, as before
            return True
        for path in self.paths:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fh = open(path, "a+b", buffering=0)  # unbuffered: nothing left to flush at close
            except OSError:
                continue  # a folder we cannot write: nothing to lock with there; saving will say what fails
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.seek(0)
                self.owner = fh.read(200).decode("utf-8", "replace").strip()
                fh.close()
                self.release()
                return False
            try:  # who owns it, for the other instance's message; a full disk only loses this note
                fh.seek(0)
                fh.truncate()
                user = os.environ.get("USER") or os.environ.get("USERNAME") or ""
                host = os.uname().nodename if hasattr(os, "uname") else "this machine"
                fh.write(f"{user + ', ' if user else ''}pid {os.getpid()} on {host}".encode())
            except OSError:
                pass
            self._held.append(fh)
        return True

    def release(self) -> None:
        for fh in self._held:
            try:
                fh.close()  # closing drops the flock
            except OSError:
                pass
        self._held = []


@dataclass
class RestoreReport:
    """What opening a slide found among its autosaves."""

    restored: Path | None = None
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (kept-aside copy, why)


class Autosaver:
    """Saves a store when its revision changed since the last save."""

    def __init__(self, slide_path: str | Path, store: NucleusStore, keep: int = 3, beside: bool = True, lock: bool = True):
        self.slide_path = Path(slide_path).resolve()
        self.path = autosave_path(slide_path, beside)
        self.fallback = autosave_path(slide_path, beside=False)
        self.store = store
        self.keep = keep
        self.saved_revision = store.revision
        self.error: str | None = None  # why the last save failed; None once one succeeds
        self.notice: str | None = None  # e.g. "moved to the user folder because …"
        self.durable: list[tuple[int, Path]] = []  # (revision, file) of each save made durable
        self.on_durable = None  # callback(revision, path) after fsync + rename
        self._thread: threading.Thread | None = None
        self._lock = SlideLock(self.slide_path, beside)
        self.read_only = lock and not self._lock.acquire()
        self._owner = lock and not self.read_only  # only the instance holding the slide renames its files
        if self.read_only:
            self.error = (
                f"{self.slide_path.name} is open in another W-Net Annotator ({self._lock.owner or 'another process'}); this window does not autosave it"
            )

    # -- state -----------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return self.store.revision != self.saved_revision

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self) -> None:
        """Stop owning the slide (another instance may take it now)."""
        self.wait()
        self._lock.release()

    # -- saving ----------------------------------------------------------------------
    def save(self, force: bool = False) -> bool:
        """Write now, on this thread (closing the app, tests, the CLI); True when written."""
        self.wait()
        if self.read_only or not (force or self.dirty):
            return False
        return self._write(self.store.snapshot())

    def save_in_background(self) -> bool:
        """Copy the store here (milliseconds) and serialise the copy on a worker thread, so
        the GUI never waits seconds for 100,000 nuclei. One save at a time."""
        if self.read_only or not self.dirty or self.busy:
            return False
        snapshot = self.store.snapshot()
        self._thread = threading.Thread(target=self._write, args=(snapshot,), daemon=True, name="autosave")
        self._thread.start()
        return True

    def _rotate(self, path: Path) -> None:
        for i in range(self.keep - 1, 0, -1):
            older = path.with_name(f"{path.name}.{i}")
            newer = path if i == 1 else path.with_name(f"{path.name}.{i - 1}")
            if newer.exists():
                os.replace(newer, older)

    def _write_to(self, snapshot: NucleusStore, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(sibling_name(path.name, f".{os.getpid()}-{uuid.uuid4().hex[:8]}.next", room=8))  # unique: no two writers share it
        try:
            write_snapshot(snapshot, tmp)  # complete, fsynced and renamed into place only when whole
            self._rotate(path)
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        finally:
            for partial in (tmp, tmp.with_name(tmp.name + ".writing")):
                try:
                    partial.unlink()
                except OSError:
                    pass

    def _write(self, snapshot: NucleusStore) -> bool:
        try:
            self._write_to(snapshot, self.path)
        except OSError as first:  # disk full, folder gone: try the user folder before giving up
            if self.path == self.fallback:
                self.error = f"autosave to {self.path} failed: {first}"
                return False
            try:
                self._write_to(snapshot, self.fallback)
            except OSError as second:
                self.error = f"autosave failed beside the slide ({first.strerror or first}) and in {self.fallback.parent} ({second.strerror or second})"
                return False
            self.notice = f"autosaving to {self.fallback} because writing beside the slide failed ({first.strerror or first})"
            self.path = self.fallback
        self.saved_revision = snapshot.revision
        self.error = None
        self.durable.append((snapshot.revision, self.path))
        if self.on_durable is not None:
            self.on_durable(snapshot.revision, self.path)
        return True

    # -- restoring -------------------------------------------------------------------
    def _series(self, path: Path) -> list[Path]:
        names = [path] + [path.with_name(f"{path.name}.{i}") for i in range(1, self.keep)]
        return [p for p in names if p.exists()]

    def snapshots(self) -> list[Path]:
        """Existing snapshots in both places, newest first."""
        found = {p for base in {self.path, self.fallback} for p in self._series(base)}
        return sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)

    def restore_into(self, store: NucleusStore) -> Path | None:
        """Load the newest readable snapshot into ``store``; returns which, or None."""
        return self.restore(store).restored

    def restore(self, store: NucleusStore) -> RestoreReport:
        """Load the newest readable snapshot; unreadable ones newer than it are reported so the app
        can say so and, by the instance that holds the slide, moved aside (``….unreadable-TIME``),
        never deleted. Without the lock (another window, or a project's read-only look) nothing moves."""
        report = RestoreReport()
        for snapshot in self.snapshots():
            try:
                read_snapshot(snapshot, store)
            except SnapshotError as exc:
                kept = snapshot
                if self._owner:
                    aside = snapshot.with_name(f"{snapshot.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
                    try:
                        os.replace(snapshot, aside)
                        kept = aside
                    except OSError:
                        pass
                report.unreadable.append((kept, str(exc)))
                continue
            report.restored = snapshot
            break
        return report

    def discard(self) -> None:
        for p in self.snapshots():
            p.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX: the directory entry must reach the disk too)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
