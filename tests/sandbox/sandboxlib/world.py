"""The seeded world (world.yml) and its scenarios."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from .procs import SandboxError

WORLD_FILE = Path(__file__).resolve().parent.parent / "world.yml"


def deep_merge(base: dict, override: dict) -> dict:
    """Mappings merge key by key; lists and scalars in `override` replace."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load(path: Path = WORLD_FILE) -> dict:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SandboxError(f"cannot read the sandbox world {path}: {exc}") from exc


def scenario_names(doc: dict | None = None) -> list[str]:
    return list((doc or load())["scenarios"])


def resolve(name: str, doc: dict | None = None) -> dict:
    """The world as scenario `name` sees it (world deep-merged with the scenario)."""
    doc = doc or load()
    scenarios = doc["scenarios"]
    if name not in scenarios:
        raise SandboxError(
            f"unknown scenario {name!r}: choose one of {', '.join(scenarios)} (tests/sandbox/world.yml)")
    override = dict(scenarios[name] or {})
    override.pop("description", None)
    state = deep_merge(doc["world"], override)
    state["scenario"] = name
    return state
