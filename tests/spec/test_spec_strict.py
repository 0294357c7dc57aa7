"""Issue 19 (4): what a stack file says is read as written, or refused in one line in the stack's words.

No number key takes a boolean (pydantic reads `true` as 1), no switch takes a number, a key given
twice is an error, rates have a floor, and `mss: "1376"` says what mss takes.
"""

from __future__ import annotations

import enum
import typing
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from spec.load import StackError, load_stack
from spec.model import Stack

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model a stack is made of, found through the fields' types."""
    found: list[type[BaseModel]] = []

    def visit(tp: object) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp not in found:
                found.append(tp)
                for field in tp.model_fields.values():
                    visit(field.annotation)
            return
        for arg in typing.get_args(tp):
            visit(arg)

    visit(root)
    return found


def leaves(tp: object) -> set[object]:
    """The plain types a field's type is made of (through Annotated, unions, lists, dicts)."""
    args = typing.get_args(tp)
    if not args or (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return {tp}
    return set().union(*(leaves(a) for a in args if not isinstance(a, str)))


def is_number(tp: object) -> bool:
    return tp in (int, float) or (isinstance(tp, type) and issubclass(tp, enum.IntEnum))


def typed_fields(kind: str) -> list[tuple[str, TypeAdapter[Any]]]:
    out = []
    for model in models(Stack):
        for name, field in model.model_fields.items():
            tp = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
            if any(is_number(t) for t in leaves(tp)) if kind == "number" else bool in leaves(tp):
                out.append((f"{model.__name__}.{name}", TypeAdapter(tp)))
    return out


NUMBER_FIELDS = typed_fields("number")
SWITCH_FIELDS = typed_fields("switch")


def test_the_walk_finds_the_fields_it_must() -> None:
    names = {n for n, _ in NUMBER_FIELDS}
    assert {"NetperfSuite.duration_s", "NetperfSuite.mss", "NetperfSuite.paths", "E2sarSuite.rates_gbps"} <= names
    assert {"SteadyState.window_s", "SshHost.port", "Link.mtu", "Baseline.confidence"} <= names
    assert {"NetperfSuite.enabled", "E2sarSuite.direct_mode", "ImageSettings.build"} <= {n for n, _ in SWITCH_FIELDS}


@pytest.mark.parametrize(("name", "adapter"), NUMBER_FIELDS, ids=[n for n, _ in NUMBER_FIELDS])
@pytest.mark.parametrize("value", [True, False, [True]])
def test_no_number_key_takes_true_or_false(name: str, adapter: TypeAdapter[Any], value: object) -> None:
    with pytest.raises(ValidationError):
        adapter.validate_python(value)


@pytest.mark.parametrize(("name", "adapter"), SWITCH_FIELDS, ids=[n for n, _ in SWITCH_FIELDS])
@pytest.mark.parametrize("value", [1, 0, "yes", "on"])
def test_no_switch_takes_a_number_or_a_word(name: str, adapter: TypeAdapter[Any], value: object) -> None:
    with pytest.raises(ValidationError):
        adapter.validate_python(value)


def stack_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(text)
    return str(path)


def refusal(path: str) -> str:
    with pytest.raises(StackError) as raised:
        load_stack(path)
    message = str(raised.value)
    assert "\n" not in message
    return message


def suites(netperf: dict[str, object]) -> str:
    return yaml.safe_dump({"config": {"meshperf:suites": {"netperf": netperf}}})


def test_duration_true_is_refused(tmp_path: Path) -> None:
    path = stack_file(tmp_path, suites({"duration_s": True}))
    assert refusal(path) == (
        f"{path}: meshperf:suites.netperf.duration_s: expects an integer, not true (true and false are not numbers)"
    )


def test_a_switch_given_a_number_is_refused(tmp_path: Path) -> None:
    path = stack_file(tmp_path, suites({"host_baseline": 1}))
    assert refusal(path) == f"{path}: meshperf:suites.netperf.host_baseline: expects true or false, not 1"


@pytest.mark.parametrize("rate", ["1bit", "999kbit", "0.5mbit"])
def test_a_rate_below_the_floor_is_refused_saying_the_floor(tmp_path: Path, rate: str) -> None:
    path = stack_file(tmp_path, yaml.safe_dump({"config": {"meshperf:link": {"rate": rate}}}))
    message = refusal(path)
    assert message.startswith(f"{path}: meshperf:link.rate: '{rate}' is below 1mbit, the least rate"), message


def test_the_floor_itself_is_a_rate(tmp_path: Path) -> None:
    path = stack_file(tmp_path, yaml.safe_dump({"config": {"meshperf:link": {"rate": "1mbit"}}}))
    assert load_stack(path).link.rate == "1mbit"


def test_a_key_given_twice_is_refused_naming_the_key_and_both_lines(tmp_path: Path) -> None:
    text = "config:\n  meshperf:suites:\n    netperf: {duration_s: 2}\n  meshperf:run_id: a\n  meshperf:suites: {}\n"
    path = stack_file(tmp_path, text)
    assert refusal(path) == f"{path}:5:3: not valid YAML: key 'meshperf:suites' is given twice (first on line 2)"


def test_a_key_given_twice_deeper_down_is_refused_too(tmp_path: Path) -> None:
    text = "config:\n  meshperf:suites:\n    netperf:\n      duration_s: 2\n      duration_s: 5\n"
    path = stack_file(tmp_path, text)
    assert refusal(path) == f"{path}:5:7: not valid YAML: key 'duration_s' is given twice (first on line 4)"


def test_a_yaml_merge_is_no_repeat(tmp_path: Path) -> None:
    text = (
        "x-netperf: &quick {duration_s: 2, omit_s: 1}\n"
        "config:\n  meshperf:suites:\n    netperf:\n      <<: *quick\n      duration_s: 3\n"
    )
    assert load_stack(stack_file(tmp_path, text)).suites.netperf.duration_s == 3


@pytest.mark.parametrize(("mss", "shown"), [("1376", '"1376"'), (True, "true"), (13.5, "13.5")])
def test_mss_of_the_wrong_shape_says_what_mss_takes(tmp_path: Path, mss: object, shown: str) -> None:
    path = stack_file(tmp_path, suites({"mss": mss}))
    assert refusal(path) == (
        f"{path}: meshperf:suites.netperf.mss: mss takes an integer (an MSS), a list of integers, "
        f"or {{start, stop, step}}; not {shown}"
    )


def test_one_mss_is_a_list_of_one(tmp_path: Path) -> None:
    assert load_stack(stack_file(tmp_path, suites({"mss": 1376}))).suites.netperf.mss_points() == [1376]


def test_a_sweep_with_a_bad_key_names_that_key_alone(tmp_path: Path) -> None:
    path = stack_file(tmp_path, suites({"mss": {"start": "x", "stop": 1376}}))
    assert refusal(path) == f'{path}: meshperf:suites.netperf.mss.start: expects an integer, not "x"'


def test_a_mapping_key_given_text_says_so(tmp_path: Path) -> None:
    path = stack_file(tmp_path, yaml.safe_dump({"config": {"meshperf:suites": "all"}}))
    assert refusal(path) == f'{path}: meshperf:suites: expects a mapping of keys, not "all"'


def test_an_unquoted_run_id_is_its_text(tmp_path: Path) -> None:
    path = stack_file(tmp_path, "config:\n  meshperf:run_id: 7\n")
    assert load_stack(path).run_id == "7"
    path = stack_file(tmp_path, "config:\n  meshperf:run_id: true\n")
    assert refusal(path) == f"{path}: meshperf:run_id: expects text, not true"
