#!/bin/sh
# Install everything meshperf needs on a fresh Debian machine (run as root), idempotently:
# Debian packages (iperf3, iptables, iproute2, openssh-server, mmdebstrap, netperf from non-free, chromium)
# and a project virtualenv in .venv with the exact versions of requirements.lock.
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
# Its postinst starts a system netserver (`invoke-rc.d netperf start`); meshperf starts its own
# in each namespace. A policy-rc.d that forbids starting services (exit 101, invoke-rc.d's rule)
# keeps that one from starting, only during this dpkg -i and only where the machine has no
# policy-rc.d of its own: no netserver is stopped afterwards, so the user's own stay alone.
POLICY_RC_D=${MESHPERF_POLICY_RC_D:-/usr/sbin/policy-rc.d}  # the tests point it elsewhere
if ! command -v netperf >/dev/null 2>&1; then
    echo "install.sh: installing netperf from Debian non-free"
    tmp=$(mktemp -d)
    made_policy=""
    trap 'rm -rf "$tmp"; if [ -n "$made_policy" ]; then rm -f "$POLICY_RC_D"; fi' EXIT
    sed 's/^Components:.*/Components: non-free/' /etc/apt/sources.list.d/debian.sources > "$tmp/nonfree.sources"
    mkdir -p "$tmp/lists/partial"
    opts="-o Dir::Etc::sourcelist=$tmp/nonfree.sources -o Dir::Etc::sourceparts=/dev/null -o Dir::State::Lists=$tmp/lists"
    # shellcheck disable=SC2086
    apt-get $opts -o APT::Sandbox::User=root update -qq
    # shellcheck disable=SC2086
    (cd "$tmp" && apt-get $opts -o APT::Sandbox::User=root download netperf >/dev/null)
    if [ ! -e "$POLICY_RC_D" ]; then
        printf '#!/bin/sh\n# meshperf install.sh: no service starts while netperf is installed\nexit 101\n' \
            > "$POLICY_RC_D"
        chmod 755 "$POLICY_RC_D"
        made_policy=1
    fi
    dpkg -i "$tmp"/netperf_*.deb >/dev/null
    if [ -n "$made_policy" ]; then rm -f "$POLICY_RC_D"; made_policy=""; fi
fi
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
# Exactly the locked versions, each checked against its hash: a new release of a dependency
# reaches this machine only through a new requirements.lock (scripts/lock.sh).
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements.lock
# The project itself, editable: the `meshperf` command (.venv/bin/meshperf) works from any folder.
# No build isolation: the build uses the locked setuptools, not whatever release is newest.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
echo "install.sh: ready (.venv)"
