#!/bin/sh
# Build, once, the tools the live tier runs (a real Pulumi CLI, the kubernetes provider plugin,
# Kubernetes 1.34, etcd, kube-router), from Go modules through the module proxy with the ordinary
# `go` client, plus Debian packages; nothing downloads a release binary or a plugin.
#
# Interface (other code calls only this):
#   sh scripts/live-tools.sh          build what is missing; idempotent: seconds when complete.
#   sh scripts/live-tools.sh --check  complete: print the bin folder, exit 0; else exit 1 with ONE
#                                     line naming what is missing and how to build it.
#   sh scripts/live-tools.sh --env    complete: print `export ...` lines for a caller to eval
#                                     (PATH, PULUMI_HOME, PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION,
#                                     PULUMI_SKIP_UPDATE_CHECK, PULUMI_PYTHON_CMD); else as --check.
#   --pulumi-only, alone or before --check/--env: the same for the Pulumi side only (the CLI, the
#                                     Python language host and its exec script, the pulumi-python
#                                     provider, the kubernetes plugin), what the kind workflow needs:
#                                     no Debian packages, no Kubernetes, etcd nor kube-router, and
#                                     no /usr/lib/cni in its PATH. Its stamp is `complete-pulumi`;
#                                     a full build's `complete` satisfies it too.
# Layout: $MESHPERF_CACHE (default /var/cache/meshperf)/live-tools/<key>/{bin,pulumi-home,provider,work,logs},
# <key> from the pinned versions below (a bump builds anew beside the old one); Go's module and
# build caches are shared in $MESHPERF_CACHE/go/{mod,build} (MESHPERF_GO_CACHE names another folder
# for them, e.g. the default cache's for a build into a scratch MESHPERF_CACHE). CNI plugins are Debian's, in /usr/lib/cni.
# MESHPERF_PYTHON (default .venv/bin/python, skipped when absent): the Python whose
# pulumi-kubernetes must ask for the provider version built here.
set -eu

# Pinned versions. The module proxy serves what is built here and not all of upstream:
# - Pulumi CLI: pkg/v3 v3.272.0 (the pulumi package's) is not served; v3.274.0 is the next one.
# - The Python language host has had its own module since 2023, which the proxy does not serve;
#   the newest sdk/v3 that still holds it is v3.68.0. pulumi-language-python-exec comes from the
#   CLI's sdk/v3. That host reads Pulumi.yaml's `virtualenv` option only from a flag which today's
#   CLI no longer passes: PULUMI_PYTHON_CMD (in --env) names the virtualenv's python instead.
# - The provider module has no version tags; the one source served is commit f47bc2d6f199, the
#   v4.25.0 release tag of pulumi/pulumi-kubernetes (so pulumi-kubernetes==4.25.0 must be pinned).
# - kube-router/v2: v2.1.0 is the only version served.
PULUMI_VERSION=v3.274.0
LANGHOST_SDK_VERSION=v3.68.0
PROVIDER_VERSION=4.25.0
PROVIDER_PSEUDO=v4.0.0-20260115033456-f47bc2d6f199
K8S_VERSION=v1.34.4
K8S_STAGING_VERSION=v0.34.4
ETCD_VERSION=v3.6.17
KUBE_ROUTER_VERSION=v2.1.0
APT_PACKAGES="containerd runc containernetworking-plugins buildah catatonit conntrack ipset"
K8S_CMDS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl"
# The provider is not in BIN: the engine would take it from PATH (with a warning) before the plugin.
PULUMI_BINS="pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python"
BINS="$PULUMI_BINS etcd kube-router $K8S_CMDS"

PULUMI_ONLY=false
MODE=build
for arg in "$@"; do
    case $arg in
    --pulumi-only) PULUMI_ONLY=true ;;
    --check | bindir | --env)
        [ "$MODE" = build ] || { echo "live-tools: error: '$MODE' and '$arg' given: use one of them" >&2; exit 1; }
        MODE=$arg
        ;;
    "") ;;
    *)
        echo "live-tools: error: unknown argument '$arg' (use no argument, --check or --env, each optionally with --pulumi-only)" >&2
        exit 1
        ;;
    esac
