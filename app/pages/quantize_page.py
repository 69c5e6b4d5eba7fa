"""The Quantize page: FP32, FP16 and INT8 (PTQ or QAT) variants of the active model, measured side by side, and
any of them made the live model.

Each variant runs as `core.export.comparison.compare_job` in a child process (`QtProcessJobWorker`: calibration
and ONNX export hold Python's GIL for long stretches, which would freeze a worker thread's window). "Compare all"
runs the variants one after another, so each row appears as soon as it is measured, a failing variant does not
stop the others, and Cancel keeps the rows already measured. Rows are saved beside the bundles
(`<models folder>/variants/<model>/comparison.json`) and shown again when the model is opened again.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFileDialog, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSplitter,
                               QVBoxLayout, QWidget)

from app.model_state import QtActiveModel
from app.process_worker import QtProcessJobWorker
from app.settings import AppSettings
from app.widgets.error_banner import QtMessageBanner
from app.widgets.quantize_options import QtQuantizeOptions
from app.widgets.variant_plot import QtAccuracyLatencyPlot
from app.widgets.variant_table import QtVariantTable
from core.export.comparison import add_verdict_flips, compare_job, default_variants
from core.errors import InputError
from core.export.variants import VariantSpec
from core.jobs import Progress
from core.model_manifest import MANIFEST, BundleManifest, ModelManifest, read_manifest

COMPARISON_FILE = "comparison.json"


def load_comparison(folder: Path, model_dir: Path) -> dict[str, Any]:
    """The rows saved for `model_dir` in `folder`; none when the file is missing, unreadable or another model's."""
    try:
        saved = json.loads((folder / COMPARISON_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return dict(saved.get("variants", {})) if saved.get("model") == str(model_dir) else {}


def save_comparison(folder: Path, model_dir: Path, variants: dict[str, Any]) -> None:
    """Write the rows atomically (a temporary sibling renamed over the file)."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".comparison.", dir=folder)
    with os.fdopen(handle, "w") as stream:
        json.dump({"model": str(model_dir), "variants": variants}, stream, indent=2)
    os.replace(temporary, folder / COMPARISON_FILE)


def read_model_manifest(path: Path) -> ModelManifest:
    """The manifest, checked but not hashed (the jobs verify the model before they use it)."""
    return read_manifest(path, verify=False)


class QuantizePage(QWidget):
    """Variant options, Run / Compare all / Cancel, progress, the comparison table and the accuracy-latency plot.

    It follows `model` (the window's active model): variants are made from the active model directory, or from
    the source model of the active bundle. "Make live" asks `model` to load a variant's bundle.
    """

    title = "Quantize"
    busy_changed = Signal(bool)

    def __init__(self, settings: AppSettings, model: QtActiveModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.model = model
        self.model_dir: Path | None = None
        self.method = ""
        self.held_out = True  # the model held normal images out (False: its thresholds are out of fold)
        self.data: list[Path] = []
        self.variants: dict[str, Any] = {}
        self.live_bundle: Path | None = None
        self.worker: QtProcessJobWorker | None = None
        self._queue: list[VariantSpec] = []
        self._planned = 0
        self._job_model: Path | None = None  # what the running comparison measures, whatever becomes active
        self._job_data: list[Path] = []
        self._job_spec: VariantSpec | None = None  # the variant the running worker measures
        self._failures: list[str] = []
        self._awaiting_live: Path | None = None
        self._cancelling = False
        self._build()
        self.options.restore(settings)
        model.changed.connect(self.use_runtime)
        model.failed.connect(self._model_failed)
        if model.runtime is not None:
            self.use_runtime(model.runtime)
        self._update_buttons()

    def _build(self) -> None:
        self.banner = QtMessageBanner()
        self.model_label = QLabel("Model: none yet")
        self.model_label.setWordWrap(True)
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        choose_data = QPushButton("Test data…")
        choose_data.setToolTip("A category folder with labelled test images (MVTec AD layout) to measure on")
        choose_data.clicked.connect(self._choose_data)
        model_data = QPushButton("Model's data")
        model_data.setToolTip("Measure on the folders the model was trained from")
        model_data.clicked.connect(self._use_model_data)
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_label, 1)
        data_row.addWidget(choose_data)
        data_row.addWidget(model_data)

        self.options = QtQuantizeOptions()
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Export and measure the variant chosen above")
        self.compare_button = QPushButton("Compare all")
        self.compare_button.setToolTip("FP32, FP16, INT8-PTQ with each calibration source and, for STFPM and "
                                       "PaSTe, INT8-QAT, with the samples and target chosen above")
        self.cancel_button = QPushButton("Cancel")
        self.run_button.clicked.connect(self.run_variant)
        self.compare_button.clicked.connect(self.compare_all)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for button in (self.run_button, self.compare_button, self.cancel_button):
            buttons.addWidget(button)
        options_box = QGroupBox("Variant")
        options_layout = QVBoxLayout(options_box)
        options_layout.addWidget(self.options)
        options_layout.addLayout(buttons)
        options_layout.addStretch(1)

        self.plot = QtAccuracyLatencyPlot()
        self.table = QtVariantTable()
        self.table.make_live.connect(self.make_live)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.stage_label = QLabel("Ready")
        self.stage_label.setWordWrap(True)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(options_box)
        top.addWidget(self.plot)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.model_label)
        layout.addLayout(data_row)
        layout.addWidget(top, 3)
        layout.addWidget(self.progress)
        layout.addWidget(self.stage_label)
        layout.addWidget(self.table, 2)

    # -- the model ----------------------------------------------------------------------------------------------
    def use_runtime(self, runtime: Any) -> None:
        """Follow the active model: a model directory, or a bundle (its source model is the one quantized)."""
        path = Path(runtime.model_dir).absolute()
        source: Path | None = path
        self.live_bundle = None
        if isinstance(runtime.manifest, BundleManifest):
            self.live_bundle = path
            recorded = runtime.manifest.source_model
            source = Path(recorded) if recorded and (Path(recorded) / MANIFEST).is_file() else None
        if path == self._awaiting_live:
            self._awaiting_live = None
            self.stage_label.setText(f"{path.name} is live: the Inspect page runs it now")
        if source != self.model_dir:
            self._set_model(source, path)
        self._show_variants()

    def _set_model(self, model_dir: Path | None, active: Path) -> None:
        self.model_dir = model_dir
        if model_dir is None:
            self.method, self.variants = "", {}
            self.model_label.setText(f"Model: {active.name} is a deployment bundle whose source model is not on "
                                     f"this machine; open a model folder (File → Open model folder) to quantize")
            self.set_data([])
            self._update_buttons()
            return
        manifest = read_model_manifest(model_dir)
        self.method = manifest.method
        self.held_out = manifest.holdout_fraction > 0
        self.options.set_model_method(self.method)
        self.variants = load_comparison(self.variants_dir(model_dir), model_dir)
        self.model_label.setText(
            f"Model: {model_dir.name}  ·  {self.method} on {manifest.backbone}, "
            f"{manifest.image_size} px  ·  variants go to {self.variants_dir(model_dir)}")
        self.model_label.setToolTip(str(model_dir))
        self.set_data(self._manifest_roots())
        self._update_buttons()

    def variants_dir(self, model_dir: Path) -> Path:
        return self.settings.models_folder / "variants" / Path(model_dir).name

    def _manifest_roots(self) -> list[Path]:
        if self.model_dir is None:
            return []
        return [Path(root) for root in read_model_manifest(self.model_dir).data_roots]

    def set_data(self, folders: list[Path]) -> None:
        """The labelled test images each variant is measured on (and calibrated on, for train / held-out)."""
        self.data = [Path(folder) for folder in folders]
        missing = [folder for folder in self.data if not folder.is_dir()]
        names = ", ".join(folder.name for folder in self.data) or "none"
        self.data_label.setText(f"Test data: {names}" + (f"  (missing: {', '.join(map(str, missing))})"
                                                         if missing else ""))
        self.data_label.setToolTip("\n".join(map(str, self.data)))

    def _use_model_data(self) -> None:
        self.set_data(self._manifest_roots())

    def _choose_data(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Category folder with labelled test images")
        if folder:
            self.set_data([Path(folder)])

    # -- running ------------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None

    def run_variant(self) -> bool:
        """Export and measure the variant the form shows."""
        spec = self._form_spec()
        return spec is not None and self.run_variants([spec])

    def compare_all(self) -> bool:
        """Every default variant for this model's method, with the samples and target chosen in the form."""
        spec = self._form_spec()
        return spec is not None and self.run_variants(default_variants(self.method, spec.calibration_samples,
                                                                       spec.target, self.held_out))

    def _form_spec(self) -> VariantSpec | None:
        try:
            return self.options.spec()
        except InputError as error:  # a combination the engine refuses
            self.banner.show_error(str(error))
            return None

    def run_variants(self, specs: list[VariantSpec]) -> bool:
        """Measure `specs` one after another; False (and why, in the banner) when it cannot start."""
        if self.busy or self.model_dir is None:
            return False
        missing = [folder for folder in self.data if not folder.is_dir()]
        if not self.data or missing:
            self.banner.show_error(f"{missing[0] if missing else 'Test data'}: choose a folder with labelled test "
                                   f"images (Test data…) to measure the variants on")
            return False
        self.options.save(self.settings)
        self.banner.hide()
        self._queue, self._planned, self._failures, self._cancelling = list(specs), len(specs), [], False
        self._job_model, self._job_data = self.model_dir, list(self.data)
        self.busy_changed.emit(True)
        self._next()
        return True

    def _next(self) -> None:
        spec = self._queue.pop(0)
        assert self._job_model is not None
        worker = QtProcessJobWorker(compare_job, (self._job_model, [spec], self._job_data,
                                                  self.variants_dir(self._job_model)), self)
        self.worker, self._job_spec = worker, spec
        # Only bound methods of the page on the worker's signals (see `app.qt_worker`): a lambda there holding `self`
        # could be the page's last reference, and deleting the finished worker would then delete the page, and with
        # it the worker a second time (a crash).
        worker.progressed.connect(self._progressed)
        worker.succeeded.connect(self._measured)
        worker.failed.connect(self._failed)
        worker.cancelled.connect(self._cancelled)
        worker.finished.connect(self._finished)
        done = self._planned - len(self._queue) - 1
        self.progress.setRange(0, self._planned if self._planned > 1 else 0)
        self.progress.setValue(done)
        self.stage_label.setText(f"{self._position()}{spec.name}: starting")
        self._update_buttons()
        worker.start()

    def _position(self) -> str:
        index = self._planned - len(self._queue)
        return f"Variant {index} of {self._planned} · " if self._planned > 1 else ""

    def cancel(self) -> None:
        if self.worker is not None:
            self._queue, self._cancelling = [], True
            self.worker.cancel()
            self.stage_label.setText("Cancelling…")

    def _progressed(self, record: Progress) -> None:
        if not self._cancelling:
            self.stage_label.setText(f"{self._position()}{record.message}")

    def _measured(self, result: dict[str, Any]) -> None:
        assert self._job_model is not None
        folder = self.variants_dir(self._job_model)
        rows = {**load_comparison(folder, self._job_model), **result["variants"]}
        add_verdict_flips(rows)  # variants measured one at a time: against the FP32 row, once there is one
        save_comparison(folder, self._job_model, rows)
        if self._job_model == self.model_dir:
            self.variants.update(result["variants"])
            add_verdict_flips(self.variants)
            self._show_variants()
        self.progress.setValue(self.progress.value() + 1)

    def _failed(self, message: str) -> None:
        assert self._job_spec is not None
        self._failures.append(f"{self._job_spec.name}: {message}")

    def _cancelled(self) -> None:
        self._queue = []
        self.stage_label.setText("Cancelled: the variants measured before stay in the table")

    def _finished(self) -> None:
        worker = self.sender()
        if self.worker is worker:
            self.worker = None
        worker.deleteLater()
        if self._queue:
            self._next()
            return
        self.progress.setRange(0, 1)
        self.progress.setValue(0 if self._cancelling else 1)
        if self._failures:
            self.banner.show_error("Not measured: " + "  ·  ".join(self._failures))
        if not self._cancelling:
            failed = f", {len(self._failures)} failed" if self._failures else ""
            self.stage_label.setText(f"Done: {self._planned - len(self._failures)} of {self._planned} variant(s) "
                                     f"measured{failed}")
        self._job_model = None
        self._update_buttons()
        self.busy_changed.emit(False)

    def _update_buttons(self) -> None:
        ready = self.model_dir is not None and not self.busy
        self.run_button.setEnabled(ready)
        self.compare_button.setEnabled(ready)
        self.cancel_button.setEnabled(self.busy)

    def shutdown(self) -> None:
        """Cancel a running variant and wait for its worker (the window is closing)."""
        self._queue = []
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(5000)

    # -- results ------------------------------------------------------------------------------------------------
    def _show_variants(self) -> None:
        self.table.show_variants(self.variants)
        self.table.mark_live(self.live_bundle)
        live = next((name for name, path in self.table.bundles.items() if path == self.live_bundle), None)
        self.plot.show_variants(self.variants, live)

    def make_live(self, bundle: Path) -> None:
        """Make a variant's bundle the active model (the window's Inspect page then runs it)."""
        self._awaiting_live = Path(bundle).absolute()
        self.stage_label.setText(f"Loading {Path(bundle).name}…")
        self.model.load(Path(bundle))

    def _model_failed(self, message: str) -> None:
        if self._awaiting_live is not None:
            self._awaiting_live = None
            self.banner.show_error(message)
