"""The Inspect page's threshold view: normal and live score histograms in the slider's units, how many of the last
verdicts a proposed threshold would change, and applying it to the live threshold."""

from __future__ import annotations

import pytest
from app_testkit import inspected, write_video
from PySide6.QtCore import Qt

from app.main_window import MainWindow
from app.widgets.source_picker import VIDEO
from app.widgets.threshold_view import QtThresholdView, VerdictChanges


def test_a_proposed_threshold_counts_the_verdicts_it_would_change(qtbot) -> None:
    view = QtThresholdView()
    qtbot.addWidget(view)
    # Two categories whose own thresholds are 1.0 and 10.0 under an overall 2.0: scores are drawn x2 and x0.2.
    view.set_model({"quiet": [0.5, 0.8, 0.9], "loud": [5.0, 8.0]}, {"quiet": 1.0, "loud": 10.0}, 2.0, 2.0)
    assert sorted(view._normal) == pytest.approx([1.0, 1.0, 1.6, 1.6, 1.8])
    view.add_scores([(0.9, "quiet"), (1.2, "quiet"), (9.0, "loud"), (3.0, "")])  # 1.8, 2.4, 1.8, 3.0
    assert view.changes() == VerdictChanges(0, 0, 4, 0, 5)
    view.propose(1.7)  # the two frames at 1.8 turn NG, and one normal image lies above
    assert view.changes() == VerdictChanges(2, 0, 4, 1, 5)
    assert "2 of the last 4 verdicts would change (2 OK → NG, 0 NG → OK)" in view.summary.text()
    assert "1 of 5 (20.0 %)" in view.summary.text()
    view.slider.setValue(view.slider.maximum())  # past every score: the two NG frames turn OK
    assert view.changes()[:2] == (0, 2) and view.proposed == pytest.approx(4.0)
    with qtbot.waitSignal(view.applied) as applied:
        qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    assert applied.args == [pytest.approx(4.0)]


def test_the_page_draws_the_models_normal_scores_and_the_live_ones_and_applies(qtbot, window: MainWindow,
                                                                             tmp_path) -> None:
    page = window.inspect_page
    view = page.threshold_view
    normal = page.runtime.manifest.thresholds.normal_scores
    assert len(view._normal) == sum(len(scores) for scores in normal.values()) == 10  # every training image, OOF
    page.source_picker.set_source(VIDEO, f"file://{write_video(tmp_path / 'line.avi', frames=12, fps=30.0)}")
    assert page.start()
    qtbot.waitUntil(lambda: not page.running, timeout=30_000)
    assert len(view._live) == inspected(window) >= 4
    live_ng = sum(score >= page.live_settings.threshold for score in view._live)
    view.propose(0.0)
    assert view.changes()[:3] == (inspected(window) - live_ng, 0, inspected(window))
    view.apply_button.click()
    assert page.live_settings.threshold == page.verdict.threshold.value() == view.threshold == 0.0
