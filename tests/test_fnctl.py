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

from standins.childenv import fresh_env
from tests.conftest import TEST_TOKEN
from tests.fnctl_module import load_fnctl

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
    environ = fresh_env(PATH=os.pathsep.join(dirs), **env)
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


# ----- make apply and make deploy: every region of the tenancy -------------------------------------------------------

HOME, AMS, ZRH = "eu-frankfurt-1", "eu-amsterdam-1", "eu-zurich-1"


class FakeTerraform:
    """Terraform as ``make apply`` drives it: a state per workspace; an apply in a region gives that region's state a
    function (its OCID names the region); ``failing`` regions' applies exit 1. Every call is recorded."""

    def __init__(self, deployed: tuple[str, ...] = (), failing: tuple[str, ...] = ()) -> None:
        self.states: dict[str, dict[str, str]] = {r: {"function_id": f"ocid1.fnfunc.oc1.{r}.f"} for r in deployed}
        self.failing = failing
        self.workspace = "default"
        self.calls: list[list[str]] = []

    def __call__(self, command: Any, *, capture: bool = False) -> tuple[int, str]:
        args = list(command)
        self.calls.append(args)
        verb = args[2:]
        if verb[:2] == ["workspace", "list"]:
            return 0, "".join(f"  {w}\n" for w in ["default", *self.states])
        if verb[:2] == ["workspace", "select"]:
            name = verb[-1]
            if name not in self.states and "-or-create=true" not in verb:
                return 1, ""
            self.states.setdefault(name, {})
            self.workspace = name
            return 0, ""
        if verb[:1] == ["output"]:
            value = self.states.get(self.workspace, {}).get(verb[-1])
            return (0, json.dumps(value)) if value else (1, "")
        if verb[:1] == ["apply"]:
            if self.workspace in self.failing:
                return 1, ""
            self.states[self.workspace]["function_id"] = f"ocid1.fnfunc.oc1.{self.workspace}.f"
            return 0, ""
        return 0, ""

    def applies(self) -> list[tuple[str, dict[str, str]]]:
        """Each apply as (the region, its -var values)."""
        out = []
        for call in self.calls:
            if call[2:3] == ["apply"]:
                values = dict(arg[len("-var=") :].split("=", 1) for arg in call if arg.startswith("-var="))
                out.append((values["region"], values))
        return out


def subscriptions(fnctl: Any) -> Any:
    return fnctl.Subscriptions(HOME, (AMS, HOME, ZRH))


def test_every_subscribed_region_by_default_the_home_region_first() -> None:
    fnctl = load_fnctl()
    assert fnctl.plan_regions(subscriptions(fnctl), []) == [HOME, AMS, ZRH]
    assert fnctl.plan_regions(subscriptions(fnctl), [ZRH, HOME, ZRH]) == [HOME, ZRH]


def test_a_list_without_the_home_region_is_refused_saying_why() -> None:
    fnctl = load_fnctl()
    with pytest.raises(SystemExit) as refused:
        fnctl.plan_regions(subscriptions(fnctl), [AMS, ZRH])
    assert str(refused.value) == fnctl.missing_home_region(HOME)
    assert "only in the home region" in str(refused.value)
    with pytest.raises(SystemExit, match="not subscribed: us-ashburn-1"):
        fnctl.plan_regions(subscriptions(fnctl), [HOME, "us-ashburn-1"])


def test_first_deployment_home_then_the_others_then_home_again_with_their_functions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fnctl = load_fnctl()
    terraform = FakeTerraform()
    assert fnctl.apply_regions("forwarder", [], subscriptions(fnctl), terraform) == 0
    regions = json.dumps([HOME, AMS, ZRH])
    assert terraform.applies() == [
        (HOME, {"region": HOME, "regions": regions, "forwarder_function_ids": "[]"}),
        (AMS, {"region": AMS, "regions": regions}),
        (ZRH, {"region": ZRH, "regions": regions}),
        (
            HOME,
            {
                "region": HOME,
                "regions": regions,
                "forwarder_function_ids": json.dumps(
                    sorted([f"ocid1.fnfunc.oc1.{AMS}.f", f"ocid1.fnfunc.oc1.{ZRH}.f"])
                ),
            },
        ),
    ]
    assert terraform.calls[0][2:] == ["init", "-input=false"]
    assert all(call[1] == f"-chdir={REPO / 'deploy' / 'terraform'}" for call in terraform.calls)
    assert capsys.readouterr().out.splitlines() == [
        f"{HOME}: applied (home region)",
        f"{AMS}: applied",
        f"{ZRH}: applied",
    ]


def test_an_update_applies_each_region_once_when_the_home_region_knows_every_function() -> None:
    fnctl = load_fnctl()
    terraform = FakeTerraform(deployed=(HOME, AMS, ZRH))
    assert fnctl.apply_regions("forwarder", [], subscriptions(fnctl), terraform, ["-auto-approve"]) == 0
    assert [region for region, _ in terraform.applies()] == [HOME, AMS, ZRH]
    assert all(call[-1] == "-auto-approve" for call in terraform.calls if call[2:3] == ["apply"])


