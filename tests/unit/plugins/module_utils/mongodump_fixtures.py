"""Paths of the real mongodump files in tests/fixtures/mongodump (see PROVENANCE.md there)."""
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'fixtures', 'mongodump')
ROOT = os.path.normpath(ROOT)


def fixture(*parts):
    return os.path.join(ROOT, *parts)
