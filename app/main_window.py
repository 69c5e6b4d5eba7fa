"""The main window: a tab per page (Inspect, Train; quantization and Jetson export will add theirs), the active
model, menus, keyboard shortcuts and the full-screen kiosk mode."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox, QWidget

from app.model_state import QtActiveModel
from app.teach_runner import QtTeachRunner
from app.pages.inspect_page import InspectPage
from app.process_worker import QtProcessJobWorker, start_job_server
from app.settings import AppSettings
from app.widgets.lazy_tabs import QtLazyTabs
from core.data.images import IMAGE_SUFFIXES
from core.demo_model import demo_model_job, usable_demo_model
from core.jobs import Progress

if TYPE_CHECKING:
    from app.pages.benchmark_page import BenchmarkPage
    from app.pages.export_page import ExportPage
    from app.pages.quantize_page import QuantizePage
    from app.pages.train_page import TrainPage

# The pages besides Inspect import what inspecting never needs: Train, Quantize and Benchmark the training side of
# the engine (torch, timm, scikit-learn: 5 s or more and ~750 MB), Export SSH and ONNX (paramiko, onnx). Each is
# built, and imports it, when its tab is first opened, so that opening the window and inspecting never do.
TRAIN, QUANTIZE, EXPORT, BENCHMARK, HISTORY = "Train", "Quantize", "Export", "Benchmark", "History"

SHORTCUTS = (
    ("Space", "start / stop inspection"),
    ("N", "next image (image files)"),
    ("S", "save the frame on screen with its overlay"),
    ("F11", "full-screen kiosk mode (Esc leaves it)"),
    ("Ctrl+O", "open images to inspect"),
    ("Ctrl+M", "open a model folder"),
    ("Ctrl+1 / Ctrl+2", "Inspect / Train page"),
)


class MainWindow(QMainWindow):
    """The Inspection Station window.

    `model_dir` is the model to start with (default: the last one used, else the demo model); with `autostart`
    inspection begins as soon as a model is loaded, on the remembered source (the demo images on a first run).

    Example:
        >>> window = MainWindow(AppSettings(), model_dir=Path("models/demo"), autostart=True); window.show()
    """

    def __init__(self, settings: AppSettings | None = None, model_dir: Path | None = None, autostart: bool = True,
                 source: str | None = None, runtime: str = "auto", threads: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings or AppSettings()
        self.setWindowTitle("Inspection Station")
        self.resize(1400, 900)
        self.autostart = autostart
        self.model = QtActiveModel(self, prefer=runtime, threads=threads)
        self.teach_runner = QtTeachRunner(self.settings.audit_db, self)
        self.teach_runner.model_changed.connect(self.model.load)  # a new version: the live runtime follows at once
        self.inspect_page = InspectPage(self.settings, self.teach_runner)
        self.pages = QtLazyTabs()
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.inspect_page, self.inspect_page.title)
        for title, factory, module in (
                (TRAIN, self._build_train_page, "app.pages.train_page"),
                (QUANTIZE, self._build_quantize_page, "app.pages.quantize_page"),
                (EXPORT, self._build_export_page, "app.pages.export_page"),
                (BENCHMARK, self._build_benchmark_page, "app.pages.benchmark_page"),
                (HISTORY, self._build_history_page, "app.pages.history_page")):
            self.pages.add_lazy_page(title, factory, module)
        self.setCentralWidget(self.pages)
        self.kiosk = False
        self._demo_worker: QtProcessJobWorker | None = None
        if source:
            self.inspect_page.source_picker.set_uri(source)
        self.model.changed.connect(self._model_changed)
        self.model.failed.connect(self._model_failed)
        self.model.loading.connect(lambda path: self.statusBar().showMessage(f"Loading model {path}…"))
        self._build_menus()
        self.statusBar().showMessage("Starting…")
        self._open_start_model(model_dir)

    # -- pages built on first use ---------------------------------------------------------------------------------
    @property
    def train_page(self) -> TrainPage:
        return self.pages.page(TRAIN)  # type: ignore[return-value]

    @property
    def quantize_page(self) -> QuantizePage:
        return self.pages.page(QUANTIZE)  # type: ignore[return-value]

    @property
    def export_page(self) -> ExportPage:
        return self.pages.page(EXPORT)  # type: ignore[return-value]

    @property
    def benchmark_page(self) -> BenchmarkPage:
        return self.pages.page(BENCHMARK)  # type: ignore[return-value]

    def _build_train_page(self) -> QWidget:
        from app.pages.train_page import TrainPage

        page = TrainPage(self.settings)
        page.model_trained.connect(self._trained)
        # The fork server imports the engine's training side once (in its own process): the first training then
        # starts in a fraction of a second. Started with the page that trains, not with the window, and once this
        # process has imported it, so the two imports do not share the CPU.
        start_job_server()
        return page

    def _build_quantize_page(self) -> QWidget:
        from app.pages.quantize_page import QuantizePage

        page = QuantizePage(self.settings, self.model)
        start_job_server()  # its comparisons run in child processes too
        return page

    def _build_export_page(self) -> QWidget:
        from app.pages.export_page import ExportPage

        return ExportPage(self.settings, self.model)

    def _build_benchmark_page(self) -> QWidget:
        from app.pages.benchmark_page import BenchmarkPage

        return BenchmarkPage(self.settings, self.model)

    def _build_history_page(self) -> QWidget:
        from app.pages.history_page import HistoryPage

        page = HistoryPage(self.settings, self.teach_runner)
        page.versions.set_model(self.model.model_dir)
        self.model.changed.connect(lambda runtime: page.versions.set_model(Path(runtime.model_dir)))
        return page

    # -- model --------------------------------------------------------------------------------------------------
    def _open_start_model(self, model_dir: Path | None) -> None:
        last = self.settings.value("model/last", "")
        if model_dir is None and last and Path(last).is_dir():
            model_dir = Path(last)
        if model_dir is None:
            model_dir = usable_demo_model()
        if model_dir is not None:
            self.model.load(model_dir)
        else:
            self._prepare_demo_model()

    def _prepare_demo_model(self) -> None:
        """No model anywhere: train the demo model once, showing its progress (a few minutes on a small CPU)."""
        self.inspect_page.banner.show_message("Preparing the demo model (first run only, a few minutes)…", "info")
        worker = QtProcessJobWorker(demo_model_job, (), self)  # trains: in a process, so the window stays fluid
        worker.progressed.connect(self._demo_progress)
        worker.succeeded.connect(self.model.load)
        worker.failed.connect(self.inspect_page.banner.show_error)
        self._demo_worker = worker
        worker.start()

    def _demo_progress(self, record: Progress) -> None:
        done = f" {record.step}/{record.total}" if record.total else ""
        self.inspect_page.banner.show_message(
            f"Preparing the demo model (first run only): {record.stage}{done} {record.message}", "info")

    def open_model(self, path: Path) -> None:
        self.model.load(Path(path))

    def _model_changed(self, runtime: object) -> None:
        model_dir = Path(runtime.model_dir)  # type: ignore[attr-defined]
        self.settings.set_value("model/last", str(model_dir))
        self.settings.add_recent("recent/models", model_dir)
        self.setWindowTitle(f"Inspection Station — {model_dir.name}")
        self.statusBar().showMessage(f"Model {model_dir} on {runtime.name}", 10_000)  # type: ignore[attr-defined]
        self.inspect_page.use_runtime(runtime)
        if self.autostart and not self.inspect_page.running:
            self.inspect_page.start()

    def _model_failed(self, message: str) -> None:
        self.inspect_page.banner.show_error(message)
        self.statusBar().showMessage("Model not loaded", 10_000)

    def _trained(self, model_dir: Path) -> None:
        self.model.load(model_dir)

    # -- menus and shortcuts ------------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "Open &model folder…", "Ctrl+M", self._choose_model)
        self.recent_models = file_menu.addMenu("Recent models")
        self.recent_models.aboutToShow.connect(self._fill_recent_models)
        self._action(file_menu, "Use the &demo model", None, self._use_demo_model)
        self._action(file_menu, "&Open images…", "Ctrl+O", self._choose_images)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        inspect_menu = self.menuBar().addMenu("&Inspect")
        self._action(inspect_menu, "Start / stop", "Space", self.inspect_page.toggle_running)
        self._action(inspect_menu, "Next image", "N", self.inspect_page.next_image)
        self._action(inspect_menu, "Save frame with overlay", "S", self.inspect_page.save_current)
        self._action(inspect_menu, "Reset counters", None, self.inspect_page.reset_counters)
        view_menu = self.menuBar().addMenu("&View")
        self._action(view_menu, "Full-screen kiosk mode", "F11", self.toggle_kiosk)
        self._action(view_menu, "Leave kiosk mode", "Esc", lambda: self.set_kiosk(False))
        self._action(view_menu, "Inspect page", "Ctrl+1", lambda: self.pages.setCurrentWidget(self.inspect_page))
        self._action(view_menu, "Train page", "Ctrl+2", lambda: self.pages.show_tab(TRAIN))
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "Keyboard shortcuts", "F1", self._show_shortcuts)

    def _action(self, menu: QMenu, text: str, shortcut: object, slot: object) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # keeps the shortcut alive when the menu bar is hidden (kiosk mode)
        return action

    def _choose_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Model folder", str(self.settings.models_folder))
        if folder:
            self.open_model(Path(folder))

    def _use_demo_model(self) -> None:
        demo = usable_demo_model()
        if demo is not None:
            self.open_model(demo)
        else:
            self._prepare_demo_model()

    def _fill_recent_models(self) -> None:
        self.recent_models.clear()
        for folder in self.settings.recent("recent/models"):
            self.recent_models.addAction(str(folder), lambda folder=folder: self.open_model(folder))

    def _choose_images(self) -> None:
        pattern = " ".join(f"*{suffix}" for suffix in sorted(IMAGE_SUFFIXES))
        paths, _ = QFileDialog.getOpenFileNames(self, "Images to inspect", "", f"Images ({pattern})")
        if paths:
            self.pages.setCurrentWidget(self.inspect_page)
            self.inspect_page.inspect_images([Path(path) for path in paths])

    def _show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts",
                                "\n".join(f"{keys}\t{what}" for keys, what in SHORTCUTS))

    # -- kiosk ----------------------------------------------------------------------------------------------------
    def toggle_kiosk(self) -> None:
        self.set_kiosk(not self.kiosk)

    def set_kiosk(self, kiosk: bool) -> None:
        """Full screen with only the live view, the verdict and the NG strip: for a bench or a Jetson display."""
        if kiosk == self.kiosk:
            return
        self.kiosk = kiosk
        if kiosk:
            self.pages.setCurrentWidget(self.inspect_page)
        self.pages.tabBar().setVisible(not kiosk)
        self.menuBar().setVisible(not kiosk)
        self.statusBar().setVisible(not kiosk)
        self.inspect_page.set_kiosk(kiosk)
        if kiosk:
            self.showFullScreen()
        else:
            self.showNormal()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every worker: inspection, training, demo preparation, model loading (waits a few seconds at most)."""
        self.inspect_page.stop(wait=True)
        self.inspect_page.close_audit()
        for page in self.pages.built_pages():  # a page never opened has nothing running
            page.shutdown()  # type: ignore[attr-defined]
        if self._demo_worker is not None:
            self._demo_worker.cancel()
            self._demo_worker.wait(5000)
        self.teach_runner.shutdown()
        self.model.wait(10_000)
