"""The Benchmark page: which model for my parts and my device, in one page.

A grid (methods x backbones x layer groups x settings on the user's category folders) is started or resumed with
`core.benchmark.runner.run_grid`; its cells fill the table as they finish (the runner rewrites results.json after
every cell), the cells on the Pareto front (accuracy against latency and memory) are starred in the table and
ringed in the plots, the report's figures are shown beside them, and "Use this model" makes the chosen cell's model
the window's live model (the Inspect page then runs it). An existing results folder opens the same way.

The grid runs on a `QtJobWorker` thread, not in a child process as training does: the runner only waits for its
cells, each of which already trains in its own process or Ray task, so it never holds the GIL for long; and
cancelling through the token lets the runner stop its cell's process itself, where terminating a job process
would leave that grandchild training on. The benchmark package and matplotlib are imported only when the page is
first shown or a grid runs (the window's start-up time and memory are measured).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from app.engine_jobs import grid_job
from app.model_state import QtActiveModel
from app.qt_worker import QtJobWorker, call_job
from app.settings import AppSettings
from app.widgets.benchmark_table import QtBenchmarkTable
from app.widgets.error_banner import QtMessageBanner
from app.widgets.figure_gallery import QtFigureGallery
from app.widgets.grid_form import QtGridForm
from app.widgets.pareto_plots import QtParetoPlots
from core.benchmark.values import ACCURACY_NAMES, LABELS
from core.errors import InputError
from core.jobs import Progress

RESULTS = "results.json"
LATENCIES = (("latency_fp32", "FP32 latency"), ("latency_int8", "INT8 latency"))


def read_records(folder: Path) -> list[dict[str, Any]]:
    """The cells of FOLDER/results.json; `InputError` naming the file when the folder holds no benchmark results."""
    from core.benchmark.results import read_results

    if not (Path(folder) / RESULTS).is_file():
        raise InputError(f"{folder}: no {RESULTS} here, so not a benchmark results folder")
    return read_results(Path(folder))


def current_figures(records: list[dict[str, Any]], folder: Path) -> list[Path]:
    """The report's figures in `folder`, drawn again first when results.json is newer than they are (or none is
    there yet). Runs on a worker thread: it imports matplotlib."""
    from core.benchmark.figures import FIGURE_FILES, write_figures

    results = Path(folder) / RESULTS
    existing = [Path(folder) / name for name in FIGURE_FILES if (Path(folder) / name).is_file()]
    stamp = results.stat().st_mtime if results.is_file() else 0.0
    if not existing or any(path.stat().st_mtime < stamp for path in existing):
        return write_figures(records, Path(folder))
    return existing


def model_dir_of(record: dict[str, Any], folder: Path) -> Path | None:
    """Where the cell's model is: as recorded, else under the results folder (a folder copied or moved from the
    machine that ran the grid keeps its models/ beside results.json). None when neither exists."""
    recorded = record.get("model_dir")
    if not recorded or record.get("status") != "done":
        return None
    path = Path(recorded)
    for candidate in (path, Path(folder) / path, Path(folder) / "models" / path.name):
        if candidate.is_dir():
            return candidate.absolute()
    return None


class BenchmarkPage(QWidget):
    """Grid form, Start / Resume, Cancel, Open results; progress; Pareto plots and figures; the table of cells;
    "Use this model". `model` is the window's active model."""

    title = "Benchmark"
    busy_changed = Signal(bool)

    def __init__(self, settings: AppSettings, model: QtActiveModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.model = model
        self.weights = "imagenet"  # the backbones' weights; tests set "random" (as on the Train page)
        self.out: Path | None = None
        self.records: list[dict[str, Any]] = []
        self.front: set[str] = set()
        self.worker: QtJobWorker | None = None
        self.figure_worker: QtJobWorker | None = None
        self._figures_again = False
        self._stamp: float | None = None  # mtime of the results.json shown
        self._awaiting_live: Path | None = None
        self._cancelling = False
        self._shown_once = False
        self._build()
        model.changed.connect(self._model_changed)
        model.failed.connect(self._model_failed)
        self._update_buttons()

    # -- layout -------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.banner = QtMessageBanner()
        self.form = QtGridForm()
        self.form.out.textChanged.connect(self._update_buttons)
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Run the grid; a folder that already holds results is resumed (cells already "
                                     "done are skipped)")
        self.cancel_button = QPushButton("Cancel")
        open_button = QPushButton("Open results…")
        open_button.setToolTip("Show the results folder of a grid run earlier, here or on a cluster")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        open_button.clicked.connect(self._choose_results)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.cancel_button, open_button):
            buttons.addWidget(button)
        grid_box = QGroupBox("Grid")
        grid_layout = QVBoxLayout(grid_box)
        grid_layout.addWidget(self.form)
        grid_layout.addLayout(buttons)
        grid_layout.addStretch(1)
        form_scroll = QScrollArea()
        form_scroll.setWidgetResizable(True)
        form_scroll.setWidget(grid_box)

        self.accuracy = QComboBox()
        for name in ACCURACY_NAMES:
            self.accuracy.addItem(LABELS[name], name)
        self.accuracy.setCurrentIndex(ACCURACY_NAMES.index("pixel_f1_max"))
        self.latency = QComboBox()
        for name, label in LATENCIES:
            self.latency.addItem(label, name)
        self.accuracy.currentIndexChanged.connect(self._refresh)
        self.latency.currentIndexChanged.connect(self._refresh)
        axes_row = QHBoxLayout()
        axes_row.addWidget(QLabel("Pareto front of"))
        axes_row.addWidget(self.accuracy)
        axes_row.addWidget(QLabel("against memory and"))
        axes_row.addWidget(self.latency)
        axes_row.addStretch(1)
        self.plots = QtParetoPlots()
        self.plots.chosen.connect(self.choose)
        pareto = QWidget()
        pareto_layout = QVBoxLayout(pareto)
        pareto_layout.setContentsMargins(0, 0, 0, 0)
        pareto_layout.addLayout(axes_row)
        pareto_layout.addWidget(self.plots, 1)
        self.gallery = QtFigureGallery()
        self.views = QTabWidget()
        self.views.addTab(pareto, "Pareto front")
        self.views.addTab(self.gallery, "Figures")

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.stage_label = QLabel("Ready")
        self.stage_label.setWordWrap(True)
        self.summary = QLabel("No results yet")
        self.summary.setWordWrap(True)
        self.table = QtBenchmarkTable()
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.use_button = QPushButton("Use this model")
        self.use_button.setToolTip("Make the chosen cell's model the live one: the Inspect page runs it")
        self.use_button.clicked.connect(self.use_chosen)
        self.chosen_label = QLabel("Choose a cell in the table or a point in the plots")
        use_row = QHBoxLayout()
        use_row.addWidget(self.chosen_label, 1)
        use_row.addWidget(self.use_button)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(form_scroll)
        top.addWidget(self.views)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 5)
        top.setSizes([430, 1070])
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(top, 3)
        layout.addWidget(self.progress)
        layout.addWidget(self.stage_label)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 2)
        layout.addLayout(use_row)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        """The results folder of last time comes back when the page is first shown (not at window start-up)."""
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            last = self.settings.value("benchmark/out", "")
            if last and self.out is None and (Path(last) / RESULTS).is_file():
                self.open_results(Path(last))

    # -- results ------------------------------------------------------------------------------------------------
    def _choose_results(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Benchmark results folder", str(self.out or ""))
        if folder:
            self.open_results(Path(folder))

    def open_results(self, folder: Path) -> bool:
        """Show the cells of `folder` and its figures, and fill the form so that Start resumes that grid."""
        try:
            records = read_records(folder)
        except InputError as error:
            self.banner.show_error(str(error))
            return False
        self.banner.hide()
        self.out = Path(folder).absolute()
        self.settings.set_value("benchmark/out", str(self.out))
        self._show_grid_of(records, self.out)
        self._show(records)
        self._draw_figures()
        return True

    def _show_grid_of(self, records: list[dict[str, Any]], folder: Path) -> None:
        """Fill the form with the grid that made `records`, as far as they tell, so that Start resumes it."""
        def union(key: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys(str(record[key]) for record in records if record.get(key)))

        data = tuple(dict.fromkeys(Path(path) for record in records for path in record.get("data") or []))
        sizes = [int(record["image_size"]) for record in records if record.get("image_size")]
        self.form.set_grid(data, union("method"), union("backbone"), union("layer_group"), union("setting"),
                           sizes[0] if sizes else None, folder)

    def _show(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        results = self.out / RESULTS if self.out else None
        self._stamp = results.stat().st_mtime if results is not None and results.is_file() else None
        self._refresh()

    def _refresh(self) -> None:
        from core.benchmark.pareto import pareto_front

        accuracy, latency = str(self.accuracy.currentData()), str(self.latency.currentData())
        self.front = pareto_front(self.records, accuracy=accuracy, costs=(latency, "memory_mb"))
        self.table.show_records(self.records, self.front)
        self.plots.show_records(self.records, self.front, accuracy, latency)
        done = sum(record.get("status") == "done" for record in self.records)
        failed = sum(record.get("status") == "failed" for record in self.records)
        cpus = sorted({str(record["cpu"]) for record in self.records if record.get("cpu")})
        measured = f"; measured on {', '.join(cpus)}" if cpus else ""
        self.summary.setText("No results yet" if self.out is None else
                             f"{self.out}: {len(self.records)} cell(s), {done} done, {failed} failed; "
                             f"{len(self.front)} on the Pareto front of {LABELS[accuracy]} against memory and "
                             f"{LABELS[latency].split(' (')[0]}{measured}")
        self._selection_changed()

    def _reload_if_changed(self) -> None:
        """The runner rewrote results.json (a cell finished): show the new rows."""
        if self.out is None:
            return
        results = self.out / RESULTS
        stamp = results.stat().st_mtime if results.is_file() else None
        if stamp is not None and stamp != self._stamp:
            try:
                self._show(read_records(self.out))
            except InputError:
                pass  # caught between two writes of another writer: the next progress step reads it again

    def _draw_figures(self) -> None:
        if self.out is None:
            return
        if self.figure_worker is not None:  # drawing older records: draw again when it is done
            self._figures_again = True
            return
        self._figures_again = False
        worker = QtJobWorker(call_job(partial(current_figures, list(self.records), self.out)), self)
        worker.succeeded.connect(self.gallery.show_files)
        worker.failed.connect(self._figures_failed)
        worker.finished.connect(self._figures_done)
        self.figure_worker = worker
        worker.start()

    def _figures_failed(self, message: str) -> None:
        self.banner.show_message(f"Figures not drawn: {message}", "warning")

    def _figures_done(self) -> None:
        worker = self.sender()
        if self.figure_worker is worker:
            self.figure_worker = None
        worker.deleteLater()
        if self._figures_again:
            self._draw_figures()

    # -- choosing a cell ----------------------------------------------------------------------------------------
    def choose(self, name: str) -> bool:
        """Select cell `name` in the table (a click on its point does this)."""
        return self.table.choose(name)

    def chosen_record(self) -> dict[str, Any] | None:
        name = self.table.chosen_name()
        return next((record for record in self.records if record.get("name") == name), None)

    def _selection_changed(self) -> None:
        record = self.chosen_record()
        self.plots.set_selected(None if record is None else str(record["name"]))
        if record is None:
            self.chosen_label.setText("Choose a cell in the table or a point in the plots")
        else:
            where = model_dir_of(record, self.out or Path())
            state = "on the Pareto front" if record["name"] in self.front else "not on the Pareto front"
            self.chosen_label.setText(f"{record['name']}: {state}" + (
                "" if where else f"; no model to use ({record.get('error') or 'its folder is not on this machine'})"))
        self._update_buttons()

    def use_chosen(self) -> bool:
        """Make the chosen cell's model the active one (the Inspect page runs it once loaded)."""
        record = self.chosen_record()
        where = None if record is None else model_dir_of(record, self.out or Path())
        if where is None:
            return False
        self._awaiting_live = where
        self.stage_label.setText(f"Loading {record['name']} from {where}…")  # type: ignore[index]
        self.model.load(where)
        return True

    def _model_changed(self, runtime: Any) -> None:
        if self._awaiting_live is not None and Path(runtime.model_dir).absolute() == self._awaiting_live:
            self.stage_label.setText(f"{self._awaiting_live.name} is live: the Inspect page runs it now")
            self._awaiting_live = None

    def _model_failed(self, message: str) -> None:
        if self._awaiting_live is not None:
            self._awaiting_live = None
            self.banner.show_error(message)

    # -- running a grid -----------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None

    def start(self) -> bool:
        """Run or resume the grid the form shows; False (and why, in the banner) when it cannot start."""
        if self.busy:
            return False
        try:
            request = self.form.request()
        except InputError as error:
            self.banner.show_error(str(error))
            return False
        self.banner.hide()
        resuming = (request.out / RESULTS).is_file()
        self.out = request.out.absolute()
        self.settings.set_value("benchmark/out", str(self.out))
        if resuming:
            self._reload_if_changed()
        else:
            self._show([])
        self._cancelling = False
        spec = {**request.spec, "weights": self.weights}
        worker = QtJobWorker(partial(grid_job, spec, self.out, request.executor, request.ray_address,
                                     request.workers), self)
        # Bound methods only on a worker's signals (see `app.qt_worker`).
        worker.progressed.connect(self._progressed)
        worker.succeeded.connect(self._grid_done)
        worker.failed.connect(self._grid_failed)
        worker.cancelled.connect(self._grid_cancelled)
        worker.finished.connect(self._grid_finished)
        self.worker = worker
        self.progress.setRange(0, 0)
        self.stage_label.setText(("Resuming" if resuming else "Starting") + f" the grid in {self.out}…")
        self._update_buttons()
        self.busy_changed.emit(True)
        worker.start()
        return True

    def cancel(self) -> None:
        if self.worker is not None:
            self._cancelling = True
            self.worker.cancel()
            self.stage_label.setText("Cancelling: the cell running is stopped, the cells done stay")

    def _progressed(self, record: Progress) -> None:
        if self._cancelling:
            return
        if record.total:
            self.progress.setRange(0, record.total)
            self.progress.setValue(record.step)
        self.stage_label.setText(f"{record.stage}: {record.message}" if record.stage else record.message)
        self._reload_if_changed()

    def _grid_done(self, records: list[dict[str, Any]]) -> None:
        failed = sum(record.get("status") == "failed" for record in records)
        self.stage_label.setText(f"Done: {len(records)} cell(s)" + (f", {failed} failed (see their tooltips)"
                                                                     if failed else ""))

    def _grid_failed(self, message: str) -> None:
        self.banner.show_error(f"The grid stopped: {message}")
        self.stage_label.setText("Stopped: the cells done stay in the results folder; Start resumes")

    def _grid_cancelled(self) -> None:
        self.stage_label.setText("Cancelled: the cells done stay in the results folder; Start resumes")

    def _grid_finished(self) -> None:
        worker = self.sender()
        if self.worker is worker:
            self.worker = None
        worker.deleteLater()
        self.progress.setRange(0, 1)
        self.progress.setValue(0 if self._cancelling else 1)
        self._stamp = None  # read the final results.json, whatever its time stamp
        self._reload_if_changed()
        self._draw_figures()
        self._update_buttons()
        self.busy_changed.emit(False)

    def _update_buttons(self) -> None:
        out = self.form.out.text().strip()
        self.start_button.setText("Resume" if out and (Path(out) / RESULTS).is_file() else "Start")
        self.start_button.setEnabled(not self.busy)
        self.cancel_button.setEnabled(self.busy)
        record = self.chosen_record()
        self.use_button.setEnabled(record is not None and model_dir_of(record, self.out or Path()) is not None)

    def shutdown(self) -> None:
        """Cancel a running grid and wait for the workers (the window is closing)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(10_000)
        if self.figure_worker is not None:
            self.figure_worker.wait(30_000)
