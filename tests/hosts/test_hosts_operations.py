"""Operations from data: facts and desired state in, the commands to run out (none when in that state)."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from hosts.facts import (
    CommandSucceeds,
    DebPackages,
    FileInfo,
    FileState,
    FileText,
    InterfaceMtus,
    Routes,
    SysctlValue,
)
from hosts.facts import (
    Route as RouteFact,
)
from hosts.operations import (
    Command,
    DebPackage,
    FactValues,
    File,
    Line,
    LinkMtu,
    OperationError,
    Route,
    Shell,
    Sysctl,
    Upload,
)
from hosts.operations.sysctl import persisted_values


def commands(op, facts):
    """The op's changes for these facts, as command text (every fact it asks for must be given)."""
    values = FactValues(facts)
    assert all(f in values for f in op.facts()), "the test must give every fact the op reads"
    return [c.text if isinstance(c, Command) else c for c in op.changes(values)]


SYS = "net.ipv4.tcp_fin_timeout"
PF = "/etc/sysctl.d/99-meshperf.conf"
SED = (
    f"touch {PF} && sed -i '/^[[:space:]]*-\\{{0,1\\}}net\\.ipv4\\.tcp_fin_timeout[[:space:]]*=/d' {PF} && "
    f"printf '%s\\n' 'net.ipv4.tcp_fin_timeout = 30' >> {PF}"
)
SET = "printf '%s\\n' 30 > /proc/sys/net/ipv4/tcp_fin_timeout"


@pytest.mark.parametrize(
    ("live", "persisted", "expected"),
    [
        ("60", None, [SET, SED]),
        ("30", "net.ipv4.tcp_fin_timeout = 30\n", []),
        ("30", "net.ipv4.tcp_fin_timeout=30\n", []),
        ("60", "net.ipv4.tcp_fin_timeout = 30\n", [SET]),
        ("30", "net.ipv4.tcp_fin_timeout = 60\n", [SED]),
        ("30", "# net.ipv4.tcp_fin_timeout = 30\n", [SED]),
        ("30", "net.ipv4.tcp_fin_timeout = 30\nnet.ipv4.tcp_fin_timeout = 45\n", [SED]),
        ("30", "-net.ipv4.tcp_fin_timeout = 30\n", []),
        ("30", "", [SED]),
    ],
)
def test_sysctl(live, persisted, expected):
    op = Sysctl(key=SYS, value=30)
    assert commands(op, {SysctlValue(SYS): live, FileText(PF): persisted}) == expected


def test_sysctl_not_persisted_reads_no_file():
    op = Sysctl(key=SYS, value="30", persist=False)
    assert op.facts() == [SysctlValue(SYS)]
    assert commands(op, {SysctlValue(SYS): "60"}) == [SET]
    assert commands(op, {SysctlValue(SYS): "30"}) == []


def test_sysctl_multi_value_compares_normalized():
    op = Sysctl(key="net.ipv4.ip_local_port_range", value="1024   65000", persist=False)
    assert commands(op, {SysctlValue(op.key): "1024 65000"}) == []
    assert commands(op, {SysctlValue(op.key): "32768 60999"}) == [
        "printf '%s\\n' '1024 65000' > /proc/sys/net/ipv4/ip_local_port_range"
    ]


def test_sysctl_unknown_key_fails():
    with pytest.raises(OperationError, match=r"no sysctl net\.nope"):
        Sysctl(key="net.nope", value=1).changes(FactValues({SysctlValue("net.nope"): None, FileText(PF): None}))


def test_sysctl_key_is_validated():
    with pytest.raises(ValueError):
        Sysctl(key="net; rm -rf /", value=1)


def test_persisted_values():
    text = "# c\n; c\nnet.a = 1\n-net.b=2 3\n\nbad\nnet.a = 4\n"
    assert persisted_values(text) == {"net.a": "4", "net.b": "2 3"}
    assert persisted_values(None) == {}


