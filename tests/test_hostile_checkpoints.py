"""A checkpoint whose pickle would run code is refused on every path that loads one."""

import json
from pathlib import Path

import pytest
import torch

from wnet_gui.cli.main import main
from wnet_gui.models.checkpoint import UnsafeCheckpointError, load_checkpoint
from wnet_gui.training.config import TrainConfig
from wnet_gui.training.trainer import Trainer, export_run, initial_weights

from helpers import TINY


class Payload:
    """Unpickling this creates ``marker``: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def hostile(tmp_path):
    """Write a hostile checkpoint to a path; return the marker its payload would create."""
    marker = tmp_path / "PWNED"

    def write(path: Path, wrap=lambda p: {"model": p, "best": {"step": 1, "threshold": 0.1}}) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(wrap(Payload(marker)), path)
        return path

    write.marker = marker
    return write


def tiny_config(tmp_path, **extra) -> TrainConfig:
    return TrainConfig(name="tiny", architecture=TINY, mpp=0.5, pretrained_lite=None, crop=96, batch=2,
                       steps=2, val_every=2, threads=1, device="cpu", **extra)


def test_the_payload_really_runs_under_a_plain_unpickler(tmp_path, hostile):
    """The fixture is a real attack: torch.load without the restriction runs it."""
    path = hostile(tmp_path / "evil.pt")
    torch.load(path, weights_only=False)
    assert hostile.marker.exists()


def test_load_checkpoint_refuses_the_payload(tmp_path, hostile):
    path = hostile(tmp_path / "evil.pt")
    with pytest.raises(UnsafeCheckpointError, match="evil.pt"):
        load_checkpoint(path)
    assert not hostile.marker.exists()


def test_init_weights_refuses_the_payload(tmp_path, hostile):
    path = hostile(tmp_path / "init" / "best.pt")
    with pytest.raises(UnsafeCheckpointError):
        initial_weights(path)
    trainer = Trainer(tiny_config(tmp_path, init_weights=str(path)), tmp_path / "run")
    with pytest.raises(UnsafeCheckpointError):
        trainer.initialise()
    assert not hostile.marker.exists()


def test_resume_refuses_the_payload(tmp_path, hostile):
    trainer = Trainer(tiny_config(tmp_path), tmp_path / "run")
    hostile(tmp_path / "run" / "last.pt")
    with pytest.raises(UnsafeCheckpointError):
        trainer.try_resume()
    assert not hostile.marker.exists()


def test_export_model_refuses_the_payload(tmp_path, hostile, capsys):
    run = tmp_path / "run"
    Trainer(tiny_config(tmp_path), run)  # writes config.json
    hostile(run / "best.pt")
    with pytest.raises(UnsafeCheckpointError):
        export_run(run, tmp_path / "zoo")
    assert main(["export-model", str(run), "--to", str(tmp_path / "zoo")]) == 2
    assert "was not loaded" in capsys.readouterr().err
    assert not hostile.marker.exists() and not (tmp_path / "zoo").exists()


def test_nuclick_resume_and_export_refuse_the_payload(tmp_path, hostile, capsys):
    from wnet_gui.nuclick.training import export_nuclick, train_nuclick

    run = tmp_path / "nuclick"
    hostile(run / "last.pt")
    with pytest.raises(UnsafeCheckpointError):
        train_nuclick(run, steps=1)  # refused before any data is read
    (run / "config.json").write_text(json.dumps({"width": 8, "patch_size": 128, "mpp": 0.25}))
    hostile(run / "best.pt", wrap=lambda p: {"weight": p})
    with pytest.raises(UnsafeCheckpointError):
        export_nuclick(run, tmp_path / "zoo")
    assert main(["export-nuclick", str(run), "--to", str(tmp_path / "zoo")]) == 2
    assert "was not loaded" in capsys.readouterr().err
    assert not hostile.marker.exists()


def test_real_checkpoints_still_load():
    """Every checkpoint the project ships loads under the restriction (a run's last.pt, with its
    optimiser and RNG state, is loaded the same way when tests/test_training.py resumes a run)."""
    root = Path(__file__).resolve().parents[1] / "checkpoints"
    paths = sorted(root.glob("*/*.pt"))
    listed = [line.split("  ", 1)[1] for line in (root / "SHA256SUMS").read_text().splitlines() if line.strip()]
    assert len(paths) == len(listed) >= 6, paths  # the weights the bundled models come from, and typed/accurate's ancestors
    for path in paths:
        state = load_checkpoint(path)
        weights = state.get("model", state)  # a run's {"model": …, "best": …} or NuClick's bare state dict
        assert len(weights) > 10 and all(hasattr(v, "shape") for v in weights.values()), path
