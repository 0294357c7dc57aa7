"""Runner scripts: a client's cases as one POSIX sh script.

The script runs its cases in order; each writes its raw tool output to
`$MESHPERF_LOGDIR/<case-id>.<ext>` (stderr beside it as `.err` when there is any) and
appends one tab-separated line `id start end exit-code` to `$MESHPERF_LOGDIR/index.tsv`.
For iperf3 TCP it also snapshots the client's sockets with `ss -tni` into `<case-id>.ss`
a moment into the test, since iperf3 reports the MSS it asked for, not the one in use.
Targets come from the environment (`Target.env_var`): the backend supplies the addresses.
"""

from __future__ import annotations

import shlex

from spec.plan import Case

INDEX_NAME = "index.tsv"
LOGDIR_VAR = "MESHPERF_LOGDIR"

_PRELUDE = """\
set -u
LOGDIR=${MESHPERF_LOGDIR:?MESHPERF_LOGDIR must name the log folder}
mkdir -p "$LOGDIR"
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
# mss_probe ID PORT: the client's TCP sockets to PORT, half a second into the test.
mss_probe() {
    (sleep 0.5; ss -tni state established "( dport = :$2 )" > "$LOGDIR/$1.ss" 2>&1) &
}
# run_case ID EXT LIMIT CMD...: run one case, keep its raw output, index it.
run_case() {
    id=$1; ext=$2; limit=$3; shift 3
    start=$(now)
    timeout "$limit" "$@" > "$LOGDIR/$id.$ext" 2> "$LOGDIR/$id.err"
    rc=$?
    wait
    [ -s "$LOGDIR/$id.err" ] || rm -f "$LOGDIR/$id.err"
    printf '%s\\t%s\\t%s\\t%s\\n' "$id" "$start" "$(now)" "$rc" >> "$LOGDIR/index.tsv"
    echo "[meshperf] $id exit=$rc"
}
"""


def case_command(case: Case) -> list[str]:
    """The tool's command line, with the target as a shell variable reference."""
    host = f"${{{case.target.env_var}}}"
    if case.tool in ("iperf3_tcp", "iperf3_udp"):
        cmd = ["iperf3", "-c", host, "-p", str(case.port), "-J", "-t", str(case.duration_s)]
        if case.omit_s:
            cmd += ["-O", str(case.omit_s)]
        if case.tool == "iperf3_tcp":
            return [*cmd, "-M", str(case.mss)]
        return [*cmd, "-u", "-b", str(case.udp_bandwidth), "-l", str(case.udp_length)]
    test, keys = (
        ("TCP_STREAM", "THROUGHPUT,THROUGHPUT_UNITS,LOCAL_SEND_SIZE,ELAPSED_TIME")
        if case.tool == "netperf_stream"
        else ("TCP_RR", "MIN_LATENCY,MEAN_LATENCY,P50_LATENCY,P90_LATENCY,P99_LATENCY,MAX_LATENCY,TRANSACTION_RATE")
    )
    # A fixed data port (-P ,PORT) is what lets netperf work through a ClusterIP.
    return [
        "netperf",
        "-H",
        host,
        "-p",
        str(case.port),
        "-t",
        test,
        "-l",
        str(case.duration_s),
        "-4",
        "--",
        "-P",
        f",{case.data_port}",
        "-k",
        keys,
    ]


def _quote(word: str) -> str:
    """Quote for sh, leaving a lone ${VAR} reference to be expanded (in double quotes)."""
    if word.startswith("${") and word.endswith("}") and word[2:-1].replace("_", "").isalnum():
        return f'"{word}"'
    return shlex.quote(word)


def runner_script(client: str, cases: list[Case]) -> str:
    """One POSIX sh script that runs `cases` (all of `client`) in order."""
    env_vars = sorted({c.target.env_var for c in cases})
    lines = [
        "#!/bin/sh",
        f"# meshperf runner for client {client}: {len(cases)} cases. Generated from the stack; do not edit.",
        _PRELUDE,
    ]
    lines += [f': "${{{var}:?{var} must hold the target address}}"' for var in env_vars]
    for number, case in enumerate(cases, start=1):
        lines.append(f'echo "[meshperf] {client} {number}/{len(cases)} {case.id} start"')
        if case.tool == "iperf3_tcp":
            lines.append(f"mss_probe {case.id} {case.port}")
        command = " ".join(_quote(w) for w in case_command(case))
        lines.append(f"run_case {case.id} {case.ext} {case.time_limit_s} {command}")
    lines.append(f'echo "[meshperf] {client} done"')
    return "\n".join(lines) + "\n"
