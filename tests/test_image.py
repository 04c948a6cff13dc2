"""The function's image: what it holds and how it is built (``Dockerfile``, ``.dockerignore``, ``func.yaml``,
``requirements.lock``, ``deploy/image_tree.py`` and its rules).

``fn build`` / ``fn deploy`` hand the function's directory to ``docker build`` as its context, so what leaves the
machine and what lands in the image is decided by ``.dockerignore`` read with Docker's rules and by the
Dockerfile's copies: these tests read both the way Docker does, on a copy of the project with the usual clutter
planted in it. Whether the pruned ``/python`` runs the function is shown by ``make image-test`` (CI), which runs the
fdk end-to-end tests from it under ``python3 -S``.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from standins.fdkserver import REPO_ROOT, FdkServer
from standins.principal import Principal

sys.path.insert(0, str(REPO_ROOT / "deploy"))  # a script of the build, not a package: as `python deploy/…` runs it
import image_tree
from image_tree import (
    ImageTreeError,
    Rules,
    build_context,
    dangling_imports,
    docker_ignores,
    function_files,
    load_rules,
    modules,
    prune,
    read_dockerignore,
)

BUILD_INPUTS = {
    "Dockerfile",
    ".dockerignore",
    "requirements.lock",
    "deploy/image_tree.py",
    "deploy/image/keep.txt",
    "native/screen.c",
}
CLUTTER = [
    ".coverage",
    ".coverage.host.1234.XyZ",
    ".hypothesis/examples/ab/cd",
    ".venv-iac/bin/checkov",
    ".venv/lib/python3.11/site-packages/x.py",
    "terraform.tfvars",
    "deploy/terraform/terraform.tfvars",
    "deploy/terraform/terraform.tfstate",
    "deploy/terraform/.terraform/providers/p",
    "logzio_forwarder/__pycache__/edge.cpython-311.pyc",
    "logzio_forwarder/pipeline/__pycache__/decode.cpython-311.pyc",
    "logzio_forwarder/.coverage",
    "logzio_forwarder/notes.txt",
    "logzio_forwarder/pipeline/.DS_Store",
    "__pycache__/func.cpython-311.pyc",
    "bench/data/audit-50MB.log.gz",
    ".env",
    "id_rsa",
]


def _tracked() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return [p for p in listed.stdout.split() if (REPO_ROOT / p).is_file()]


@pytest.fixture(scope="module")
def cluttered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's files, with what a working copy accumulates planted in it."""
    root = tmp_path_factory.mktemp("project")
    for relative in [*_tracked(), *(p for p in BUILD_INPUTS if (REPO_ROOT / p).is_file())]:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / relative, root / relative)
    for relative in CLUTTER:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("planted\n")
    return root


# ----- what reaches the image ----------------------------------------------------------------------------------------


def test_the_image_holds_the_functions_code_and_nothing_else(cluttered: Path) -> None:
    placed = function_files(cluttered)
    package = {p for p in _tracked() if p.startswith("logzio_forwarder/") and p.endswith(".py")}
    assert set(placed) == {"/function/func.py"} | {f"/function/{p}" for p in package}
    assert set(placed.values()) == {"func.py"} | package
    for planted in CLUTTER:
        assert planted not in placed.values(), planted


def test_the_build_context_holds_only_the_code_and_the_build_inputs(cluttered: Path) -> None:
    """What docker build sends to the daemon (or a remote builder): no state, secrets, caches or tools."""
    context = set(build_context(cluttered))
    package = {p for p in _tracked() if p.startswith("logzio_forwarder/") and p.endswith(".py")}
    # The Dockerfile and .dockerignore are read by Docker on their own; the build stage copies the rest.
    assert context == {"func.py"} | package | BUILD_INPUTS - {"Dockerfile", ".dockerignore"}
    assert not context & set(CLUTTER)


