"""What model directories and deployment bundles share: a manifest.json beside the files it lists and hashes.

Both arrive from elsewhere (a colleague's model, a bundle copied from a USB stick), so nothing in them is trusted.
The manifest must be a JSON object of a known format and version; every file it lists must be a plain relative name
that, symbolic links followed, stays inside the directory, and must match its sha256. Each refusal is one line that
names the directory, manifest or entry at fault. Torch-free and onnx-free, so it is quick to import.

Example:
    >>> manifest = read_manifest_json(Path("models/bottle"), "model directory")
    >>> check_format(Path("models/bottle"), manifest, MODEL_FORMAT, 1)
    >>> verify_files(Path("models/bottle"), listed_files(Path("models/bottle"), manifest), MODEL_FORMAT)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.files import sha256_of

MANIFEST = "manifest.json"
MODEL_FORMAT = "inspection-station-model"
BUNDLE_FORMAT = "inspection-station-bundle"
KINDS = {MODEL_FORMAT: "model directory", BUNDLE_FORMAT: "deployment bundle"}
# Plain names only: safe to join to a directory here and to quote in a shell on the device.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def read_manifest_json(directory: Path, kind: str) -> dict[str, Any]:
    """The manifest of `directory` as a dict; InputError saying what the path is instead of a `kind` (words such
    as "model directory"): missing, a file, an empty folder, a folder without a manifest, a manifest that is not a
    JSON object. Format and version are `check_format`'s job."""
    directory = Path(directory)
    if not directory.exists():
        raise InputError(f"{directory}: not a {kind} (the path does not exist)")
    if not directory.is_dir():
        raise InputError(f"{directory}: not a {kind} (it is a file; give the folder)")
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        what = "the folder is empty" if not any(directory.iterdir()) else f"no {MANIFEST}"
        raise InputError(f"{directory}: not a {kind} ({what})")
    contained_file(directory, MANIFEST, manifest_path)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"{manifest_path}: cannot read the manifest ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise InputError(f"{manifest_path}: not valid JSON (not even UTF-8 text)") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{manifest_path}: not valid JSON ({error})") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{manifest_path}: not a manifest (a JSON {type(manifest).__name__}, not an object)")
    return manifest


def format_of(directory: Path) -> str | None:
    """The "format" a directory's manifest claims, or None when there is no readable manifest (for dispatch only:
    nothing is verified)."""
    try:
        manifest = json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    found = manifest.get("format") if isinstance(manifest, dict) else None
    return found if isinstance(found, str) else None


def check_format(directory: Path, manifest: Mapping[str, Any], expected_format: str, version: int) -> None:
    """Refuse a manifest of the other kind (a bundle where a model is expected, and back), of an unknown format,
    or of a format version this build does not read (older: no migration exists; newer: update this one)."""
    directory, kind = Path(directory), KINDS[expected_format]
    manifest_path = directory / MANIFEST
    found = manifest.get("format")
    if found != expected_format:
        if found in KINDS:
            raise InputError(f"{directory}: is a {KINDS[found]}, not a {kind}{_other_kind_hint(directory, manifest)}")
        raise InputError(f"{manifest_path}: not an Inspection Station {kind} (format {found!r})")
    found_version = manifest.get("format_version")
    if not isinstance(found_version, int) or isinstance(found_version, bool):
        raise InputError(f"{manifest_path}: format version {found_version!r} is not supported (this build reads "
                         f"{version})")
    if found_version > version:
        raise InputError(f"{manifest_path}: format version {found_version} is not supported (this build reads "
                         f"{version}); it was written by a newer version of Inspection Station: update this one")
    if found_version < version:
        redo = "train the model again" if expected_format == MODEL_FORMAT else "export the bundle again"
        raise InputError(f"{manifest_path}: format version {found_version} is not supported (this build reads "
                         f"{version}) and cannot be migrated: {redo} with this version")


def listed_files(directory: Path, manifest: Mapping[str, Any]) -> dict[str, str]:
    """The manifest's `files` (name -> sha256), every name checked to stay inside `directory` (no hashing)."""
    manifest_path = Path(directory) / MANIFEST
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise InputError(f"{manifest_path}: 'files' is missing or not a mapping of file names to sha256 digests")
    for name, digest in files.items():
        contained_file(directory, name, manifest_path)
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise InputError(f"{manifest_path}: the sha256 of {name!r} is not 64 hex digits ({digest!r})")
    return dict(files)


def verify_files(directory: Path, files: Mapping[str, str], kind: str) -> None:
    """Check every file of `files` (from `listed_files`) exists inside `directory` and matches its sha256;
    InputError naming the file. `kind` is the manifest's format (it words the message)."""
    directory = Path(directory)
    listed = "the bundle manifest" if kind == BUNDLE_FORMAT else "the manifest"
    since = "the bundle was written" if kind == BUNDLE_FORMAT else "the model was saved"
    for name, expected in files.items():
        file = contained_file(directory, name, directory / MANIFEST)
        if not file.is_file():
            raise InputError(f"{file}: listed in {listed} but missing")
        if sha256_of(file) != expected:
            raise InputError(f"{file}: changed since {since} (sha256 does not match the manifest)")


def is_plain_name(name: object) -> bool:
    """A relative path of plain names (letters, digits, `_.-`), no `.` or `..` parts."""
    return (isinstance(name, str) and bool(_PLAIN_NAME.fullmatch(name))
            and not {".", ".."} & set(name.split("/")))


def contained_file(directory: Path, name: object, source: Path) -> Path:
    """`directory / name`, refused unless `name` (an entry of `source`) is a plain relative name that resolves,
    symbolic links followed, inside `directory`. The file need not exist."""
    directory = Path(directory)
    if not is_plain_name(name):
        raise InputError(f"{source}: unsafe file name {name!r} (entries must be plain relative names inside "
                         f"{directory}: no '..', no absolute paths)")
    path = directory / str(name)
    root, real = directory.resolve(), path.resolve()
    if real != root and root not in real.parents:
        raise InputError(f"{path}: a symbolic link to {real}, outside {directory}; refusing to use it")
    return path


def _other_kind_hint(directory: Path, manifest: Mapping[str, Any]) -> str:
    if manifest.get("format") == BUNDLE_FORMAT:
        source = manifest.get("source_model")
        came_from = f" ({source})" if isinstance(source, str) else ""
        return f" (an exported variant): give the model directory it was exported from{came_from}"
    return f"; export a bundle from it first: python -m core export --model {directory} --out BUNDLE_DIR"
