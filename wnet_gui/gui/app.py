"""``wnet-gui``: start the desktop app, optionally on a slide, or headless for screenshots.

    wnet-gui [SLIDE] [--mpp X] [--model fast|accurate] [--auto-detect] [--masks]
             [--screenshot OUT.png] [--quit]
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..settings import opens_as_project


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="wnet-gui", description="W-Net Annotator desktop app")
    p.add_argument("slide", nargs="?", help="slide or image to open ('sample' for the bundled sample), or a folder of slides (a project)")
    p.add_argument("--mpp", type=float, help="microns per pixel, overriding the file's")
    p.add_argument("--model", help="model to select (fast, accurate, or a card name)")
    p.add_argument("--region", choices=["view", "roi", "slide"], default=None, help="region Auto-detect works on")
    p.add_argument("--auto-detect", action="store_true", help="run Auto-detect nuclei once the slide is open")
    p.add_argument("--masks", action="store_true", help="then draw NuClick masks for all points")
    p.add_argument("--screenshot", help="save a PNG of the window when done")
    p.add_argument("--quit", action="store_true", help="quit when done (with --screenshot: headless documentation)")
    p.add_argument("--check", action="store_true", help="check that Qt's X11 plugin finds its system libraries, then exit")
    p.add_argument("--version", action="version", version=f"wnet-gui {__version__}")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quit and args.screenshot and "QT_QPA_PLATFORM" not in os.environ and not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from .platform_check import explain, missing_libraries, will_use_xcb

    if args.check or will_use_xcb():  # before Qt, whose own message names the wrong library
        missing = missing_libraries()
        if missing:
            print(explain(missing), file=sys.stderr)
            return 3
        if args.check:
            print("wnet-gui: Qt's X11 platform plugin finds every system library it needs.")
            return 0
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow, sample_path
    from .qt_compat import guard_none_refcount

    guard_none_refcount()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("W-Net Annotator")
    app.setApplicationVersion(__version__)
    from PySide6.QtGui import QIcon

    from .main_window import resource_path

    icon = resource_path("icons/wnet-annotator.png")
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    if args.quit:
        os.environ["WNET_NO_PROMPT"] = "1"  # scripted runs never wait on a dialog
    window = MainWindow()
    window.show()
    if not args.quit:
        window.warm_up.start()  # torch loads behind the open window
    if args.model:
        window.reload_models(args.model)
    if args.region:
        window.panel.region_combo.setCurrentIndex(["view", "roi", "slide"].index(args.region))
    status = {"code": 0}

    def finish() -> None:
        if args.screenshot:
            app.processEvents()
            window.view.tiles.wait_idle()
            app.processEvents()
            window.grab().save(args.screenshot)
        if args.quit:
            window.close()
            app.quit()

    def after_detection(cancelled: bool) -> None:
        if args.masks:
            window.masksFinished.connect(lambda _c: QTimer.singleShot(200, finish))
            window.draw_masks("all")
        else:
            QTimer.singleShot(200, finish)

    def start() -> None:
        if args.slide and opens_as_project(args.slide):
            if not window.project.open_project(args.slide):
                status["code"] = 2
                if args.quit:
                    app.quit()
                return
        elif args.slide:
            path = sample_path() if args.slide == "sample" else args.slide
            if not window.open_slide(path, mpp=args.mpp):
                status["code"] = 2
                if args.quit:
                    app.quit()
                return
        if args.auto_detect:
            window.detectionFinished.connect(after_detection)
            window.auto_detect()
        elif args.screenshot or args.quit:
            QTimer.singleShot(300, finish)

    QTimer.singleShot(0, start)
    code = app.exec()
    return status["code"] or code


if __name__ == "__main__":
    sys.exit(main())
