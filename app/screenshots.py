"""`python -m app --screenshots DIR`: drive the real window through its pages and save a PNG of each.

Runs with its own throw-away settings (the user's are left alone): the Inspect page on the demo images, the same
in kiosk mode, and the Train page after a short real training run on the demo data (STFPM, 64 px, a few epochs,
so it takes a minute or two) with its loss curve, results table and ROC curves.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from PySide6.QtWidgets import QWidget

from app.scripted import close_window, scratch_settings, wait_until
from core.demo_model import ensure_demo_model

SCREENSHOT_EPOCHS = 4
SCREENSHOT_IMAGE_SIZE = 64


def save(widget: QWidget, path: Path) -> Path:
    if not widget.grab().save(str(path)):
        raise OSError(f"{path}: could not write the screenshot")
    return path


def write_screenshots(folder: Path, model_dir: Path | None = None) -> list[Path]:
    """Write inspect.png, kiosk.png, history.png, train.png and one PNG per further page to `folder`; returns the files."""
    from app.main_window import MainWindow

    folder.mkdir(parents=True, exist_ok=True)
    settings = scratch_settings("screenshots")
    window = MainWindow(settings, model_dir=model_dir or ensure_demo_model(), autostart=True)
    window.resize(1500, 950)
    window.show()
    page = window.inspect_page
    written = []
    try:
        wait_until(lambda: page.verdict.inspected.text() not in ("0", ""), 120, "the first inspected frame")
        wait_until(lambda: len(page.ng_strip.thumbnails) >= 3 or int(page.verdict.inspected.text()) >= 40, 60,
                   "a few NG frames")
        wait_until(lambda: page.drift_readout.state is not None, 180, "the first drift judgement")
        written.append(save(window, folder / "inspect.png"))
        window.set_kiosk(True)
        settle = time.monotonic() + 1.5
        wait_until(lambda: time.monotonic() > settle, 5, "the kiosk layout")
        written.append(save(window, folder / "kiosk.png"))
        window.set_kiosk(False)
        window.resize(1500, 950)
        page.stop()
        written.append(drift_alarm(window, folder))
        written.append(history_page(window, folder))
        written.append(_train_page(window, folder))
        _quantize_variants(window)
        written += _other_pages(window, folder)
    finally:
        close_window(window)
    return written


def drift_alarm(window: object, folder: Path) -> Path:
    """inspect_drift.png: one demo category's normal parts in a video that goes 40 grey levels brighter and out of
    focus, the drift alarm up. (The video is written in a scratch folder and played, as a camera would deliver it.)"""
    import cv2
    import numpy as np
    from PIL import Image

    from app.widgets.source_picker import VIDEO
    from core.data.demo import ensure_demo_dataset

    paths = sorted((ensure_demo_dataset()[0] / "train" / "good").glob("*.png"))  # one product on the line
    video = Path(tempfile.mkdtemp(prefix="inspection-station-drift-")) / "drifting.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 25.0, (256, 256))
    for index in range(400):
        image = np.asarray(Image.open(paths[index % len(paths)]).convert("RGB").resize((256, 256)))
        if index >= 100:  # the light ramps up over 100 frames, then the lens goes soft
            image = np.clip(image.astype(np.int16) + min(40, (index - 100) * 40 // 100), 0, 255).astype(np.uint8)
        if index >= 200:
            image = cv2.GaussianBlur(image, (0, 0), 2.0)
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    page = window.inspect_page  # type: ignore[attr-defined]
    page.source_picker.set_source(VIDEO, f"file://{video}")
    page.drift_watch.window = 100  # so that the 16 s video shows both alarms
    page.side_tabs.setCurrentWidget(page.drift_readout)
    page.start()
    wait_until(lambda: page.drift_readout.alarm.isVisible() and "sharpness" in page.drift_readout.alarm.text(),
               180, "the drift alarm")
    shot = save(window, folder / "inspect_drift.png")  # type: ignore[arg-type]
    page.stop()
    page.side_tabs.setCurrentIndex(0)
    return shot


def history_page(window: object, folder: Path) -> Path:
    """The History page on the verdicts the Inspect page just recorded, the newest NG frame selected."""
    pages = window.pages  # type: ignore[attr-defined]
    window.inspect_page.recorder.flush()  # type: ignore[attr-defined]
    pages.show_tab("History")
    history = pages.page("History")
    wait_until(lambda: history.table_model.rowCount() > 0, 30, "the recorded verdicts")
    ng = next((row for row in range(history.table_model.rowCount())
               if history.table_model.verdict(row).verdict == "NG"), 0)
    history.table.selectRow(ng)
    settle = time.monotonic() + 1.0
    wait_until(lambda: time.monotonic() > settle, 5, "the History page")
    return save(window, folder / "history.png")  # type: ignore[arg-type]


def _train_page(window: object, folder: Path) -> Path:
    train = window.train_page  # type: ignore[attr-defined]
    window.pages.setCurrentWidget(train)  # type: ignore[attr-defined]
    train.add_demo_folders()
    wait_until(lambda: len(train.folders.scans) == 3 and not train.scanning, 120, "the demo folders to be scanned")
    train.options.set_choice("stfpm", "tf_efficientnet_lite0", SCREENSHOT_IMAGE_SIZE, epochs=SCREENSHOT_EPOCHS)
    train.model_name.setText("screenshot-model")
    train.start_training()
    wait_until(lambda: train.last_evaluation is not None and not train.busy, 900, "training and evaluation")
    return save(window, folder / "train.png")  # type: ignore[arg-type]


def _quantize_variants(window: object) -> None:
    """Measure a few variants of the model just trained (QAT is left out: minutes) and make the INT8 one live, so
    that the Quantize page shows its table and plot and the Export page a bundle."""
    from core.export.variants import VariantSpec

    quantize = window.quantize_page  # type: ignore[attr-defined]
    wait_until(lambda: quantize.model_dir is not None and quantize.model_dir.name == "screenshot-model", 60,
               "the trained model to become active")
    specs = [VariantSpec("fp32"), VariantSpec("fp16"),
             VariantSpec("int8", "ptq", "random-normal", calibration_samples=16),
             VariantSpec("int8", "ptq", "train", calibration_samples=16)]
    quantize.run_variants(specs)
    wait_until(lambda: not quantize.busy, 900, "the quantized variants")
    live = quantize.table.bundles.get(specs[2].name)
    if live is not None:
        quantize.make_live(live)
        wait_until(lambda: quantize.live_bundle == live, 60, "the INT8 variant to become live")


def _other_pages(window: object, folder: Path) -> list[Path]:
    """Every page the window has beyond Inspect and Train (quantization, export...), as it first appears."""
    pages = window.pages  # type: ignore[attr-defined]
    written = []
    for index in range(pages.count()):
        title = pages.tabText(index)
        if title in ("Inspect", "Train", "History"):
            continue
        pages.setCurrentIndex(index)
        settle = time.monotonic() + 1.0
        wait_until(lambda: time.monotonic() > settle, 5, f"the {title} page")
        written.append(save(window, folder / f"{title.lower().replace(' ', '-')}.png"))  # type: ignore[arg-type]
    return written


def write_threshold_view(path: Path, model_dir: Path, images: Path, proposal: float = 0.8) -> Path:
    """The Inspect page on `model_dir` after inspecting every image under `images` once (categories known from
    their paths), its threshold view trying `proposal` x the live threshold: a PNG of the window at `path`."""
    from app.main_window import MainWindow
    from core.data.dataset import list_images
    from core.sources.files import ImageFilesSource

    paths = list_images(images)
    window = MainWindow(scratch_settings("threshold-view"), model_dir=model_dir, autostart=False)
    window.resize(1500, 1100)
    window.show()
    page = window.inspect_page
    try:
        wait_until(lambda: page.runtime is not None, 120, "the model to load")
        page.start_source(ImageFilesSource(paths, description=f"{len(paths)} images under {images}"))
        wait_until(lambda: not page.running, 1800, "every image to be inspected")
        page.threshold_view.propose(proposal * page.threshold_view.threshold)
        page.side_tabs.setCurrentWidget(page.threshold_view)
        settle = time.monotonic() + 1.0
        wait_until(lambda: time.monotonic() > settle, 5, "the threshold view")
        path.parent.mkdir(parents=True, exist_ok=True)
        return save(window, path)
    finally:
        close_window(window)
