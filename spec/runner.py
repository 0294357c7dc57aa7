"""Runner scripts: a client's cases as one POSIX sh script.

The script runs its cases in order; each writes its raw tool output to
`$MESHPERF_LOGDIR/<case-id>.<ext>` (stderr beside it as `.err` when there is any) and
appends one tab-separated line `id start end exit-code attempts` to `$MESHPERF_LOGDIR/index.tsv`.
For iperf3 TCP it also snapshots the client's sockets with `ss -tni` into `<case-id>.ss`
a moment into the test, since iperf3 reports the MSS it asked for, not the one in use.
Targets come from the environment (`Target.env_var`): the backend supplies the addresses.
"""

from __future__ import annotations

import shlex

from spec.plan import Case

INDEX_NAME = "index.tsv"
ATTEMPTS = 3
RETRY_PAUSE_S = 1
LOGDIR_VAR = "MESHPERF_LOGDIR"

_PRELUDE = """\
set -u
LOGDIR=${MESHPERF_LOGDIR:?MESHPERF_LOGDIR must name the log folder}
mkdir -p "$LOGDIR"
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
# unreachable LOG ERR: the client never reached its server (nothing was measured).
unreachable() {
    grep -q -e 'unable to connect to server' -e 'establish control' "$1" "$2" 2>/dev/null
}
# run_case ID EXT LIMIT PROBE_PORT CMD...: run one case, keep its raw output, index it.
# A client that could not reach its server (restarting, not yet listening) tries again,
# up to ATTEMPTS times, RETRY_PAUSE_S s apart; the index records the attempts.
run_case() {
    id=$1; ext=$2; limit=$3; probe=$4; shift 4
    log="$LOGDIR/$id.$ext"; err="$LOGDIR/$id.err"
    start=$(now); attempt=0
    while :; do
        attempt=$((attempt + 1))
        if [ "$probe" != - ]; then
            (sleep 0.5; ss -tni state established "( dport = :$probe )" > "$LOGDIR/$id.ss" 2>&1) &
        fi
        timeout "$limit" "$@" > "$log" 2> "$err"
        rc=$?
        wait
        if [ "$attempt" -ge ATTEMPTS ] || ! unreachable "$log" "$err"; then break; fi
        sleep RETRY_PAUSE_S
    done
    [ -s "$err" ] || rm -f "$err"
    printf '%s\\t%s\\t%s\\t%s\\t%s\\n' "$id" "$start" "$(now)" "$rc" "$attempt" >> "$LOGDIR/index.tsv"
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
        _PRELUDE.replace("RETRY_PAUSE_S", str(RETRY_PAUSE_S)).replace("ATTEMPTS", str(ATTEMPTS)),
    ]
    lines += [f': "${{{var}:?{var} must hold the target address}}"' for var in env_vars]
    for number, case in enumerate(cases, start=1):
        lines.append(f'echo "[meshperf] {client} {number}/{len(cases)} {case.id} start"')
        probe = case.port if case.tool == "iperf3_tcp" else "-"
        command = " ".join(_quote(w) for w in case_command(case))
        lines.append(f"run_case {case.id} {case.ext} {case.time_limit_s} {probe} {command}")
    lines.append(f'echo "[meshperf] {client} done"')
    return "\n".join(lines) + "\n"
