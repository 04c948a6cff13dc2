"""``deploy/fnctl.py`` as a module (it is a script, run as ``python deploy/fnctl.py``, not an installed package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

FNCTL = Path(__file__).resolve().parent.parent / "deploy" / "fnctl.py"


def load_fnctl() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fnctl", FNCTL)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
