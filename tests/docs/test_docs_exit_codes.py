"""docs/results.md's table of exit codes against the code: each row's codes are the codes its command can return.

The codes a command returns are read from its source (the `return` statements of its entry points,
through module constants such as BAD_INPUT, conditional expressions and calls of the module's own
functions), and each bad-input column is shown by running the command on bad input.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DOC = ROOT / "docs" / "results.md"

# A row's command -> its module and the functions that carry it out (a shared `main` dispatches to them).
ENTRY_POINTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "python -m netlab up": ("netlab/__main__.py", ("main", "_up")),
    "python -m netlab clean": ("netlab/__main__.py", ("main", "_clean")),
    "python -m results parse": ("results/__main__.py", ("_parse",)),
    "python -m results e2sar": ("results/__main__.py", ("_e2sar",)),
    "python -m results report": ("results/__main__.py", ("_report",)),
    "python -m results compare": ("results/__main__.py", ("_compare", "_folder_problem")),
    "python -m results check-outputs": ("results/__main__.py", ("_check_outputs",)),
    "python -m hosts apply": ("hosts/__main__.py", ("main",)),
}
# main's own returns that belong to another row (up's run and clean's, rootfs's, beside the shared ones).
NOT_THIS_ROW = {"python -m netlab clean": {"_up", "_rootfs"}, "python -m netlab up": {"_clean", "_rootfs"}}


def exit_table() -> dict[str, set[int]]:
    """docs/results.md's "Exit codes" table: command -> the codes whose cell says something."""
    section = RESULTS_DOC.read_text().split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    codes = [int(c) for c in header[1:]]
    table: dict[str, set[int]] = {}
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        commands = re.findall(r"`([^`]+)`", cells[0].split("(")[0])
        given = {code for code, cell in zip(codes, cells[1:], strict=True) if cell}
        name = commands[0]
        table[name] = given
        for more in commands[1:]:  # `python -m hosts apply`, `facts`: one row for both
            table[more if more.startswith(("python", "bench")) else name.rsplit(" ", 1)[0] + " " + more] = given
    return table


class Returns:
    """The integer codes a module's functions can return, read from its source."""

    def __init__(self, path: Path) -> None:
        self.tree = ast.parse(path.read_text())
        self.functions = {n.name: n for n in self.tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        self.constants: dict[str, int] = {}
        for node in self.tree.body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    names = target.elts if isinstance(target, ast.Tuple) else [target]
                    values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                    for name, value in zip(names, values, strict=False):
                        is_int = isinstance(value, ast.Constant) and isinstance(value.value, int)
                        if isinstance(name, ast.Name) and is_int:
                            self.constants[name.id] = value.value  # type: ignore[union-attr]

    def of(self, function: str, skip: frozenset[str] = frozenset()) -> set[int]:
        node = self.functions[function]
        codes: set[int] = set()
        for ret in _own(node, ast.Return):
            if ret.value is not None:
                codes |= self._value(ret.value, node, skip | {function})
        return codes

    def _value(self, expr: ast.expr, function: ast.AST, skip: frozenset[str]) -> set[int]:
        if isinstance(expr, ast.Constant):
            return {expr.value} if isinstance(expr.value, int) and not isinstance(expr.value, bool) else set()
        if isinstance(expr, ast.IfExp):
            return self._value(expr.body, function, skip) | self._value(expr.orelse, function, skip)
        if isinstance(expr, ast.Await):
            return self._value(expr.value, function, skip)
        if isinstance(expr, ast.Name):
            if expr.id in self.constants:
                return {self.constants[expr.id]}
            return {c for value in _assigned(function, expr.id) for c in self._value(value, function, skip)}
        if isinstance(expr, ast.Call):
            name = expr.func.id if isinstance(expr.func, ast.Name) else None
            if isinstance(expr.func, ast.Attribute) and expr.func.attr == "run" and expr.args:  # asyncio.run(f())
                return self._value(expr.args[0], function, skip)
            if name in self.functions and name not in skip:
                return self.of(name, skip)
            return set()
        raise AssertionError(f"cannot read the code of: {ast.unparse(expr)}")


def _own(function: ast.AST, kind: type[ast.AST]) -> list[ast.AST]:
    """The nodes of a kind in a function's own body (nested functions left out)."""
    found, todo = [], list(ast.iter_child_nodes(function))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, kind):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def _assigned(function: ast.AST, name: str) -> list[ast.expr]:
    values: list[ast.expr] = []
    for node in _own(function, ast.Assign):
        assert isinstance(node, ast.Assign)
        if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            values.append(node.value)
    for node in _own(function, ast.NamedExpr):
        assert isinstance(node, ast.NamedExpr)
        if node.target.id == name:
            values.append(node.value)
    return values


