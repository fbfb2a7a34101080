# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CRC-64 exactly as mongodump computes it for the EOF headers of an archive.

mongodump uses Go's ``hash/crc64`` with ``crc64.MakeTable(crc64.ECMA)``: the ECMA-182
polynomial in reflected form (0xC96C5795D7870F42), the register starting at all ones and
inverted at the end (the catalogue calls this CRC-64/XZ; check value of b"123456789" is
0x995DC9BBDF1939FA). The archive stores ``int64(hash.Sum64())`` little-endian, so
:func:`to_int64` gives the value as it appears in the EOF header's ``CRC`` field.

``crcmod`` (crcmod-plus, a C extension) is used when installed; otherwise a table-driven
pure-Python loop gives the same values, only slower.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

ECMA_REFLECTED_POLY = 0xC96C5795D7870F42
_MASK = 0xFFFFFFFFFFFFFFFF


def _make_table(poly):
    table = []
    for i in range(256):
        crc = i
        for _bit in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _make_table(ECMA_REFLECTED_POLY)


def _update_pure(crc, data):
    """Go's crc64.Update: invert, shift the bytes through the table, invert again."""
    crc = ~crc & _MASK
    table = _TABLE
    for byte in bytearray(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return ~crc & _MASK


try:
    import crcmod  # crcmod-plus: the C extension makes this as fast as a memcpy-bound loop

    # crcmod's initCrc is "initial register XOR xorOut": 0 means a register of all ones.
    _update_fast = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, rev=True, xorOut=_MASK)
except ImportError:  # pragma: no cover - exercised only where crcmod is not installed
    _update_fast = None


def update(crc, data):
    """The CRC of everything hashed so far (``crc``, 0 to start) followed by ``data``."""
    if _update_fast is not None:
        return _update_fast(bytes(data), crc)
    return _update_pure(crc, data)


def to_int64(crc):
    """The unsigned CRC as the signed int64 the archive's EOF header stores."""
    return crc - (1 << 64) if crc & (1 << 63) else crc