def test_the_image_of_this_working_copy_holds_only_the_functions_code() -> None:
    placed = function_files(REPO_ROOT)
    extra = {path for path in placed.values() if path != "func.py" and not path.startswith("logzio_forwarder/")}
    assert not extra, f"the image would hold files that do not run: {sorted(extra)}"
    assert all(path.endswith(".py") for path in placed.values())


def test_staging_lays_out_the_images_function_directory(tmp_path: Path) -> None:
    image_tree.stage(tmp_path)
    staged = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    screen = f"function/logzio_forwarder/pipeline/_screen{sysconfig.get_config_var('EXT_SUFFIX')}"
    assert staged == {image_path.lstrip("/") for image_path in function_files(REPO_ROOT)} | {screen}
    assert (tmp_path / "function" / "func.py").read_bytes() == (REPO_ROOT / "func.py").read_bytes()


# ----- .dockerignore, read as Docker reads it ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        (["*.pyc"], "a.pyc", True),
        (["*.pyc"], "pkg/a.pyc", False),  # unlike git: a pattern matches the whole path from the context's root
        (["**/*.pyc"], "pkg/sub/a.pyc", True),
        (["**/*.pyc"], "a.pyc", True),
        (["**/__pycache__"], "pkg/__pycache__/a.pyc", True),  # a matching directory takes its contents
        (["docs"], "docs/x/y.md", True),
        (["/docs"], "docs/y.md", True),  # a leading slash is the context's root
        (["docs/"], "docs/y.md", True),
        (["# docs"], "# docs", False),  # a comment
        (["*", "!keep.txt"], "keep.txt", False),
        (["*", "!keep.txt"], "other.txt", True),
        (["*", "!deploy/x.py"], "deploy/x.py", False),  # let back in below an excluded directory
        (["*", "!deploy/x.py"], "deploy/y.py", True),
        (["*", "!pkg/**/*.py", "**/__pycache__"], "pkg/a/b.py", False),
        (["*", "!pkg/**/*.py", "**/__pycache__"], "pkg/__pycache__/b.py", True),
        (["*", "!pkg/**/*.py"], "pkg/notes.txt", True),
        (["a?c"], "abc", True),
        (["a?c"], "a/c", False),
        (["[ab].txt"], "b.txt", True),
        (["x.txt", "!x.txt", "x.txt"], "x.txt", True),  # the last matching line wins
        (["a.b"], "axb", False),  # '.' is a character, not a wildcard
    ],
)
def test_dockerignore_patterns_match_as_docker_matches_them(patterns: list[str], path: str, ignored: bool) -> None:
    assert docker_ignores(path, read_dockerignore("\n".join(patterns))) is ignored


def test_coverage_files_are_ignored_by_git_too(cluttered: Path) -> None:
    for name in (".coverage", ".coverage.host.1234.XyZ"):
        result = subprocess.run(["git", "check-ignore", "-q", name], cwd=REPO_ROOT, check=False)
        assert result.returncode == 0, f"{name} is not ignored by git"
    assert "logzio_forwarder/.coverage" not in build_context(cluttered)


def test_the_dockerfile_copies_only_plain_paths_it_can_be_read_for() -> None:
    with pytest.raises(ImageTreeError, match="cannot tell"):
        image_tree.final_stage_copies("FROM x\nADD . /function/\n")
    with pytest.raises(ImageTreeError, match="wildcards"):
        image_tree.final_stage_copies("FROM x\nCOPY *.py /function/\n")
    assert image_tree.final_stage_copies("FROM a AS b\nCOPY x /y\nFROM c\nCOPY --from=b /p /p\nCOPY f /d/\n") == [
        ("f", "/d/")
    ]


# ----- how the image is built ----------------------------------------------------------------------------------------


def _func_yaml() -> dict[str, str]:
    lines = (REPO_ROOT / "func.yaml").read_text().splitlines()
    pairs = (line.partition(":") for line in lines)
    return {key.strip(): value.strip() for key, _, value in pairs if key[:1].isalpha()}


