"""Whether an image file is completely written, from its own structure rather than from whether it decodes.

A decoder is not a reliable judge: Pillow decodes truncated files when some library has set
`ImageFile.LOAD_TRUNCATED_IMAGES` (a common work-around for bad data sets), and then the missing rows come out grey
or black. A PNG is complete once it ends with its IEND chunk, a JPEG once it ends with the end-of-image marker
(trailing padding aside), a BMP once it is as long as its header says. Other formats cannot tell: they count as
complete, and the strict decoder and the watcher's settle time are what protect them.
"""

from __future__ import annotations

from pathlib import Path

_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_END = b"\xff\xd9"
_TAIL_BYTES = 64


def looks_complete(path: Path) -> bool:
    """False when `path` is visibly cut short (a PNG, JPEG or BMP still being written)."""
    suffix = Path(path).suffix.lower()
    try:
        with Path(path).open("rb") as stream:
            head = stream.read(6)
            size = stream.seek(0, 2)
            stream.seek(max(0, size - _TAIL_BYTES))
            tail = stream.read()
    except OSError:
        return False
    if suffix == ".png":
        return tail.endswith(_PNG_END)
    if suffix in (".jpg", ".jpeg"):
        return tail.rstrip(b"\x00").endswith(_JPEG_END)
    if suffix == ".bmp" and head[:2] == b"BM":
        return size >= int.from_bytes(head[2:6], "little")
    return True
