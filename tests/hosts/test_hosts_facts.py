"""Facts from data: each command's output in, the parsed value out."""

from __future__ import annotations

import json
import subprocess

import pytest

from hosts.facts import (
    CommandSucceeds,
    DebPackages,
    FileInfo,
    FileState,
    FileText,
    InterfaceMtus,
    Kernel,
    KindClusters,
    OsRelease,
    Route,
    Routes,
    SysctlValue,
    normalize_dst,
    sysctl_path,
)

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'


@pytest.mark.parametrize(
    ("fact", "output", "expected"),
    [
        (
            OsRelease(),
            OS_RELEASE,
            {
                "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)",
                "NAME": "Debian GNU/Linux",
                "VERSION_ID": "12",
                "ID": "debian",
            },
        ),
        (OsRelease(), "", {}),
        (OsRelease(), "# comment\nID='ubuntu'\n\nbroken line\n", {"ID": "ubuntu"}),
        (Kernel(), "6.1.0-18-amd64\n", "6.1.0-18-amd64"),
        (SysctlValue("net.ipv4.tcp_fin_timeout"), "60\n", "60"),
        (SysctlValue("net.ipv4.ip_local_port_range"), "32768\t60999\n", "32768 60999"),
        (SysctlValue("net.nope"), "@absent@\n", None),
        (FileText("/etc/x"), "@absent@\n", None),
        (FileText("/etc/x"), "present\n", ""),
        (FileText("/etc/x"), "present\na\nb\n", "a\nb\n"),
        (FileText("/etc/x"), "present\nno newline", "no newline"),
        (FileState("/etc/x"), "@absent@\n", None),
        (
            FileState("/etc/x"),
            "644 6\n5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  -\n",
            FileInfo(0o644, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", 6),
        ),
        (FileState("/etc/x"), "4755 0\ne3b0  -\n", FileInfo(0o4755, "e3b0", 0)),
        (
            DebPackages(("curl", "iperf3")),
            "curl\tinstall ok installed\t7.88.1-10\niperf3\tdeinstall ok config-files\t3.12-1\n",
            {"curl": "7.88.1-10", "iperf3": None},
        ),
        (DebPackages(("libc6",)), "libc6:amd64\tinstall ok installed\t2.36-9\n", {"libc6": "2.36-9"}),
        (DebPackages(("nothing",)), "", {"nothing": None}),
        (KindClusters(), "", ()),
        (KindClusters(), "mesh-b\nmesh-a\n", ("mesh-a", "mesh-b")),
        (CommandSucceeds("test -e /x"), "yes\n", True),
        (CommandSucceeds("test -e /x"), "no\n", False),
    ],
)
def test_fact_process(fact, output, expected):
    assert fact.process(output) == expected


def test_routes_from_ip_json():
    output = json.dumps(
        [
            {"dst": "default", "gateway": "172.18.0.1", "dev": "eth0", "flags": []},
            {"dst": "10.244.1.0/24", "gateway": "172.18.0.3", "dev": "eth0", "flags": []},
            {"dst": "10.245.0.5", "dev": "eth1", "scope": "link", "flags": [], "metrics": [{"mtu": 1400}]},
        ]
    )
    assert Routes().process(output) == {
        "default": Route("default", "172.18.0.1", "eth0"),
        "10.244.1.0/24": Route("10.244.1.0/24", "172.18.0.3", "eth0"),
        "10.245.0.5/32": Route("10.245.0.5/32", None, "eth1", 1400),
    }
    assert Routes().process("[]") == {}


def test_interface_mtus_from_ip_json():
    output = json.dumps([{"ifindex": 1, "ifname": "lo", "mtu": 65536}, {"ifindex": 2, "ifname": "eth0", "mtu": 1500}])
    assert InterfaceMtus().process(output) == {"lo": 65536, "eth0": 1500}


@pytest.mark.parametrize(
    ("dst", "expected"),
    [
        ("default", "default"),
        ("10.1.0.5", "10.1.0.5/32"),
        ("10.1.0.0/16", "10.1.0.0/16"),
        ("10.1.2.3/16", "10.1.0.0/16"),
    ],
)
def test_normalize_dst(dst, expected):
    assert normalize_dst(dst) == expected


def test_sysctl_path():
    assert sysctl_path("net.ipv4.tcp_fin_timeout") == "/proc/sys/net/ipv4/tcp_fin_timeout"
    assert sysctl_path("net/ipv4/conf/eth0.100/rp_filter") == "/proc/sys/net/ipv4/conf/eth0.100/rp_filter"


@pytest.mark.parametrize(
    "fact",
    [
        OsRelease(),
        Kernel(),
        SysctlValue("net.nope.nothing"),
        FileText("/nonexistent/x"),
        FileState("/nonexistent/x"),
        DebPackages(("surely-not-installed",)),
        KindClusters(),
        CommandSucceeds("false"),
    ],
)
def test_fact_commands_run_in_sh_and_exit_0(fact):
    """Every command is valid sh and reads a missing thing as a value, not a failure."""
    proc = subprocess.run(["sh", "-c", fact.command()], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    fact.process(proc.stdout)


def test_file_facts_read_real_files(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("hello\n")
    path.chmod(0o640)
    for fact in (FileText(str(path)), FileState(str(path))):
        out = subprocess.run(["sh", "-c", fact.command()], capture_output=True, text=True, timeout=30).stdout
        value = fact.process(out)
        if isinstance(fact, FileText):
            assert value == "hello\n"
        else:
            assert value == FileInfo(0o640, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", 6)


def test_fact_names_are_the_plain_names_the_command_line_takes() -> None:
    from hosts.facts import FACTS_BY_NAME, SysctlValue

    assert {name: fact().name for name, fact in FACTS_BY_NAME.items()} == {name: name for name in FACTS_BY_NAME}
    assert SysctlValue("net.ipv4.ip_forward").name == "sysctl_value(net.ipv4.ip_forward)"
