"""Every shell command README.md and docs/ show is run here, or is listed as not runnable with why.

A shown command is a line of a ```sh block (comments dropped) or a code span in the prose of two
words or more whose first is a program or a project script (`python -m results parse FILE`,
`pulumi up -s kind-local`, `scripts/live-tools.sh --check`); a span of one word names a program or
a file rather than runs it, unless it is a bench (`bench/fidelity/run.py`).
Each one is in exactly one of three lists, so a new command in the docs fails
`test_every_shown_command_is_classified` until it is put in one:

- RUN: run for real as shown, placeholders filled with files from the tests' data, from the
  project root, with its exit code checked (and its output where the docs say what it prints);
- HELP: a synopsis run as `<program> <subcommand> --help`: exit 0, and every `--option` the
  synopsis shows is in the help, so a renamed option fails here;
- NOT_RUN: why it cannot run here without side effects (a cluster, Docker, root and minutes, a
  download, a change to the machine), and which test covers it instead where one does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DATA = ROOT / "tests" / "results" / "data"
LOGS = ROOT / "tests" / "components" / "fixtures" / "kind-mesh-run"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
PROGRAMS = (
    "python", "python3", ".venv/bin/python", "meshperf", ".venv/bin/meshperf", "sh", "bash", "pulumi",
    "kubectl", "kind", "docker", "go", "curl", "git", "sudo", "buildah", "export", "iperf3", "netperf",
    "uname", "nproc", "ss", "ip", "tc",
)  # fmt: skip

CLUSTER = "needs the Pulumi CLI, Docker and a kind cluster (GitHub's runners run it: .github/workflows/kind.yml)"
LIVE = "the live tier's flow: tests/live runs it for real with the built Pulumi CLI on the local cluster"
LIVE_MESH = "the live tier's mesh: tests/live/test_live_mesh.py runs it for real on two local clusters"
PULUMI_OFFLINE = "needs the Pulumi CLI and a stack; tests/ci and tests/components check it offline"
KIND_INTERNAL = "what the kind provider runs on a kind host (Docker); tests/components run it against a stand-in kind"
TOOL = "what a client Job runs against a server pod; the lab tests run it between network namespaces"
LAB = "root, network namespaces and minutes; tests/netlab run the lab"
LOCAL_CLUSTER = "starts or stops a real Kubernetes here (root, minutes); tests/localcluster run it"
INSTALL = "changes the machine (packages, a virtualenv, /usr/local/bin); tests/cli/test_cli_install.py: on a copy"
CLICONFIG = "Pulumi CLI; tests/components/test_components_cliconfig.py runs it through a stand-in of its config rules"
FRAGMENT = "a fragment of a command named in prose, not a command line"
PULUMI_TOOLS_BUILD = (
    "builds the Pulumi CLI and the kubernetes plugin from Go modules (about 70 min once); its --check and --env"
    " run for real in tests/live/test_live_pulumi_tools.py"
)
PULUMI_TOOLS = "the shell's env for the built Pulumi CLI: tests/live/test_live_pulumi_tools.py runs it for real"

UNPLANNED = ["--ignore-unplanned"]  # the fixture holds host-network paths too, which kind-mesh does not plan
# The shown command -> the command run (argv; `{data}`, `{logs}`, `{tmp}` filled in) and the exit codes it may give.
RUN: dict[str, tuple[list[str], set[int]]] = {
    "meshperf --version": (["meshperf", "--version"], {0}),
    "meshperf docs --check": (["meshperf", "docs", "--check"], {0}),
    "meshperf cluster status": (["meshperf", "cluster", "status"], {0, 1}),  # 1: not running
    ".venv/bin/python -m spec.image": (["python", "-m", "spec.image"], {0}),
    "python -m results parse FILE": (["python", "-m", "results", "parse", "{data}/iperf3-3.12-tcp-mss1376.json"], {0}),
    "python -m results e2sar SENDER_LOG RECEIVER_LOG": (
        ["python", "-m", "results", "e2sar", "{tmp}/sender.log", "{tmp}/receiver.log"],  # E2SAR 0.1.4's
        {0},
    ),
    "python -m results report LOGDIR --stack NAME [--out DIR] [--json]": (
        [
            "python",
            "-m",
            "results",
            "report",
            "{logs}",
            "--stack",
            "kind-mesh",
            "--out",
            "{tmp}/report",
            "--json",
            *UNPLANNED,
        ],
        {0, 1},  # 1: the fixture's run has failed cases
    ),
    "python -m results report LOGDIR --stack NAME [--label L | --content-hash H]": (
        [
            "python",
            "-m",
            "results",
            "report",
            "{logs}",
            "--stack",
            "kind-mesh",
            "--out",
            "{tmp}/r",
            "--label",
            "L",
            *UNPLANNED,
        ],
        {0, 1},
    ),
    "python -m results compare BASELINE CURRENT [--threshold 5] [--confidence 0.95] [--json]": (
        ["python", "-m", "results", "compare", "{tmp}/report", "{tmp}/report", "--threshold", "5", "--json"],
        {0, 1},  # the report above, against itself
    ),
    "scripts/live-tools.sh --check": (["sh", "scripts/live-tools.sh", "--check"], {0, 1}),  # 1: not built here
    "scripts/live-tools.sh --pulumi-only --env": (["sh", "scripts/live-tools.sh", "--pulumi-only", "--env"], {0, 1}),
    "sh scripts/report-picture.sh": (["sh", "scripts/report-picture.sh", "{tmp}/report", "{tmp}/report.png"], {0}),
    "git describe": (["git", "describe", "--always"], {0}),
    "uname -r": (["uname", "-r"], {0}),
    "iperf3 --version": (["iperf3", "--version"], {0}),
    "netperf -V": (["netperf", "-V"], {0}),
    "ss -tni": (["ss", "-tni"], {0}),
}
# RUN's commands that use another's output, in the order they run.
ORDER = [
    "python -m results report LOGDIR --stack NAME [--out DIR] [--json]",
    "python -m results compare BASELINE CURRENT [--threshold 5] [--confidence 0.95] [--json]",
    "sh scripts/report-picture.sh",
]

HELP = {
    "python -m netlab up -s <stack> [--quick] [-q] [--runs-dir runs]",
    "python -m netlab rootfs",
    "python -m results parse",
    "python -m results e2sar",
    "python -m results report",
    "python -m results compare",
    "python -m results check-outputs",
    "python -m results check-outputs --stack NAME THROUGHPUT.json FAILURES.json [E2SAR.json]",
    "python -m hosts apply",
    "python -m hosts apply INVENTORY DEPLOY [--check] [--limit h1,group] [--forks 64]",
    "python -m hosts facts INVENTORY os_release kernel routes interface_mtus kind_clusters",
    "python -m localcluster up",
    "python -m hosts",
    "meshperf cluster",
    ".venv/bin/meshperf lab up",
    "meshperf hosts ...",
    "meshperf results ...",
    "meshperf cluster up -s live-two-nodes",
    "meshperf cluster up -s live-mesh",
    "meshperf cluster status -s live-mesh",
    "meshperf cluster down -s live-mesh",
    "bench/fidelity/run.py",
    "bench/lab_vs_cluster/run.py [--pairs 2] [--seconds 3]",
    "bench/hosts_vs_ansible/run.py --hosts 10 50",
    "bench/matrix_time/run.py [--pod-rate 1gbit] [--floor] [--mss 96,1376 --paths 1,6]",
    "bench/regression_detection/run.py [--trials 10]",
    "bench/streams/run.py [--streams 4 8]",
}

NOT_RUN: dict[str, str] = {
    # The live tier (docs/kubernetes.md): run for real by tests/live, minutes and a cluster.
    "pulumi login file://<tmp>/state && export PULUMI_CONFIG_PASSPHRASE=...": LIVE,
    "pulumi stack init live": LIVE,
    "pulumi config set --path 'meshperf:clusters[0].kubeconfig_context' meshperf-lvflow -s live": LIVE,
    (
        "pulumi config set --path meshperf:kubernetes.clusters.live.kubeconfig"
        " /var/lib/meshperf/cluster/lvflow/kubeconfig -s live"
    ): LIVE,
    "pulumi config set --path meshperf:suites.netperf.mss 1376 -s live": LIVE,
    "pulumi config set --path meshperf:suites.netperf.duration_s 2 -s live": LIVE,
    "pulumi config rm --path meshperf:suites.netperf.steady_state -s live": LIVE,
    "pulumi up --yes -s live": LIVE,
    "pulumi refresh --yes --expect-no-changes -s live": LIVE,
    "pulumi config set meshperf:run_id 2 -s live && pulumi up --yes -s live": LIVE,
    "pulumi preview --expect-no-changes -s live": LIVE,
    "pulumi config rm --path 'meshperf:suites.netperf.paths[1]' -s live && pulumi preview --json -s live": LIVE,
    "pulumi preview --json -s live": LIVE,
    "MESHPERF_TEST_ONLY_DROP_POLICY_PORT=servers-ingress:UDP/5201 pulumi up --yes -s live": LIVE,
    "pulumi destroy --yes -s live": LIVE,
    "pulumi stack init live-mesh": LIVE_MESH,
    "pulumi up --yes": LIVE_MESH,
    "pulumi destroy --yes": LIVE_MESH,
    "pulumi stack init live-gone --copy-config-from live && pulumi up --yes -s live-gone": LIVE,
    "meshperf cluster down ... && pulumi destroy --yes -s live-gone": LIVE,
    "pulumi stack init live-two-nodes": LIVE,
    "pulumi config set --path 'meshperf:suites.netperf.tools[0]' iperf3_tcp -s live-two-nodes": LIVE,
    "pulumi up --yes -s live-two-nodes": LIVE,
    (
        "kubectl --kubeconfig /var/lib/meshperf/cluster/lvtwo/kubeconfig --context meshperf-lvtwo get pods -A -o wide"
    ): LIVE,
    "pulumi destroy --yes -s live-two-nodes": LIVE,
    # The lab: root, namespaces, minutes.
    "sh scripts/install.sh && .venv/bin/python -m netlab up": INSTALL + "; then " + LAB,
    ".venv/bin/python -m netlab up -s kind-local --quick": LAB,
    "python -m netlab up": LAB,
    "python -m netlab up -s <stack> --quick": LAB,
    "python -m netlab up -s kind-dual --quick": LAB,
    "python -m netlab clean": "removes what dead lab runs left on this machine; tests/netlab run it",
    "sh scripts/test.sh": "the whole test suite, this test included",
    "sh scripts/lock.sh": "re-pins requirements.lock from PyPI; tests/cli/test_cli_lock.py checks the lock",
    "sh scripts/live-tools.sh": "builds Kubernetes, etcd and kube-router from Go modules (minutes, /var/cache)",
    "python3 -m venv .venv && .venv/bin/pip install --require-hashes -r requirements.lock": INSTALL,
    "git clone <this repository> meshperf && cd meshperf": "a download; the tests run in the clone",
    "meshperf docs": "rewrites docs/stack.md and the schema; its --check form is run",
    "sh bench/lab_walltime/run.sh [rev] [rounds]": "quick lab runs at a git revision and here, in turns: " + LAB,
    "bench/*/run.py": "a pattern naming every bench (the exit table's row); each bench's --help is run",
    # The local cluster.
    "meshperf cluster up": LOCAL_CLUSTER,
    "meshperf cluster down": LOCAL_CLUSTER,
    "kubectl --kubeconfig /var/lib/meshperf/cluster/live/kubeconfig --context meshperf-live get nodes": LOCAL_CLUSTER,
    "python -m localcluster.relay": "started by `meshperf cluster up` inside the cluster's namespace",
    "python -m localcluster.provisioner": "started by `meshperf cluster up` inside the cluster's namespace",
    "buildah bud images/Dockerfile": "builds the tool image from Debian's archive (minutes): `meshperf cluster up`",
    # Kubernetes with Pulumi.
    "sudo apt-get install -y docker.io": "installs Docker from the distribution's archive: a change to the machine",
    'sudo usermod -aG docker "$USER" && newgrp docker': "changes the machine's users",
    'go install sigs.k8s.io/kind@v0.24.0 && sudo install "$(go env GOPATH)/bin/kind" /usr/local/bin/kind': INSTALL,
    'export MESHPERF_CACHE="$HOME/.cache/meshperf"': "sets where scripts/live-tools.sh builds (a user's own folder)",
    "sh scripts/live-tools.sh --pulumi-only": PULUMI_TOOLS_BUILD,
    'eval "$(sh scripts/live-tools.sh --pulumi-only --env)"': PULUMI_TOOLS,
    "pulumi version": PULUMI_TOOLS,
    "pulumi plugin ls": PULUMI_TOOLS,
    "export PULUMI_CONFIG_PASSPHRASE=...": "sets a passphrase for the Pulumi CLI's local state",
    "pulumi login --local": PULUMI_OFFLINE,
    "pulumi stack init kind-local": PULUMI_OFFLINE,
    "pulumi stack init kind-local && pulumi up -s kind-local": CLUSTER,
    "pulumi up": CLUSTER,
    "pulumi up -s kind-local": CLUSTER,
    "pulumi up -s kind-mesh": CLUSTER,
    "pulumi up --refresh -s kind-mesh": CLUSTER,
    "pulumi preview --diff -s kind-local": CLUSTER,
    "pulumi destroy": CLUSTER,
    "pulumi destroy -s kind-local": CLUSTER,
    "PULUMI_K8S_DELETE_UNREACHABLE=true pulumi destroy -s <stack>": CLUSTER,
    "pulumi config set": FRAGMENT,
    "pulumi config set --secret": FRAGMENT,
    "pulumi config set --secret meshperf:e2sar_token TOKEN": CLICONFIG,
    "pulumi config set --path 'meshperf:clusters[0].nodes[2].labels.ci' changed -s kind-local": CLICONFIG,
    "pulumi config set --path meshperf:suites.e2sar.duration_s 30 -s kind-local": CLICONFIG,
    "pulumi config set --path meshperf:suites.netperf.duration_s 2 -s kind-local": CLICONFIG,
    "pulumi config set --path meshperf:suites.netperf.duration_s 5 -s kind-local": CLICONFIG,
    "pulumi config set --path meshperf:suites.netperf.mss.start 1312 -s kind-local": CLICONFIG,
    "pulumi config set meshperf:run_id 2 -s kind-local && pulumi up -s kind-local": CLUSTER,
    "pulumi stack output throughput": CLUSTER,
    "pulumi stack output throughput --json -s kind-local": CLUSTER,
    "pulumi stack output throughput_by_mss -s kind-local": CLUSTER,
    "pulumi stack output latency -s kind-local": CLUSTER,
    "pulumi stack output failures --json -s kind-local": CLUSTER,
    "pulumi stack output e2sar --json -s kind-local": CLUSTER,
    "pulumi stack output csv -s kind-local > netperf.csv": CLUSTER,
    "pulumi stack output kubeconfig --show-secrets --json -s kind-local": CLUSTER,
    "pulumi stack output --json": CLUSTER,
    "pulumi stack output --json > run.json": CLUSTER,
    "pulumi stack output ... --json": CLUSTER,
    "pulumi stack output NAME --json": CLUSTER,
    "docker network inspect kind": "needs Docker and kind's network",
    "docker save --platform": KIND_INTERNAL,
    'docker save --platform linux/amd64 -o tools.tar "$tag" && kind load image-archive tools.tar --name ...': "needs "
    "Docker and a kind cluster",
    "kind create cluster --wait 5m": KIND_INTERNAL,
    "kind delete cluster": KIND_INTERNAL,
    "kind load image-archive": KIND_INTERNAL,
    "kind load docker-image": KIND_INTERNAL + " (meshperf avoids it: kind issue 3795)",
    "kubectl exec": FRAGMENT + " (how an exec enters a lab container; tests/netlab run the kubelet's exec)",
    "kubectl logs": FRAGMENT + " (what the lab's pods/<pod>/<container>.log holds)",
    "docker exec": KIND_INTERNAL + " (tests/components: a stand-in docker exec into network namespaces)",
    "ip route": FRAGMENT + " (the link's commands; tests/components run them in network namespaces)",
    "bash -n": FRAGMENT + " (tests/ci/test_ci_workflow.py runs it on every workflow step)",
    # The tools' own command lines.
    "iperf3 -c ADDR -p 5201 -J -t D -M MSS": TOOL,
    "iperf3 -c ADDR -p 5201 -J -t D -u -b 0 -l LEN": TOOL,
    "iperf3 -i 0.1 --forceflush": TOOL,
    "iperf3 -s -D": "the server pod's daemon (entry.sh); the lab tests run it",
    "netperf -H ADDR -t TCP_STREAM -l D -4 -- -P ,12866 -k THROUGHPUT,...": TOOL,
    "netperf ... -t TCP_RR ... -- -P ,12866 -k MIN_LATENCY,...,P99_LATENCY,...,TRANSACTION_RATE": TOOL,
    "netperf ... -t TCP_CRR ...": TOOL,
    "netperf ... -t UDP_RR ... -- -P ,12866 -R 1 -k ...": TOOL,
    "netperf ... -t UDP_STREAM ... -- -P ,12866 -R 1 -m LEN -k THROUGHPUT,...,REMOTE_RECV_THROUGHPUT,LOCAL_SEND_CALLS,"
    "REMOTE_RECV_CALLS": TOOL,
}


def shown_commands(pages: list[Path] = PAGES) -> dict[str, str]:
    """Every shell command the pages show -> the first page that shows it."""
    found: dict[str, str] = {}
    for page in pages:
        text = page.read_text()
        for match in FENCE.finditer(text):
            if match.group(1) in ("sh", "bash", "shell"):
                for line in match.group(2).splitlines():
                    line = re.sub(r"\s+#.*$", "", line).strip()
                    if line and not line.startswith("#"):
                        found.setdefault(line, page.name)
        for span in re.findall(r"`([^`]+)`", " ".join(FENCE.sub("", text).split())):
            words = span.split()
            program = words[0] in PROGRAMS or words[0].startswith(("bench/", "scripts/", "PULUMI_"))
            if (len(words) > 1 and program) or re.fullmatch(r"bench/[^/]+/run\.(py|sh)", span):
                found.setdefault(span, page.name)
    return found


def test_the_lists_do_not_overlap() -> None:
    assert not (set(RUN) & HELP) and not (set(RUN) & set(NOT_RUN)) and not (HELP & set(NOT_RUN))


def test_every_shown_command_is_classified() -> None:
    shown = shown_commands()
    unclassified = {c: page for c, page in shown.items() if c not in RUN and c not in HELP and c not in NOT_RUN}
    assert unclassified == {}, "new commands in the docs: put each in RUN, HELP or NOT_RUN of this file"
    gone = (set(RUN) | HELP | set(NOT_RUN)) - set(shown)
    assert gone == set(), "commands no page shows any more: take them out of this file"


def test_a_new_command_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Run `python -m results frobnicate X` or `python`, see `spec/model.py`, `bench/x/run.py`.\n"
        "```sh\nmeshperf new --flag   # a comment\n# only a comment\n```\n"
    )
    shown = set(shown_commands([page]))
    assert shown == {"python -m results frobnicate X", "meshperf new --flag", "bench/x/run.py"}


def argv(words: list[str], tmp: Path) -> list[str]:
    """A shown command's words as run here: this checkout's Python and meshperf, placeholders filled."""
    head = {"python": [sys.executable], ".venv/bin/python": [sys.executable]}
    meshperf = [sys.executable, str(ROOT / "meshperf_cli.py")]
    out: list[str] = []
    for i, word in enumerate(words):
        if i == 0 and word in ("meshperf", ".venv/bin/meshperf"):
            out += meshperf
        elif i == 0 and word in head:
            out += head[word]
        elif i == 0 and word.startswith("bench/"):
            out += [sys.executable, word]
        else:
            out.append(word.format(data=DATA, logs=LOGS, tmp=tmp))
    return out


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240, env=env)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the commands' output, with the E2SAR logs tests/results parse."""
    folder = tmp_path_factory.mktemp("shown-commands")
    spec = importlib.util.spec_from_file_location("e2sar_samples", ROOT / "tests" / "results" / "e2sar_samples.py")
    assert spec and spec.loader
    samples = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(samples)
    (folder / "sender.log").write_text(samples.SENDER_014)
    (folder / "receiver.log").write_text(samples.RECEIVER_014)
    return folder


