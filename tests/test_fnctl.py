"""``make configure`` and ``make replay`` (deploy/fnctl.py) as a user runs them: one key changed on its own, and one
line, not a traceback, without the ``fn`` CLI. A stand-in ``fn`` on ``PATH`` answers ``inspect`` from a JSON file
and records every other call (with the body of an ``invoke``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_TOKEN

REPO = Path(__file__).resolve().parent.parent
FNCTL = REPO / "deploy" / "fnctl.py"
DEPLOYED = {
    "input-bucket": "logfile_download_bucket",
    "logzio-url": "listener-eu.logz.io:8071",
    "logzio-token": TEST_TOKEN,
}
FAKE_FN = """
import json, sys
from pathlib import Path
here = Path(sys.argv[0]).parent
args = sys.argv[1:]
if args[:1] == ["invoke"]:
    args.append(sys.stdin.read())
with open(here / "calls.jsonl", "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:1] == ["inspect"]:
    state = json.loads((here / "deployed.json").read_text())
    if state is None:
        sys.exit("Error: app not found")
    print(json.dumps(state["app" if args[1] == "app" else "function"], indent="\\t"))
"""


def fake_fn(directory: Path, deployed: dict[str, Any] | None) -> Path:
    """A ``fn`` executable in ``directory`` (``deployed`` None: nothing is deployed, inspect fails)."""
    script = directory / "fn"
    script.write_text(f"#!{sys.executable}\n{FAKE_FN}")
    script.chmod(0o755)
    (directory / "deployed.json").write_text(json.dumps(deployed))
    return directory


def run_fnctl(*args: str, path: Path | None, **env: str) -> subprocess.CompletedProcess[str]:
    """``python deploy/fnctl.py ARGS`` with only ``path`` (and the interpreter's directory) on PATH."""
    dirs = [str(Path(sys.executable).parent)] + ([str(path)] if path else [])
    environ = {"PATH": os.pathsep.join(dirs), "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [sys.executable, str(FNCTL), *args], capture_output=True, text=True, env=environ, cwd=REPO, check=False
    )


def calls(directory: Path) -> list[list[str]]:
    log = directory / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def changes(directory: Path) -> list[list[str]]:
    """The calls that change something (not ``inspect``)."""
    return [c for c in calls(directory) if c[0] != "inspect"]


def test_one_key_is_changed_on_its_own(tmp_path: Path) -> None:
    fn = fake_fn(tmp_path, {"app": {}, "function": DEPLOYED})
    result = run_fnctl("configure", path=fn, BATCH_MAX_BYTES="2000000")
    assert result.returncode == 0, result.stderr
    assert changes(fn) == [["config", "function", "logzio", "logzio-from-bucket", "batch-max-bytes", "2000000"]]
    assert TEST_TOKEN not in result.stdout + result.stderr


def test_a_bad_value_for_one_key_is_refused_naming_it(tmp_path: Path) -> None:
    fn = fake_fn(tmp_path, {"app": {}, "function": DEPLOYED})
    result = run_fnctl("configure", path=fn, BATCH_MAX_BYTES="12")
    assert result.returncode == 2
    assert result.stderr.strip() == "not configured: config key 'batch-max-bytes': 12 is outside 1024..10485760"
    assert changes(fn) == []


def test_switching_the_listener_removes_the_other_half_of_the_pair(tmp_path: Path) -> None:
    fn = fake_fn(tmp_path, {"app": {}, "function": DEPLOYED})
    result = run_fnctl("configure", path=fn, LOGZIO_REGION="uk")
    assert result.returncode == 0, result.stderr
    assert changes(fn) == [
        ["config", "function", "logzio", "logzio-from-bucket", "logzio-region", "uk"],
        ["delete", "config", "function", "logzio", "logzio-from-bucket", "logzio-url"],
    ]


def test_application_config_counts_as_the_function_sees_it(tmp_path: Path) -> None:
    """The application's ``logzio-url`` stays when the function's own config changes: both would be set."""
    own = {k: v for k, v in DEPLOYED.items() if k != "logzio-url"}
    fn = fake_fn(tmp_path, {"app": {"logzio-url": DEPLOYED["logzio-url"]}, "function": own})
    result = run_fnctl("configure", path=fn, LOGZIO_REGION="uk")
    assert result.returncode == 2
    assert "set either 'logzio-url' or 'logzio-region', not both" in result.stderr
    assert changes(fn) == []


def test_a_function_not_deployed_yet_needs_a_whole_config(tmp_path: Path) -> None:
    fn = fake_fn(tmp_path, None)
    partial = run_fnctl("configure", path=fn, BATCH_MAX_BYTES="2000000")
    assert partial.returncode == 2
    assert "the environment is checked as a whole config" in partial.stderr
    assert "config key 'logzio-token'" in partial.stderr
    whole = run_fnctl("configure", path=fn, INPUT_BUCKET="b", LOGZIO_REGION="eu", LOGZIO_TOKEN=TEST_TOKEN)
    assert whole.returncode == 0, whole.stderr
    assert [c[4] for c in changes(fn) if c[0] == "config"] == ["input-bucket", "logzio-region", "logzio-token"]
    assert TEST_TOKEN not in whole.stdout + whole.stderr


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("configure",), {"BATCH_MAX_BYTES": "2000000"}, "not configured"),
        (("replay", "--prefix", "audit/"), {}, "not replayed"),
    ],
    ids=["configure", "replay"],
)
def test_without_the_fn_cli_it_is_one_line(args: tuple[str, ...], env: dict[str, str], says: str) -> None:
    result = run_fnctl(*args, path=None, **env)
    assert result.returncode == 127
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{says}: the fn CLI is not on PATH")


def test_replay_invokes_the_function_with_the_payload(tmp_path: Path) -> None:
    fn = fake_fn(tmp_path, {"app": {}, "function": DEPLOYED})
    result = run_fnctl("replay", "--prefix", "audit/2026", path=fn)
    assert result.returncode == 0, result.stderr
    [invoke] = changes(fn)
    assert invoke[:-1] == ["invoke", "--content-type", "application/json", "logzio", "logzio-from-bucket"]
    assert json.loads(invoke[-1]) == {"replay": {"prefix": "audit/2026"}}