def test_sysctls_sharing_a_file_compose(tmp_path):
    """Each sysctl edits the file as it is when its turn comes: three in a row leave three lines."""
    f = tmp_path / "s.conf"
    f.write_text("net.ipv4.tcp_syn_retries = 6\nother = 1\n")
    ops = [
        Sysctl(key=k, value=v, persist_file=str(f))
        for k, v in [
            ("net.ipv4.tcp_fin_timeout", 30),
            ("net.ipv4.tcp_keepalive_time", 600),
            ("net.ipv4.tcp_syn_retries", 4),
        ]
    ]
    initial = f.read_text()
    for op in ops:
        (cmd,) = [c for c in commands(op, {op.facts()[0]: "1", FileText(str(f)): initial}) if "sed" in c]
        subprocess.run(["sh", "-ec", cmd], check=True, timeout=30)
    assert persisted_values(f.read_text()) == {
        "other": "1",
        "net.ipv4.tcp_fin_timeout": "30",
        "net.ipv4.tcp_keepalive_time": "600",
        "net.ipv4.tcp_syn_retries": "4",
    }


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


WRITE_HI = (
    "tmp=$(umask 077 && mktemp /x/.f.meshperf-XXXXXXXX) && "
    """{ printf '%s' 'hi\n' > "$tmp" && chmod 640 "$tmp" && mv -f "$tmp" /x/f || { rm -f "$tmp"; false; }; }"""
)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (
            None,
            [WRITE_HI],
        ),
        (FileInfo(0o640, digest("hi\n"), 3), []),
        (FileInfo(0o644, digest("hi\n"), 3), ["chmod 640 /x/f"]),
        (
            FileInfo(0o640, digest("old\n"), 4),
            [WRITE_HI],
        ),
    ],
)
def test_file(state, expected):
    op = File(path="/x/f", content="hi\n", mode="0640")
    assert commands(op, {FileState("/x/f"): state}) == expected


@pytest.mark.parametrize(("mode", "expected"), [("0644", 0o644), ("755", 0o755), (0o600, 0o600), (420, 0o644)])
def test_file_modes(mode, expected):
    assert File(path="/f", content="", mode=mode).mode == expected


@pytest.mark.parametrize("mode", [644, "9", "0o644x", 0o17777])
def test_file_bad_modes(mode):
    with pytest.raises(ValueError):
        File(path="/f", content="", mode=mode)


def test_large_file_is_uploaded():
    content = "x" * (70 * 1024)
    (change,) = File(path="/big", content=content).changes(FactValues({FileState("/big"): None}))
    assert change == Upload("/big", content.encode(), 0o644)


def test_file_write_command_handles_quotes(tmp_path):
    content = 'it\'s "quoted" $HOME `x` \\n\n'
    path = tmp_path / "q"
    (cmd,) = commands(File(path=str(path), content=content, mode="0600"), {FileState(str(path)): None})
    subprocess.run(["sh", "-ec", cmd], check=True, timeout=30)
    assert path.read_text() == content
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_files_content_is_shown_as_its_size_only():
    """Issue 23 (4): what reports, -v, --check and --json show of a `file` write is its size, never its content."""
    secret = "password=hunter2\n"
    (change,) = File(path="/etc/app.conf", content=secret, mode="0600").changes(
        FactValues({FileState("/etc/app.conf"): None})
    )
    assert isinstance(change, Command)
    assert "hunter2" in change.text and "hunter2" not in change.display
    assert f"<{len(secret)} bytes>" in change.display


