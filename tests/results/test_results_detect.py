"""Which tool wrote a file, decided by content alone, over every captured output."""

from __future__ import annotations

import pytest
from results_testkit import DATA, read

from results.detect import detect_tool, parse_output
from results.errors import UnknownOutputError

OUTPUTS = sorted(p.name for p in DATA.iterdir() if p.suffix in (".json", ".txt") and p.stem != "VERSIONS")
NOT_OUTPUTS = sorted(p.name for p in DATA.iterdir() if p.suffix in (".ss", ".rc"))


def test_fixtures_are_there() -> None:
    assert len(OUTPUTS) >= 18 and len(NOT_OUTPUTS) >= 3


@pytest.mark.parametrize("name", OUTPUTS)
def test_every_capture_is_recognised_and_parsed(name: str) -> None:
    tool = detect_tool(read(name))
    assert tool == name.split("-")[0]
    figures = parse_output(read(name))
    assert figures.tool == tool
    assert figures.ok == (figures.error is None)


@pytest.mark.parametrize("name", NOT_OUTPUTS)
def test_other_files_are_no_tool_output(name: str) -> None:
    with pytest.raises(UnknownOutputError):
        detect_tool(read(name))


@pytest.mark.parametrize("text", ["", "\n\n", "garbage", '{"a": 1}', "{not json", "\x00\x01\x02"])
def test_garbage_raises(text: str) -> None:
    with pytest.raises(UnknownOutputError):
        parse_output(text)
