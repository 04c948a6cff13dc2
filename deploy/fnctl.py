"""The commands behind ``make stack``, ``make configure`` and ``make replay`` (standard library only).

* ``stack OUT.zip``: zip ``deploy/terraform`` (``*.tf`` and ``schema.yaml`` at the archive root) as an OCI
  Resource Manager stack, reproducibly (fixed timestamps), with Python's zipfile so no ``zip`` binary is needed.
* ``configure --app A --fn F``: ``fn config function A F <key> <value>`` for every config key the forwarder reads
  (``logzio_forwarder.config.KEYS``) that is set in the environment as its upper-case, underscored name
  (``input-bucket`` <- ``INPUT_BUCKET``, ``logzio-token`` <- ``LOGZIO_TOKEN``). One key can be changed on its own:
  the function's current config (``fn inspect app A config`` and ``fn inspect function A F config``, the
  function's own keys winning, as OCI Functions merges them) with the environment's keys laid over it is checked
  with the forwarder's own ``load_settings`` first; for a function that does not exist yet, the environment alone
  must be a whole config. The other half of an either/or pair (``logzio-token`` / ``logzio-token-secret-id``,
  ``logzio-url`` / ``logzio-region``) is removed so the function never has both. Token values are never printed.
  ``DRY_RUN=1`` prints the commands without running them.
* ``replay --app A --fn F [--prefix P | --objects N ...]``: ``fn invoke`` with ``{"replay": {"prefix": P}}`` or
  ``{"objects": [...]}``.

Without the ``fn`` CLI on ``PATH``, ``configure`` and ``replay`` say so in one line and exit 127.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as `python deploy/fnctl.py` from a clean clone, no install needed

from logzio_forwarder.config import KEYS, load_settings  # noqa: E402
from logzio_forwarder.errors import ConfigError  # noqa: E402

TERRAFORM_DIR = ROOT / "deploy" / "terraform"
STACK_PATTERNS = ("*.tf", "schema.yaml")
SECRET_KEYS = frozenset({"logzio-token"})
EITHER_OR = (("logzio-token", "logzio-token-secret-id"), ("logzio-url", "logzio-region"))
MASK = "****"
NO_FN = (
    "the fn CLI is not on PATH: install it (https://github.com/fnproject/cli) and set up its OCI context "
    "as docs/deployment.md shows"
)


def build_stack(out: Path, source: Path = TERRAFORM_DIR) -> list[str]:
    """Write the Resource Manager zip; returns the archived names (no tfvars, state or .terraform)."""
    names = sorted({path.name for pattern in STACK_PATTERNS for path in source.glob(pattern) if path.is_file()})
    if not any(name.endswith(".tf") for name in names) or "schema.yaml" not in names:
        raise SystemExit(f"{source} holds no *.tf files or no schema.yaml")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (source / name).read_bytes())
    return names


def env_name(key: str) -> str:
    """The environment variable ``make configure`` reads for a config key."""
    return key.upper().replace("-", "_")


class CurrentConfig(NamedTuple):
    """The config a deployed function has: its application's and its own (the function's keys win). A NamedTuple,
    not a dataclass: the tests load this script by path, without a module entry that dataclasses would look up."""

    application: Mapping[str, str]
    function: Mapping[str, str]

    def with_changes(self, setting: Mapping[str, str], deleting: Sequence[str]) -> dict[str, str]:
        """What the function will see after ``setting`` is set and ``deleting`` removed from its own config."""
        own = {k: v for k, v in self.function.items() if k not in deleting}
        return {k: v for k, v in {**self.application, **own, **setting}.items() if v}


def config_commands(
    app: str, function: str, environ: Mapping[str, str], current: CurrentConfig | None = None
) -> list[list[str]]:
    """The ``fn`` commands that give the function the config found in ``environ``, validated first: laid over the
    ``current`` config when there is one, else as a whole config of its own."""
    config = {key: environ[env_name(key)] for key in KEYS if environ.get(env_name(key), "").strip()}
    if not config:
        names = ", ".join(env_name(key) for key in KEYS)
        raise SystemExit(f"no config in the environment; set some of: {names}")
    deleting = [key for pair in EITHER_OR for key in pair if key not in config and any(o in config for o in pair)]
    load_settings(config if current is None else current.with_changes(config, deleting))  # ConfigError names the key
    commands = [["fn", "config", "function", app, function, key, value] for key, value in config.items()]
    return commands + [["fn", "delete", "config", "function", app, function, key] for key in deleting]


def current_config(app: str, function: str) -> CurrentConfig | None:
    """The deployed function's config from ``fn inspect`` (captured, never printed: it may hold the token); None
    when the application or function cannot be inspected (not created yet)."""
    found: list[Mapping[str, str]] = []
    for command in (["fn", "inspect", "app", app, "config"], ["fn", "inspect", "function", app, function, "config"]):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            return None
        try:
            value = json.loads(result.stdout or "null")
        except ValueError:
            return None
        found.append({str(k): str(v) for k, v in (value or {}).items()} if isinstance(value, dict) else {})
    return CurrentConfig(*found)


def shown(command: Sequence[str]) -> str:
    """A command as printed: secret values masked."""
    words = list(command)
    if len(words) == 7 and words[1] == "config" and words[5] in SECRET_KEYS:
        words[6] = MASK
    return " ".join(words)


def replay_payload(prefix: str | None, objects: Sequence[str]) -> str:
    """The invocation body that makes the function re-forward a prefix or a list of objects."""
    if objects:
        return json.dumps({"objects": list(objects)})
    return json.dumps({"replay": {"prefix": prefix or "audit/"}})


def _configure(args: argparse.Namespace) -> int:
    dry_run = os.environ.get("DRY_RUN", "") not in ("", "0")
    current = None
    if shutil.which("fn") is None:
        if not dry_run:
            print(f"not configured: {NO_FN}", file=sys.stderr)
            return 127
        print("(dry run without the fn CLI: the environment is checked as a whole config)", file=sys.stderr)
    else:
        current = current_config(args.app, args.fn)
        if current is None:
            print(
                f"no function {args.app}/{args.fn} to inspect: the environment is checked as a whole config",
                file=sys.stderr,
            )
    try:
        commands = config_commands(args.app, args.fn, os.environ, current)
    except ConfigError as exc:  # names the key, never the token
        print(f"not configured: {exc}", file=sys.stderr)
        return 2
    for command in commands:
        print(("(dry run) " if dry_run else "") + shown(command))
        if dry_run:
            continue
        deleting = command[1] == "delete"
        secret = command[1] == "config" and command[5] in SECRET_KEYS
        # fn echoes the value it set; keep the token off the terminal. A delete of an unset key may fail: fine.
        result = subprocess.run(command, check=False, capture_output=secret or deleting, text=True)
        if result.returncode != 0 and not deleting:
            print(f"fn failed ({result.returncode}) setting {command[5]}", file=sys.stderr)
            return result.returncode
    return 0


def _replay(args: argparse.Namespace) -> int:
    if shutil.which("fn") is None:
        print(f"not replayed: {NO_FN}", file=sys.stderr)
        return 127
    payload = replay_payload(args.prefix, args.objects or [])
    command = ["fn", "invoke", "--content-type", "application/json", args.app, args.fn]
    print(f"{' '.join(command)} <<< '{payload}'")
    return subprocess.run(command, input=payload, text=True, check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    stack = sub.add_parser("stack", help="zip deploy/terraform as a Resource Manager stack")
    stack.add_argument("out", type=Path, nargs="?", default=ROOT / "deploy" / "stack.zip")
    for name in ("configure", "replay"):
        command = sub.add_parser(name)
        command.add_argument("--app", default="logzio")
        command.add_argument("--fn", default="logzio-from-bucket")
        if name == "replay":
            command.add_argument("--prefix", default="audit/")
            command.add_argument("--objects", nargs="*")
    args = parser.parse_args(argv)
    if args.command == "stack":
        names = build_stack(args.out)
        print(f"wrote {args.out} ({', '.join(names)})")
        return 0
    if args.command == "configure":
        return _configure(args)
    return _replay(args)


if __name__ == "__main__":
    sys.exit(main())
