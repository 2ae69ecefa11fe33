"""The text encoding of a CSV file: named by the user, or detected, and never guessed.

Without a name: a UTF-16 or UTF-8 byte-order mark decides; text that is valid UTF-8 is UTF-8.
Anything else goes to `charset-normalizer`, fed the lines holding non-ASCII bytes (the ASCII rest
reads the same in every candidate). The candidates are the encodings it finds plausible among those
spreadsheets and Windows tools write (Windows code pages, ISO 8859, Japanese, Chinese, Korean,
Cyrillic), within a small margin of the best. When they all read the file's text the same, it is
read so; when they read it differently (Windows-1250 `ę` is Windows-1252 `ê`), the file is refused
with the candidates and the first word where they differ, and the user names the encoding.
"""

from __future__ import annotations

import codecs
import itertools
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from charset_normalizer import from_bytes

from oee_pipelines.connectors.files.errors import UnreadableFileError

# Candidates within this much "chaos" (charset-normalizer's measure of mess) of the best one.
CHAOS_MARGIN = 0.05
# A reading the language model finds this coherent, by this margin over the others, wins a tie.
MIN_COHERENCE, COHERENCE_MARGIN = 0.2, 0.1
SAMPLE_BYTES = 256 * 1024
SAMPLE_LINES = 5_000
_WORD_CHARS = 24
_HIGH_BYTE_LINE = re.compile(rb"[^\n]*[\x80-\xff][^\n]*")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF8_CHECK_BYTES = 1024 * 1024
# What spreadsheets and Windows tools write; charset-normalizer also proposes Mac and DOS code pages,
# which would read a Windows-1252 file as different, wrong letters.
_FILE_ENCODINGS = (
    "utf-8",
    *(f"cp{page}" for page in range(1250, 1259)),
    *(f"iso8859-{part}" for part in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16)),
    "cp932",
    "shift_jis",
    "euc_jp",
    "gb18030",
    "gbk",
    "gb2312",
    "big5",
    "cp949",
    "euc_kr",
    "koi8-r",
    "koi8-u",
    "cp874",
)
# Tried beside charset-normalizer's proposals: the Windows code pages of most of Europe. Its statistics
# need more than the few non-ASCII characters a CSV of ids and numbers often has.
_ALWAYS_TRIED = ("cp1252", "cp1250", "cp1251")
_COMMON_SYMBOLS = frozenset("°©®™№")
_EAST_ASIAN = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "FULLWIDTH", "HALFWIDTH", "IDEOGRAPHIC")
_WORD = re.compile(r"[^\W\d_]+")
# When several names read the same text, the one reported (the most common first).
_REPORTED_FIRST = ("cp1252", "cp1250", "iso8859-1")
HOW_TO_NAME = (
    "name the encoding: `oee import --encoding cp1250`, the upload's `encoding` field, "
    "or `@cp1250` before the extension of an inbox file (`downtime_week3@cp1250.csv`)"
)


def canonical(encoding: str) -> str:
    """Python's name for an encoding label (`windows-1250` -> `cp1250`); LookupError if unknown."""
    return codecs.lookup(encoding).name


_ALLOWED = frozenset(canonical(name) for name in _FILE_ENCODINGS)


def decode(data: bytes, file_name: str, encoding: str | None = None) -> tuple[str, str]:
    """The file's text and the encoding it was read as; UnreadableFileError when it cannot be told."""
    if encoding is not None:
        return _decode_named(data, file_name, encoding), encoding
    if data.startswith(_UTF16_BOMS):
        return _strict(data, "utf-16", file_name), "utf-16"
    if data.startswith(_UTF8_BOM):
        return _strict(data, "utf-8-sig", file_name), "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    detected = _detect(data, file_name)
    return _strict(data, detected, file_name), detected


def is_utf8(data: bytes, encoding: str | None = None) -> bool:
    """Whether `decode` would read `data` as UTF-8 (named so, or detected), checked without building
    the whole text: a large file is validated chunk by chunk."""
    view = memoryview(data)
    chunks = (view[start : start + _UTF8_CHECK_BYTES] for start in range(0, len(view), _UTF8_CHECK_BYTES))
    return _may_be_utf8(data[:2], encoding) and _valid_utf8(chunks)


def is_utf8_file(path: Path, encoding: str | None = None) -> bool:
    """`is_utf8` for a file on disk, read a chunk at a time."""
    with path.open("rb") as handle:
        if not _may_be_utf8(handle.read(2), encoding):
            return False
        handle.seek(0)
        return _valid_utf8(iter(lambda: handle.read(_UTF8_CHECK_BYTES), b""))


def _may_be_utf8(head: bytes, encoding: str | None) -> bool:
    """UTF-8 unless another encoding is named, or (none named) a UTF-16 byte-order mark says so."""
    if encoding is None:
        return not head.startswith(_UTF16_BOMS)
    try:
        return canonical(encoding) == "utf-8"
    except LookupError:
        return False


def _valid_utf8(chunks: Iterable[bytes | memoryview]) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in chunks:
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def is_wide(encoding: str | None) -> bool:
    """UTF-16 and UTF-32 text holds NUL bytes, which would otherwise mark a binary file."""
    try:
        return encoding is not None and canonical(encoding).startswith(("utf-16", "utf-32"))
    except LookupError:
        return False


