"""The commands behind ``make stack``, ``make apply``, ``make deploy``, ``make configure`` and ``make replay``.

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
* ``apply [--regions R ...] [--stack forwarder|registry]``: the stack in every region of the tenancy (its region
  subscriptions, read with the oci SDK from ``~/.oci/config``) or the listed ones, which must include the home region:
  one ``terraform apply`` per region, each in its own workspace (state) named after the region, the home region's
  first (it writes the shared IAM), then the others, then the home region's again when a region's function is new
  to the dynamic group. A region that fails is reported and the others go on.
* ``deploy [--regions R ...] [--image-repository T]``: ``fn build`` once, then ``docker tag`` and ``docker push`` of
  that image to every region's registry (OCI Functions pulls only from its own region's); ``T`` is the registry
  stack's ``image_repository_template`` (``{region}.ocir.io/<namespace>/<repository>``) by default.

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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as `python deploy/fnctl.py` from a clean clone, no install needed

from logzio_forwarder.config import KEYS, load_settings  # noqa: E402
from logzio_forwarder.errors import ConfigError  # noqa: E402

TERRAFORM_DIR = ROOT / "deploy" / "terraform"
STACKS = {"forwarder": TERRAFORM_DIR, "registry": TERRAFORM_DIR / "registry"}
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


class Subscriptions(NamedTuple):
    """The tenancy's regions: its home region and every subscribed region that is ready."""

    home: str
    regions: tuple[str, ...]


def missing_home_region(home: str) -> str:
    """Why a list of regions without the home region is refused (the stack's own precondition says the same)."""
    return (
        f"The regions list leaves out the tenancy's home region {home}: OCI records the audit events of IAM changes "
        "(users, groups, policies, dynamic groups) only in the home region, and the forwarder's IAM can only be "
        f"written there. Add {home} to regions, or leave regions empty for every subscribed region."
    )


def plan_regions(subscriptions: Subscriptions, requested: Sequence[str]) -> list[str]:
    """The regions to deploy, the home region first: the requested ones, or every subscribed region."""
    chosen = list(dict.fromkeys(requested)) or list(subscriptions.regions)
    unknown = [region for region in chosen if region not in subscriptions.regions]
    if unknown:
        raise SystemExit(
            f"not subscribed: {', '.join(unknown)} (the tenancy's regions: {', '.join(subscriptions.regions)})"
        )
    if subscriptions.home not in chosen:
        raise SystemExit(missing_home_region(subscriptions.home))
    return [subscriptions.home, *(region for region in chosen if region != subscriptions.home)]


def configured_regions(stack: Path = TERRAFORM_DIR) -> list[str]:
    """The ``regions`` of the stack's ``terraform.tfvars`` (empty when it sets none): ``make apply`` without
    ``REGIONS`` deploys those, so that a region kept out there stays out."""
    tfvars = stack / "terraform.tfvars"
    if not tfvars.exists():
        return []
    import hcl2

    options = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False)
    with tfvars.open() as handle:
        regions = hcl2.load(handle, serialization_options=options).get("regions", [])
    return [str(region) for region in regions]


def tenancy_subscriptions() -> Subscriptions:
    """The region subscriptions of the tenancy of ``~/.oci/config`` (``OCI_CONFIG_FILE``, ``OCI_CLI_PROFILE``), the
    file the Terraform provider reads too."""
    import oci

    config = oci.config.from_file(
        os.environ.get("OCI_CONFIG_FILE", oci.config.DEFAULT_LOCATION), os.environ.get("OCI_CLI_PROFILE", "DEFAULT")
    )
    found = oci.identity.IdentityClient(config).list_region_subscriptions(config["tenancy"]).data
    home = next(item.region_name for item in found if item.is_home_region)
    return Subscriptions(home, tuple(item.region_name for item in found if item.status == "READY"))


class Runner(Protocol):
    """Runs a command; returns its exit status and, with ``capture``, its standard output."""

    def __call__(self, command: Sequence[str], *, capture: bool = False) -> tuple[int, str]: ...


