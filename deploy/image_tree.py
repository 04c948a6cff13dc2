"""What the function image's ``/python`` holds, built as the image build builds it (standard library only).

The image build (``Dockerfile``) and ``make image-tree DIR=…`` run the same command, ``build``, so the tree the
tests run is the tree that ships:

* ``build DIR``: ``pip install --require-hashes --only-binary :all: --target DIR -r requirements.lock`` (every
  package pinned with its hashes, so a tampered or substituted file fails the install), then prune DIR to what the
  function imports, as the reviewed rules in ``deploy/image/keep.txt`` say: distributions the function never
  imports go whole, and of the oci SDK every service package but the few it uses (the SDK imports services lazily,
  so the others are dead weight: ~480 of its ~500 MB). Then every kept module's imports (at module level and inside
  functions) are checked against what was removed: a kept module that imports a removed one fails the build, naming
  both. Prints the tree's size.
* ``stage DIR``: lay out the image's ``/function`` at DIR: what the Dockerfile's final stage copies from the build
  context, with ``.dockerignore`` applied as Docker applies it. ``fn build`` and ``fn deploy`` send the function's
  directory to ``docker build`` as its context, so ``.dockerignore`` is the file that keeps files out (the fn CLI
  reads no ignore file of its own).
* ``trace``: run the test suite and the demo with every fdk child process writing down what it imports
  (``FDK_IMPORT_TRACE``, :mod:`standins.importtrace`), and write the third-party modules they imported to
  ``deploy/image/import-trace.txt``: the evidence the rules are held to (``tests/test_image.py``). Prints the rules
  the trace implies, to compare with ``keep.txt``.
* ``size DIR``: the size of a tree, as ``build`` reports it.
* ``native DIR``: compile the shape stage's byte screen (``native/screen.c``) into ``DIR/_screen<suffix>`` with
  the running interpreter's compiler and flags (``sysconfig``); the image's build stage puts it beside
  ``indexable.py`` in ``/function``, ``make venv`` in the working copy. Without it the package uses the same screen
  written in Python, which is slower.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import operator
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
RULES = ROOT / "deploy" / "image" / "keep.txt"
TRACE = ROOT / "deploy" / "image" / "import-trace.txt"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SCREEN_SOURCE = ROOT / "native" / "screen.c"
SCREEN_PACKAGE = "logzio_forwarder/pipeline"
"""Where the compiled screen goes in the image's ``/function`` (and in the working copy)."""
SECTIONS = ("distributions", "oci-services", "scripts", "remove-modules", "unreached-imports")


class ImageTreeError(Exception):
    """The tree cannot be built as the rules say; the message names what and why."""