def _decode_named(data: bytes, file_name: str, encoding: str) -> str:
    try:
        name = canonical(encoding)
    except LookupError:
        raise UnreadableFileError(file_name, f"unknown encoding {encoding!r}") from None
    if name == "utf-8" and data.startswith(_UTF8_BOM):
        name = "utf-8-sig"
    return _strict(data, name, file_name)


def _strict(data: bytes, encoding: str, file_name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        byte = data[error.start : error.start + 1].hex()
        raise UnreadableFileError(
            file_name,
            f"the file is not {encoding}: byte 0x{byte} at offset {error.start} cannot be read; "
            + HOW_TO_NAME,
        ) from None


def _detect(data: bytes, file_name: str) -> str:
    found = _HIGH_BYTE_LINE.finditer(data)
    lines = [match.group() for _, match in zip(range(SAMPLE_LINES), found, strict=False)]
    sample = b"\n".join(lines)[:SAMPLE_BYTES]
    matches = [match for match in from_bytes(sample) if _allowed(match.encoding)]
    best = min((match.chaos for match in matches), default=0.0)
    proposed = [canonical(m.encoding) for m in matches if m.chaos <= best + CHAOS_MARGIN]
    texts = {}
    for name in dict.fromkeys([*proposed, *_ALWAYS_TRIED]):
        try:
            texts[name] = sample.decode(name)
        except UnicodeDecodeError:
            continue
    if not texts:
        raise UnreadableFileError(
            file_name, f"the file is not UTF-8 and its encoding could not be recognised; {HOW_TO_NAME}"
        )
    scores = {name: implausible_characters(text) for name, text in texts.items()}
    fewest = min(scores.values())
    candidates = [name for name, score in scores.items() if score == fewest]
    # Equally clean readings in different scripts (Cyrillic read as Greek): the language model decides
    # when it clearly prefers one.
    coherence = {canonical(m.encoding): m.coherence for m in matches}
    best_coherence = max(coherence.get(name, 0.0) for name in candidates)
    if best_coherence >= MIN_COHERENCE:
        candidates = [n for n in candidates if coherence.get(n, 0.0) > best_coherence - COHERENCE_MARGIN]
    if len({texts[name] for name in candidates}) == 1:
        agreed = texts[candidates[0]]
        return next((name for name in _REPORTED_FIRST if texts.get(name) == agreed), candidates[0])
    readings = ", ".join(
        f"{name} ({_first_difference({n: texts[n] for n in candidates}, name)!r})" for name in candidates
    )
    raise UnreadableFileError(
        file_name,
        f"cannot tell the file's encoding: it reads differently as {readings}; {HOW_TO_NAME}",
    )


def implausible_characters(text: str) -> int:
    """How many characters of a reading look like a wrong decoding: controls, symbols inside words,
    words mixing scripts (`Dьse`), a lone capital (`Ђ`), a small letter before a capital (`żQué`)."""
    count = 0
    for index, char in enumerate(text):
        if char.isascii():
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cn", "Co", "Cs") or (category == "So" and char not in _COMMON_SYMBOLS):
            count += 1
        elif not char.isalpha() and category[0] != "M" and not _east_asian_punctuation(char):
            before, after = text[index - 1 : index], text[index + 1 : index + 2]
            count += bool(before.isalpha() and after.isalpha())
    for word in _WORD.findall(text):
        scripts = {_script(char) for char in word} - {None}
        if len(scripts) > 1:
            count += sum(1 for char in word if not char.isascii())
        elif len(word) == 1 and not word.isascii() and word.isupper():
            count += 1
        count += sum(
            1
            for first, second in itertools.pairwise(word)
            if not first.isascii() and first.islower() and second.isupper()
        )
    return count


def _script(char: str) -> str | None:
    name = unicodedata.name(char, "")
    for script in ("LATIN", "CYRILLIC", "GREEK", "ARABIC", "HEBREW", "THAI"):
        if name.startswith(script):
            return script
    if name.startswith(_EAST_ASIAN):
        return "EAST ASIAN"
    return None


def _east_asian_punctuation(char: str) -> bool:
    return 0x3000 <= ord(char) <= 0x303F or 0xFF00 <= ord(char) <= 0xFFEF


def _allowed(encoding: str) -> bool:
    try:
        return canonical(encoding) in _ALLOWED
    except LookupError:
        return False


def _first_difference(texts: dict[str, str], name: str) -> str:
    """The word around the first character where the candidates' readings differ, as `name` reads it."""
    readings = list(texts.values())
    length = min(len(text) for text in readings)
    index = next((i for i in range(length) if len({text[i] for text in readings}) > 1), length)
    text = texts[name]
    start = max(text.rfind(" ", 0, index), text.rfind(",", 0, index), text.rfind("\n", 0, index)) + 1
    end_marks = [position for position in (text.find(" ", index), text.find(",", index)) if position >= 0]
    end = min([*end_marks, start + _WORD_CHARS, len(text)])
    return text[start:end]
