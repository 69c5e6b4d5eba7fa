"""The Train page: category folders in, one unified model out, with progress, loss, cancel and results.

Training and evaluation run on a `QtJobWorker`; the page only reacts to its signals. A finished model is announced
with `model_trained(path)` (the window makes it the active model); cancelling or failing announces nothing, so the
previous model stays active.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QFileDialog, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QMenu, QProgressBar,
                               QPushButton, QSplitter, QVBoxLayout, QWidget)

from app.engine_jobs import evaluation_job, training_job
from app.folder_scan import FolderScan, scan_folder
from app.process_worker import QtProcessJobWorker
from app.qt_worker import QtJobWorker, call_job
from app.settings import AppSettings
from app.widgets.category_table import QtCategoryTable
from app.widgets.error_banner import QtMessageBanner
from app.widgets.model_options import QtModelOptions
from app.widgets.training_plots import QtLossPlot, QtResultsTable, QtRocPlot
from core.data.demo import ensure_demo_dataset
from core.jobs import Progress
from core.training import TrainResult


def format_eta(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class StageClock:
    """ETA of the current stage from its own pace (stages differ too much in speed for one overall rate)."""

    def __init__(self) -> None:
        self.stage = ""
        self.started = 0.0

    def eta(self, record: Progress) -> float | None:
        now = time.perf_counter()
        if record.stage != self.stage:
            self.stage, self.started = record.stage, now
            return None
        if not record.total or record.step <= 0:
            return None
        return (now - self.started) / record.step * (record.total - record.step)


class TrainPage(QWidget):
    """Folders, options, Train / Cancel, progress with ETA, loss curve, results table and ROC curves."""

    title = "Train"
    model_trained = Signal(object)  # Path of the new model directory
    busy_changed = Signal(bool)

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.weights = "imagenet"
        self.worker: QtProcessJobWorker | None = None
        # Each running scanner and the folder it scans (None: the demo data set). Kept here, not in lambdas on the
        # workers' signals: see `_run`.
        self._scanners: dict[QtJobWorker, Path | None] = {}
        self._clock = StageClock()
        self._loss_step = 0
        self.last_result: TrainResult | None = None
        self.last_evaluation: dict[str, Any] | None = None
        self._evaluate_next: Path | None = None
        self._build()
        self.options.set_choice(self.settings.value("train/method", "stfpm"),
                                self.settings.value("train/backbone", "tf_efficientnet_lite0"),
                                int(self.settings.number("train/image_size", 256)))

    def _build(self) -> None:
        self.banner = QtMessageBanner()
        self.folders = QtCategoryTable()
        self.folders.folders_dropped.connect(self.add_folders)
        add = QPushButton("Add folder…")
        add.clicked.connect(self._choose_folder)
        self.recent_button = QPushButton("Recent")
        self.recent_button.setMenu(QMenu(self.recent_button))
        self.recent_button.menu().aboutToShow.connect(self._fill_recent)
        self.recent_button.menu().triggered.connect(self._recent_chosen)
        demo = QPushButton("Add demo data")
        demo.clicked.connect(self.add_demo_folders)
        remove = QPushButton("Remove")
        remove.clicked.connect(self.folders.remove_selected)
        folder_buttons = QHBoxLayout()
        for button in (add, self.recent_button, demo, remove):
            folder_buttons.addWidget(button)
        folder_buttons.addStretch(1)
        folders_box = QGroupBox("Category folders (drop folders here; MVTec AD layout or plain folders of good images)")
        folders_layout = QVBoxLayout(folders_box)
        folders_layout.addWidget(self.folders, 1)
        folders_layout.addLayout(folder_buttons)

        self.options = QtModelOptions()
        self.model_name = QLineEdit()
        self.model_name.setPlaceholderText("name of the model folder")
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.train_button.clicked.connect(self.start_training)
        self.cancel_button.clicked.connect(self.cancel)
        options_box = QGroupBox("Model")
        options_layout = QVBoxLayout(options_box)
        options_layout.addWidget(self.options)
        name_row = QHBoxLayout()
        name_row.addWidget(QLabel("Save as"))
        name_row.addWidget(self.model_name, 1)
        options_layout.addLayout(name_row)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        options_layout.addLayout(buttons)
        options_layout.addStretch(1)

        self.progress = QProgressBar()
        self.progress.setFormat("%p %")
        self.stage_label = QLabel("Ready")
        self.eta_label = QLabel("")
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.stage_label, 1)
        progress_row.addWidget(self.eta_label)
        self.loss_plot = QtLossPlot()
        self.results = QtResultsTable()
        self.roc = QtRocPlot()
        self.threshold_notes = QLabel("")  # how each category's threshold was chosen and how sure it is
        self.threshold_notes.setWordWrap(True)
        self.threshold_notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(folders_box)
        top.addWidget(options_box)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.loss_plot)
        bottom.addWidget(self.results)
        bottom.addWidget(self.roc)
        bottom.setSizes([400, 650, 450])  # the table needs room for its seven columns
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(top, 3)
        layout.addWidget(self.progress)
        layout.addLayout(progress_row)
        layout.addWidget(bottom, 2)
        layout.addWidget(self.threshold_notes)

    # -- folders ----------------------------------------------------------------------------------------------
    def add_folders(self, folders: list[Path]) -> None:
        """Add category folders; each is scanned on a worker (counts, unreadable files) and its row filled in."""
        for folder in folders:
            folder = Path(folder).absolute()
            if folder in self.folders.folders and folder in self.folders.scans:
                continue
            self.folders.set_pending(folder)
            worker = QtJobWorker(call_job(partial(scan_folder, folder)), self)
            worker.succeeded.connect(self._scanned)
            worker.failed.connect(self._scan_failed)
            worker.finished.connect(self._scanner_done)
            self._scanners[worker] = folder
            worker.start()

    def add_demo_folders(self) -> None:
        worker = QtJobWorker(call_job(ensure_demo_dataset), self)
        worker.succeeded.connect(self.add_folders)
        worker.failed.connect(self.banner.show_error)
        worker.finished.connect(self._scanner_done)
        self._scanners[worker] = None
        self.stage_label.setText("Preparing the demo data set…")
        worker.start()

    @property
    def scanning(self) -> bool:
        return bool(self._scanners)

    def _scanned(self, scan: FolderScan) -> None:
        folder = self._scanners[self.sender()]
        assert folder is not None
        self.folders.set_scan(folder, scan)
        self.settings.add_recent("recent/data", folder)
        if self.stage_label.text().startswith("Preparing"):
            self.stage_label.setText("Ready")

    def _scan_failed(self, message: str) -> None:
        folder = self._scanners[self.sender()]
        assert folder is not None
        self.folders.set_error(folder, message)
        self.banner.show_error(message)

    def _scanner_done(self) -> None:
        worker = self.sender()
        self._scanners.pop(worker, None)
        worker.deleteLater()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Category folder")
        if folder:
            self.add_folders([Path(folder)])

    def _fill_recent(self) -> None:
        menu = self.recent_button.menu()
        menu.clear()
        recent = self.settings.recent("recent/data")
        for folder in recent:
            menu.addAction(str(folder)).setData(str(folder))  # read back in `_recent_chosen`, not by a lambda
        if not recent:
            menu.addAction("(none yet)").setEnabled(False)

    def _recent_chosen(self, action: QAction) -> None:
        if action.data():
            self.add_folders([Path(action.data())])

    # -- training ---------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None

    def output_dir(self) -> Path:
        name = self.model_name.text().strip() or f"model-{time.strftime('%Y%m%d-%H%M%S')}"
        return self.settings.models_folder / name

    def start_training(self) -> bool:
        if self.busy:
            return False
        folders = self.folders.usable_folders()
        if not folders:
            self.banner.show_error("Add at least one usable category folder first (Add folder…, or drop folders "
                                   "here).")
            return False
        config = self.options.config()
        out_dir = self.output_dir()
        self.settings.set_value("train/method", config.method)
        self.settings.set_value("train/backbone", config.backbone)
        self.settings.set_value("train/image_size", config.image_size)
        self.banner.hide()
        self.loss_plot.reset()
        self._loss_step = 0
        self.last_result = None
        self.last_evaluation = None
        worker = QtProcessJobWorker(training_job, (config, folders, out_dir, self.weights), self)
        self._run(worker, self._trained, f"Training {config.method} on {config.backbone} → {out_dir}")
        return True

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.stage_label.setText("Cancelling…")

    def _run(self, worker: QtProcessJobWorker, on_success: Any, message: str) -> None:
        # Only bound methods of the page on a worker's signals (see `app.qt_worker`): a lambda there holding `self`
        # could be the page's last reference, and deleting the finished worker would then delete the page, and with
        # it the worker a second time (a crash).
        self.worker = worker
        worker.progressed.connect(self._progressed)
        worker.succeeded.connect(on_success)
        worker.failed.connect(self._failed)
        worker.cancelled.connect(self._cancelled)
        worker.finished.connect(self._finished)
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.stage_label.setText(message)
        self.eta_label.setText("")
        self.progress.setRange(0, 0)
        self.busy_changed.emit(True)
        worker.start()

    def _progressed(self, record: Progress) -> None:
        if record.total:
            self.progress.setRange(0, record.total)
            self.progress.setValue(record.step)
        else:
            self.progress.setRange(0, 0)  # busy indicator: this stage does not know its length
        eta = self._clock.eta(record)
        self.eta_label.setText(f"ETA {format_eta(eta)}" if eta is not None else "")
        self.stage_label.setText(f"{record.stage}: {record.message}" if record.stage else record.message)
        if "loss" in record.metrics:
            self._loss_step += 1
            self.loss_plot.add(self._loss_step, float(record.metrics["loss"]))

    def _trained(self, result: TrainResult) -> None:
        self.last_result = result
        self.settings.add_recent("recent/models", result.model_dir)
        self.stage_label.setText(f"Model saved to {result.model_dir} in {result.summary.get('train_seconds', '?')} s")
        self.threshold_notes.setText("\n".join(result.thresholds.statement_lines()))
        skipped = result.summary.get("skipped_images", [])
        if skipped:
            self.banner.show_message(f"{len(skipped)} unreadable image(s) were skipped, e.g. {skipped[0][0]}: "
                                     f"{skipped[0][1]}", "warning")
        if self._has_test_images():
            self._evaluate_next = result.model_dir
        self.model_trained.emit(result.model_dir)

    def _evaluated(self, results: dict[str, Any]) -> None:
        self.last_evaluation = results
        self.results.show_results(results)
        self.roc.show_scores(results.get("scores", {}), results["categories"])
        self.stage_label.setText("Evaluation done: results per category below")

    def _failed(self, message: str) -> None:
        self.banner.show_error(message)
        self.stage_label.setText("Failed: the previous model stays active")

    def _cancelled(self) -> None:
        self.stage_label.setText("Cancelled: nothing was saved, the previous model stays active")

    def _finished(self) -> None:
        worker = self.sender()
        if self.worker is worker:
            self.worker = None
        worker.deleteLater()
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if self.last_result else 0)
        self.eta_label.setText("")
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.busy_changed.emit(False)
        model_dir, self._evaluate_next = self._evaluate_next, None
        if model_dir is not None:
            self._evaluate(model_dir)

    def shutdown(self) -> None:
        """Cancel a running job and wait for every worker (the window is closing)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(5000)
        for scanner in list(self._scanners):
            scanner.wait(5000)

    def _has_test_images(self) -> bool:
        return any(scan.category.test for scan in self.folders.scans.values())

    def _evaluate(self, model_dir: Path) -> None:
        folders = self.folders.usable_folders()
        self._run(QtProcessJobWorker(evaluation_job, (model_dir, folders), self), self._evaluated,
                  f"Evaluating {model_dir.name} on the labelled test images…")