# ---------------------------------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """``keep.txt``: each entry with the reason written beside it."""

    distributions: dict[str, str]
    """Distributions kept (normalised names); every other distribution of the lock is removed whole."""
    oci_services: dict[str, str]
    """oci service packages kept (``object_storage``…); every other service package is removed."""
    scripts: dict[str, str] = field(default_factory=dict)
    """Console scripts kept in ``bin/`` (the image's entry point); the others go."""
    remove_modules: dict[str, str] = field(default_factory=dict)
    """Modules (or packages) removed from a kept distribution."""
    unreached_imports: dict[tuple[str, str], str] = field(default_factory=dict)
    """(importer, imported) patterns (``fnmatch``): imports of removed modules that are known never to run."""


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def load_rules(path: Path = RULES) -> Rules:
    """Parse ``keep.txt``: ``[section]`` headers, one entry per line, ``# reason`` after it (required)."""
    sections: dict[str, dict[str, str]] = {name: {} for name in SECTIONS}
    current: dict[str, str] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = re.fullmatch(r"\[([a-z-]+)\]", line)
        if header:
            if header.group(1) not in sections:
                raise ImageTreeError(f"{path}:{number}: unknown section [{header.group(1)}]; known: {SECTIONS}")
            current = sections[header.group(1)]
            continue
        entry, _, reason = line.partition("#")
        if current is None or not entry.strip() or not reason.strip():
            raise ImageTreeError(f"{path}:{number}: expected '<entry>  # <reason>' inside a section: {raw!r}")
        current[entry.strip()] = reason.strip()
    unreached: dict[tuple[str, str], str] = {}
    for entry, reason in sections["unreached-imports"].items():
        importer, arrow, imported = entry.partition(" -> ")
        if not arrow or not importer.strip() or not imported.strip():
            raise ImageTreeError(f"{path}: [unreached-imports] entries read '<importer> -> <imported>': {entry!r}")
        unreached[(importer.strip(), imported.strip())] = reason
    return Rules(
        distributions={normalise(k): v for k, v in sections["distributions"].items()},
        oci_services=sections["oci-services"],
        scripts=sections["scripts"],
        remove_modules=sections["remove-modules"],
        unreached_imports=unreached,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Distributions and modules of a tree
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    name: str
    """Normalised."""
    files: tuple[str, ...]
    """Every file the distribution installed, relative to the tree (its ``RECORD``; scripts as ``bin/…``)."""


def distributions(tree: Path) -> dict[str, Distribution]:
    """The distributions installed in a ``pip install --target`` tree, from their ``RECORD`` files."""
    found: dict[str, Distribution] = {}
    for info in sorted(tree.glob("*.dist-info")):
        metadata = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
        match = re.search(r"^Name: *(.+)$", metadata, re.MULTILINE)
        if match is None:
            raise ImageTreeError(f"{info}/METADATA names no distribution")
        files = []
        for line in (info / "RECORD").read_text(encoding="utf-8").splitlines():
            path = line.rsplit(",", 2)[0]
            # pip --target installs into a scratch prefix and moves it: scripts are recorded as ../../bin/NAME.
            files.append(posixpath.normpath(path[len("../../") :] if path.startswith("../../bin/") else path))
        found[normalise(match.group(1))] = Distribution(normalise(match.group(1)), tuple(files))
    return found


def module_name(relative: str) -> str | None:
    """``a/b/c.py`` → ``a.b.c``, ``a/b/__init__.py`` → ``a.b``, ``x.cpython-311-….so`` → ``x``; None otherwise."""
    parts = relative.split("/")
    if "__pycache__" in parts or parts[0].endswith((".dist-info", ".data")) or parts[0] == "bin":
        return None
    last = parts[-1]
    if last.endswith(".py"):
        stem = last[:-3]
    elif last.endswith(".so"):
        stem = last.split(".", 1)[0]
    else:
        return None
    names = [*parts[:-1], stem] if stem != "__init__" else parts[:-1]
    if not names or not all(n.isidentifier() for n in names):
        return None
    return ".".join(names)


def modules(tree: Path) -> dict[str, Path]:
    """Every importable module (and package) of a tree, by dotted name."""
    found: dict[str, Path] = {}
    for path in tree.rglob("*"):
        if path.is_file():
            name = module_name(path.relative_to(tree).as_posix())
            if name is not None:
                found[name] = path
    return found


def owner_of_top_level(dists: Iterable[Distribution]) -> dict[str, str]:
    """Top-level module name → the distribution that installed it."""
    owners: dict[str, str] = {}
    for dist in dists:
        for path in dist.files:
            name = module_name(path)
            if name is not None:
                owners[name.split(".", 1)[0]] = dist.name
    return owners


def oci_services(tree: Path) -> set[str]:
    """The oci SDK's service packages: what ``oci/__init__.py`` imports when lazy imports are turned off (the core
    it always imports is a separate statement). Read, not guessed: a new SDK version brings its own list."""
    source = (tree / "oci" / "__init__.py").read_text(encoding="utf-8")
    imported = [
        {alias.name for alias in node.names}
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None
    ]
    if len(imported) != 2:
        raise ImageTreeError("oci/__init__.py no longer has one core import and one service import: review the rules")
    core, services = imported
    if not {"auth", "config"} <= core or not {"object_storage", "monitoring", "secrets"} <= services:
        raise ImageTreeError(f"oci/__init__.py: unexpected core {sorted(core)} or services {len(services)}")
    return services


# ---------------------------------------------------------------------------------------------------------------------
# Install, prune, check
# ---------------------------------------------------------------------------------------------------------------------


def install(target: Path, lock: Path = LOCK) -> None:
    """As the image build installs: every file checked against the lock's hashes, wheels only, no cache."""
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise ImageTreeError(f"{target} is not empty: the tree must hold only what the lock installs")
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-cache-dir",
        "--require-hashes",
        "--only-binary=:all:",
        "--target",
        str(target),
        "-r",
        str(lock),
    ]
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise ImageTreeError(f"pip install from {lock} failed (exit {result.returncode}); see pip's message above")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _remove_empty_dirs(tree: Path) -> None:
    for directory in sorted((p for p in tree.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()


def prune(tree: Path, rules: Rules) -> list[str]:
    """Remove from the tree what the rules do not keep; return what was removed (distributions, packages)."""
    dists = distributions(tree)
    unknown = set(rules.distributions) - set(dists)
    if unknown:
        raise ImageTreeError(f"keep.txt keeps distributions the lock does not install: {sorted(unknown)}")
    removed: list[str] = []
    for dist in dists.values():
        if dist.name in rules.distributions:
            continue
        for path in dist.files:
            _remove(tree / path)
        removed.append(dist.name)
    services = oci_services(tree) if "oci" in rules.distributions else set()
    unknown = set(rules.oci_services) - services
    if unknown:
        raise ImageTreeError(f"keep.txt keeps oci services this SDK does not have: {sorted(unknown)}")
    for service in sorted(services - set(rules.oci_services)):
        _remove(tree / "oci" / service)
        removed.append(f"oci.{service}")
    scripts = {p.name for p in (tree / "bin").iterdir()} if (tree / "bin").is_dir() else set()
    if set(rules.scripts) - scripts:
        raise ImageTreeError(f"keep.txt keeps scripts the tree does not have: {sorted(set(rules.scripts) - scripts)}")
    for script in sorted(scripts - set(rules.scripts)):
        _remove(tree / "bin" / script)
        removed.append(f"bin/{script}")
    present = modules(tree)
    for name in rules.remove_modules:
        where = tree / Path(*name.split("."))
        targets = (
            [where] if where.is_dir() else [where.with_suffix(".py"), *where.parent.glob(f"__pycache__/{where.name}.*")]
        )
        if name not in present:
            raise ImageTreeError(f"keep.txt removes module {name}, which the tree does not hold")
        for target in targets:
            _remove(target)
        removed.append(name)
    _remove_empty_dirs(tree)
    return removed


@dataclass(frozen=True, order=True)
class Dangling:
    importer: str
    line: int
    imported: str

    def __str__(self) -> str:
        return f"{self.importer} (line {self.line}) imports {self.imported}"


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def _static_truth(test: ast.expr) -> bool | None:
    """The value of an ``if`` test that is settled before the code runs, None for any other: ``TYPE_CHECKING``
    (False), and comparisons of ``sys.platform`` with a string and of ``sys.version_info`` with a tuple (for this
    interpreter: the image builds the tree on the platform and with the Python that runs it)."""
    if isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith("TYPE_CHECKING"):
        return False
    if (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and ast.unparse(test.left) == "sys.platform"
        and isinstance(test.comparators[0], ast.Constant)
        and type(test.ops[0]) in (ast.Eq, ast.NotEq)
    ):
        return (sys.platform == test.comparators[0].value) == isinstance(test.ops[0], ast.Eq)
    if (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and ast.unparse(test.left) == "sys.version_info"
        and isinstance(test.comparators[0], ast.Tuple)
    ):
        try:
            bound = tuple(ast.literal_eval(test.comparators[0]))
        except ValueError:
            return None
        compare = _COMPARE.get(type(test.ops[0]))
        return None if compare is None else bool(compare(tuple(sys.version_info), bound))
    return None


def _reachable_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node, except the branches of ``if`` statements whose test is settled against them."""
    if isinstance(node, ast.If):
        truth = _static_truth(node.test)
        if truth is not None:
            for child in node.body if truth else node.orelse:
                yield from _reachable_nodes(child)
            return
    yield node
    for inner in ast.iter_child_nodes(node):
        yield from _reachable_nodes(inner)


def _imported_names(module: str, is_package: bool, source: str) -> Iterator[tuple[int, str]]:
    """Every module name an import statement anywhere in the source may load (``from a import b``: ``a`` and
    ``a.b``, which is a module or an attribute), except in branches that cannot run here."""
    package = module if is_package else module.rpartition(".")[0]
    for node in _reachable_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, node.module] if node.module else base_parts)
            else:
                base = node.module or ""
            yield node.lineno, base
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{base}.{alias.name}"


def dangling_imports(tree: Path, removed: set[str]) -> list[Dangling]:
    """Imports, in the modules the tree keeps, of modules that were removed from it."""
    found: set[Dangling] = set()
    scripts = {f"bin/{p.name}": p for p in (tree / "bin").iterdir()} if (tree / "bin").is_dir() else {}
    for name, path in [*modules(tree).items(), *scripts.items()]:
        if path.suffix != ".py" and name not in scripts:
            continue
        source = path.read_text(encoding="utf-8", errors="replace")
        for line, imported in _imported_names(name, path.name == "__init__.py", source):
            if imported in removed:
                found.add(Dangling(name, line, imported))
    return sorted(found)


def _allows(pair: tuple[str, str], dangling: Dangling) -> bool:
    return fnmatch.fnmatchcase(dangling.importer, pair[0]) and fnmatch.fnmatchcase(dangling.imported, pair[1])


def tree_size(tree: Path) -> int:
    """Bytes of the files in a tree (what a layer holding it adds, before compression)."""
    return sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and not p.is_symlink())


def build(target: Path, lock: Path = LOCK, rules_path: Path = RULES, *, full: bool = False) -> int:
    """Install, prune and check the tree at ``target``; return its size in bytes. ``full``: install only (what the
    fn CLI's own python build would ship; ``make bench`` compares its cold start)."""
    rules = load_rules(rules_path)
    install(target, lock)
    full_size = tree_size(target)
    if full:
        print(f"full tree {target}: {full_size / 1e6:.1f} MB, not pruned")
        return full_size
    before = set(modules(target))
    removed_items = prune(target, rules)
    removed = before - set(modules(target))
    dangling = dangling_imports(target, removed)
    allowed = rules.unreached_imports
    unused = [f"{a} -> {b}" for a, b in allowed if not any(_allows((a, b), d) for d in dangling)]
    if unused:
        raise ImageTreeError(f"[unreached-imports] entries that match no import any more: {unused}")
    dangling = [d for d in dangling if not any(_allows(pair, d) for pair in allowed)]
    if dangling:
        lines = "\n  ".join(str(d) for d in dangling)
        raise ImageTreeError(
            f"{len(dangling)} import(s) of removed modules in what the tree keeps:\n  {lines}\n"
            f"keep what they import, or remove the importer too, in {rules_path.relative_to(ROOT)} "
            "(and show by the trace that the function never runs it)"
        )
    size = tree_size(target)
    print(
        f"image tree {target}: {size / 1e6:.1f} MB in {sum(1 for p in target.rglob('*') if p.is_file())} files "
        f"(the full install: {full_size / 1e6:.1f} MB; removed {len(removed_items)} distributions and packages, "
        f"{len(removed)} modules)"
    )
    return size


def native(directory: Path, source: Path = SCREEN_SOURCE) -> Path:
    """Compile the byte screen into ``directory`` as the extension module ``_screen`` of this interpreter, with the
    compiler and flags Python itself was built with (what setuptools would use, without needing setuptools)."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    linker = shlex.split(sysconfig.get_config_var("LDSHARED") or "cc -shared")
    target = directory / f"_screen{suffix}"
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        *linker,
        *shlex.split(sysconfig.get_config_var("CCSHARED") or "-fPIC"),
        "-O2",
        f"-I{sysconfig.get_paths()['include']}",
        str(source),
        "-o",
        str(target),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ImageTreeError(f"cannot run the C compiler {linker[0]!r} ({exc.strerror or exc})") from None
    if done.returncode != 0:
        raise ImageTreeError(f"compiling {source.name} failed:\n{done.stderr.strip()}")
    print(f"compiled {source.relative_to(ROOT) if source.is_relative_to(ROOT) else source} -> {target}")
    return target


# ---------------------------------------------------------------------------------------------------------------------
# The image's /function: the Dockerfile's copies from the build context, with .dockerignore as Docker reads it
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IgnorePattern:
    pattern: str
    exclusion: bool
    regex: re.Pattern[str]


def _clean(path: str) -> str:
    """Go's ``filepath.Clean`` for slash paths (Python's normpath keeps a leading ``//``)."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("/") else cleaned


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """moby/patternmatcher's translation: ``*`` and ``?`` stop at ``/``; ``**`` spans directories (``**/`` also
    none); ``[...]`` is a class; ``\\`` escapes; the whole path must match."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                out.append(".*" if i + 1 == len(pattern) else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch in "[]":
            out.append(ch)
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


def read_dockerignore(text: str) -> list[IgnorePattern]:
    """moby/patternmatcher's ``ignorefile.ReadAll``: ``#`` starts a comment only at a line's start; blank lines are
    skipped; ``!`` re-includes; each pattern is cleaned and a leading ``/`` dropped (paths are context-relative)."""
    patterns = []
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        line = raw.strip()
        if not line:
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        line = _clean(line)
        if len(line) > 1 and line.startswith("/"):
            line = line[1:]
        patterns.append(IgnorePattern(line, exclusion, _pattern_regex(line)))
    return patterns


def docker_ignores(path: str, patterns: Sequence[IgnorePattern]) -> bool:
    """``MatchesOrParentMatches``: the last pattern matching the path or one of its parent directories decides."""
    parents = path.split("/")[:-1]
    prefixes = ["/".join(parents[: i + 1]) for i in range(len(parents))]
    matched = False
    for pattern in patterns:
        if pattern.exclusion != matched:
            continue
        if pattern.regex.match(path) or any(pattern.regex.match(prefix) for prefix in prefixes):
            matched = not pattern.exclusion
    return matched


def build_context(root: Path) -> list[str]:
    """The files ``docker build`` sends from ``root`` (relative paths), ``.dockerignore`` applied."""
    ignore_file = root / ".dockerignore"
    patterns = read_dockerignore(ignore_file.read_text(encoding="utf-8")) if ignore_file.exists() else []
    files = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in sorted(filenames):
            relative = Path(directory, filename).relative_to(root).as_posix()
            if not docker_ignores(relative, patterns):
                files.append(relative)
    return files


def final_stage_copies(dockerfile: str) -> list[tuple[str, str]]:
    """``(source, destination)`` of every ``COPY`` from the build context in the Dockerfile's last stage. Only
    the plain forms this project uses are understood; anything else is an error rather than a guess."""
    lines = re.sub(r"\\\n", " ", dockerfile).splitlines()
    stages = [i for i, line in enumerate(lines) if re.match(r"\s*FROM\s", line, re.IGNORECASE)]
    if not stages:
        raise ImageTreeError("the Dockerfile has no FROM")
    copies = []
    for line in lines[stages[-1] :]:
        words = line.split()
        if not words or words[0].upper() not in {"COPY", "ADD"}:
            continue
        flags = [w for w in words[1:] if w.startswith("--")]
        if any(f.startswith("--from=") for f in flags):
            continue
        if words[0].upper() == "ADD" or [f for f in flags if not f.startswith(("--chmod=", "--chown="))]:
            raise ImageTreeError(f"cannot tell what this copies from the context: {line.strip()!r}")
        *sources, destination = [w for w in words[1:] if not w.startswith("--")]
        for source in sources:
            if any(ch in source for ch in "*?[") or source.startswith("["):
                raise ImageTreeError(f"wildcards and JSON form are not understood here: {line.strip()!r}")
            copies.append((_clean(source), destination))
    return copies


def function_files(root: Path = ROOT) -> dict[str, str]:
    """Image path → context path of every file the final stage copies from the build context at ``root``."""
    context = build_context(root)
    copies = final_stage_copies((root / "Dockerfile").read_text(encoding="utf-8"))
    placed: dict[str, str] = {}
    for source, destination in copies:
        inside = [f for f in context if f == source or f.startswith(source.rstrip("/") + "/")]
        if not inside:
            raise ImageTreeError(f"COPY {source}: nothing in the build context (is it in .dockerignore?)")
        for path in inside:
            if path == source:
                target = destination + Path(path).name if destination.endswith("/") else destination
            else:
                target = posixpath.join(destination, path[len(source.rstrip("/")) + 1 :])
            placed[posixpath.normpath(target)] = path
    return placed


def stage(destination: Path, root: Path = ROOT) -> list[str]:
    """Lay out the image's ``/function`` (and anything else the final stage copies) under ``destination``, which
    stands for the image's ``/``; return the image paths. The compiled screen, which the final stage copies from
    the build stage, is compiled here as the build stage compiles it."""
    placed = function_files(root)
    for image_path, source in placed.items():
        target = destination / image_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / source, target)
    screen = native(destination / "function" / SCREEN_PACKAGE)
    return sorted([*placed, "/" + screen.relative_to(destination).as_posix()])


# ---------------------------------------------------------------------------------------------------------------------
# The trace
# ---------------------------------------------------------------------------------------------------------------------


def traced_modules(trace_dir: Path) -> tuple[set[str], int]:
    """Third-party modules (found in a ``site-packages``) that the traced processes imported, and how many
    processes wrote a trace."""
    found: set[str] = set()
    files = sorted(trace_dir.glob("imports-*.txt"))
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            name, _, origin = line.partition("\t")
            if f"{os.sep}site-packages{os.sep}" in origin:
                found.add(name)
    return found, len(files)


def read_trace(path: Path = TRACE) -> set[str]:
    """The committed trace's module names."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def rules_implied(traced: Iterable[str], owners: dict[str, str], services: set[str]) -> tuple[set[str], set[str]]:
    """The distributions and oci services a trace shows in use."""
    names = set(traced)
    unowned = sorted(n for n in names if n.split(".", 1)[0] not in owners)
    if unowned:
        raise ImageTreeError(f"traced modules no installed distribution owns: {unowned[:10]}")
    dists = {owners[n.split(".", 1)[0]] for n in names}
    used = {n.split(".")[1] for n in names if n.startswith("oci.") and n.split(".")[1] in services}
    return dists, used


def trace(output: Path = TRACE) -> None:
    """Run the suite and the demo with their fdk children traced; write the trace; print what it implies."""
    with tempfile.TemporaryDirectory(prefix="import-trace-") as scratch:
        env = {**os.environ, "FDK_IMPORT_TRACE": scratch}
        env.pop("FDK_IMAGE", None)
        runs = [
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            [sys.executable, "-m", "standins.demo"],
        ]
        for command in runs:
            print("+", " ".join(command), flush=True)
            if subprocess.run(command, cwd=ROOT, env=env, check=False).returncode != 0:
                raise ImageTreeError(f"{' '.join(command)} failed: the trace would be of a broken run")
        traced, processes = traced_modules(Path(scratch))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    header = [
        "# Third-party modules the function imported, in the fdk child processes of the test suite and the demo.",
        "# Regenerate: .venv/bin/python deploy/image_tree.py trace (runs `pytest` and `python -m standins.demo` with",
        "# FDK_IMPORT_TRACE set; see standins/importtrace.py). The rules in keep.txt are held to this list by",
        f"# tests/test_image.py. {stamp}: {processes} fdk processes, Python {sys.version.split()[0]}.",
    ]
    output.write_text("\n".join([*header, *sorted(traced)]) + "\n", encoding="utf-8")
    from importlib import metadata

    dists = [
        Distribution(normalise(d.metadata["Name"]), tuple(str(f) for f in d.files or ()))
        for d in metadata.distributions()
    ]
    site = Path(str(metadata.distribution("oci").locate_file("")))
    implied_dists, implied_services = rules_implied(traced, owner_of_top_level(dists), oci_services(site))
    print(f"wrote {output.relative_to(ROOT)}: {len(traced)} modules from {processes} fdk processes")
    print("distributions in use:", " ".join(sorted(implied_dists)))
    print("oci services in use:", " ".join(sorted(implied_services)))


# ---------------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="image_tree.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="install the lock into DIR, prune it to the rules, check it")
    build_cmd.add_argument("dir", type=Path)
    build_cmd.add_argument("--lock", type=Path, default=LOCK)
    build_cmd.add_argument("--rules", type=Path, default=RULES)
    build_cmd.add_argument("--full", action="store_true", help="install only, do not prune (for comparisons)")
    stage_cmd = commands.add_parser("stage", help="lay out what the image's final stage copies from the context")
    stage_cmd.add_argument("dir", type=Path)
    size_cmd = commands.add_parser("size", help="the size of a tree")
    size_cmd.add_argument("dir", type=Path)
    native_cmd = commands.add_parser("native", help="compile the byte screen (native/screen.c) into DIR")
    native_cmd.add_argument("dir", type=Path)
    commands.add_parser("trace", help=f"regenerate {TRACE.relative_to(ROOT)} from the suite and the demo")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            build(args.dir, args.lock, args.rules, full=args.full)
        elif args.command == "stage":
            paths = stage(args.dir)
            print(f"staged {len(paths)} files under {args.dir}")
        elif args.command == "size":
            print(f"{tree_size(args.dir) / 1e6:.1f} MB")
        elif args.command == "native":
            native(args.dir)
        else:
            trace()
    except ImageTreeError as err:
        print(f"image_tree.py {args.command}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
