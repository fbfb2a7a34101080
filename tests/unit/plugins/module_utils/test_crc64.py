import struct

import pytest

from ansible_collections.halobuzz.ops.plugins.module_utils.mongodb import crc64

from mongodump_fixtures import fixture


def from_int64(value):
    """The signed int64 from an EOF header as the unsigned CRC."""
    return value & 0xFFFFFFFFFFFFFFFF


class Crc64(object):
    """A running CRC-64 (ECMA, as Go's hash/crc64) over a namespace's documents."""

    __slots__ = ('value',)

    def __init__(self):
        self.value = 0

    def update(self, data):
        self.value = crc64.update(self.value, data)

    def int64(self):
        return crc64.to_int64(self.value)


# the crcmod-plus C extension when installed, and the pure-Python fallback used without it
@pytest.mark.parametrize('update', [crc64.update, crc64._update_pure], ids=['installed', 'pure'])
@pytest.mark.parametrize('data, expected', [
    (b'', 0),
    (b'123456789', 0x995DC9BBDF1939FA),  # CRC-64/XZ check value (Go's crc64 with the ECMA table)
    (b'a', 0x330284772E652B05),
    (b'abc', 0x2CD8094A1A277627),  # Go's hash/crc64 golden values (crc64_test.go, ECMA column)
])
def test_known_values(data, expected, update):
    assert update(0, data) == expected


@pytest.mark.parametrize('split', [0, 1, 4, 9])
def test_running_crc_equals_one_shot(split):
    data = b'123456789'
    assert crc64.update(crc64.update(0, data[:split]), data[split:]) == crc64.update(0, data)


@pytest.mark.parametrize('value', [0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1])
def test_int64_round_trip(value):
    signed = crc64.to_int64(value)
    assert -(1 << 63) <= signed < (1 << 63)
    assert from_int64(signed) == value


def test_matches_the_crc_mongodump_wrote():
    # test.bar.archive: admin.system.version holds one 0x3b-byte document at offset 0x25b;
    # its EOF header's CRC field (int64 LE) is at 0x2d6.
    data = open(fixture('archives', 'test.bar.archive'), 'rb').read()
    crc = Crc64()
    crc.update(data[0x25b:0x25b + 0x3b])
    assert crc.int64() == struct.unpack('<q', data[0x2d6:0x2de])[0]
