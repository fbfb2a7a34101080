"""Makes `ansible_collections.halobuzz.ops` importable from this checkout for every test tier."""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, '.collections')

if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)

# ansible_collections may already be a namespace package from site-packages (the ansible bundle);
# extend its search path so halobuzz.ops resolves to this checkout beside the bundled collections.
import ansible_collections  # noqa: E402

_ours = os.path.join(COLLECTIONS_ROOT, 'ansible_collections')
if _ours not in list(ansible_collections.__path__):
    ansible_collections.__path__.insert(0, _ours)
