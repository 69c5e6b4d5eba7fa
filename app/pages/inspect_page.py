"""The Inspect page: pick a source, watch the live view with its overlay and verdict, read the numbers.

The page owns one `QtLiveWorker` at a time. Starting builds the source on the UI thread (opening a file or a
watcher is quick; cameras open on the capture thread) and shows any `InputError` in the banner. Stopping cancels
the worker, which ends within about 0.1 s.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (QFrame, QGroupBox, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSplitter, QTabWidget,
                               QVBoxLayout, QWidget)

from app.drift_watch import QtDriftWatch
from app.live_worker import LiveBatch, QtLiveWorker
from app.settings import AppSettings
from app.teach_runner import QtTeachRunner
from app.widgets.drift_readout import QtDriftReadout
from app.widgets.error_banner import QtMessageBanner
from app.widgets.live_view import QtLiveView
from app.widgets.ng_strip import QtNgStrip
from app.widgets.overlay_controls import QtOverlayControls
from app.widgets.readouts import QtReadouts
from app.widgets.self_test_panel import QtSelfTestPanel
from app.widgets.source_picker import DEMO, JETSON, QtSourcePicker
from app.widgets.threshold_view import QtThresholdView
from app.widgets.verdict import QtVerdictPanel
from core.audit.recorder import AuditRecorder, VerdictContext
from core.audit.records import ModelIdentity
from core.data.images import is_image_file
from core.errors import InputError
from core.overlay import render_overlay, save_png
from core.sources import FrameResult, FrameSource, LiveSettings
from core.sources.base import FAILED, NOTICE, RETRYING, RUNNING, DeviceFrame
from core.sources.files import ImageFilesSource
from core.runtime import is_bundle
from core.teaching.images import Frame

_STATE_STYLES = {RETRYING: "color:#b06000; font-weight:bold;", FAILED: "color:#b3261e; font-weight:bold;"}


class InspectPage(QWidget):
    """Live inspection. `use_runtime(runtime)` switches model (restarting a running inspection)."""

    title = "Inspect"
    running_changed = Signal(bool)
    batch_shown = Signal(object, float)  # a LiveBatch once shown, and the UI thread's CPU ms it took

    def __init__(self, settings: AppSettings, teach: QtTeachRunner | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.teach = teach  # "Mark as good": None where the page cannot teach
        self._teach_note: tuple[str, str] | None = None  # shown again once the new version is loaded
        self.runtime: Any = None
        self.worker: QtLiveWorker | None = None
        self.live_settings = LiveSettings(threshold=1.0)
        self.last_result: FrameResult | None = None
        self.model_text = "Model: none"
        self._retiring: set[QtLiveWorker] = set()  # stopped workers still finishing: kept alive until they do
        self.recorder: AuditRecorder | None = None  # the audit trail's writer, opened at the first start
        self.setAcceptDrops(True)
        self._build()
        self._memory_timer = QTimer(self)
        self._memory_timer.setInterval(1000)
        self._memory_timer.timeout.connect(self.readouts.refresh_memory)
        self._memory_timer.start()
        self.readouts.refresh_memory()
        self._restore()
        if self.teach is not None:
            self.teach.message.connect(self._teach_message)
            self.teach.progressed.connect(self.source_state.setText)

    # -- layout -----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.banner = QtMessageBanner()
        self.model_label = QLabel("Model: none")
        self.source_picker = QtSourcePicker()
        self.start_button = QPushButton("Start  [Space]")
        self.next_button = QPushButton("Next image  [N]")
        self.save_button = QPushButton("Save frame  [S]")
        self.start_button.clicked.connect(self.toggle_running)
        self.next_button.clicked.connect(self.next_image)
        self.save_button.clicked.connect(self.save_current)
        self.mark_good_button = QPushButton("Mark as good")
        self.mark_good_button.setToolTip("teach the model that the NG frame on screen is a good part (a new model "
                                         "version, checked against every known defect first)")
        self.mark_good_button.clicked.connect(self.mark_current_good)
        self.mark_good_button.setEnabled(False)
        self.source_state = QLabel("Stopped")
        self.source_state.setWordWrap(True)
        self.live_view = QtLiveView()
        self.live_view.setMinimumSize(320, 240)
        self.verdict = QtVerdictPanel()
        self.verdict.threshold.changed.connect(self._threshold_changed)
        self.verdict.reset_requested.connect(self.reset_counters)
        self.overlay_controls = QtOverlayControls()
        self.overlay_controls.colour_map_changed.connect(self._colour_map_changed)
        self.overlay_controls.opacity_changed.connect(self._opacity_changed)
        self.overlay_controls.overlay_toggled.connect(self.live_view.set_overlay_visible)
        self.overlay_controls.save_folder_changed.connect(self._save_folder_changed)
        self.readouts = QtReadouts()
        self.drift_readout = QtDriftReadout()
        self.drift_watch = QtDriftWatch(self.settings.audit_db, int(self.settings.number("drift/window", 200)), self)
        self.drift_watch.note.connect(self.drift_readout.show_note)
        self.ng_strip = QtNgStrip()
        self.ng_strip.mark_good_requested.connect(self.mark_good)
        self.self_test = QtSelfTestPanel(self.settings.audit_db, self.settings.self_test_max_age_hours)
        self.self_test.message.connect(self._self_test_message)
        self.threshold_view = QtThresholdView()
        self.threshold_view.applied.connect(self.verdict.threshold.set_value)

        self.controls = QWidget()
        controls = QVBoxLayout(self.controls)
        controls.setContentsMargins(0, 0, 0, 0)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_label, 1)
        model_row.addWidget(self.self_test)
        controls.addLayout(model_row)
        source_row = QHBoxLayout()
        source_row.addWidget(self.source_picker, 1)
        source_row.addWidget(self.start_button)
        source_row.addWidget(self.next_button)
        source_row.addWidget(self.save_button)
        source_row.addWidget(self.mark_good_button)
        controls.addLayout(source_row)

        self.side_panel = QWidget()
        side = QVBoxLayout(self.side_panel)
        side.setContentsMargins(0, 0, 0, 0)
        readout_box = QGroupBox("Readouts")
        QVBoxLayout(readout_box).addWidget(self.readouts)
        # One tab each: stacked, the three did not fit the side panel's width and height together (the drift alarm
        # itself sits above the live view, so it is seen whichever tab is open).
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.overlay_controls, "Overlay")
        self.side_tabs.addTab(self.threshold_view, "Threshold")
        self.side_tabs.addTab(self.drift_readout, "Drift")
        side.addWidget(self.side_tabs)
        side.addWidget(readout_box, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.verdict)
        right_layout.addWidget(self.side_panel, 1)

        # On a small screen the numbers scroll; the live view keeps its size.
        self.right_scroll = right_scroll = QScrollArea()
        right_scroll.setWidget(right)
        right_scroll.setWidgetResizable(True)
        right_scroll.setFrameShape(QFrame.Shape.NoFrame)
        right_scroll.setMinimumWidth(440)  # wide enough for the counters, the spin box and the readouts
        right_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.live_view)
        splitter.addWidget(right_scroll)
        splitter.setStretchFactor(0, 1)  # extra width goes to the live view
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([1000, 440])
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.drift_readout.alarm)  # above the live view, kept in kiosk mode
        layout.addWidget(self.controls)
        layout.addWidget(splitter, 1)
        # The latency plot sits beside the NG strip, under the side panel, where it is seen without scrolling.
        bottom = QHBoxLayout()
        bottom.addWidget(self.ng_strip, 1)
        self.readouts.plot.setFixedSize(440, self.ng_strip.height())
        bottom.addWidget(self.readouts.plot)
        layout.addLayout(bottom)
        layout.addWidget(self.source_state)

    def _restore(self) -> None:
        self.source_picker.set_source(self.settings.value("inspect/source_kind", DEMO),
                                      self.settings.value("inspect/source", ""))
        colour_map = self.settings.value("inspect/colour_map", "jet")
        self.overlay_controls.colour_map.setCurrentText(colour_map)
        self.overlay_controls.opacity.setValue(int(self.settings.number("inspect/opacity", 0.5) * 100))
        folder = self.settings.value("inspect/save_folder", "")
        self.overlay_controls.save_ng.setChecked(self.settings.flag("inspect/save_ng"))  # a restart keeps saving NG
        self.overlay_controls.set_save_folder(Path(folder) if folder else None)

    def set_kiosk(self, kiosk: bool) -> None:
        """Kiosk mode keeps the live view, the verdict and the NG strip; everything to configure goes away."""
        self.controls.setVisible(not kiosk)
        self.side_panel.setVisible(not kiosk)
        self.readouts.plot.setVisible(not kiosk)
        self.source_state.setVisible(not kiosk)
        self.verdict.set_compact(kiosk)
        self.right_scroll.setMinimumWidth(300 if kiosk else 440)

    # -- model ------------------------------------------------------------------------------------------------
    def use_runtime(self, runtime: Any) -> None:
        was_running = self.running
        self.stop()
        self.runtime = runtime
        self.live_settings.map_low = runtime.map_low
        self.live_settings.category_thresholds = runtime.category_thresholds
        self.live_settings.model_threshold = runtime.threshold
        maximum = max(2 * runtime.threshold, 1.5 * (runtime.manifest.thresholds.heldout_score_max or 0.0))
        self.verdict.threshold.set_range(maximum, runtime.threshold)
        self.threshold_view.set_model(runtime.manifest.thresholds.normal_scores, runtime.category_thresholds,
                                      runtime.threshold, self.verdict.threshold.value())
        self.model_text = (f"Model: {Path(runtime.model_dir).name}  ·  {runtime.manifest.method or '?'} on "
                                 f"{runtime.manifest.backbone or '?'}, {runtime.image_size} px  ·  "
                           f"categories: {', '.join(runtime.categories) or '—'}")
        self.model_label.setText(self.model_text)
        self.model_label.setToolTip(str(runtime.model_dir))
        self.readouts.show_model(runtime.name, runtime.model_bytes, runtime.integer_path.describe())
        if runtime.int8_warning:
            self.banner.show_message(runtime.int8_warning, "warning")
        else:
            self.banner.hide()
        self.drift_watch.use_runtime(runtime)
        self.self_test.set_model(runtime)  # reminds when the last self-test is older than the set time
        if self._teach_note is not None:  # the version just taught is what the operator waits to hear about
            self.banner.show_message(*self._teach_note)
            self._teach_note = None
        if was_running:
            self.start()

    # -- running ----------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None

    def toggle_running(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    def start(self) -> bool:
        """Open the chosen source and start inspecting; False (and a message in the banner) when it cannot."""
        if self.runtime is None and self.source_picker.current_kind() != JETSON:  # a Jetson brings its own model
            self.banner.show_error("No model is loaded yet: wait for it, open one, or train one on the Train page.")
            return False
        self.stop()
        try:
            source = self.source_picker.make_source()
        except InputError as error:
            self.banner.show_error(str(error))
            self._show_state(FAILED, str(error))
            return False
        self.settings.set_value("inspect/source_kind", self.source_picker.current_kind())
        self.settings.set_value("inspect/source", self.source_picker.location.text())
        self.start_source(source, self.source_picker.location.text())
        return True

    def start_source(self, source: FrameSource, uri: str = "") -> None:
        """Inspect an already opened source (the picker's, or one a script made, e.g. the soak's looping video);
        `uri` is what the audit trail records as its source (default: the source's description)."""
        self.stop()
        self.banner.hide()
        self.live_view.clear_frame()
        self.readouts.plot.clear_history()
        self.readouts.set_value("source", source.description)
        self.readouts.show_local()
        self.model_label.setText(self.model_text)
        drift = self.drift_watch.monitor_for_run() if self.runtime is not None else None
        self.drift_readout.show_state(None)
        self.worker = QtLiveWorker(self.runtime, source, self.live_settings, self,
                                   *self._audit(uri or source.description, source), drift=drift)
        self.worker.ready.connect(self._take_batch)
        self.worker.finished.connect(self._worker_finished)
        self.worker.start()
        self.start_button.setText("Stop  [Space]")
        self.next_button.setEnabled(isinstance(source, ImageFilesSource) and source.step)
        self._show_state(RUNNING, f"starting {source.description}…")
        self.running_changed.emit(True)

    def stop(self, wait: bool = False) -> None:
        """Stop inspecting. The worker winds down on its own (a camera may take a moment to let go), so the UI
        never waits for it, unless `wait` (closing the window)."""
        worker, self.worker = self.worker, None
        if worker is None:
            if wait:
                for retiring in list(self._retiring):
                    retiring.wait(5000)
            return
        worker.ready.disconnect(self._take_batch)
        self._retiring.add(worker)  # until its thread has ended: see _worker_finished
        worker.stop()
        self._apply_batch(worker.take())  # what arrived since the last draw still counts
        if wait:
            for retiring in list(self._retiring):
                retiring.wait(5000)
        self.start_button.setText("Start  [Space]")
        self._show_state("", "Stopped")
        self.running_changed.emit(False)

    def _worker_finished(self) -> None:
        """A worker's thread ended (queued to the UI thread, connected before the thread started, so it comes
        exactly once even when the worker ends while `stop` runs: a connection made in `stop` could miss it)."""
        worker = self.sender()
        if worker is self.worker:  # the source ended by itself (end of video, failure)
            self.worker = None
            self._apply_batch(worker.take())
            self.start_button.setText("Start  [Space]")
            self.running_changed.emit(False)
        self._retiring.discard(worker)
        worker.deleteLater()

    def next_image(self) -> None:
        source = self.worker.source if self.worker is not None else None
        if isinstance(source, ImageFilesSource):
            source.advance()

    def reset_counters(self) -> None:
        if self.worker is not None:
            self.worker.reset_counters()
        self.verdict.show_counters(0, 0)
        self.ng_strip.clear_thumbnails()

    def inspect_images(self, paths: list[Path]) -> None:
        """Images opened or dropped: added to a running image-file source, else inspected from a new one."""
        source = self.worker.source if self.worker is not None else None
        if isinstance(source, ImageFilesSource) and source.keep_open:
            source.add(paths)
            return
        self.source_picker.set_images(paths)
        self.start()

    # -- results ----------------------------------------------------------------------------------------------
    def _take_batch(self) -> None:
        if self.worker is not None:
            self._apply_batch(self.worker.take())

    def _apply_batch(self, batch: LiveBatch) -> None:
        started = time.thread_time()  # CPU time of this thread: what showing costs, whatever else the machine runs
        self._show_batch(batch)
        self.batch_shown.emit(batch, (time.thread_time() - started) * 1000)

    def _show_batch(self, batch: LiveBatch) -> None:
        for status in batch.statuses:
            self._show_state(status.state, status.message)
        for message in batch.errors:
            self.banner.show_error(message)
        for result in batch.ng_results:
            if result.thumbnail is not None:
                self.ng_strip.add(result.thumbnail, f"{result.frame.name}: score {result.score:.4g}",
                                  teachable_frame(result))
        self.verdict.show_counters(batch.inspected, batch.ng)
        self.threshold_view.add_scores(batch.scored)
        if batch.drift is not None and batch.drift is not self.drift_readout.state:
            self.drift_readout.show_state(batch.drift)
        self.readouts.show_rates(batch.fps, batch.source_dropped, batch.display_dropped)
        result = batch.latest
        if result is None:
            return
        self.last_result = result
        self.mark_good_button.setEnabled(result.is_ng and result.model_input is not None and self._can_teach())
        device = isinstance(result.frame, DeviceFrame)  # the overlay is in the device's image already
        self.live_view.show_frame(result.frame.image, None if device else result.heat)
        self.verdict.show_verdict(result.is_ng, result.score, result.threshold, result.category)
        if device:  # the device's verdict, numbers and overlay, said as such
            self.readouts.show_device(result.frame.device)
            self.model_label.setText(f"Model: on the device ({result.frame.device.get('release', '?')}, "
                                     f"{result.frame.device.get('engine', '?')}); results from "
                                     f"{result.frame.name.split(' #')[0]}")
        self.readouts.show_timings(result.timings, batch.timings)
        if batch.saved:
            self.source_state.setText(f"saved {batch.saved[-1]}")

    def _audit(self, uri: str, source: FrameSource) -> tuple[AuditRecorder | None, VerdictContext | None]:
        """The recorder (opened once) and what this run's verdicts share; none without a local model, unless the
        frames are a device's verdicts (each then names the device's bundle: `ModelIdentity.of_device`)."""
        on_device = source.inspected_elsewhere
        if (self.runtime is None and not on_device) or not self.settings.flag("audit/enabled", True):
            return None, None
        if self.recorder is None:
            try:
                self.recorder = AuditRecorder(self.settings.audit_db, self.settings.audit_frame_cap_mb)
            except InputError as error:  # inspecting goes on; the operator is told that nothing is recorded
                self.banner.show_error(f"verdicts are not recorded: {error}")
                return None, None
        if on_device:
            return self.recorder, VerdictContext(uri, ModelIdentity("", "", "device"))
        model = ModelIdentity.of(self.runtime.manifest, self.runtime.model_dir)
        return self.recorder, VerdictContext(uri, model, self.live_settings.map_low)

    def close_audit(self) -> None:
        """Commit the verdicts still queued and stop the recorder (the window is closing)."""
        self.self_test.shutdown()
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None

    def _self_test_message(self, message: str, kind: str) -> None:
        self.banner.show_message(message, kind)

    def _show_state(self, state: str, message: str) -> None:
        if state == NOTICE:
            self.banner.show_message(message, "warning")
            return
        if state in (FAILED, RETRYING):
            self.banner.show_message(message, "error" if state == FAILED else "warning")
        elif state == RUNNING and self.banner.kind == "warning" and not self.banner.isHidden():
            self.banner.hide()  # the camera is back
        self.source_state.setText(message)
        self.source_state.setStyleSheet(_STATE_STYLES.get(state, ""))

    # -- operator actions -------------------------------------------------------------------------------------
    def save_current(self) -> Path | None:
        """Write the frame on screen with its overlay to the save folder (default: Pictures/inspection-station)."""
        result = self.last_result
        if result is None:
            return None
        folder = self.overlay_controls.save_folder or default_save_folder()
        overlay = render_overlay(result.frame.image, result.anomaly_map, low=self.live_settings.map_low,
                                 threshold=result.threshold, score=result.score, label=result.category,
                                 opacity=self.live_view.opacity)
        target = folder / f"{time.strftime('%Y%m%d-%H%M%S')}_{result.index:06d}_{result.verdict}.png"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            save_png(target, overlay)  # atomically: a kill or a full disk never leaves half a PNG in the folder
        except InputError as error:  # a full disk: the message names the file
            self.banner.show_error(str(error))
            return None
        except OSError as error:
            self.banner.show_error(f"{target}: could not write the image ({error.strerror or error})")
            return None
        self.source_state.setText(f"saved {target}")
        return target

    def mark_current_good(self) -> bool:
        """Teach the model that the NG frame on screen is good."""
        frame = teachable_frame(self.last_result) if self.last_result is not None else None
        return frame is not None and self.mark_good(frame)

    def mark_good(self, frame: Frame) -> bool:
        """Teach the active model that `frame` is good, off the UI thread; the live runtime reloads the new version."""
        if not self._can_teach():
            self.banner.show_message("Only a model directory on this computer can be taught (not a bundle or a "
                                     "device's model)", "warning")
            return False
        return self.teach.teach(Path(self.runtime.model_dir), [frame])

    def _teach_message(self, text: str, kind: str) -> None:
        self.banner.show_message(text, kind)
        self._teach_note = (text, kind) if kind == "info" else None

    def _can_teach(self) -> bool:
        return (self.teach is not None and self.runtime is not None and not is_bundle(Path(self.runtime.model_dir)))

    def _threshold_changed(self, value: float) -> None:
        self.live_settings.threshold = value
        self.threshold_view.set_threshold(value)

    def _colour_map_changed(self, name: str) -> None:
        self.live_view.set_colour_map(name)
        self.settings.set_value("inspect/colour_map", name)

    def _opacity_changed(self, opacity: float) -> None:
        self.live_view.set_opacity(opacity)
        self.settings.set_value("inspect/opacity", opacity)

    def _save_folder_changed(self, folder: Path | None) -> None:
        if folder is None and self.overlay_controls.save_ng.isChecked():
            folder = default_save_folder()
        self.live_settings.save_ng_to = folder
        self.settings.set_value("inspect/save_ng", self.overlay_controls.save_ng.isChecked())
        if self.overlay_controls.save_folder is not None:
            self.settings.set_value("inspect/save_folder", str(self.overlay_controls.save_folder))

    # -- drag and drop ----------------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        if _dropped_images(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = _dropped_images(event)
        if paths:
            event.acceptProposedAction()
            self.inspect_images(paths)


def teachable_frame(result: FrameResult) -> Frame | None:
    """What the model saw of `result`'s frame, to be taught (None for a device's own verdict)."""
    if result.model_input is None:
        return None
    return Frame(result.frame.name, result.model_input, result.category)


def _dropped_images(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    return [Path(url.toLocalFile()) for url in urls if url.isLocalFile() and is_image_file(Path(url.toLocalFile()))]


def default_save_folder() -> Path:
    return Path.home() / "Pictures" / "inspection-station"

