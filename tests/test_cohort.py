"""Cohorts on a real Dask ``LocalCluster`` of worker processes (issue 18): every slide done once,
a worker killed mid-run, a corrupt slide, reruns, duplicate stems, and the CLI around it."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import threading
import time

import numpy as np
import pytest

from wnet_gui.cli.main import main
from wnet_gui.cohort.run import run_cohort
from wnet_gui.engine.detect import DetectOptions
from wnet_gui.engine.slide_inputs import SlideInput, expand_inputs, read_manifest
from wnet_gui.models.zoo import resolve_card

from helpers import sample_mosaic, write_tiff

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    """Seven small 40× slides (2048² px, a few tiles each for `fast`): six good, in two folders
    with a shared stem, and one corrupt."""
    root = tmp_path_factory.mktemp("cohort")
    mosaic = np.tile(sample_mosaic(), (2, 2, 1))
    (root / "a").mkdir()
    (root / "b").mkdir()
    paths = [write_tiff(root / "a" / f"s{i}.tif", np.ascontiguousarray(np.rot90(mosaic, i)), 0.25) for i in range(4)]
    paths.append(write_tiff(root / "b" / "s0.tif", mosaic[::-1].copy(), 0.25))  # same stem as a/s0.tif
    paths.append(write_tiff(root / "b" / "s5.tif", mosaic[:, ::-1].copy(), 0.25))
    broken = root / "b" / "broken.tif"
    broken.write_bytes(b"II*\x00" + b"\x00" * 64)  # a TIFF header and nothing behind it
    return root, paths, broken


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


OPTIONS = DetectOptions(device="cpu", threads=1)


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_slide_once_then_a_rerun_skips_everything(slides, client, tmp_path):
    root, paths, broken = slides
    card = resolve_card("fast")
    summary = run_cohort(paths + [broken], tmp_path, card, OPTIONS, client)
    by_slide = {o.slide: o for o in summary.outcomes}
    assert len(summary.outcomes) == 7 and len(by_slide) == 7  # each slide reported exactly once
    assert [by_slide[str(p)].status for p in paths] == ["done"] * 6
    outputs = [by_slide[str(p)].output for p in paths]
    assert len(set(outputs)) == 6  # the two s0.tif got distinct outputs; neither overwrote the other
    for p in paths:
        out = by_slide[str(p)]
        features = json.loads(open(out.output).read())["features"]
        assert len(features) == out.nuclei > 500  # the file holds what the summary says
        assert out.tissue_mm2 == pytest.approx(2048 * 2048 * 0.25**2 / 1e6, rel=0.01)
    bad = by_slide[str(broken)]
    assert bad.status == "failed" and "broken.tif" in bad.error
    assert summary.failed == 1
    table = rows(tmp_path / "summary.csv")
    assert [r["status"] for r in table].count("done") == 6 and {r["slide"] for r in table} == {str(p) for p in paths + [broken]}
    stamps = {o: os.stat(o).st_mtime_ns for o in outputs}

    again = run_cohort(paths, tmp_path, card, OPTIONS, client)
    assert [o.status for o in again.outcomes] == ["skipped"] * 6
    assert {o: os.stat(o).st_mtime_ns for o in outputs} == stamps  # nothing rewritten
    assert [o.nuclei for o in again.outcomes] == [by_slide[str(p)].nuclei for p in paths]

    os.utime(paths[1], ns=(time.time_ns(), time.time_ns()))  # a re-scanned slide is redone
    changed = run_cohort(paths, tmp_path, card, DetectOptions(device="cpu", threads=1), client)
    assert [o.status for o in changed.outcomes] == ["skipped", "done", "skipped", "skipped", "skipped", "skipped"]
    other = run_cohort(paths[:2], tmp_path, card, DetectOptions(device="cpu", threads=1, threshold=0.5), client)
    assert [o.status for o in other.outcomes] == ["done", "done"]  # another threshold: another result
    forced = run_cohort(paths[:1], tmp_path, card, DetectOptions(device="cpu", threads=1, threshold=0.5), client, overwrite=True)
    assert [o.status for o in forced.outcomes] == ["done"]


def test_each_slide_gets_its_share_of_the_hosts_cores_not_all_of_them(slides, client, tmp_path):
    """On a cluster we did not start (``--scheduler``), a task sizes torch itself: two one-thread
    workers on this host take half the cores each (counting only its own worker, each took all)."""
    from wnet_gui.cohort.cluster import usable_cores
    from wnet_gui.cohort.run import plan, run_slide_task

    root, paths, _ = slides
    task = plan([SlideInput(paths[0])], tmp_path, resolve_card("fast"), DetectOptions(device="cpu"))[0]
    assert task.options.threads is None
    result = client.submit(run_slide_task, task, pure=False).result()
    assert sum(client.nthreads().values()) == 2
    assert result["threads"] == max(1, usable_cores() // 2) and result["nuclei"] > 500


def test_a_worker_killed_mid_slide_is_replaced_and_its_slide_redone(slides, client, tmp_path):
    root, paths, _ = slides
    pids = client.run(os.getpid)  # worker address -> process id
    killed: list[int] = []
    first_tile = threading.Event()

    def progress(state, outcome):
        if outcome is None and state.tiles > 0:
            first_tile.set()

    def assassin():  # waits until slides are under way, then kills a worker that is running one
        if not first_tile.wait(60):
            return
        busy = [addr for addr, keys in client.processing().items() if keys and addr in pids]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(pids[busy[0]])

    thread = threading.Thread(target=assassin, daemon=True)
    thread.start()
    summary = run_cohort(paths, tmp_path, resolve_card("fast"), OPTIONS, client, progress=progress)
    thread.join(5)
    assert killed, "no worker was busy to kill"
    assert [o.status for o in summary.outcomes] == ["done"] * 6
    assert len({o.output for o in summary.outcomes}) == 6
    client.wait_for_workers(2, timeout=60)  # the nanny brought the killed worker back
    assert killed[0] not in client.run(os.getpid).values()


def test_inline_loop_gives_the_same_results_as_the_cluster(slides, tmp_path):
    _, paths, broken = slides
    summary = run_cohort(paths[:2] + [broken], tmp_path, resolve_card("fast"), OPTIONS, inline=True)
    assert [o.status for o in summary.outcomes] == ["done", "done", "failed"]
    assert all(o.worker for o in summary.outcomes[:2])
    assert (tmp_path / "summary.csv").exists() and (tmp_path / "cohort-manifest.json").exists()


def test_manifest_csv_paths_relative_to_it_and_per_slide_mpp(slides, tmp_path):
    root, paths, _ = slides
    manifest = root / "study.csv"
    manifest.write_text("Path,mpp\na/s1.tif,0.5\n\n" + str(paths[2]) + ",\n")
    found = read_manifest(manifest)
    assert found == [SlideInput(root / "a" / "s1.tif", 0.5), SlideInput(paths[2], None)]
    assert expand_inputs([str(manifest), str(root / "a")])[:2] == found  # and the folder's own slides after, without repeats
    assert len(expand_inputs([str(manifest), str(root / "a")])) == 4
    bad = tmp_path / "bad.csv"
    bad.write_text("file\nx.tif\n")
    with pytest.raises(ValueError, match="'path' column"):
        read_manifest(bad)
    bad.write_text("path,mpp\nx.tif,forty\n")
    with pytest.raises(ValueError, match="line 2"):
        read_manifest(bad)


def test_cli_many_slides_on_a_local_cluster_writes_the_summary(slides, tmp_path, capsys):
    root, paths, broken = slides
    folder = tmp_path / "in"
    folder.mkdir()
    for p in paths[:2] + [broken]:
        shutil.copy(p, folder / p.name)
    out = tmp_path / "out"
    assert main(["detect", str(folder), "-o", str(out), "--device", "cpu", "--workers", "2"]) == 1  # one slide failed
    captured = capsys.readouterr()
    assert "broken.tif" in captured.err
    assert "2 done, 0 skipped, 1 failed" in captured.out
    assert {r["status"] for r in rows(out / "summary.csv")} == {"done", "failed"}
    assert main(["detect", str(folder / "s0.tif"), str(folder / "s1.tif"), "-o", str(out), "--scheduler", "none"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines if ": already done (" in line and line.startswith("s")] == ["s0.tif", "s1.tif"]


def test_slurm_and_pbs_job_scripts_from_the_dry_run(capsys):
    assert main(["detect", "x.svs", "-o", "out/", "--cluster", "slurm", "--queue", "short", "--cores", "8",
                 "--memory", "32GB", "--walltime", "04:00:00", "--dry-run"]) == 0
    script = capsys.readouterr().out
    for line in ("#SBATCH -p short", "#SBATCH --cpus-per-task=8", "#SBATCH -t 04:00:00", "export OMP_NUM_THREADS=8", "--nthreads 1", "--nanny"):
        assert line in script
    assert main(["detect", "x.svs", "-o", "out/", "--cluster", "pbs", "--queue", "workq", "--cores", "4", "--dry-run"]) == 0
    script = capsys.readouterr().out
    for line in ("#PBS -q workq", "#PBS -l select=1:ncpus=4:mem=16GB", "#PBS -l walltime=02:00:00", "--nthreads 1"):
        assert line in script


def test_local_layout_shares_the_cores():
    from wnet_gui.cohort.cluster import local_layout

    assert local_layout(None, None, cores=2) == (2, 1, 1)  # measured best on 2 cores
    assert local_layout(None, None, cores=16) == (8, 1, 2)
    assert local_layout(2, 1, cores=2) == (2, 1, 1)
    assert local_layout(1, 2, cores=8) == (1, 2, 4)
    with pytest.raises(ValueError, match="workers"):
        local_layout(0, 1, cores=2)


def test_ctrl_c_mid_cohort_keeps_finished_slides_and_leaves_no_worker_behind(slides, tmp_path):
    """Ctrl-C in the terminal (SIGINT to the whole process group, workers included) while a cohort
    runs on a local cluster: exit 130 with the finished slides recorded, every worker process gone,
    and the rerun does only what was left."""
    import subprocess
    import sys

    import psutil

    root, paths, _ = slides
    many = tmp_path / "many"
    many.mkdir()
    for i in range(12):  # enough slides that the interrupt lands mid-run
        shutil.copy(paths[i % 6], many / f"s{i:02d}.tif")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "wnet_gui.cli.main", "detect", str(many), "-o", str(out), "--model", "fast", "--device", "cpu", "--workers", "2"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    manifest = out / "cohort-manifest.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and json.loads(manifest.read_text() or "{}").get("slides"):
            break
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    family = psutil.Process(proc.pid).children(recursive=True)
    assert family  # the cluster's worker processes
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted: finished slides are kept" in err
    gone, alive = psutil.wait_procs(family, timeout=30)
    assert not alive, [p.cmdline() for p in alive]
    table = rows(out / "summary.csv")
    done = [r["slide"] for r in table if r["status"] == "done"]
    assert 1 <= len(done) < 12 and {r["status"] for r in table} <= {"done", "cancelled"}
    assert len(table) == 12

    assert main(["detect", str(many), "-o", str(out), "--model", "fast", "--device", "cpu", "--scheduler", "none"]) == 0
    again = {os.path.basename(r["slide"]): r["status"] for r in rows(out / "summary.csv")}
    finished = {os.path.basename(s) for s in done}
    assert {s for s, status in again.items() if status == "skipped"} == finished
    assert {s for s, status in again.items() if status == "done"} == set(again) - finished and len(again) == 12
