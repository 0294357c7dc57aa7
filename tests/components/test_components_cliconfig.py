"""Config as the Pulumi CLI hands it over: every value as text, structured values as JSON.

The commands come through tests/pulumi_cli.py, which reproduces the CLI's rules
from its source; the program is the real __main__.py under the SDK's mocks.
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from conftest import ROOT, Run, run_program, stand_in_kubeconfig
from pulumi_cli import PulumiCli, PulumiCliError
from pydantic import BaseModel

from components.stackconfig import SCALAR_KEYS
from spec.model import Stack

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
WORKFLOWS = ROOT / ".github" / "workflows"
# A command with a key (`as pulumi config set --secret writes it` names the command, it shows none).
CONFIG_SET = re.compile(r"pulumi config set (?:--\w+ )*'?meshperf:[^&|#`\n]*")


def shown_commands() -> list[str]:
    """Every `pulumi config set` command README.md, docs/ and the workflows show."""
    texts = [*(p.read_text() for p in PAGES), *(p.read_text() for p in sorted(WORKFLOWS.glob("*.yml")))]
    return sorted({m.group(0).strip() for text in texts for m in CONFIG_SET.finditer(text)})


def stack_of(command: str) -> str:
    match = re.search(r"(?:-s|--stack) (\S+)", command)
    return match.group(1) if match else "kind-local"


def run_id_annotations(run: Run) -> set[str]:
    return {
        job.inputs["spec"]["template"]["metadata"]["annotations"]["meshperf.io/run-id"]
        for job in run.of_type("batch/v1:Job")
    }


def test_the_docs_show_config_commands() -> None:
    assert "pulumi config set meshperf:run_id 2 -s kind-local" in shown_commands()


@pytest.mark.parametrize("command", shown_commands())
def test_every_shown_config_command_runs_the_program(command: str, tmp_path: Path) -> None:
    stack = stack_of(command)
    cli = PulumiCli.from_files(ROOT, stack)
    cli.run(command)
    _stand_in_missing_kubeconfigs(cli, stack, tmp_path)
    cli.write(tmp_path)
    run = run_program(stack, cli.program_config(), project_dir=tmp_path, secret_keys=cli.secret_keys)
    assert run.of_type("batch/v1:Job"), command
    if "meshperf:run_id" in command:
        value = command.split("meshperf:run_id", 1)[1].split()[0]
        assert run_id_annotations(run) == {value}


def _stand_in_missing_kubeconfigs(cli: PulumiCli, stack: str, tmp_path: Path) -> None:
    """A kubeconfig file the stack names (the local cluster's, there or not, of whichever cluster runs
    here): a stand-in with the stack's contexts, set as the README's live tier sets it."""
    config = cli.program_config()
    contexts = [c["kubeconfig_context"] for c in json.loads(config["meshperf:clusters"]) if c.get("kubeconfig_context")]
    settings = json.loads(config.get("meshperf:kubernetes") or "{}").get("clusters", {})
    for name, cluster in settings.items():
        given = cluster.get("kubeconfig")
        if given and contexts:
            stand_in = tmp_path / f"kubeconfig-{name}"
            stand_in.write_text(stand_in_kubeconfig(contexts))
            cli.run(f"pulumi config set --path meshperf:kubernetes.clusters.{name}.kubeconfig {stand_in} -s {stack}")


def test_run_id_reaches_the_program_as_text(tmp_path: Path) -> None:
    """docs/kubernetes.md's re-run step: the CLI hands "2" over, never the number 2."""
    cli = PulumiCli.from_files(ROOT, "kind-local")
    cli.run("pulumi config set meshperf:run_id 2")
    config = cli.program_config()
    assert config["meshperf:run_id"] == "2"
    cli.write(tmp_path)
    run = run_program("kind-local", config, project_dir=tmp_path)
    assert run_id_annotations(run) == {"2"}
    # A stack file that writes the number (run_id: 3) reaches the program as "3" too.
    (tmp_path / "stacks" / "Pulumi.kind-local.yaml").write_text(
        (tmp_path / "stacks" / "Pulumi.kind-local.yaml")
        .read_text()
        .replace("meshperf:run_id: '2'", "meshperf:run_id: 3")
    )
    from_file = PulumiCli.from_files(tmp_path, "kind-local").program_config()
    assert from_file["meshperf:run_id"] == "3"
    assert run_id_annotations(run_program("kind-local", from_file, project_dir=tmp_path)) == {"3"}


