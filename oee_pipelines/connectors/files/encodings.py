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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

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
# The multibyte East Asian encodings read one another's bytes as valid, rare characters (Shift-JIS
# katakana as Hangul of cp949's extension): when one is proposed, the others within this margin are
# tried too, and `implausible_characters` tells them apart.
_MULTIBYTE = frozenset(
    ("cp932", "shift_jis", "euc_jp", "gb18030", "gbk", "gb2312", "big5", "cp949", "euc_kr")
)
MULTIBYTE_CHAOS_MARGIN = 0.25
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
            # ASCII (most files) is valid UTF-8: `isascii` checks it far faster than decoding, and the
            # decoder is skipped only when it holds no partial character from the chunk before.
            if isinstance(chunk, bytes) and chunk.isascii() and not decoder.getstate()[0]:
                continue
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


def file_codec(path: Path, file_name: str, encoding: str | None = None) -> tuple[str, str]:
    """For a file on disk, what `decode` would decode it with and the encoding it reports, decided on
    the same bounded sample (the first lines holding non-ASCII bytes), so a file of any size is never
    read whole into memory; `transcode_file` then decodes it. Refuses exactly what `decode` refuses
    when deciding (an unknown name, an ambiguous reading)."""
    if encoding is not None:
        try:
            name = canonical(encoding)
        except LookupError:
            raise UnreadableFileError(file_name, f"unknown encoding {encoding!r}") from None
        with path.open("rb") as handle:
            bom = handle.read(len(_UTF8_BOM)) == _UTF8_BOM
        return ("utf-8-sig" if name == "utf-8" and bom else name), encoding
    with path.open("rb") as handle:
        head = handle.read(len(_UTF8_BOM))
    if head.startswith(_UTF16_BOMS):
        return "utf-16", "utf-16"
    if head.startswith(_UTF8_BOM):
        return "utf-8-sig", "utf-8"
    if is_utf8_file(path):
        return "utf-8", "utf-8"
    detected = _detect_sample(_file_sample(path), file_name)
    return detected, detected


def transcode_file(
    path: Path, codec: str, target: BinaryIO, file_name: str, chunk_bytes: int = _UTF8_CHECK_BYTES
) -> Iterator[str]:
    """Decode `path` with `codec` a chunk at a time, writing UTF-8 to `target`; yields each chunk's
    text as it goes (for checks on the start), and refuses, as `decode` does, at the first byte the
    codec cannot read (its offset counted from the file's start)."""
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    offset = 0
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(chunk_bytes)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                # The decoder may hold a few bytes of the previous chunk: count them back.
                held = len(error.object) - len(chunk)
                at = offset - held + error.start
                with path.open("rb") as again:
                    again.seek(at)
                    byte = again.read(1).hex()
                raise UnreadableFileError(
                    file_name,
                    f"the file is not {codec}: byte 0x{byte} at offset {at} cannot be read; " + HOW_TO_NAME,
                ) from None
            target.write(text.encode("utf-8"))
            yield text
            if not chunk:
                return
            offset += len(chunk)


def _file_sample(path: Path, chunk_bytes: int = _UTF8_CHECK_BYTES) -> bytes:
    """`_sample` of the file's content, read a chunk at a time and only as far as the sample needs."""
    lines: list[bytes] = []
    size = 0
    carried = b""
    with path.open("rb") as handle:
        # `size` is the joined sample's length plus one: stop once that reaches `SAMPLE_BYTES`.
        while len(lines) < SAMPLE_LINES and size <= SAMPLE_BYTES:
            chunk = handle.read(chunk_bytes)
            if not chunk:
                if carried:
                    lines.extend(_high_byte_lines(carried)[: SAMPLE_LINES - len(lines)])
                break
            complete, newline, carried = (carried + chunk).rpartition(b"\n")
            if not newline:
                carried = complete + carried
                continue
            for line in _high_byte_lines(complete + b"\n")[: SAMPLE_LINES - len(lines)]:
                lines.append(line)
                size += len(line) + 1
    return b"\n".join(lines)[:SAMPLE_BYTES]


def _high_byte_lines(data: bytes) -> list[bytes]:
    return [match.group() for match in _HIGH_BYTE_LINE.finditer(data)]


def _sample(data: bytes) -> bytes:
    """The lines holding non-ASCII bytes, the first `SAMPLE_LINES` of them and `SAMPLE_BYTES` at most."""
    found = _HIGH_BYTE_LINE.finditer(data)
    lines = [match.group() for _, match in zip(range(SAMPLE_LINES), found, strict=False)]
    return b"\n".join(lines)[:SAMPLE_BYTES]


def _detect(data: bytes, file_name: str) -> str:
    return _detect_sample(_sample(data), file_name)


def _detect_sample(sample: bytes, file_name: str) -> str:
    matches = [match for match in from_bytes(sample) if _allowed(match.encoding)]
    best = min((match.chaos for match in matches), default=0.0)
    proposed = [canonical(m.encoding) for m in matches if m.chaos <= best + CHAOS_MARGIN]
    # Challengers: tried, but they win only where every reading proposed above looks wrong.
    challengers = (
        [
            name
            for m in matches
            if (name := canonical(m.encoding)) in _MULTIBYTE
            and best + CHAOS_MARGIN < m.chaos <= best + MULTIBYTE_CHAOS_MARGIN
        ]
        if _MULTIBYTE.intersection(proposed)
        else []
    )
    texts = {}
    for name in dict.fromkeys([*proposed, *_ALWAYS_TRIED, *challengers]):
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
    if any(name not in challengers for name in candidates):
        candidates = [name for name in candidates if name not in challengers]
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
        symbol = category == "So" and char not in _COMMON_SYMBOLS
        wrong_kind = category in ("Cc", "Cn", "Co", "Cs") or symbol
        if wrong_kind or _rare_hangul(char):
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


def _rare_hangul(char: str) -> bool:
    """A Hangul syllable outside KS X 1001's 2,350 (EUC-KR): modern Korean text hardly uses them, and
    other multibyte encodings read as cp949 are full of them."""
    if not 0xAC00 <= ord(char) <= 0xD7A3:
        return False
    # Python's EUC-KR codec spells the other syllables as 8-byte jamo sequences (KS X 1001 annex 3).
    return len(char.encode("euc_kr")) != 2


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
