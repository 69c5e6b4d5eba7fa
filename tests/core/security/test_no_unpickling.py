"""No unpickling of user-provided files: the engine and the window read weights from safetensors, manifests from
JSON, and call torch.load only with weights_only=True. The scan reads the source as syntax trees (unpickle_scan.py)."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest
import torch
from unpickle_scan import scan_source, scan_tree

from core.cli import main

REPO = Path(__file__).resolve().parents[3]


def test_core_and_app_never_unpickle() -> None:
    findings = scan_tree([REPO / "core", REPO / "app"], REPO)
    assert not findings, "unpickling in the source:\n" + "\n".join(map(str, findings))


@pytest.mark.parametrize("source, line, what", [
    ("import pickle\npickle.load(open('m.pkl', 'rb'))", 2, "pickle.load() unpickles"),
    ("from pickle import loads as l\nl(b'')", 2, "pickle.loads() unpickles"),
    ("import _pickle\n_pickle.Unpickler(f)", 2, "_pickle.Unpickler() unpickles"),
    ("import pandas as pd\npd.read_pickle('x')", 2, "pandas.read_pickle() unpickles"),
    ("import torch\ntorch.load('w.pt')", 2, "torch.load() without weights_only=True"),
    ("import torch as T\nT.load('w.pt', weights_only=False)", 2, "torch.load() without weights_only=True"),
    ("from torch import load\nload('w.pt', map_location='cpu')", 2, "torch.load() without weights_only=True"),
    ("import torch\nflag = True\ntorch.load('w.pt', weights_only=flag)", 3, "torch.load() without weights_only"),
    ("import numpy as np\nnp.load('a.npy', allow_pickle=True)", 2, "numpy.load() with allow_pickle"),
    ("def f():\n    import joblib\n    return joblib.load('m')", 2, "imports joblib"),
    ("from dill import loads", 1, "imports dill"),
    ("import shelve", 1, "imports shelve"),
    ("import yaml\nyaml.load(text)", 2, "yaml.load() without Loader=yaml.SafeLoader"),
    ("import yaml\nyaml.load(text, Loader=yaml.FullLoader)", 2, "yaml.load() without Loader=yaml.SafeLoader"),
    ("import yaml\nyaml.unsafe_load(text)", 2, "yaml.unsafe_load() can build"),
])
def test_the_scan_names_file_and_line_of_each_unpickling_call(source: str, line: int, what: str) -> None:
    findings = scan_source(source, "core/x.py")
    assert [(finding.path, finding.line) for finding in findings] == [("core/x.py", line)], findings
    assert what in str(findings[0]) and str(findings[0]).startswith(f"core/x.py:{line}: ")


def test_the_scan_lets_safe_loading_through() -> None:
    source = textwrap.dedent("""
        import numpy as np
        import torch
        import yaml
        from safetensors.torch import load_file
        from yaml import SafeLoader
        # pickle.load(f) in a comment is not a call
        state = torch.load("w.pt", map_location="cpu", weights_only=True)
        array = np.load("a.npy")
        other = np.load("b.npy", allow_pickle=False)
        config = yaml.safe_load(text)
        more = yaml.load(text, Loader=yaml.SafeLoader)
        same = yaml.load(text, SafeLoader)
        json_text = "pickle.loads"
        weights = load_file("w.safetensors")
    """)
    assert scan_source(source) == []


class _Payload:
    """Unpickling this runs `open(marker, "w")`: what a malicious weight file would do with an ordinary load."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_pickle_posing_as_backbone_weights_is_refused_without_running(
        tmp_path: Path, tiny_categories: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "payload-ran"
    weights = tmp_path / "weights.pt"
    torch.save({"conv_stem.weight": torch.zeros(1), "payload": _Payload(marker)}, weights)
    with pytest.raises(pickle.UnpicklingError):  # the file really is hostile: weights_only refuses it
        torch.load(weights, weights_only=True)
    assert not marker.exists()
    status = main(["train", "--data", str(tiny_categories[0]), "--method", "patchcore", "--weights", str(weights),
                   "--image-size", "32", "--out", str(tmp_path / "model")])
    err = capsys.readouterr().err
    assert status == 2 and f"{weights}: not a readable state dict" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "model").exists()