def test_path_values_are_typed_as_the_cli_types_them(tmp_path: Path) -> None:
    cli = PulumiCli.from_files(ROOT, "kind-local")
    # The shipped stacks stop TCP on steady state; the fixed-duration tools run `fixed_tools_s`.
    cli.run("pulumi config set --path meshperf:suites.netperf.steady_state.fixed_tools_s 3")
    cli.run("pulumi config set --path meshperf:suites.e2sar.rate_gbps 0.2")
    suites = cli.config["meshperf:suites"]
    # Integers become numbers; a decimal stays a string (object.go `coerce`).
    assert suites["netperf"]["steady_state"]["fixed_tools_s"] == 3
    assert suites["e2sar"]["rate_gbps"] == "0.2"
    cli.write(tmp_path)
    run = run_program("kind-local", cli.program_config(), project_dir=tmp_path)
    scripts = [
        c.inputs["data"]["runner.sh"] for c in run.of_type("core/v1:ConfigMap") if "runner.sh" in c.inputs["data"]
    ]
    udp = [line for s in scripts for line in s.splitlines() if "iperf3 -c" in line and " -u " in line]
    assert udp and all(" -t 3 " in line for line in udp)


def test_cli_rules() -> None:
    cli = PulumiCli({"name": "meshperf"}, "x")
    cli.set("meshperf:a", "2")
    cli.set("b", "true")
    cli.set("meshperf:c.d", "true", path=True)
    cli.set("meshperf:c.e", "007", path=True)
    cli.set("meshperf:c.f[0]", "-4", path=True)
    cli.set("meshperf:c.g", "4", path=True, type_name="string")
    assert cli.config == {
        "meshperf:a": "2",
        "meshperf:b": "true",
        "meshperf:c": {"d": True, "e": "007", "f": [-4], "g": "4"},
    }
    assert cli.program_config()["meshperf:c"] == '{"d":true,"e":"007","f":[-4],"g":"4"}'
    with pytest.raises(PulumiCliError, match="out of range"):
        cli.set("meshperf:c.f[3]", "1", path=True)


def declared_type(annotation: Any) -> str:
    """The Pulumi.yaml type a Stack field's annotation calls for."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if annotation is str:
        return "string"
    if origin is list:
        return "array"
    if origin is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return "object"
    raise AssertionError(f"no Pulumi config type for {annotation!r}")


def test_pulumi_yaml_declares_every_key_with_its_type() -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    optional_without_default = {"baseline"}  # a declaration cannot say "optional, no default"
    assert set(declared) == {f"meshperf:{k}" for k in Stack.model_fields if k not in optional_without_default}
    for key, spec in declared.items():
        field = Stack.model_fields[key.removeprefix("meshperf:")]
        assert spec["type"] == declared_type(field.annotation), key
        assert (spec["type"] == "string") == (key.removeprefix("meshperf:") in SCALAR_KEYS), key
        if "default" in spec:  # a default must mean the model's own default
            assert Stack.model_validate({**_minimal(), key.removeprefix("meshperf:"): spec["default"]}) == (
                Stack.model_validate(_minimal())
            ), key


def _minimal() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-mesh.yaml").read_text())["config"]
    return {k.removeprefix("meshperf:"): doc[k] for k in ("meshperf:clusters", "meshperf:workloads")}


@pytest.mark.parametrize("stack", ["kind-local", "kind-mesh", "ci-example"])
def test_shipped_stacks_pass_the_cli_checks(stack: str) -> None:
    config = PulumiCli.from_files(ROOT, stack).program_config()
    assert config["meshperf:run_id"] == "1" or stack == "ci-example"
    assert all(isinstance(v, str) for v in config.values())


def test_the_cli_refuses_wrong_types_and_missing_keys() -> None:
    cli = PulumiCli.from_files(ROOT, "kind-local")
    cli.run("pulumi config set meshperf:link 1400")
    with pytest.raises(PulumiCliError, match="'meshperf:link' must be of type 'object'"):
        cli.program_config()
    cli = PulumiCli.from_files(ROOT, "kind-local")
    del cli.config["meshperf:workloads"]
    with pytest.raises(PulumiCliError, match="missing configuration values: meshperf:workloads"):
        cli.program_config()


def test_a_value_that_is_not_json_is_one_line() -> None:
    config = {**PulumiCli.from_files(ROOT, "kind-local").program_config(), "meshperf:link": "{mtu: 1400"}
    with pytest.raises(pulumi.RunError, match=r"^stack kind-local: meshperf:link: not valid JSON$"):
        run_program("kind-local", config)


def test_the_program_reads_config_through_the_public_api() -> None:
    sources = "".join(p.read_text() for p in (ROOT / "components").glob("*.py")) + (ROOT / "__main__.py").read_text()
    assert not re.search(r"runtime\.config|\bCONFIG\b|get_config_env", sources)
