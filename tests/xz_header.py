"""The LZMA2 dictionary size an ``.xz`` file was written with, read from its first block
header: the one trace of the xz preset a file keeps (preset 1: 1 MiB, 6: 8 MiB)."""

from __future__ import annotations

from pathlib import Path

_STREAM_HEADER = 12
_LZMA2 = 0x21


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def xz_dictionary_size(path: Path) -> int:
    """The dictionary size (bytes) of the first block's LZMA2 filter in ``path``."""
    data = path.read_bytes()[: _STREAM_HEADER + 1024]
    assert data[:6] == b"\xfd7zXZ\x00", f"{path} is not an xz file"
    at = _STREAM_HEADER + 1  # the block header's size byte
    flags = data[at]
    at += 1
    for present in (0x40, 0x80):  # compressed, then uncompressed size
        if flags & present:
            _, at = _varint(data, at)
    filter_id, at = _varint(data, at)
    assert filter_id == _LZMA2, f"{path}: first filter is {filter_id:#x}, not LZMA2"
    _, at = _varint(data, at)  # size of the properties: one byte
    code = data[at]
    return (2 | (code & 1)) << (code // 2 + 11)