def test_a_file_is_written_through_a_private_unpredictable_temporary_file(tmp_path):
    """Issue 23 (4): the temporary file is mktemp's, in the target's folder, created 0600 (umask 077) before
    its chmod; a link planted at the old predictable name `<path>.meshperf-tmp` is never written through."""
    path, victim = tmp_path / "app.conf", tmp_path / "victim"
    victim.write_text("untouched\n")
    (tmp_path / "app.conf.meshperf-tmp").symlink_to(victim)
    stubs, seen = tmp_path / "bin", tmp_path / "seen"
    stubs.mkdir()
    # chmod as a stand-in that records the temporary file's mode and name, then does its job
    (stubs / "chmod").write_text(f'#!/bin/sh\nstat -c "%a %n" "$2" >> {seen}\nexec /bin/chmod "$@"\n')
    (stubs / "chmod").chmod(0o755)
    (cmd,) = commands(File(path=str(path), content="secret\n", mode="0640"), {FileState(str(path)): None})
    env = {"PATH": f"{stubs}:/usr/bin:/bin"}
    subprocess.run(["sh", "-ec", f"umask 022; {cmd}"], check=True, timeout=30, env=env)
    assert path.read_text() == "secret\n" and path.stat().st_mode & 0o777 == 0o640
    assert victim.read_text() == "untouched\n"
    mode, name = seen.read_text().split()
    assert mode == "600", "the temporary file was readable before its chmod"
    assert name.startswith(f"{tmp_path}/.app.conf.meshperf-") and name != f"{path}.meshperf-tmp"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.conf", "app.conf.meshperf-tmp", "bin", "seen", "victim"]


@pytest.mark.parametrize(
    ("text", "op", "expected"),
    [
        (None, Line(path="/f", line="a b"), ["printf '%s\\n' 'a b' >> /f"]),
        ("x\na b\ny\n", Line(path="/f", line="a b"), []),
        ("x\n", Line(path="/f", line="a b"), ["printf '%s\\n' 'a b' >> /f"]),
        ("x", Line(path="/f", line="a b"), ["printf '\\n%s\\n' 'a b' >> /f"]),
        ("", Line(path="/f", line="a"), ["printf '%s\\n' a >> /f"]),
        ("a b \n", Line(path="/f", line="a b"), ["printf '%s\\n' 'a b' >> /f"]),
        (
            "k=2\n",
            Line(path="/f", line="k=1", match="^k="),
            [
                "tmp=$(umask 077 && mktemp /.f.meshperf-XXXXXXXX) && { MP_0=k=1 MP_1=k=2 awk "
                '\'$0 == ENVIRON["MP_1"] { if (!done) print ENVIRON["MP_0"]; done = 1; next } { print }\' '
                '/f > "$tmp" && cat "$tmp" > /f; rc=$?; rm -f "$tmp"; [ $rc -eq 0 ]; }'
            ],
        ),
        ("k=1\n", Line(path="/f", line="k=1", match="^k="), []),
        ("z\n", Line(path="/f", line="k=1", match="^k="), ["printf '%s\\n' k=1 >> /f"]),
    ],
)
def test_line(text, op, expected):
    assert commands(op, {FileText(op.path): text}) == expected


def test_line_without_create_fails_on_missing_file():
    with pytest.raises(OperationError, match="no such file /f"):
        Line(path="/f", line="a", create=False).changes(FactValues({FileText("/f"): None}))


def test_line_refuses_newlines_and_bad_regex():
    with pytest.raises(ValueError):
        Line(path="/f", line="a\nb")
    with pytest.raises(ValueError):
        Line(path="/f", line="a", match="(")


def test_line_replace_runs(tmp_path):
    f = tmp_path / "conf"
    f.write_text("a=0\nPort 22\nb='x'\nPort 2222\n")
    f.chmod(0o600)
    op = Line(path=str(f), line="Port 2200 # it's", match="^Port ")
    (cmd,) = commands(op, {FileText(str(f)): f.read_text()})
    subprocess.run(["sh", "-ec", cmd], check=True, timeout=30)
    assert f.read_text() == "a=0\nPort 2200 # it's\nb='x'\n"
    assert f.stat().st_mode & 0o777 == 0o600
    assert commands(op, {FileText(str(f)): f.read_text()}) == []


APT = "DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Options::=--force-confold"


