"""`python -m app`: open the Inspection Station window (on the demo model and demo images the first time).

    python -m app                           # last model, or the demo model; inspection starts at once
    python -m app --model DIR --source 0    # a model folder and a camera (any source string: csi://0, file://...)
    python -m app --screenshots DIR         # write a PNG of every page, then quit
    python -m app --threshold-view-screenshot OUT.png --model DIR --source FOLDER   # the threshold view, then quit
    python -m app --startup-report          # time to window and to the first frame of the demo, RSS; then quit
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Inspection Station window")
    parser.add_argument("--model", type=Path, default=None, metavar="DIR", help="model folder to start with")
    parser.add_argument("--source", default=None, metavar="URI",
                        help="source to inspect: 0, csi://0, v4l2:///dev/video0, rtsp://..., file://video.mp4, ...")
    parser.add_argument("--runtime", choices=("auto", "onnxruntime", "pytorch"), default="auto")
    parser.add_argument("--threads", type=int, default=None,
                        help="inference threads (on 2 cores, 1 leaves a core for capture and the window)")
    parser.add_argument("--no-autostart", action="store_true", help="do not start inspecting on start-up")
    parser.add_argument("--kiosk", action="store_true", help="start in full-screen kiosk mode")
    parser.add_argument("--screenshots", type=Path, default=None, metavar="DIR",
                        help="write a PNG of every page to DIR and quit")
    parser.add_argument("--threshold-view-screenshot", type=Path, default=None, metavar="OUT.png",
                        help="inspect every image under --source once with --model, then write a PNG of the window "
                             "with its threshold view to OUT.png and quit")
    parser.add_argument("--startup-report", action="store_true",
                        help="open the window on the demo, print time to window, time to first inspected frame and "
                             "RSS while inspecting, and quit")
    parser.add_argument("--frames", type=int, default=10, metavar="N",
                        help="--startup-report: read RSS after N inspected frames (default 10)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.frames < 1:
        print(f"error: --frames {args.frames}: need at least 1", file=sys.stderr)
        return 2
    if args.threshold_view_screenshot is not None and (args.model is None or args.source is None):
        print("error: --threshold-view-screenshot needs --model DIR and --source FOLDER", file=sys.stderr)
        return 2
    if args.screenshots is not None or args.startup_report or args.threshold_view_screenshot is not None:
        from app.scripted import use_offscreen_without_display

        use_offscreen_without_display()
    from PySide6.QtWidgets import QApplication

    from app.settings import APPLICATION, ORGANISATION

    application = QApplication.instance() or QApplication(sys.argv[:1])
    application.setOrganizationName(ORGANISATION)
    application.setApplicationName(APPLICATION)
    if args.screenshots is not None:
        from app.screenshots import write_screenshots

        written = write_screenshots(args.screenshots, args.model)
        for path in written:
            print(path)
        return 0
    if args.threshold_view_screenshot is not None:
        from app.screenshots import write_threshold_view

        print(write_threshold_view(args.threshold_view_screenshot, args.model, Path(args.source)))
        return 0
    if args.startup_report:
        from app.startup_report import startup_report

        return startup_report(args.model, args.source, args.runtime, args.threads, args.frames)
    from app.main_window import MainWindow

    window = MainWindow(model_dir=args.model, autostart=not args.no_autostart, source=args.source,
                        runtime=args.runtime, threads=args.threads)
    window.show()
    if args.kiosk:
        window.set_kiosk(True)
    return application.exec()


if __name__ == "__main__":
    sys.exit(main())