done

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${MESHPERF_CACHE:-/var/cache/meshperf}
GO_CACHE=${MESHPERF_GO_CACHE:-$CACHE/go}
MANIFEST="pulumi=$PULUMI_VERSION langhost=$LANGHOST_SDK_VERSION provider=$PROVIDER_VERSION@$PROVIDER_PSEUDO k8s=$K8S_VERSION etcd=$ETCD_VERSION kube-router=$KUBE_ROUTER_VERSION go=$(go env GOVERSION 2>/dev/null || echo none)"
KEY=k8s${K8S_VERSION#v}-$(printf '%s' "$MANIFEST" | sha256sum | cut -c1-10)
TOP=$CACHE/live-tools/$KEY
BIN=$TOP/bin
PHOME=$TOP/pulumi-home
WORK=$TOP/work
LOGS=$TOP/logs
STAMP=$TOP/complete
PULUMI_STAMP=$TOP/complete-pulumi
PLUGIN=$PHOME/plugins/resource-kubernetes-v$PROVIDER_VERSION/pulumi-resource-kubernetes
PROVIDER_BIN=$TOP/provider/pulumi-resource-kubernetes
PYTHON=${MESHPERF_PYTHON:-$REPO/.venv/bin/python}
if $PULUMI_ONLY; then
    WANT_BINS=$PULUMI_BINS
    BUILD_HINT="build them: sh scripts/live-tools.sh --pulumi-only (about 70 min once on 2 CPUs)"
else
    WANT_BINS=$BINS
    BUILD_HINT="build them: sh scripts/live-tools.sh (about 1.5 h once on 2 CPUs)"
fi

say() { echo "live-tools: $*"; }
die() { echo "live-tools: error: $*" >&2; exit 1; }

# The provider version the Python package asks for ('' when there is no such Python).
wanted_provider() {
    [ -x "$PYTHON" ] || return 0
    "$PYTHON" - <<'EOF' 2>/dev/null || true
import json, pathlib, pulumi_kubernetes
print(json.loads((pathlib.Path(pulumi_kubernetes.__file__).parent / "pulumi-plugin.json").read_text())["version"])
EOF
}

missing_apt() {
    out=""
    for p in $APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || out="$out $p"
    done
    echo "${out# }"
}

# One line on what keeps the tools from being complete; empty when complete.
what_is_missing() {
    miss=""
    for b in $WANT_BINS; do [ -x "$BIN/$b" ] || miss="$miss $b"; done
    [ -x "$PLUGIN" ] || miss="$miss plugin:resource-kubernetes-v$PROVIDER_VERSION"
    if [ -n "$miss" ]; then echo "missing in $BIN:$miss; $BUILD_HINT"; return; fi
    if $PULUMI_ONLY; then
        [ -f "$PULUMI_STAMP" ] || [ -f "$STAMP" ] ||
            { echo "build of $TOP not finished (no stamp); $BUILD_HINT"; return; }
    else
        [ -f "$STAMP" ] || { echo "build of $TOP not finished (no stamp); $BUILD_HINT"; return; }
        apt=$(missing_apt)
        [ -z "$apt" ] || { echo "Debian packages missing: $apt; $BUILD_HINT"; return; }
    fi
    want=$(wanted_provider)
    if [ -n "$want" ] && [ "$want" != "$PROVIDER_VERSION" ]; then
        echo "$PYTHON's pulumi-kubernetes asks for the kubernetes plugin $want, the tools have $PROVIDER_VERSION (the only provider source the module proxy serves): pin pulumi-kubernetes==$PROVIDER_VERSION"
    fi
}

print_env() {
    if $PULUMI_ONLY; then echo "export PATH=\"$BIN:\$PATH\""; else echo "export PATH=\"$BIN:/usr/lib/cni:\$PATH\""; fi
    echo "export PULUMI_HOME=\"$PHOME\""
    echo "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true"
    echo "export PULUMI_SKIP_UPDATE_CHECK=true"
    echo "export PULUMI_PYTHON_CMD=\"$PYTHON\""
}

if [ "$MODE" != build ]; then
    m=$(what_is_missing)
    if [ -n "$m" ]; then echo "live-tools: $m"; exit 1; fi
    if [ "$MODE" = --env ]; then print_env; else echo "$BIN"; fi
    exit 0
fi

# ---- build ----
command -v go >/dev/null 2>&1 || die "no 'go' on PATH (Go 1.26 is needed)"
mkdir -p "$BIN" "$PHOME" "$WORK" "$LOGS" "$GO_CACHE/mod" "$GO_CACHE/build"
export GOMODCACHE="$GO_CACHE/mod" GOCACHE="$GO_CACHE/build" GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
T0=$(date +%s)

# run_step NAME LOG CMD...: one progress line, the command's output to LOG, a clear line on failure.
run_step() {
    name=$1 log=$2; shift 2
    say "building $name ... (log: $log)"
    s=$(date +%s)
    if ! "$@" >"$log" 2>&1; then
        echo "live-tools: error: building $name failed after $(($(date +%s) - s))s; last lines of $log:" >&2
        tail -n 15 "$log" | sed 's/^/  | /' >&2
        exit 1
    fi
    say "built $name in $(($(date +%s) - s))s (total $(($(date +%s) - T0))s)"
}

# have NAME...: true when every named binary is in BIN.
have() { for b in "$@"; do [ -x "$BIN/$b" ] || return 1; done; }

# write_tools_go DIR IMPORT...: a tools.go that makes `go mod tidy` keep the mains to build.
write_tools_go() {
    dir=$1; shift
    { printf '//go:build tools\n\npackage tools\n\nimport (\n'
      for i in "$@"; do printf '\t_ "%s"\n' "$i"; done
      printf ')\n'; } >"$dir/tools.go"
}

# --- Debian packages (not for the Pulumi side) ---
apt=$($PULUMI_ONLY || missing_apt)
if [ -n "$apt" ]; then
    step() {
        apt-get -o DPkg::Lock::Timeout=600 update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $apt
    }
    run_step "Debian packages ($apt)" "$LOGS/apt.log" step
fi

# --- Pulumi CLI ---
build_pulumi() {
    d=$WORK/pulumi; mkdir -p "$d"
    cat >"$d/go.mod" <<EOF
module meshperf.local/livetools/pulumi

go 1.26.6

require (
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION
)

// pkg/v3's own go.mod points sdk/v3 at a sibling folder; these are its two other replaces.
replace (
	github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
	golang.org/x/text => golang.org/x/text v0.41.0
)
EOF
    write_tools_go "$d" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    (cd "$d" && go mod tidy &&
        go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
            -o "$d/out/" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) &&
        mv "$d/out/pulumi" "$BIN/pulumi"
}
have pulumi || run_step "pulumi CLI $PULUMI_VERSION" "$LOGS/pulumi.log" build_pulumi

# --- Python language host + exec script ---
build_langhost() {
    d=$WORK/langhost; mkdir -p "$d"
    cat >"$d/go.mod" <<EOF
module meshperf.local/livetools/langhost

go 1.18

require github.com/pulumi/pulumi/sdk/v3 $LANGHOST_SDK_VERSION

replace golang.org/x/text => golang.org/x/text v0.3.6
EOF
    write_tools_go "$d" github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python
    (cd "$d" && go mod tidy &&
        go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGHOST_SDK_VERSION" \
            -o "$d/out/" github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python) &&
        mv "$d/out/pulumi-language-python" "$BIN/pulumi-language-python"
}
have pulumi-language-python ||
    run_step "pulumi-language-python (sdk $LANGHOST_SDK_VERSION)" "$LOGS/langhost.log" build_langhost
if ! have pulumi-language-python-exec; then
    sdkdir=$(go mod download -json "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" | sed -n 's/^.*"Dir": "\(.*\)",$/\1/p')
    [ -f "$sdkdir/python/cmd/pulumi-language-python-exec" ] ||
        die "no python/cmd/pulumi-language-python-exec in sdk/v3@$PULUMI_VERSION ($sdkdir)"
    install -m 0755 "$sdkdir/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec"
    say "copied pulumi-language-python-exec from sdk/v3@$PULUMI_VERSION"
fi
# The plugin that runs the program's dynamic providers (`pulumi:providers:pulumi-python`): a script
# in the same sdk/v3 module; without it the engine looks it up on GitHub.
if ! have pulumi-resource-pulumi-python; then
    sdkdir=$(go mod download -json "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" | sed -n 's/^.*"Dir": "\(.*\)",$/\1/p')
    [ -f "$sdkdir/python/dist/pulumi-resource-pulumi-python" ] ||
        die "no python/dist/pulumi-resource-pulumi-python in sdk/v3@$PULUMI_VERSION ($sdkdir)"
    install -m 0755 "$sdkdir/python/dist/pulumi-resource-pulumi-python" "$BIN/pulumi-resource-pulumi-python"
    say "copied pulumi-resource-pulumi-python from sdk/v3@$PULUMI_VERSION"
fi

# --- pulumi-resource-kubernetes, installed as a plugin from the file ---
build_provider() {
    d=$WORK/provider
    src=$(go mod download -json "github.com/pulumi/pulumi-kubernetes/provider/v4@$PROVIDER_PSEUDO" |
        sed -n 's/^.*"Dir": "\(.*\)",$/\1/p')
    [ -d "$src" ] || { echo "provider/v4@$PROVIDER_PSEUDO not downloaded"; return 1; }
    rm -rf "$d" && mkdir -p "$d" && cp -r "$src" "$d/src" && chmod -R u+w "$d/src"
    # The replace to the sibling sdk folder: sdk/v4 at the version the go.mod requires instead.
    sed -i '\#^replace github.com/pulumi/pulumi-kubernetes/sdk/v4 => \.\./sdk#d' "$d/src/go.mod"
    # main.go embeds schema-embed.json: its go:generate (generate.go) writes it from the committed
    # schema.json with the version set.
    (cd "$d/src/cmd/pulumi-resource-kubernetes" && VERSION=$PROVIDER_VERSION go run generate.go) &&
        (cd "$d/src" && go build -trimpath \
            -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PROVIDER_VERSION" \
            -o "$d/out/" ./cmd/pulumi-resource-kubernetes) &&
        mkdir -p "${PROVIDER_BIN%/*}" && mv "$d/out/pulumi-resource-kubernetes" "$PROVIDER_BIN"
}
[ -x "$PLUGIN" ] || [ -x "$PROVIDER_BIN" ] ||
    run_step "pulumi-resource-kubernetes $PROVIDER_VERSION" "$LOGS/provider.log" build_provider
if [ ! -x "$PLUGIN" ]; then
    PULUMI_HOME=$PHOME PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true PULUMI_SKIP_UPDATE_CHECK=true \
        "$BIN/pulumi" plugin install resource kubernetes "$PROVIDER_VERSION" --file "$PROVIDER_BIN" \
        >"$LOGS/plugin-install.log" 2>&1 || { tail -n 5 "$LOGS/plugin-install.log" >&2; die "pulumi plugin install failed (log: $LOGS/plugin-install.log)"; }
    [ -x "$PLUGIN" ] || die "pulumi plugin install left no $PLUGIN"
    say "installed plugin resource kubernetes $PROVIDER_VERSION into $PHOME"
fi

# ready: print what a caller needs (and a warning on a Python asking for another provider).
finish() {
    want=$(wanted_provider)
    if [ -n "$want" ] && [ "$want" != "$PROVIDER_VERSION" ]; then
        echo "live-tools: warning: $PYTHON's pulumi-kubernetes asks for the kubernetes plugin $want, built $PROVIDER_VERSION (the only provider source the module proxy serves): pin pulumi-kubernetes==$PROVIDER_VERSION" >&2
    fi
    say "ready in $(($(date +%s) - T0))s: bin=$BIN PULUMI_HOME=$PHOME"
    say "a caller needs (or: eval \"\$(sh scripts/live-tools.sh $1--env)\"):"
    print_env | sed 's/^/  /'
}

# The Pulumi side is complete: its own stamp, so that --pulumi-only needs no more than this.
for b in $PULUMI_BINS; do [ -x "$BIN/$b" ] || die "$b is still missing in $BIN after the build"; done
echo "$MANIFEST" >"$PULUMI_STAMP"
if $PULUMI_ONLY; then
    finish "--pulumi-only "
    exit 0
fi

# --- etcd ---
build_etcd() {
    d=$WORK/etcd; mkdir -p "$d"
    cat >"$d/go.mod" <<EOF
module meshperf.local/livetools/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION

// server/v3's go.mod points these at sibling folders.
replace (
	go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)
EOF
    write_tools_go "$d" go.etcd.io/etcd/server/v3
    (cd "$d" && go mod tidy && go build -trimpath -ldflags "-s -w" -o "$d/out/etcd" go.etcd.io/etcd/server/v3) &&
        mv "$d/out/etcd" "$BIN/etcd"
}
have etcd || run_step "etcd $ETCD_VERSION" "$LOGS/etcd.log" build_etcd

# --- kube-router (its NetworkPolicy controller: iptables + ipset) ---
build_kube_router() {
    d=$WORK/kube-router; mkdir -p "$d/out"
    v=github.com/cloudnativelabs/kube-router/v2/pkg/version
    GOBIN="$d/out" GOFLAGS= go install -trimpath \
        -ldflags "-s -w -X $v.Version=$KUBE_ROUTER_VERSION -X $v.BuildDate=1970-01-01T00:00:00Z" \
        "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION" &&
        mv "$d/out/kube-router" "$BIN/kube-router"
}
have kube-router || run_step "kube-router $KUBE_ROUTER_VERSION" "$LOGS/kube-router.log" build_kube_router

# --- Kubernetes ---
build_k8s() {
    d=$WORK/k8s; mkdir -p "$d"
    kdir=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^.*"Dir": "\(.*\)",$/\1/p')
    [ -f "$kdir/go.mod" ] || { echo "k8s.io/kubernetes@$K8S_VERSION not downloaded"; return 1; }
    # k8s.io/kubernetes replaces each staging module with ./staging/src/...: the published ones here.
    { printf 'module meshperf.local/livetools/k8s\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
      sed -n "s#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 $K8S_STAGING_VERSION#p" "$kdir/go.mod"
      printf ')\n'; } >"$d/go.mod"
    pkgs=""; for c in $K8S_CMDS; do pkgs="$pkgs k8s.io/kubernetes/cmd/$c"; done
    # shellcheck disable=SC2086
    write_tools_go "$d" $pkgs
    minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
    ld="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
    done
    # shellcheck disable=SC2086
    (cd "$d" && go mod tidy && go build -trimpath -ldflags "$ld" -o "$d/out/" $pkgs) &&
        for c in $K8S_CMDS; do mv "$d/out/$c" "$BIN/$c"; done
}
# shellcheck disable=SC2086
have $K8S_CMDS || run_step "Kubernetes $K8S_VERSION ($K8S_CMDS)" "$LOGS/k8s.log" build_k8s

for b in $BINS; do [ -x "$BIN/$b" ] || die "$b is still missing in $BIN after the build"; done
echo "$MANIFEST" >"$STAMP"
finish ""
