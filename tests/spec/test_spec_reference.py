"""docs/stack.md and docs/stack.schema.json: made from the models, current, and as strict as the loader."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import meshperf_cli
from spec.load import StackError, load_stack
from spec.reference import (
    MODELINE,
    REFERENCE_FILE,
    SCHEMA_FILE,
    TEMPLATE_FILE,
    entries,
    generated_files,
    stack_schema,
)

ROOT = Path(__file__).resolve().parents[2]
STACK_FILES = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((ROOT / SCHEMA_FILE).read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def schema_errors(document: Any) -> list[str]:
    """Each error as 'path: message', the path in the stack file's keys."""
    return [".".join(str(p) for p in e.absolute_path) + ": " + e.message for e in validator().iter_errors(document)]


def test_the_committed_docs_are_the_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert meshperf_cli.main(["docs", "--check"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("name", [REFERENCE_FILE, SCHEMA_FILE])
def test_check_names_a_stale_file(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A copy of the project whose committed file differs from what the models make: exit 1, that file named."""
    for path in (TEMPLATE_FILE, REFERENCE_FILE, SCHEMA_FILE):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    stale = tmp_path / name
    stale.write_text(stale.read_text().replace("MSS", "MTU", 1))
    assert meshperf_cli.main(["docs", "--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{name} is stale" in err
    assert len(err.splitlines()) == 1
    assert meshperf_cli.main(["docs", "--root", str(tmp_path)]) == 0  # rewritten
    assert meshperf_cli.main(["docs", "--check", "--root", str(tmp_path)]) == 0


def test_every_key_has_a_type_and_a_description() -> None:
    found = entries()
    assert len(found) > 100
    undescribed = [e.key for e in found if not e.description]
    assert not undescribed, f"give these fields a docstring: {undescribed}"
    assert all(e.kind and e.default for e in found)


def test_the_reference_spells_keys_as_the_loader_does() -> None:
    keys = {e.key for e in entries()}
    cases = [
        ({"clusters": [{"name": "a", "nodes": [{"name": "n", "role": "boss"}]}]}, "meshperf:clusters[].nodes[].role"),
        ({"suites": {"netperf": {"mss": {"start": 96, "stop": 1376, "step": 0}}}}, "meshperf:suites.netperf.mss.step"),
        ({"kubernetes": {"clusters": {"a": {"host": {"address": "h", "port": 0}}}}}, None),
    ]
    for config, key in cases:
        with pytest.raises(StackError) as err:
            from spec.load import stack_from_config

            stack_from_config(config)
        said = str(err.value).split(": ")[1]
        spelled = re.sub(r"\[\d+\]", "[]", said)
        if key is None:  # a map's value: the reference writes <name> for the name
            spelled = spelled.replace(".clusters.a.", ".clusters.<name>.")
        assert spelled in keys, (said, spelled)


def test_reference_lists_types_defaults_and_bounds() -> None:
    text = (ROOT / REFERENCE_FILE).read_text()
    block = text.split("#### `meshperf:suites.netperf.duration_s`", 1)[1].split("####", 1)[0]
    assert "- type: integer" in block
    assert "- default: `10`" in block
    assert "- allowed: 1..3600" in block
    assert "in seconds" in block


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(stack_schema())
    assert json.loads(generated_files((ROOT / TEMPLATE_FILE).read_text())[SCHEMA_FILE]) == stack_schema()


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_every_shipped_stack_is_valid_against_the_schema(path: Path) -> None:
    assert schema_errors(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_every_shipped_stack_names_the_schema(path: Path) -> None:
    """The modeline is a YAML comment: the file reads the same with it (and Pulumi ignores comments)."""
    text = path.read_text()
    assert text.splitlines()[0] == MODELINE
    assert (path.parent / MODELINE.split("=", 1)[1]).resolve() == (ROOT / SCHEMA_FILE).resolve()
    assert yaml.safe_load(text) == yaml.safe_load(text.split("\n", 1)[1])


MISSPELT = [
    ("meshperf:sutes", lambda c: c.__setitem__("meshperf:sutes", c.pop("meshperf:suites"))),
    ("duartion_s", lambda c: c["meshperf:suites"]["netperf"].__setitem__("duartion_s", 5)),
    ("nods", lambda c: c["meshperf:clusters"][0].__setitem__("nods", c["meshperf:clusters"][0].pop("nodes"))),
    ("node_selectr", lambda c: c["meshperf:workloads"]["w1"].__setitem__("node_selectr", {"node": "worker1"})),
    ("treshold_pct", lambda c: c.__setitem__("meshperf:baseline", {"stack": "nightly", "treshold_pct": 5})),
    ("hots", lambda c: c.__setitem__("meshperf:kubernetes", {"clusters": {"cluster-a": {"hots": "local"}}})),
]


@pytest.mark.parametrize(("key", "misspell"), MISSPELT, ids=[k for k, _ in MISSPELT])
def test_a_misspelt_key_fails_the_schema_and_the_loader(key: str, misspell: Any, tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-mesh.yaml").read_text())
    misspell(document["config"])
    errors = schema_errors(document)
    assert any(key in e for e in errors), errors
    copy_of_stack = tmp_path / "Pulumi.typo.yaml"
    copy_of_stack.write_text(yaml.safe_dump(document))
    with pytest.raises(StackError, match=rf"{re.escape(key)}: unknown key"):
        load_stack(str(copy_of_stack))


# Values both the schema and the loader take, and values both refuse (meshperf: keys, prefix stripped).
AGREED = [
    ({"run_id": 7}, True),  # an unquoted number is its text
    ({"suites": {"netperf": {"mss": 1376}}}, True),  # one MSS
    ({"suites": {"netperf": {"mss": [96, 1376]}}}, True),
    ({"suites": {"netperf": {"duration_s": True}}}, False),  # no number takes true
    ({"suites": {"netperf": {"enabled": 1}}}, False),  # no switch takes 1
    ({"link": {"mtu": 9001}}, False),
    ({"suites": {"e2sar": {"rate_gbps": 0}}}, False),
    ({"kubernetes": {"clusters": {"cluster-a": {"host": "remote"}}}}, False),
    ({"workloads": {"W1": {"cluster": "cluster-a", "node_selector": {"node": "worker1"}}}}, False),
]


@pytest.mark.parametrize(("change", "valid"), AGREED, ids=[json.dumps(c) for c, _ in AGREED])
def test_schema_and_loader_agree(change: dict[str, Any], valid: bool, tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-mesh.yaml").read_text())
    config = copy.deepcopy(document["config"])
    for key, value in change.items():
        old = config.get(f"meshperf:{key}")
        config[f"meshperf:{key}"] = _merge(old, value) if isinstance(old, dict) else value
    document["config"] = config
    assert (schema_errors(document) == []) is valid, schema_errors(document)
    copy_of_stack = tmp_path / "Pulumi.changed.yaml"
    copy_of_stack.write_text(yaml.safe_dump(document))
    if valid:
        load_stack(str(copy_of_stack))
    else:
        with pytest.raises(StackError):
            load_stack(str(copy_of_stack))


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = dict(old)
    for key, value in new.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def test_the_secret_token_is_a_key_of_the_schema(tmp_path: Path) -> None:
    """`pulumi config set --secret meshperf:e2sar_token ...` writes `{secure: ...}`: valid, and the loader drops it."""
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-mesh.yaml").read_text())
    document["config"]["meshperf:e2sar_token"] = {"secure": "v1:AAAA"}
    assert schema_errors(document) == []
    stack = tmp_path / "Pulumi.secret.yaml"
    stack.write_text(yaml.safe_dump(document))
    load_stack(str(stack))
    document["config"]["meshperf:e2sar_token"] = "has space"
    assert schema_errors(document)


def test_other_namespaces_pass_and_a_bare_key_does_not() -> None:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-mesh.yaml").read_text())
    document["config"]["kubernetes:context"] = "kind-a"
    document["encryptionsalt"] = "v1:abc"
    assert schema_errors(document) == []
    document["config"]["suites"] = {}
    assert schema_errors(document)
