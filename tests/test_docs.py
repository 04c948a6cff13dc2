"""The docs tell the truth: each table and command a reader relies on is held to the code it describes, so the
next change that forgets the docs fails here instead of misleading a user."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import json
import logging
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.__main__ import MARK_END, MARK_START
from bench.__main__ import README as BENCH_RESULTS_PAGE
from logzio_forwarder.app import Outcome
from logzio_forwarder.commands import parse_command
from logzio_forwarder.config import DEFAULT_LOGZIO_TYPE, KEYS, load_settings
from logzio_forwarder.forward import ObjectReport
from logzio_forwarder.metrics import METRIC_NAMES, ONLY_WHEN_NONZERO, STATUS_COUNTED_AS, UNITS
from logzio_forwarder.pipeline.decode import Fragment, decode
from logzio_forwarder.pipeline.indexable import MAX_DEPTH, MAX_FIELD_CHARS, MAX_FIELDS, MAX_LINE_CHARS
from logzio_forwarder.pipeline.shape import Shaping, shape
from logzio_forwarder.secrecy import _QUIET
from standins.demo import SAMPLE, sample_text

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
REQUESTS = (ROOT / "docs" / "requests.md").read_text()
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
MINIMAL = {"input-bucket": "b", "logzio-region": "eu", "logzio-token": "docs-test-token"}
ALARMS = ("records_not_delivered", "function_errors", "forwarding_silent", "delivery_lag")
"""The alarms deploy/terraform creates (their names are the Terraform resources')."""


def table(text: str, first_header: str) -> list[list[str]]:
    """The body rows of the markdown table whose header row starts with ``first_header``, cells stripped."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_header:
            rows = []
            for row in lines[index + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in row.strip().strip("|").split("|")])
            return rows
    raise AssertionError(f"no table with a {first_header!r} column")


def names(rows: list[list[str]]) -> list[str]:
    """The first column, without its backticks."""
    return [row[0].strip("`") for row in rows]


# ----- README: configuration, commands, layout --------------------------------------------------------------------


def test_the_configuration_table_lists_every_key_the_forwarder_reads_in_order() -> None:
    assert names(table(README, "key")) == list(KEYS)


def test_every_documented_default_is_the_parsers_default() -> None:
    """Setting a key to the default the table documents changes nothing."""
    literal = [(row[0].strip("`"), row[1]) for row in table(README, "key") if re.fullmatch(r"`[^`]+`", row[1])]
    assert len(literal) >= 8
    baseline = load_settings(MINIMAL)
    for key, default in literal:
        assert load_settings({**MINIMAL, key: default.strip("`")}) == baseline, f"{key}: documented {default}"


def test_the_command_line_section_runs_in_the_virtualenv_and_its_convert_example_works() -> None:
    section = README[README.index("## Command line") : README.index("## Operating it")]
    assert "make venv" in section
    assert not re.search(r"(?<!\.venv/bin/)python -m logzio_forwarder", section), "every command names .venv"
    [command] = [line for line in section.splitlines() if " convert " in line and line.startswith(".venv/")]
    argv = shlex.split(command.split("#")[0])
    assert argv[0] == ".venv/bin/python"
    result = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 12
    assert all(line["@timestamp"] == line["time"] for line in lines)


def test_the_sample_object_is_the_demos() -> None:
    assert SAMPLE.parent == ROOT / "docs"
    assert gzip.decompress(SAMPLE.read_bytes()) == sample_text(), "regenerate: python -m standins.demo --write-sample"


def test_the_layout_names_every_module_of_the_package() -> None:
    layout = README[README.index("## How it works") : README.index("## Configuration")]
    package = ROOT / "logzio_forwarder"
    modules = {p.name for p in package.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    missing = {m for m in modules if not re.search(rf"^\s+(?:\d\s+)?{re.escape(m)}\s", layout, re.MULTILINE)}
    assert not missing, f"modules missing from the README layout: {sorted(missing)}"


def test_every_make_target_the_docs_name_exists() -> None:
    targets = set(MAKE_RULES)
    named: set[str] = set()
    for page in PAGES:
        for target in re.findall(r"(?:`|^)make ([a-z][\w-]*)", page.read_text(), re.MULTILINE):
            assert target in targets, f"{page.name} names `make {target}`, which the Makefile does not have"
            named.add(target)
    assert {"demo", "try", "test", "lint", "bench", "venv", "configure", "replay"} <= named


def test_every_make_target_the_docs_name_can_be_made() -> None:
    """``make -n`` resolves each documented target's prerequisites without running a recipe: a variable a rule's
    prerequisites use before the Makefile defines it expands to nothing when make reads the rule (``make bench``
    once needed ``/.python-built``)."""
    named = {target for page in PAGES for target in re.findall(r"(?:`|^)make ([a-z][\w-]*)", page.read_text(), re.M)}
    for target in sorted(named):
        dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=False)
        assert dry.returncode == 0, f"make -n {target}: {dry.stderr.strip()}"


def test_every_variable_the_docs_give_make_is_read_by_it() -> None:
    """``make replay PREFIX=audit/``, ``TF_PROVIDER_MIRROR=… make check-iac``: the Makefile, or a script its recipe
    runs, reads the variable (make passes command-line variables to the recipe's environment); ``make configure``
    reads every config key under its environment name."""
    given = 0
    for page, command, _ in shell_commands():
        for found in re.finditer(
            r"((?:[A-Z][A-Z0-9_]*=\S+\s+)*)make ([a-z][\w-]*)((?:\s+[A-Z][A-Z0-9_]*=\S+)*)", command
        ):
            target = found.group(2)
            scripts = "".join((ROOT / f).read_text() for f in _recipe_files(target))
            for variable in re.findall(r"([A-Z][A-Z0-9_]*)=", found.group(1) + found.group(3)):
                given += 1
                key = variable.lower().replace("_", "-")  # deploy/fnctl.py configure: a config key from the env
                read = re.search(rf"\b{variable}\b", MAKEFILE + scripts) or (key in KEYS and "KEYS" in scripts)
                assert read, f"{page}: `{command}`: make {target} never reads {variable}"
    assert given >= 3


def test_the_targets_the_readme_says_create_the_virtualenv_do() -> None:
    section = README[README.index("## Command line") : README.index("## Operating it")]
    claim = " ".join(section.split()).split("`make venv` creates it (so do ", 1)[1].split(")", 1)[0]
    claimed = re.findall(r"`make ([a-z][\w-]*)`", claim)
    assert {"test", "lint", "demo", "try"} <= set(claimed)
    for target in ["venv", *claimed]:
        assert target == "venv" or "venv" in MAKE_RULES[target], f"make {target} does not create .venv"


# ----- every command the docs quote -------------------------------------------------------------------------------


PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
PAGES += sorted((ROOT / "deploy").glob("**/*.md"))
MAKEFILE = (ROOT / "Makefile").read_text()
MAKE_RULES = dict(re.findall(r"^([a-z][\w-]*):(?!=)(.*)$", MAKEFILE, re.MULTILINE))
"""Each target and its prerequisites."""
SHELLS = ("sh", "bash", "shell", "console")
"""The languages of the code blocks whose lines are commands (an unlabelled block is a layout, a query…)."""


def _recipe_files(target: str) -> list[str]:
    """The repository files the recipe of ``target`` runs (``deploy/fnctl.py``, ``deploy/terraform/check.sh``)."""
    recipe = MAKEFILE.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]
    return [f for f in re.findall(r"[\w./-]+\.(?:py|sh)", recipe) if (ROOT / f).is_file()]


def shell_commands() -> list[tuple[str, str, Path | None]]:
    """Every shell command the docs quote: the lines of shell code blocks (comments cut, ``\\`` continuations
    joined), with the directory a ``cd`` earlier in the block moved to, and every inline code span."""
    found: list[tuple[str, str, Path | None]] = []
    for page in PAGES:
        name = str(page.relative_to(ROOT))
        prose: list[str] = []
        for index, part in enumerate(re.split(r"^ *```", page.read_text(), flags=re.MULTILINE)):
            if index % 2 == 0:
                prose.append(part)
                continue
            language, _, body = part.partition("\n")
            if language.strip() not in SHELLS:
                continue
            cwd: Path | None = None
            for raw in re.sub(r"\\\n\s*", " ", body).splitlines():
                line = re.sub(r"(^|\s)#(\s.*)?$", "", raw).strip()
                if moved := re.match(r"cd (\S+)", line):
                    cwd = ROOT / moved.group(1)
                if line:
                    found.append((name, line, cwd))
        found += [(name, span, None) for span in re.findall(r"`([^`\n]+)`", "".join(prose))]
    return found


@functools.cache
def _help(*argv: str) -> str:
    command = [sys.executable, *argv, "--help"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{' '.join(argv)} --help failed: {result.stderr}"
    return result.stdout


def _words(arguments: str) -> list[str]:
    """The words of a command's arguments, ``[optional]`` brackets dropped."""
    text = arguments.replace("[", " ").replace("]", " ")
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def test_every_python_command_in_the_docs_has_the_options_it_uses() -> None:
    """``python -m MODULE [COMMAND] --flag …``: each flag is in ``python -m MODULE [COMMAND] --help``."""
    checked: set[str] = set()
    for page, command, _ in shell_commands():
        for found in re.finditer(r"(?:^|[\s/(])python3? -m ([\w.]+)([^|;&>)]*)", command):
            module, words = found.group(1), _words(found.group(2))
            positional = [w for w in words if not w.startswith("-")]
            argv = ["-m", module]
            if positional and re.search(rf"^\s+{re.escape(positional[0])}\s", _help(*argv), re.MULTILINE):
                argv.append(positional[0])  # a subcommand
            text = _help(*argv)
            for flag in {w.split("=", 1)[0] for w in words if re.match(r"-[a-zA-Z-]", w)}:
                assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), (
                    f"{page}: `{command}`: python {' '.join(argv)} has no {flag}"
                )
            checked.add(" ".join(argv[1:]))
    expected = {"logzio_forwarder convert", "logzio_forwarder ship", "logzio_forwarder replay", "bench", "bench.floor"}
    assert expected | {"bench.function_run", "bench.pathological", "bench.metrics_cost"} <= checked


def test_a_page_that_quotes_python_commands_says_they_run_in_the_virtualenv() -> None:
    """A bare ``python -m …`` runs as written only in the virtualenv (the system Python lacks the dependencies)."""
    bare = {page for page, command, _ in shell_commands() if re.search(r"(?<![/\w])python3? -m ", command)}
    for page in bare:
        assert ". .venv/bin/activate" in (ROOT / page).read_text(), f"{page}: say how to enter the virtualenv"
    assert "docs/performance.md" in bare


def _outputs(directory: Path) -> set[str]:
    return {o for tf in directory.glob("*.tf") for o in re.findall(r'^output "(\w+)"', tf.read_text(), re.M)}


def test_every_terraform_output_the_docs_read_exists_and_is_read_one_at_a_time() -> None:
    """``terraform output [-raw] NAME`` takes one name; it must be an output of the stack the command runs in (the
    directory a ``cd`` in its block moved to), or, quoted in prose, of one of the stacks."""
    stacks = [d for d in (ROOT / "deploy" / "terraform").glob("**/") if list(d.glob("*.tf"))]
    anywhere = set().union(*(_outputs(d) for d in stacks))
    read = 0
    for page, command, cwd in shell_commands():
        pattern = r"terraform(?:\s+-chdir=(\S+))? output((?:\s+-[\w=-]+)*)((?:\s+[a-z_]\w*)*)"
        for found in re.finditer(pattern, command):
            names = found.group(3).split()
            assert len(names) <= 1, f"{page}: `{command}`: terraform output takes one name at a time"
            where = ROOT / found.group(1) if found.group(1) else cwd  # -chdir= names the stack's directory
            known = _outputs(where) if where is not None and where.is_dir() else anywhere
            for name in names:
                read += 1
                assert name in known, f"{page}: `{command}`: no output {name!r} in {where or 'deploy/terraform'}"
    assert read >= 1


def test_every_request_body_the_docs_pipe_into_fn_invoke_is_one_the_function_accepts() -> None:
    bodies = 0
    for _, command, _ in shell_commands():
        if found := re.search(r"echo '([^']+)'\s*\|\s*fn invoke", command):
            bodies += 1
            parse_command(found.group(1).encode(), load_settings(MINIMAL))  # raises RequestError when it is not
    assert bodies >= 2


def test_the_operating_section_names_every_metric() -> None:
    section = README[README.index("## Operating it") : README.index("## Documentation")]
    assert set(re.findall(r"`([A-Z]\w+)`", section)) == set(METRIC_NAMES)
    assert "docs/operations.md" in section


# ----- the answer -------------------------------------------------------------------------------------------------


def test_the_documented_statuses_are_the_codes() -> None:
    assert set(names(table(REQUESTS, "status"))) == set(STATUS_COUNTED_AS) | {"ignored"}


def test_every_field_of_a_summary_is_documented_and_the_optional_ones_say_so() -> None:
    rows = table(REQUESTS, "field")
    fields = dataclasses.fields(ObjectReport)
    assert names(rows) == [f.name for f in fields]
    documented_optional = {row[0].strip("`") for row in rows if row[1].startswith("optional")}
    assert documented_optional == {f.name for f in fields if f.default is None}


def test_the_documented_totals_are_the_codes() -> None:
    totals = Outcome(reports=[ObjectReport("x")], replay=True).to_json()["totals"]
    sentence = REQUESTS[REQUESTS.index("`totals` sums") :].split(" over the objects")[0]
    assert set(re.findall(r"`(\w+)`", sentence)) - {"totals"} == set(totals)


def test_where_the_namespace_comes_from_and_the_replay_prefix_default_are_documented() -> None:
    assert "defaults to `input-prefix`" in REQUESTS
    namespace = " ".join(REQUESTS[REQUESTS.index("**The Object Storage namespace**") :].split("\n\n")[0].split())
    for place in ("additionalDetails.namespace", '"objects"', '"replay"', "`namespace` config key", "GetNamespace"):
        assert place in namespace


# ----- operations -------------------------------------------------------------------------------------------------


def test_the_metrics_table_is_the_codes() -> None:
    rows = table(OPERATIONS, "metric")
    assert names(rows) == list(METRIC_NAMES)
    assert {row[0].strip("`"): row[1] for row in rows} == UNITS
    only_sometimes = {row[0].strip("`") for row in rows if row[3].startswith("only when")}
    assert only_sometimes == ONLY_WHEN_NONZERO | {"DeliveryLagSeconds"}


def test_every_alarm_has_a_row_and_a_runbook() -> None:
    assert names(table(OPERATIONS, "alarm (Terraform)")) == list(ALARMS)
    for alarm in ALARMS:
        assert f"### `{alarm}`" in OPERATIONS


# ----- guarantees and the benchmark -------------------------------------------------------------------------------


@pytest.mark.parametrize(("logger", "level"), sorted(_QUIET.items()))
def test_the_documented_logger_levels_are_the_codes(logger: str, level: int) -> None:
    text = " ".join((ROOT / "docs" / "guarantees.md").read_text().split())
    pattern = rf"`{re.escape(logger)}`(?: and `[\w.]+`)* (?:are set )?to {logging.getLevelName(level)}\b"
    assert re.search(pattern, text), f"docs/guarantees.md does not say {logger} is set to {logging.getLevelName(level)}"


def test_bench_writes_the_results_block_the_docs_point_at() -> None:
    page = BENCH_RESULTS_PAGE.read_text()
    assert BENCH_RESULTS_PAGE == ROOT / "docs" / "performance.md"
    assert page.count(MARK_START) == page.count(MARK_END) == 1
    bench_readme = (ROOT / "bench" / "README.md").read_text()
    assert "docs/performance.md" in bench_readme
    assert "docs/performance.md" in README[README.index("make bench") :].split("\n\n")[0]
    makefile_help = next(line for line in (ROOT / "Makefile").read_text().splitlines() if '"make bench' in line)
    assert "docs/performance.md" in makefile_help


# ----- indexing ---------------------------------------------------------------------------------------------------

INDEXING = (ROOT / "docs" / "indexing.md").read_text()


def test_the_indexing_page_states_the_rules_the_code_keeps() -> None:
    rules = " ".join(row[0] for row in table(INDEXING, "rule"))
    for number in (f"{MAX_LINE_CHARS:,}", f"{MAX_FIELD_CHARS:,}", f"{MAX_DEPTH}", f"{MAX_FIELDS:,}"):
        assert number in rules
    assert f"**`{DEFAULT_LOGZIO_TYPE}`**" in INDEXING
    assert "`connector_batch_rollover_time_ms` = 60000" in INDEXING


def test_every_member_of_the_forwarder_object_is_documented() -> None:
    """Shape records that need each kind of change and see which members their lines' forwarder objects have."""
    documented = {name.strip("` ") for row in table(INDEXING, "member") for name in row[0].split(",")}
    shaping = Shaping(region="eu-frankfurt-1")
    deep: Any = "bottom"
    for _ in range(12):
        deep = {"d": deep}
    records = [
        {"datetime": 1, "logContent": {"time": "t", "tags": {f"a.{i}": i for i in range(25)}, "deep": deep}},
        {"time": "t", "long": "x" * 40_000},
        {f"k{i}": i for i in range(1_100)},
        {"time": "t", "big": "y" * 600_000},
    ]
    items = [*decode([json.dumps(r).encode() + b"\n" for r in records]), Fragment(b"x", 0, 1, "not JSON", 1)]
    seen = {key for item in items for key in json.loads(shape(item, 500_000, shaping).line)["forwarder"]}
    assert seen == documented