@pytest.mark.parametrize("shown", ORDER + sorted(set(RUN) - set(ORDER)))
def test_each_runnable_command_runs(shown: str, workdir: Path) -> None:
    words, codes = RUN[shown]
    if shown == "sh scripts/report-picture.sh" and not (workdir / "report" / "report.html").exists():
        pytest.skip("the report command above did not run")
    done = run(argv(words, workdir))
    assert done.returncode in codes, f"{shown}: exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    if shown == ".venv/bin/python -m spec.image":
        assert re.fullmatch(r"meshperf-tools:[0-9a-f]{12}\n", done.stdout), done.stdout
    if shown == "meshperf docs --check":
        assert "up to date: docs/stack.md" in done.stdout
    if shown.startswith("python -m results parse"):
        assert json.loads(done.stdout)["ok"] is True
    if shown.startswith("python -m results report LOGDIR --stack NAME [--out"):
        assert (workdir / "report" / "results.json").exists() and (workdir / "report" / "report.html").exists()
    if shown == "sh scripts/report-picture.sh":
        assert (workdir / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def help_of(shown: str) -> tuple[list[str], list[str]]:
    """A synopsis -> the command that prints its help, and the long options the synopsis names."""
    words = shown.split()
    program = 3 if words[:2] == ["python", "-m"] else 1
    head = words[:program]
    for word in words[program:]:  # subcommands: plain lower-case words, up to the first option or placeholder
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", word):
            break
        head.append(word)
    return [*head, "--help"], re.findall(r"--[a-z][a-z0-9-]*", shown)


@pytest.mark.parametrize("shown", sorted(HELP))
def test_each_synopsis_has_its_help_and_options(shown: str, tmp_path: Path) -> None:
    command, options = help_of(shown)
    done = run(argv(command, tmp_path))
    assert done.returncode == 0, f"{shown}: exit {done.returncode}\n{done.stderr[-2000:]}"
    missing = [o for o in options if o not in done.stdout]
    assert missing == [], f"{shown}: its help does not name {missing}"


def test_a_renamed_option_is_found(tmp_path: Path) -> None:
    command, options = help_of("python -m results compare BASELINE CURRENT [--treshold 5]")
    done = run(argv(command, tmp_path))
    assert done.returncode == 0 and options == ["--treshold"] and "--treshold" not in done.stdout