def test_fn_builds_the_image_from_the_dockerfile_with_the_python_runtimes_entry_point() -> None:
    func = _func_yaml()
    assert func["runtime"] == "docker"  # fn builds with ./Dockerfile (as `fn init` sets it when one exists)
    assert "entrypoint" not in func
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert len(froms) == 2
    build, run = (re.fullmatch(r"fnproject/python:(3\.\d+)(-dev)?", image) for image in froms)
    assert build is not None
    assert run is not None
    assert (build.group(2), run.group(2)) == ("-dev", None)
    assert build.group(1) == run.group(1)
    assert tuple(int(x) for x in run.group(1).split(".")) >= (3, 11), "pyproject requires Python 3.11+"
    assert 'ENTRYPOINT ["/python/bin/fdk", "/function/func.py", "handler"]' in dockerfile
    assert "ENV PYTHONPATH=/function:/python" in dockerfile
    # The build lays out /python with the step `make image-tree` runs and CI tests.
    assert "RUN python3 deploy/image_tree.py build /python" in dockerfile
    assert "deploy/image_tree.py build $(DIR)" in (REPO_ROOT / "Makefile").read_text()


def _lock() -> dict[str, tuple[str, list[str]]]:
    entries: dict[str, tuple[str, list[str]]] = {}
    text = (REPO_ROOT / "requirements.lock").read_text()
    for block in re.split(r"\n(?=[a-z0-9])", text):
        match = re.match(r"([a-z0-9][a-z0-9._-]*)==(\S+)", block)
        if match:
            entries[image_tree.normalise(match.group(1))] = (match.group(2), re.findall(r"--hash=sha256:(\w+)", block))
    return entries


def test_the_lock_pins_every_requirement_at_its_version_with_hashes() -> None:
    lock = _lock()
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert lock[image_tree.normalise(name)][0] == version.strip(), name
    assert all(len(hashes) >= 1 and all(len(h) == 64 for h in hashes) for _, hashes in lock.values())
    header = (REPO_ROOT / "requirements.lock").read_text().splitlines()[1]
    assert "uv pip compile requirements.txt --generate-hashes" in header  # as `make lock` runs it
    assert "--generate-hashes" in (REPO_ROOT / "Makefile").read_text()


# ----- the rules, held to the trace ----------------------------------------------------------------------------------


def _installed() -> list[image_tree.Distribution]:
    return [
        image_tree.Distribution(image_tree.normalise(d.metadata["Name"]), tuple(str(f) for f in d.files or ()))
        for d in importlib.metadata.distributions()
    ]


def test_the_rules_keep_exactly_what_the_trace_shows_in_use() -> None:
    rules, traced = load_rules(), image_tree.read_trace()
    site = Path(str(importlib.metadata.distribution("oci").locate_file("")))
    dists, services = image_tree.rules_implied(
        traced, image_tree.owner_of_top_level(_installed()), image_tree.oci_services(site)
    )
    assert set(rules.distributions) == dists
    assert set(rules.oci_services) == services
    assert set(rules.distributions) <= set(_lock())
    # what the rules remove from kept distributions, the traced processes never imported
    removed = [m for m in traced for r in rules.remove_modules if m == r or m.startswith(r + ".")]
    assert not removed
    assert "fdk" in rules.scripts


def test_the_trace_is_of_the_function_not_of_its_tests() -> None:
    traced = image_tree.read_trace()
    assert {"fdk", "oci.object_storage", "oci.monitoring", "oci.secrets", "csimdjson", "orjson", "isal"} <= traced
    assert not {m for m in traced if m.split(".")[0] in {"pytest", "_pytest", "hypothesis", "responses", "standins"}}


# ----- prune and the import check, on a small tree -------------------------------------------------------------------


