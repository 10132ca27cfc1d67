"""How long a person waits: `wnet --help`, an argument error, and `wnet-gui` until its window
is mapped on the X server (needs DISPLAY, e.g. Xvfb, and xdotool). Prints the median and best
of several runs. ``--source DIR`` times another checkout (e.g. an older commit's worktree) in the
same run, so a before/after pair shares one machine and load.

    DISPLAY=:99 python scripts/bench_startup.py [--source DIR] [--repeats 5] [--project FOLDER]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def window_after(cmd: list[str], env: dict, title: str = "W-Net Annotator") -> float:
    """Seconds from launch until a visible window whose title matches ``title`` exists."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < 60:
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if found.returncode == 0:
                return time.perf_counter() - start
            time.sleep(0.02)
        return float("nan")
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--source", help="a checkout whose wnet_gui to time (default: the installed one)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--project", help="also time `wnet-gui FOLDER` until the project's slide is open (its name in the title)")
    args = p.parse_args()
    env = dict(os.environ, WNET_DATA_HOME=tempfile.mkdtemp())
    source = str(Path(args.source).resolve()) if args.source else None
    # an editable install's import hook outranks PYTHONPATH: drop it so --source is what runs
    prelude = ("import sys; sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]; "
               f"sys.path.insert(0, {source!r}); " if source else "import sys; ")

    def command(module: str, *argv: str) -> list[str]:
        return [sys.executable, "-c", prelude + f"sys.argv = ['x', *{list(argv)!r}]; from {module} import main; sys.exit(main())"]

    runs = {
        "wnet --help": lambda: timed(command("wnet_gui.cli.main", "--help"), env),
        "wnet detect (argument error)": lambda: timed(command("wnet_gui.cli.main", "detect", "x", "--mpp", "99"), env),
    }
    if env.get("DISPLAY"):
        runs["wnet-gui window on screen"] = lambda: window_after(command("wnet_gui.gui.app"), env)
        if args.project:
            runs["wnet-gui FOLDER, slide open"] = lambda: window_after(command("wnet_gui.gui.app", args.project), env, " — W-Net Annotator")
    for name, run in runs.items():
        times = [run() for _ in range(args.repeats)]
        print(f"{name:32s} median {statistics.median(times):5.2f} s, best {min(times):5.2f} s  ({args.repeats} runs)")


if __name__ == "__main__":
    main()
