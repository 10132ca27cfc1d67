"""The choices, ranges, names and folders that the app, the CLI and the core share, each
written once. Torch-free and Qt-free (standard library only), so the CLI can parse its
arguments and answer ``--help`` before any heavy import."""

from __future__ import annotations

import os
from pathlib import Path

PRECISIONS = ("auto", "fp32", "bf16")  # auto: bf16 where the hardware computes it natively, else fp32
BUNDLED_MODELS = ("fast", "accurate", "fastest", "typed")  # the detection cards shipped in model_zoo/
MPP_RANGE = (0.05, 10.0)  # µm/px: 200× to 1×; beyond it a typo, not a microscope
MPP_HINT = "0.25 at 40×, 0.5 at 20×"
PROJECT_FILE = "wnet-project.json"


def user_data_dir(*parts: str) -> Path:
    """The app's folder in the user's data folder ($WNET_DATA_HOME, else $XDG_DATA_HOME, else
    ~/.local/share), for what this machine makes: autosaves, adapted models, classifiers,
    projects of read-only slide folders."""
    base = os.environ.get("WNET_DATA_HOME") or os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base, "wnet-annotator", *parts)


def shared_data_dir() -> Path:
    """Where the annotated data sets live (training and benchmarks, never the app): $WNET_DATA,
    else ../shared/data beside the checkout."""
    env = os.environ.get("WNET_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def packaged(name: str) -> Path | None:
    """A top-level folder shipped with the app (``model_zoo``, ``resources``): the checkout's,
    else the copy packed into a wheel or app bundle; None when neither exists."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[1] / name, here.parent / "_data" / name):  # checkout, wheel
        if candidate.exists():
            return candidate
    return None


def names_project_file(path: str | Path) -> bool:
    """Whether ``path``'s name is a project file's (``…wnet-project.json``; a project of a
    read-only folder lives in the user's data folder under a longer name)."""
    return Path(path).name.endswith(PROJECT_FILE)


def is_project(path: str | Path) -> bool:
    """A project file, or a folder that already has one. The CLI reads a plain folder as a
    folder of slides; the app opens any folder as a project (``opens_as_project``)."""
    p = Path(path)
    return (p.is_file() and names_project_file(p)) or (p.is_dir() and (p / PROJECT_FILE).is_file())


def opens_as_project(path: str | Path) -> bool:
    """What the app opens as a project: any folder (it becomes one) or a project file."""
    p = Path(path)
    return p.is_dir() or names_project_file(p)