def run_command(command: Sequence[str], *, capture: bool = False) -> tuple[int, str]:
    """The real :class:`Runner`: the command's output goes to the terminal unless captured."""
    print(f"$ {' '.join(command)}", flush=True)
    result = subprocess.run(command, capture_output=capture, text=True, check=False)
    return result.returncode, result.stdout if capture else ""


class RegionalApply:
    """``terraform apply`` of one stack once per region, each region in its own workspace: one region's failure
    leaves the others' states and updates alone. ``extra`` is passed to every apply (``-auto-approve``)."""

    def __init__(self, stack: str, regions: Sequence[str], run: Runner, extra: Sequence[str] = ()) -> None:
        self.stack = stack
        self.terraform = ["terraform", f"-chdir={STACKS[stack]}"]
        self.regions = list(regions)
        self.run = run
        self.extra = list(extra)
        self.results: dict[str, str] = {}

    def workspaces(self) -> set[str]:
        status, out = self.run([*self.terraform, "workspace", "list"], capture=True)
        return {line.strip(" *") for line in out.splitlines() if line.strip(" *")} if status == 0 else set()

    def function_ids(self, regions: Sequence[str]) -> dict[str, str]:
        """The ``function_id`` output of each region's state that has one."""
        found: dict[str, str] = {}
        existing = self.workspaces()
        for region in regions:
            if region not in existing or self.run([*self.terraform, "workspace", "select", region])[0] != 0:
                continue
            status, out = self.run([*self.terraform, "output", "-json", "function_id"], capture=True)
            value = json.loads(out) if status == 0 and out.strip() else None
            if isinstance(value, str):
                found[region] = value
        return found

    def apply(self, region: str, variables: Mapping[str, object] | None = None) -> bool:
        if self.run([*self.terraform, "workspace", "select", "-or-create=true", region])[0] != 0:
            self.results[region] = "failed: no workspace"
            return False
        # The registry stack has no regions variable: it only puts a repository in each region it is applied in.
        listed = {"regions": self.regions} if self.stack == "forwarder" else {}
        settings = {"region": region, **listed, **(variables or {})}
        values = [f"-var={name}={v if isinstance(v, str) else json.dumps(v)}" for name, v in settings.items()]
        status, _ = self.run([*self.terraform, "apply", "-input=false", *values, *self.extra])
        self.results[region] = "applied" if status == 0 else f"failed (terraform exit {status})"
        return status == 0

    def forwarder(self) -> dict[str, str]:
        """The forwarder stack: the home region's apply first (the shared IAM, the grants for every region), then the
        others, then the home region's again if its dynamic group must learn a function it does not know yet."""
        home, others = self.regions[0], self.regions[1:]
        known = self.function_ids(others)
        home_ok = self.apply(home, {"forwarder_function_ids": sorted(known.values())})
        for region in others:
            self.apply(region)
        now = self.function_ids(others)
        if home_ok and sorted(now.values()) != sorted(known.values()):
            self.apply(home, {"forwarder_function_ids": sorted(now.values())})
        return self.results

    def registry(self) -> dict[str, str]:
        """The registry stack: the repository in every region, the push identity with the home region's."""
        for region in self.regions:
            self.apply(region)
        return self.results


def apply_regions(
    stack: str, requested: Sequence[str], subscriptions: Subscriptions, run: Runner, extra: Sequence[str] = ()
) -> int:
    """``make apply``: every region (or the requested ones, home first); prints one line per region."""
    regions = plan_regions(subscriptions, requested)
    deployment = RegionalApply(stack, regions, run, extra)
    if run([*deployment.terraform, "init", "-input=false"])[0] != 0:
        print("terraform init failed: nothing was applied", file=sys.stderr)
        return 1
    results = deployment.forwarder() if stack == "forwarder" else deployment.registry()
    for region in regions:
        print(f"{region}: {results.get(region, 'not applied')}{' (home region)' if region == regions[0] else ''}")
    failed = [region for region in regions if results.get(region) != "applied"]
    if failed:
        print(f"not applied in {', '.join(failed)}: fix the cause and run make apply again", file=sys.stderr)
    return 1 if failed else 0


