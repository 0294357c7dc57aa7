#!/bin/sh
# Install everything meshperf needs on a fresh Debian machine (run as root), idempotently:
# Debian packages (iperf3, iptables, iproute2, openssh-server, mmdebstrap, netperf from non-free, chromium)
# and a project virtualenv in .venv with requirements.txt.
set -eu
cd "$(dirname "$0")/.."

need_apt=""
# mmdebstrap builds the lab's copy of the tool image's userland (netlab/rootfs.py).
for bin in iperf3:iperf3 iptables:iptables ip:iproute2 sshd:openssh-server ss:iproute2 timeout:coreutils \
    mmdebstrap:mmdebstrap nsenter:util-linux; do
    cmd=${bin%%:*}; pkg=${bin#*:}
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need_apt="$need_apt $pkg"
done
if [ -n "$need_apt" ]; then
    echo "install.sh: installing Debian packages:$need_apt"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need_apt >/dev/null
fi

# netperf lives only in Debian's non-free component: fetch it through a private sources
# file so that the system's own apt sources stay untouched.
if ! command -v netperf >/dev/null 2>&1; then
    echo "install.sh: installing netperf from Debian non-free"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    sed 's/^Components:.*/Components: non-free/' /etc/apt/sources.list.d/debian.sources > "$tmp/nonfree.sources"
    mkdir -p "$tmp/lists/partial"
    opts="-o Dir::Etc::sourcelist=$tmp/nonfree.sources -o Dir::Etc::sourceparts=/dev/null -o Dir::State::Lists=$tmp/lists"
    # shellcheck disable=SC2086
    apt-get $opts -o APT::Sandbox::User=root update -qq
    # shellcheck disable=SC2086
    (cd "$tmp" && apt-get $opts -o APT::Sandbox::User=root download netperf >/dev/null)
    dpkg -i "$tmp"/netperf_*.deb >/dev/null
fi
# Debian's postinst may start a system netserver; meshperf starts its own per namespace.
pkill -x netserver 2>/dev/null || true
mkdir -p /run/sshd

# Headless Chromium: the tests open a run's report.html in it (tests/results/test_results_html.py).
if [ ! -x /usr/bin/chromium ]; then
    echo "install.sh: installing chromium (headless, for the HTML report test)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
# The project itself, editable: the `meshperf` command (.venv/bin/meshperf) works from any folder.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
echo "install.sh: ready (.venv)"
