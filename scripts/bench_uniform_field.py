"""A slide of one flat grey through detection: how long before nothing is found.

    python scripts/bench_uniform_field.py SOURCE_CHECKOUT /tmp/grey.tif
(SOURCE_CHECKOUT: this repository, or a worktree of an older commit, timed in the same run.)"""
import sys, time
sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "tests"))
from helpers import header_only_tiff
from pathlib import Path
from wnet_gui.slides import open_slide
from wnet_gui.engine.detect import DetectOptions, run_detection
from wnet_gui.models.zoo import resolve_card
p = header_only_tiff(Path(sys.argv[2]), 16384, 16384, value=128)
t = time.perf_counter()
run = run_detection(open_slide(p, mpp=0.25), resolve_card("fast"), options=DetectOptions(device="cpu", threads=2))
print(f"{time.perf_counter() - t:.1f} s, tiles done {run.tiles_done}, skipped {run.tiles_skipped}, nuclei {len(run.centres)}")
