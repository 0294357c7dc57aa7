#!/bin/sh
# bench/lab_walltime: wall time of `python -m netlab up -s kind-local --quick`, before (a git revision
# without the kubelet, exported with `git archive`) and after (this checkout), alternating, N rounds,
# with the root filesystem already cached (`python -m netlab rootfs` first). Run as root.
#   sh bench/lab_walltime/run.sh [before-rev] [rounds]
set -eu
cd "$(dirname "$0")/../.."
rev=${1:-main}
rounds=${2:-3}
py=$(pwd)/.venv/bin/python
tmp=$(mktemp -d /tmp/meshperf-walltime-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/before"
git archive "$rev" | tar -x -C "$tmp/before"
"$py" -m netlab rootfs > /dev/null
i=1
while [ "$i" -le "$rounds" ]; do
    for side in before after; do
        if [ "$side" = before ]; then dir="$tmp/before"; else dir=$(pwd); fi
        start=$(date +%s.%N)
        rc=0
        (cd "$dir" && "$py" -m netlab up -s kind-local --quick --runs-dir "$tmp/runs-$side" > "$tmp/$side-$i.log" 2>&1) || rc=$?
        end=$(date +%s.%N)
        echo "$side round $i: exit $rc, $(echo "$end - $start" | bc | cut -c1-5) s"
    done
    i=$((i + 1))
done