def test_a_failing_region_does_not_stop_the_others(capsys: pytest.CaptureFixture[str]) -> None:
    fnctl = load_fnctl()
    terraform = FakeTerraform(deployed=(HOME, AMS), failing=(AMS,))
    assert fnctl.apply_regions("forwarder", [], subscriptions(fnctl), terraform) == 1
    assert [region for region, _ in terraform.applies()] == [HOME, AMS, ZRH, HOME]  # ZRH is new: home again
    out, err = capsys.readouterr()
    assert f"{AMS}: failed (terraform exit 1)" in out.splitlines()
    assert f"{ZRH}: applied" in out.splitlines()
    assert f"not applied in {AMS}" in err


def test_a_listed_subset_leaves_the_other_regions_alone() -> None:
    fnctl = load_fnctl()
    terraform = FakeTerraform(deployed=(HOME, AMS, ZRH))
    assert fnctl.apply_regions("forwarder", [AMS, HOME], subscriptions(fnctl), terraform) == 0
    assert [region for region, _ in terraform.applies()] == [HOME, AMS]
    assert {values["regions"] for _, values in terraform.applies()} == {json.dumps([HOME, AMS])}


def test_the_registry_stack_gets_a_repository_in_every_region() -> None:
    fnctl = load_fnctl()
    terraform = FakeTerraform()
    assert fnctl.apply_regions("registry", [], subscriptions(fnctl), terraform) == 0
    assert terraform.applies() == [(r, {"region": r}) for r in (HOME, AMS, ZRH)]
    assert all(call[1].endswith("deploy/terraform/registry") for call in terraform.calls)


class Recorder:
    """A :class:`Runner` that records commands and fails those whose last word is in ``failing``."""

    def __init__(self, failing: tuple[str, ...] = ()) -> None:
        self.calls: list[list[str]] = []
        self.failing = failing
        self.registry: str | None = None

    def __call__(self, command: Any, *, capture: bool = False) -> tuple[int, str]:
        self.calls.append(list(command))
        if list(command)[:3] == ["fn", "-v", "build"]:
            self.registry = os.environ.get("FN_REGISTRY")
        return (1 if list(command)[-1] in self.failing else 0), ""


def test_deploy_builds_once_and_pushes_to_every_regions_registry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fnctl = load_fnctl()
    monkeypatch.delenv("FN_REGISTRY", raising=False)
    template = "{region}.ocir.io/ns/logzio/logzio-from-bucket"
    version = fnctl.func_yaml_field("version")
    run = Recorder()
    assert fnctl.deploy_image(template, [HOME, AMS], run) == 0
    built = f"{HOME}.ocir.io/ns/logzio/logzio-from-bucket:{version}"
    assert run.registry == f"{HOME}.ocir.io/ns/logzio", "fn build names the image for the home region's registry"
    assert run.calls == [
        ["fn", "-v", "build"],
        ["docker", "push", built],
        ["docker", "tag", built, f"{AMS}.ocir.io/ns/logzio/logzio-from-bucket:{version}"],
        ["docker", "push", f"{AMS}.ocir.io/ns/logzio/logzio-from-bucket:{version}"],
    ]
    assert f'function_image = "{template}:{version}"' in capsys.readouterr().out


def test_deploy_names_the_region_whose_push_failed(capsys: pytest.CaptureFixture[str]) -> None:
    fnctl = load_fnctl()
    version = fnctl.func_yaml_field("version")
    failing = f"{AMS}.ocir.io/ns/logzio/logzio-from-bucket:{version}"
    run = Recorder(failing=(failing,))
    assert fnctl.deploy_image("{region}.ocir.io/ns/logzio/logzio-from-bucket", [HOME, AMS, ZRH], run) == 1
    assert run.calls[-1] == ["docker", "push", f"{ZRH}.ocir.io/ns/logzio/logzio-from-bucket:{version}"]
    err = capsys.readouterr().err
    assert f"failed: push {failing} (logged in to {AMS}.ocir.io? docker login {AMS}.ocir.io)" in err


def test_deploy_refuses_a_repository_that_is_not_the_functions() -> None:
    fnctl = load_fnctl()
    with pytest.raises(SystemExit, match="must be"):
        fnctl.deploy_image("eu-frankfurt-1.ocir.io/ns/logzio/logzio-from-bucket", [HOME], Recorder())
    with pytest.raises(SystemExit, match="must be"):
        fnctl.deploy_image("{region}.ocir.io/ns/logzio/other", [HOME], Recorder())


def test_regions_kept_out_in_terraform_tfvars_stay_out(tmp_path: Path) -> None:
    fnctl = load_fnctl()
    assert fnctl.configured_regions(tmp_path) == []
    (tmp_path / "terraform.tfvars").write_text(f'region = "{HOME}"\n# a comment\nregions = ["{HOME}", "{AMS}"]\n')
    assert fnctl.configured_regions(tmp_path) == [HOME, AMS]
    (tmp_path / "terraform.tfvars").write_text(f'region = "{HOME}"\n')
    assert fnctl.configured_regions(tmp_path) == []
