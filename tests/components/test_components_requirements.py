"""What the Pulumi program imports at run time is in the run-time part of requirements.txt.

The run-time part is everything above the `# tests and checks` line: a user who installs only
that must be able to run `pulumi up`, the Results reader and the E2SAR wait included (both
import kubernetes_asyncio inside the dynamic providers). The program's modules are followed
from `__main__.py` and every `components` module, through the project's own packages, by
their import statements (those inside functions too); a third-party import must come from a
run-time requirement or from what one of them requires.
"""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"components", "spec", "manifests", "results", "hosts", "netlab"}
TESTS_LINE = "# tests and checks"


def runtime_requirements(text: str) -> set[str]:
    """The distributions named above the tests line."""
    runtime = text.split(TESTS_LINE, 1)[0]
    lines = (line.split("#", 1)[0].strip() for line in runtime.splitlines())
    return {canonicalize_name(Requirement(line).name) for line in lines if line}


def with_dependencies(names: set[str]) -> set[str]:
    """The distributions and everything they require (installed metadata; extras' requirements left out)."""
    found, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return found


def _module_file(name: str) -> Path | None:
    path = ROOT.joinpath(*name.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def program_imports() -> dict[str, str]:
    """Third-party top-level modules the program imports -> one project module that imports it."""
    seen: set[str] = set()
    third: dict[str, str] = {}
    todo = ["__main__", *(f"components.{f.stem}" for f in sorted((ROOT / "components").glob("*.py")))]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = ROOT / "__main__.py" if module == "__main__" else _module_file(module)
        if path is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for name in names:
                top = name.split(".")[0]
                if top in PROJECT:
                    todo.append(name)
                elif top not in sys.stdlib_module_names and top != "__future__":
                    third.setdefault(top, module)
    return third


def uncovered(requirements_text: str) -> list[str]:
    allowed = with_dependencies(runtime_requirements(requirements_text))
    by_module = metadata.packages_distributions()
    out = []
    for top, where in sorted(program_imports().items()):
        dists = {canonicalize_name(d) for d in by_module.get(top, [top])}
        if not dists & allowed:
            out.append(f"{top} (imported by {where}; from {', '.join(sorted(dists))})")
    return out


def test_the_program_needs_only_the_run_time_requirements() -> None:
    text = (ROOT / "requirements.txt").read_text()
    assert TESTS_LINE in text
    imports = program_imports()
    assert {"pulumi", "pulumi_kubernetes", "kubernetes_asyncio", "asyncssh", "pydantic"} <= imports.keys()
    assert uncovered(text) == []


def test_the_check_sees_a_requirement_under_tests() -> None:
    """Teeth: kubernetes_asyncio moved below the tests line is reported."""
    text = (ROOT / "requirements.txt").read_text()
    line = next(x for x in text.splitlines() if x.startswith("kubernetes_asyncio"))
    moved = text.replace(line + "\n", "").replace(TESTS_LINE, f"{TESTS_LINE}\n{line}")
    assert any(item.startswith("kubernetes_asyncio ") for item in uncovered(moved))
