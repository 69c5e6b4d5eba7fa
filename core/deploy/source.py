"""What `deploy --model` accepts: a deployment bundle as it is, or a model directory turned into one first.

Example:
    >>> bundle = resolve_bundle(Path("models/bottle"), precision="int8", work_dir=Path(tempfile.mkdtemp()))
"""

from __future__ import annotations

from pathlib import Path

from core.artefact_dir import BUNDLE_FORMAT, KINDS, MANIFEST, MODEL_FORMAT, read_manifest_json
from core.bundle import verify_bundle
from core.errors import InputError


def resolve_bundle(path: Path, *, precision: str, work_dir: Path) -> Path:
    """A verified bundle for `path`: the bundle itself, or one exported from the model directory into `work_dir`."""
    path = Path(path)
    kind = read_manifest_json(path, f"{KINDS[BUNDLE_FORMAT]} or {KINDS[MODEL_FORMAT]}").get("format")
    if kind == BUNDLE_FORMAT:
        verify_bundle(path)
        return path
    if kind == MODEL_FORMAT:
        try:
            from core.export import bundle_from_model  # heavy (torch): only when a model must be exported
        except ImportError as error:
            raise InputError(f"{path} is a model directory, and this installation cannot export it to a bundle "
                             f"({error}); export a bundle first and deploy that") from None
        bundle = Path(bundle_from_model(path, Path(work_dir) / f"{path.name}-{precision}", precision))
        verify_bundle(bundle)
        return bundle
    raise InputError(f"{path / MANIFEST}: not an Inspection Station deployment bundle or model directory (format "
                     f"{kind!r})")
