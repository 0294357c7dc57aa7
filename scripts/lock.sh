#!/bin/sh
# Re-pin requirements.lock (every package, with hashes) from requirements.txt, on purpose.
# install.sh installs only what the lock says, so a new release of a dependency never reaches
# a machine until someone runs this, runs `sh scripts/test.sh`, and commits the new lock.
#   sh scripts/lock.sh                       keep every pin that still satisfies requirements.txt
#   sh scripts/lock.sh --upgrade             take the newest of everything
#   sh scripts/lock.sh --upgrade-package X   move one package
set -eu
cd "$(dirname "$0")/.."
tools=${MESHPERF_PIP_TOOLS:-/var/cache/meshperf/pip-tools}
if [ ! -x "$tools/bin/pip-compile" ]; then
    echo "lock.sh: installing pip-tools into $tools"
    python3 -m venv "$tools"
    "$tools/bin/pip" install -q --disable-pip-version-check "pip-tools==7.7.0"
fi
echo "lock.sh: resolving requirements.txt (a few minutes: every file's hash is fetched)"
"$tools/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
    --no-emit-find-links --output-file requirements.lock "$@" requirements.txt
echo "lock.sh: requirements.lock written; run sh scripts/test.sh before committing it"
