"""The sandbox's own tests use the same fixtures as tests/integration (one shared sandbox)."""
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

_spec = importlib.util.spec_from_file_location(
    "halobuzz_sandbox_support", HERE.parent / "integration" / "sandbox_support.py")
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

sandbox_env = _fixtures.sandbox_env
scenario = _fixtures.scenario
sandbox_secrets = _fixtures.sandbox_secrets
run_playbook = _fixtures.run_playbook_fixture
sandbox_cli = _fixtures.sandbox_cli
