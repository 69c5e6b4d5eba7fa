"""Finished workers are deleted at once, and whoever owns them can go at any moment.

The Export page used to keep its finished deploy workers alive because deleting them crashed Qt. The cause: the
slots on a worker's signals were lambdas holding the page, and PySide keeps such a lambda alive for as long as the
worker lives. Once nothing else held the page (a test returning, a page closed), deleting the worker dropped the
page's last reference inside the worker's destructor; Shiboken deleted the page there, and the page deleted its
children, the half-destroyed worker among them, a second time. These tests take each owner to exactly that moment:
its worker's `finished` handled and its deletion pending, then the last outside reference to the owner dropped, then
the deferred deletes run. With the lambdas they crash the test process; with the workers kept they fail (the workers
and their page stay alive). Each page is also tested on its own (no window): a lambda holding the page on any of its
own widgets' signals (a button, a menu action) keeps it alive for ever, and fails the test too.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject

from app.model_state import QtActiveModel
from app.pages.inspect_page import InspectPage
from app.pages.quantize_page import QuantizePage
from app.pages.train_page import TrainPage
from app.qt_worker import QtJobWorker, call_job
from app.settings import AppSettings
from core.export.variants import VariantSpec
from core.runtime import open_runtime
from core.sources.files import ImageFilesSource
from tests.app.test_export_page import _fill, _page, sshd  # noqa: F401 - sshd is a fixture used below
from tests.core.deploy.deploy_testkit import SshServer, make_bundle

DEPLOYS_IN_A_ROW = 3


def _deliver_queued_signals(worker: QtJobWorker) -> None:
    """Let the worker's thread end, then deliver what it emitted (`finished` last), without running deferred
    deletes: the moment at which the owner has asked for the worker to be deleted and nothing has been yet."""
    assert worker.wait(30_000)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.MetaCall)


def _run_deferred_deletes() -> None:
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_deploys_in_a_row_delete_each_worker_as_it_finishes_and_the_page_can_go_meanwhile(
        qtbot, settings: AppSettings, sshd: SshServer, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    page = _page(qtbot, settings, make_bundle(tmp_path))
    remote = tmp_path / "device"
    _fill(page, sshd, remote, sshd.known_hosts, build=False)
    releases = set()
    for _ in range(DEPLOYS_IN_A_ROW):
        assert page.deploy()
        qtbot.waitUntil(lambda: not page.busy, timeout=30_000)
        assert page.banner.text() == "", page.log.toPlainText()
        releases.add(page.last_result.release_id)
        _run_deferred_deletes()
        assert page.findChildren(QtJobWorker) == []  # none kept until the next deploy
    assert len(releases) == DEPLOYS_IN_A_ROW and (remote / "current").is_symlink()

    assert page.deploy()
    _deliver_queued_signals(page.worker)
    assert not page.busy and page.last_result is not None and page.last_result.release_id not in releases
    gone = weakref.ref(page)
    del page
    gc.collect()
    _run_deferred_deletes()  # crashed here while lambdas on the worker held the page
    assert gone() is None  # nothing keeps a page whose window let it go


def _is_deleted(gone: weakref.ref) -> bool:
    """Run the pending deletes once the caller has dropped its last reference to a page (it has no parent)."""
    gc.collect()
    _run_deferred_deletes()  # crashed here while lambdas on the worker held the page
    return gone() is None  # nothing keeps a page whose window let it go


def test_the_quantize_page_can_go_while_its_finished_workers_deletion_is_pending(
        qapp, settings: AppSettings, tiny_model: Path) -> None:
    model = QtActiveModel()
    model.load(tiny_model)
    _deliver_queued_signals(model._worker)
    page = QuantizePage(settings, model)  # on its own, as a window that let it go leaves it
    assert page.model_dir == tiny_model
    assert page.run_variants([VariantSpec("fp32"), VariantSpec("int8", "qat")])
    _deliver_queued_signals(page.worker)  # the first variant measured; the second starts at once
    assert page.variants and page.busy
    _deliver_queued_signals(page.worker)  # the second refused in its process: its name comes from the page
    assert not page.busy and page.banner.text().startswith("Not measured: int8-qat-cpu: ")
    gone = weakref.ref(page)
    del page
    assert _is_deleted(gone)


def test_the_train_page_can_go_while_its_scanners_deletion_is_pending(qapp, settings: AppSettings,
                                                                     tiny_model: Path, tmp_path: Path) -> None:
    page = TrainPage(settings)
    data, missing = tiny_model.parent / "data" / "stripes", tmp_path / "missing"
    settings.add_recent("recent/data", data)
    page._fill_recent()
    [recent] = page.recent_button.menu().actions()
    recent.trigger()  # the operator picks it from the Recent menu
    del recent
    page.add_folders([missing])
    for scanner in list(page._scanners):
        _deliver_queued_signals(scanner)
    del scanner
    assert not page.scanning and page.folders.scans[data].category.test  # each result went to its own folder
    assert page.folders.usable_folders() == [data] and str(missing) in page.banner.text()
    gone = weakref.ref(page)
    del page
    assert _is_deleted(gone)


def test_the_inspect_page_can_go_while_its_finished_workers_deletion_is_pending(
        qapp, settings: AppSettings, tiny_model: Path) -> None:
    page = InspectPage(settings)
    page.use_runtime(open_runtime(tiny_model))
    page.source_picker.set_images(sorted((tiny_model.parent / "data" / "stripes" / "test" / "good").glob("*.png")))
    assert page.start() and isinstance(page.worker.source, ImageFilesSource)
    worker = page.worker
    page.stop()  # the operator's Stop: the worker winds down on its own, retired once its thread has ended
    _deliver_queued_signals(worker)
    assert not page.running and not page._retiring
    del worker
    gone = weakref.ref(page)
    del page
    assert _is_deleted(gone)


def test_the_active_model_can_go_while_its_loaders_deletion_is_pending(qapp, tiny_model: Path) -> None:
    model = QtActiveModel()  # no parent: owned by Python, as a page's is once its window lets go of it
    model.load(tiny_model)
    _deliver_queued_signals(model._worker)
    assert model.runtime is not None and not model.busy
    gone = weakref.ref(model)
    del model
    gc.collect()
    _run_deferred_deletes()  # crashed here while the loader's slots and job held the model
    assert gone() is None


class _Owner(QObject):
    def slot(self) -> None:
        pass


def _owner_called_by_its_worker(through_lambda: bool) -> weakref.ref:
    owner = _Owner()
    owner.worker = QtJobWorker(call_job(lambda: None), owner)
    owner.worker.finished.connect((lambda: owner.slot()) if through_lambda else owner.slot)
    return weakref.ref(owner)


def test_pyside_keeps_a_lambda_on_a_signal_alive_but_not_the_receiver_of_a_bound_method(qapp) -> None:
    """What the fix relies on (see app.qt_worker): if PySide changes here, the advice there must change too."""
    assert _owner_called_by_its_worker(through_lambda=False)() is None  # nothing held it once the caller let go
    kept = _owner_called_by_its_worker(through_lambda=True)()
    assert kept is not None  # the worker's connection holds it
    kept.worker.deleteLater()  # safe while something else holds the owner: the lambda goes with the worker
    _run_deferred_deletes()
    gone = weakref.ref(kept)
    del kept
    assert gone() is None