def codes_of(command: str) -> set[int]:
    if command.startswith("bench/"):
        found: set[int] = set()
        for run in sorted(ROOT.glob("bench/*/run.py")):
            found |= Returns(run).of("main")
        return found
    module, functions = ENTRY_POINTS[command.replace(" facts", " apply")]
    returns = Returns(ROOT / module)
    return {c for f in functions for c in returns.of(f, frozenset(NOT_THIS_ROW.get(command, set())))}


def test_the_table_is_found() -> None:
    table = exit_table()
    assert set(table) >= set(ENTRY_POINTS) | {"bench/*/run.py"}, set(table)


@pytest.mark.parametrize("command", sorted(exit_table()))
def test_each_row_is_what_the_code_returns(command: str) -> None:
    known = set(ENTRY_POINTS) | {"bench/*/run.py", "python -m hosts facts"}
    assert command in known, f"docs/results.md's exit table has a new row {command!r}: add its entry points here"
    assert codes_of(command) == exit_table()[command]


def test_the_reader_of_the_code_can_fail(tmp_path: Path) -> None:
    """A planted code the table does not list is found."""
    source = (ROOT / "results" / "__main__.py").read_text().replace("return 1 if failed else 0", "return 3")
    planted = tmp_path / "main.py"
    planted.write_text(source)
    assert Returns(planted).of("_report") == {2, 3}


# Bad input to each command: exit 2, one line on stderr (the table's column 2, and the constants behind it).
def _netlab(argv: list[str]) -> int:
    from netlab.__main__ import main

    return main(argv)


def _results(argv: list[str]) -> int:
    from results.__main__ import BAD_INPUT, main

    assert BAD_INPUT == 2
    return main(argv)


def _hosts(argv: list[str]) -> int:
    from hosts.__main__ import BAD_INPUT, HOST_FAILED, main

    assert (HOST_FAILED, BAD_INPUT) == (1, 2)
    return main(argv)


BAD_INPUT_RUNS: list[tuple[str, Callable[[list[str]], int], list[str]]] = [
    ("python -m netlab up", _netlab, ["up", "-s", "no-such-stack"]),
    ("python -m results parse", _results, ["parse", "NOFILE"]),
    ("python -m results e2sar", _results, ["e2sar", "NOFILE", "NOFILE"]),
    ("python -m results report", _results, ["report", "NOFILE", "--stack", "no-such-stack"]),
    ("python -m results compare", _results, ["compare", "NOFILE", "NOFILE"]),
    ("python -m results check-outputs", _results, ["check-outputs", "--stack", "no-such-stack", "NOFILE", "NOFILE"]),
    ("python -m hosts apply", _hosts, ["apply", "NOFILE", "NOFILE"]),
]


@pytest.mark.parametrize(("command", "main", "argv"), BAD_INPUT_RUNS, ids=[c for c, _, _ in BAD_INPUT_RUNS])
def test_bad_input_is_the_table_s_code(
    command: str,
    main: Callable[[list[str]], int],
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if command.startswith("python -m netlab") and os.geteuid() != 0:
        pytest.skip("netlab checks for root first")
    monkeypatch.chdir(tmp_path)
    assert 2 in exit_table()[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
