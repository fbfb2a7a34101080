"""A Vault emulator for the HaloBuzz sandbox: the HTTP API subset the runbooks use.

See README.md in this directory for what is emulated and what is not.
"""

from .config import ConfigError, load_config, parse_config
from .server import VaultEmulator

__all__ = ["ConfigError", "VaultEmulator", "load_config", "parse_config"]
