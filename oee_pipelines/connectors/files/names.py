"""File names supplied by users, made safe to show, log and store."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_BYTES = 255
# Characters that are path syntax or invalid on common file systems.
_UNSAFE = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')


def safe_file_name(name: str) -> str:
    """The last path component of `name`, without directories, drive letters or control characters.

    `../../etc/passwd` becomes `passwd` and `C:\\data\\log.csv` becomes `log.csv`. Raises ValueError
    when nothing usable is left (e.g. `..` or an empty name).
    """
    last = re.split(r"[\\/]", unicodedata.normalize("NFC", name))[-1]
    cleaned = _UNSAFE.sub("_", last).strip().lstrip(".").strip()
    if not cleaned or set(cleaned) == {"_"}:
        raise ValueError(f"file name {name!r} has no usable name after removing directories")
    encoded = cleaned.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        _, dot, suffix = cleaned.rpartition(".")
        keep_suffix = dot + suffix if dot and len(suffix) <= 10 else ""
        room = MAX_NAME_BYTES - len(keep_suffix.encode("utf-8"))
        cleaned = cleaned.encode("utf-8")[:room].decode("utf-8", errors="ignore") + keep_suffix
    return cleaned