def _dist(tree: Path, name: str, files: dict[str, str]) -> None:
    info = tree / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    record = [*files, f"{info.name}/METADATA", f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{'../../' if p.startswith('bin/') else ''}{p},,\n" for p in record))
    for path, text in files.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    _dist(
        tmp_path,
        "app",
        {
            "app/__init__.py": "from . import core\n",
            "app/core.py": "import json\ndef later():\n    from app import extra\n",
            "app/extra.py": "import helper\n",
            "app/typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import helper\n",
            "app/old.py": "import sys\nif sys.version_info < (3, 8):\n    import helper\nelse:\n    import json\n",
            "bin/app": "from app.core import later\n",
            "bin/app-debug": "import helper\n",
        },
    )
    _dist(tmp_path, "helper", {"helper.py": "X = 1\n", "__pycache__/helper.cpython-311.pyc": ""})
    return tmp_path


def test_prune_removes_distributions_scripts_and_modules_as_the_rules_say(tree: Path) -> None:
    removed = prune(tree, Rules({"app": "x"}, {}, scripts={"app": "x"}, remove_modules={"app.extra": "x"}))
    assert set(removed) == {"helper", "bin/app-debug", "app.extra"}
    assert set(modules(tree)) == {"app", "app.core", "app.typed", "app.old"}
    assert not (tree / "helper-1.0.dist-info").exists()
    assert not (tree / "__pycache__").exists()
    assert (tree / "bin" / "app").exists()


def test_a_kept_module_importing_a_removed_one_is_found_even_inside_a_function(tree: Path) -> None:
    before = set(modules(tree))
    prune(tree, Rules({"app": "x"}, {}, scripts={"app": "x"}, remove_modules={"app.extra": "x"}))
    found = dangling_imports(tree, before - set(modules(tree)))
    assert [str(d) for d in found] == ["app.core (line 3) imports app.extra"]


def test_imports_that_cannot_run_here_are_not_counted(tree: Path) -> None:
    before = set(modules(tree))
    prune(tree, Rules({"app": "x"}, {}, scripts={"app": "x"}))
    found = {(d.importer, d.imported) for d in dangling_imports(tree, before - set(modules(tree)))}
    assert found == {("app.extra", "helper")}  # not app.typed's TYPE_CHECKING import, not app.old's Python 3.7 one


def test_rules_name_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "keep.txt"
    bad.write_text("[distributions]\nfdk\n")
    with pytest.raises(ImageTreeError, match="reason"):
        load_rules(bad)
    bad.write_text("[nonsense]\n")
    with pytest.raises(ImageTreeError, match="unknown section"):
        load_rules(bad)
    with pytest.raises(ImageTreeError, match="does not install"):
        prune(tmp_path, Rules({"not-there": "x"}, {}))


# ----- the import trace ----------------------------------------------------------------------------------------------


def test_the_tracer_writes_down_lazy_imports_as_they_happen(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text("import importlib, os\ndef f():\n    importlib.import_module('csv')\nf()\nos._exit(0)\n")
    out = tmp_path / "trace"
    out.mkdir()
    tracer = REPO_ROOT / "standins" / "importtrace.py"
    subprocess.run([sys.executable, str(tracer), str(out), str(script)], check=True)  # no atexit: os._exit
    (written,) = out.glob("imports-*.txt")
    names = {line.split("\t")[0] for line in written.read_text().splitlines()}
    assert "csv" in names


def test_the_fdk_child_is_traced_under_FDK_IMPORT_TRACE(
    tmp_path: Path, principal: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    func = tmp_path / "func.py"
    func.write_text("import json\ndef handler(ctx, data=None):\n    import csimdjson\n    return json.dumps({})\n")
    monkeypatch.setenv("FDK_IMPORT_TRACE", str(tmp_path))
    with FdkServer({}, principal_env=principal.env(), func_path=func) as server:
        assert server.invoke(b"{}").status == 200
    traced, processes = image_tree.traced_modules(tmp_path)
    assert processes == 1
    assert {"fdk", "csimdjson"} <= traced
    assert "json" not in traced  # the standard library is not the image's to keep