def func_yaml_field(name: str) -> str:
    """A top-level scalar of func.yaml (``name``, ``version``), without a YAML parser."""
    for line in (ROOT / "func.yaml").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.strip()
    raise SystemExit(f"func.yaml has no {name}")


def push_commands(built: str, template: str, regions: Sequence[str]) -> list[list[str]]:
    """``docker tag`` and ``docker push`` of the built image to each region's repository."""
    commands: list[list[str]] = []
    for region in regions:
        target = template.replace("{region}", region)
        if target != built:
            commands.append(["docker", "tag", built, target])
        commands.append(["docker", "push", target])
    return commands


def deploy_image(template: str, regions: Sequence[str], run: Runner) -> int:
    """``make deploy``: build once (``fn build``, named for the home region's repository), push to every region."""
    name, version = func_yaml_field("name"), func_yaml_field("version")
    repository = template.rsplit("/", 1)
    if "{region}" not in template or len(repository) != 2 or repository[1] != name:
        raise SystemExit(f"the image repository must be {{region}}.ocir.io/<namespace>/<path>/{name}, not {template}")
    home_registry = repository[0].replace("{region}", regions[0])
    built = f"{home_registry}/{name}:{version}"
    os.environ["FN_REGISTRY"] = home_registry  # fn build names the image <FN_REGISTRY>/<name>:<version>
    if run(["fn", "-v", "build"])[0] != 0:
        print("fn build failed: nothing was pushed", file=sys.stderr)
        return 1
    failed: list[str] = []
    for command in push_commands(built, f"{template}:{version}", regions):
        if run(command)[0] != 0:
            host = command[-1].split("/", 1)[0]
            failed.append(f"{command[1]} {command[-1]} (logged in to {host}? docker login {host})")
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    if not failed:
        print(
            f'pushed {template}:{version} to {", ".join(regions)}; set function_image = "{template}:{version}" '
            "and run make apply to point every region's function at it"
        )
    return 1 if failed else 0


def _registry_template(run: Runner, home: str) -> str:
    """The registry stack's image_repository_template output, from the home region's workspace."""
    registry = ["terraform", f"-chdir={STACKS['registry']}"]
    if run([*registry, "workspace", "select", home])[0] == 0:
        status, out = run([*registry, "output", "-raw", "image_repository_template"], capture=True)
        if status == 0 and out.strip():
            return out.strip()
    raise SystemExit(
        "no image repository: apply the registry stack first (make apply STACK=registry) or give IMAGE_REPOSITORY"
    )


def _apply(args: argparse.Namespace) -> int:
    if shutil.which("terraform") is None:
        print("not applied: terraform is not on PATH", file=sys.stderr)
        return 127
    extra = ["-auto-approve"] if os.environ.get("AUTO_APPROVE", "") not in ("", "0") else []
    requested = args.regions or configured_regions()
    return apply_regions(args.stack, requested, tenancy_subscriptions(), run_command, extra)


def _deploy(args: argparse.Namespace) -> int:
    for tool in ("fn", "docker"):
        if shutil.which(tool) is None:
            print(f"not deployed: {NO_FN if tool == 'fn' else 'docker is not on PATH'}", file=sys.stderr)
            return 127
    regions = plan_regions(tenancy_subscriptions(), args.regions or configured_regions())
    template = args.image_repository or _registry_template(run_command, regions[0])
    return deploy_image(template, regions, run_command)


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
    apply = sub.add_parser("apply", help="terraform apply in every region (or --regions), the home region first")
    apply.add_argument("--regions", nargs="*", help="region identifiers; default: every subscribed region")
    apply.add_argument("--stack", choices=sorted(STACKS), default="forwarder")
    deploy = sub.add_parser("deploy", help="fn build once, push the image to every region's registry")
    deploy.add_argument("--regions", nargs="*", help="region identifiers; default: every subscribed region")
    deploy.add_argument("--image-repository", help="{region}.ocir.io/<namespace>/<path>/<function name>")
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
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "configure": _configure,
        "replay": _replay,
        "apply": _apply,
        "deploy": _deploy,
    }
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