@pytest.mark.parametrize(
    ("installed", "op", "expected"),
    [
        ({"curl": "7.88", "iperf3": "3.12"}, DebPackage(names=("curl", "iperf3")), []),
        (
            {"curl": "7.88", "iperf3": None},
            DebPackage(names=("curl", "iperf3")),
            [f"{APT} update", f"{APT} install --no-install-recommends iperf3"],
        ),
        (
            {"curl": None},
            DebPackage(names=("curl",), update_cache=False),
            [f"{APT} install --no-install-recommends curl"],
        ),
        ({"curl": "7.88"}, DebPackage(names=("curl",), state="absent"), [f"{APT} remove curl"]),
        ({"curl": None}, DebPackage(names=("curl",), state="absent"), []),
    ],
)
def test_deb_package(installed, op, expected):
    assert commands(op, {DebPackages(op.names): installed}) == expected


def test_deb_package_names_are_validated():
    with pytest.raises(ValueError):
        DebPackage(names=("curl; reboot",))


ROUTES = {
    "default": RouteFact("default", "172.18.0.1", "eth0"),
    "10.245.0.0/16": RouteFact("10.245.0.0/16", "172.18.0.5", "eth0"),
}


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        (Route(dst="10.245.0.0/16", via="172.18.0.5"), []),
        (Route(dst="10.245.0.0/16", via="172.18.0.5", dev="eth0"), []),
        (Route(dst="10.245.0.0/16", via="172.18.0.6"), ["ip route replace 10.245.0.0/16 via 172.18.0.6"]),
        (
            Route(dst="10.246.1.0/24", via="172.18.0.6", dev="eth0"),
            ["ip route replace 10.246.1.0/24 via 172.18.0.6 dev eth0"],
        ),
        (Route(dst="10.246.1.7", dev="eth1"), ["ip route replace 10.246.1.7/32 dev eth1"]),
        (Route(dst="10.245.0.0/16", state="absent"), ["ip route del 10.245.0.0/16"]),
        (Route(dst="10.9.0.0/16", state="absent"), []),
        (Route(dst="10.245.1.1/16", via="172.18.0.5"), []),
    ],
)
def test_route(op, expected):
    assert commands(op, {Routes(): ROUTES}) == expected


def test_route_needs_via_or_dev():
    with pytest.raises(OperationError, match="give 'via' or 'dev'"):
        Route(dst="10.0.0.0/8").changes(FactValues({Routes(): {}}))


@pytest.mark.parametrize(
    ("mtus", "expected"), [({"eth0": 1500}, ["ip link set dev eth0 mtu 1400"]), ({"eth0": 1400}, [])]
)
def test_link_mtu(mtus, expected):
    assert commands(LinkMtu(dev="eth0", mtu=1400), {InterfaceMtus(): mtus}) == expected


def test_link_mtu_unknown_interface():
    with pytest.raises(OperationError, match="no interface eth9"):
        LinkMtu(dev="eth9", mtu=1400).changes(FactValues({InterfaceMtus(): {"eth0": 1500}}))


@pytest.mark.parametrize(
    ("op", "facts", "expected"),
    [
        (Shell(run="make install"), {}, ["make install"]),
        (Shell(run="make install", unless="test -x /usr/bin/x"), {CommandSucceeds("test -x /usr/bin/x"): True}, []),
        (
            Shell(run="make install", unless="test -x /usr/bin/x"),
            {CommandSucceeds("test -x /usr/bin/x"): False},
            ["make install"],
        ),
        (Shell(run="mkdir /d", creates="/d"), {CommandSucceeds("test -e /d"): True}, []),
        (Shell(run="mkdir /d", creates="/d"), {CommandSucceeds("test -e /d"): False}, ["mkdir /d"]),
    ],
)
def test_shell(op, facts, expected):
    assert commands(op, facts) == expected


def test_unknown_keys_are_refused():
    with pytest.raises(ValueError):
        File(path="/f", content="", owner="root")
