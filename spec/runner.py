"""Runner scripts: a client's cases as one POSIX sh script.

The script runs its cases in order; each writes its raw tool output to
`$MESHPERF_LOGDIR/<case-id>.<ext>` (stderr beside it as `.err` when there is any) and
appends one tab-separated line `id start end exit-code attempts` to `$MESHPERF_LOGDIR/index.tsv`.
For iperf3 TCP it also snapshots the client's sockets with `ss -tni` into `<case-id>.ss`
a moment into the test, since iperf3 reports the MSS it asked for, not the one in use.
Targets come from the environment (`Target.env_var`): the backend supplies the addresses.

A steady-state case (`Case.steady`) runs iperf3 in text mode with short intervals under the
`steady` function: a watcher re-reads the log after every interval (awk, `STEADY_AWK`) and
stops the client with SIGTERM once the running mean throughput has settled (iperf3 then
prints its summary and exits 1, which counts as success); a last line
`meshperf-steady: stop=stable|max ...` in the log records how the case ended.
"""

from __future__ import annotations

import shlex

from spec.model import NETPERF_TESTS, RR_TOOLS, Family, Tool
from spec.plan import E2SAR_OWN_IP_VAR, E2SAR_RECEIVER_VAR, E2SAR_TOKEN_VAR, Case, E2sarCase

INDEX_NAME = "index.tsv"
# Each client Job's facts about its tools and node (`env_name`), one `name<TAB>value` line each.
ENV_PREFIX = "env-"
ATTEMPTS = 3
RETRY_PAUSE_S = 1
LOGDIR_VAR = "MESHPERF_LOGDIR"
TIMEOUT_EXIT = 124  # the status `timeout` (coreutils, busybox) gives a command it had to stop

# netperf's omni output selectors (-k) per tool: the request/response tests' latency
# percentiles and rate; UDP_STREAM's receiver figures beside the sender's, whose calls
# (datagrams) give the loss.
_RR_KEYS = "MIN_LATENCY,MEAN_LATENCY,P50_LATENCY,P90_LATENCY,P99_LATENCY,MAX_LATENCY,TRANSACTION_RATE"
NETPERF_KEYS: dict[Tool, str] = {
    "tcp_stream": "THROUGHPUT,THROUGHPUT_UNITS,LOCAL_SEND_SIZE,ELAPSED_TIME",
    **{tool: _RR_KEYS for tool in RR_TOOLS},
    "udp_stream": "THROUGHPUT,THROUGHPUT_UNITS,LOCAL_SEND_THROUGHPUT,REMOTE_RECV_THROUGHPUT,LOCAL_SEND_SIZE,"
    "LOCAL_SEND_CALLS,REMOTE_RECV_CALLS,ELAPSED_TIME",
}

# netperf's family option (control and data connection alike); without it netperf 2.7 resolves
# the target as IPv4 only ("Address family for hostname not supported" for an IPv6 address).
NETPERF_FAMILY: dict[Family, str] = {"ipv4": "-4", "ipv6": "-6"}

# What every script starts with: its log folder, and the time as the index writes it.
_LOGDIR_PRELUDE = """\
set -u
LOGDIR=${MESHPERF_LOGDIR:?MESHPERF_LOGDIR must name the log folder}
mkdir -p "$LOGDIR"
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
"""

_PRELUDE = (
    _LOGDIR_PRELUDE
    + """\
# unreachable LOG ERR: the client never reached its server (nothing was measured).
unreachable() {
    grep -q -e 'unable to connect to server' -e 'establish control' -e 'server is busy' "$1" "$2" 2>/dev/null
}
# STEADY_AWK, run on an iperf3 text log: exit 0 when the running mean throughput since
# omit (after each interval) has stayed within tol % over the last win seconds, the run
# being at least min seconds old; exit 1 otherwise.
STEADY_AWK='
/^\\[ *[0-9]+\\] +[0-9.]+-[0-9.]+ +sec / && !/sender|receiver/ {
    line = $0; sub(/^\\[ *[0-9]+\\] +/, "", line); n = split(line, f, / +/)
    if (n < 6) next
    split(f[1], t, "-"); a = t[1] + 0; b = t[2] + 0
    s = 1; if (f[6] ~ /^K/) s = 1e3; else if (f[6] ~ /^M/) s = 1e6
    else if (f[6] ~ /^G/) s = 1e9; else if (f[6] ~ /^T/) s = 1e12
    if (b <= omit + 0.001 || b <= a) next
    if (a < omit) a = omit
    sum += f[5] * s * (b - a); dur += b - a; k++; end[k] = b; mean[k] = sum / dur
}
END {
    if (k == 0 || end[k] < min || dur < win - 0.001) exit 1
    hi = mean[k]; lo = mean[k]
    for (j = k; j > 0 && end[j] >= end[k] - win - 0.001; j--) {
        if (mean[j] > hi) hi = mean[j]; if (mean[j] < lo) lo = mean[j]
    }
    exit (mean[k] > 0 && (hi - lo) / mean[k] * 100 <= tol) ? 0 : 1
}'
# steady LIMIT TOL WINDOW MIN OMIT INTERVAL CMD...: run an iperf3 text-mode client (stdout:
# the case's log, also read by the watcher), stop it once steady, say how it ended.
steady() {
    s_limit=$1; s_tol=$2; s_win=$3; s_min=$4; s_omit=$5; s_int=$6; shift 6
    timeout "$s_limit" "$@" &
    s_pid=$!; s_stop=max
    while kill -0 "$s_pid" 2>/dev/null; do
        sleep "$s_int"
        if awk -v tol="$s_tol" -v win="$s_win" -v min="$s_min" -v omit="$s_omit" "$STEADY_AWK" "$log"; then
            kill -TERM "$s_pid" 2>/dev/null && s_stop=stable
            break
        fi
    done
    wait "$s_pid"; s_rc=$?
    # SIGTERM makes iperf3 print its summary and exit 1: a stop on stability is a success.
    if [ "$s_stop" = stable ] && grep -q ' sender' "$log"; then s_rc=0; fi
    echo "meshperf-steady: stop=$s_stop tolerance_pct=$s_tol window_s=$s_win min_s=$s_min omit_s=$s_omit exit=$s_rc"
    return "$s_rc"
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
        case $1 in
            # The shift is in a subshell: a retry must see the word `steady` again.
            steady) (shift; steady "$limit" "$@") > "$log" 2> "$err" ;;
            *) timeout "$limit" "$@" > "$log" 2> "$err" ;;
        esac
        rc=$?
        wait
        if [ "$attempt" -ge ATTEMPTS ] || ! unreachable "$log" "$err"; then break; fi
        sleep RETRY_PAUSE_S
    done
    [ -s "$err" ] || rm -f "$err"
    printf '%s\\t%s\\t%s\\t%s\\t%s\\n' "$id" "$start" "$(now)" "$rc" "$attempt" >> "$LOGDIR/index.tsv"
    echo "[meshperf] $id exit=$rc"
}
# log_env FILE: the tools' versions and the node's kernel and CPUs, once per Job, into FILE
# and the pod's log; the first non-empty line of each command's output, as the lab's probe.
log_env() {
    {
        printf 'iperf3\t%s\n' "$(iperf3 --version 2>&1 | awk 'NF { print; exit }')"
        printf 'netperf\t%s\n' "$(netperf -V 2>&1 | awk 'NF { print; exit }')"
        printf 'kernel\t%s\n' "$(uname -r)"
        printf 'cpus\t%s\n' "$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
    } > "$1"
    sed 's/^/[meshperf] env /' "$1"
}
"""
)


def env_name(client: str) -> str:
    """The file of a client Job's tool versions and node facts in its log folder."""
    return f"{ENV_PREFIX}{client}.tsv"


def case_command(case: Case) -> list[str]:
    """The tool's command line, with the target as a shell variable reference."""
    host = f"${{{case.target.env_var}}}"
    if case.steady is not None and case.tool == "iperf3_tcp":
        st = case.steady
        watch = ["steady", *(_num(v) for v in (st.tolerance_pct, st.window_s, st.min_s, st.omit_s, st.interval_s))]
        iperf3 = ["iperf3", "-c", host, *_iperf3_family(case), "-p", str(case.port), "-t", str(st.max_s)]
        return [*watch, *iperf3, "-i", _num(st.interval_s), "--forceflush", "-f", "k", "-M", str(case.mss)]
    if case.tool in ("iperf3_tcp", "iperf3_udp"):
        cmd = ["iperf3", "-c", host, *_iperf3_family(case), "-p", str(case.port), "-J", "-t", str(case.duration_s)]
        if case.omit_s:
            cmd += ["-O", str(case.omit_s)]
        if case.streams > 1:
            cmd += ["-P", str(case.streams)]
        if case.tool == "iperf3_tcp":
            return [*cmd, "-M", str(case.mss)]
        return [*cmd, "-u", "-b", str(case.udp_bandwidth), "-l", str(case.udp_length)]
    # A fixed data port (-P ,PORT) is what lets netperf work through a ClusterIP.
    test = NETPERF_TESTS[case.tool]
    family = NETPERF_FAMILY[case.family]
    cmd = ["netperf", "-H", host, "-p", str(case.port), "-t", test, "-l", str(case.duration_s), family, "--"]
    cmd += ["-P", f",{case.data_port}"]
    if case.tool in ("udp_rr", "udp_stream"):
        cmd += ["-R", "1"]  # netperf's UDP tests set SO_DONTROUTE unless told: routed paths need it
    if case.tool == "udp_stream":
        cmd += ["-m", str(case.udp_length)]
    return [*cmd, "-k", NETPERF_KEYS[case.tool]]


def _iperf3_family(case: Case) -> list[str]:
    """iperf3 finds the family from the address; an IPv6 case says it (-6) so that nothing else is tried."""
    return ["-6"] if case.family == "ipv6" else []


def _num(value: float) -> str:
    """A number for the command line: 3.0 -> '3', 0.5 -> '0.5'."""
    return f"{value:g}"


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
    lines.append(f'log_env "$LOGDIR/{env_name(client)}"')
    for number, case in enumerate(cases, start=1):
        lines.append(f'echo "[meshperf] {client} {number}/{len(cases)} {case.id} start"')
        probe = case.port if case.tool == "iperf3_tcp" else "-"
        command = " ".join(_quote(w) for w in case_command(case))
        lines.append(f"run_case {case.id} {case.ext} {case.time_limit_s} {probe} {command}")
    lines.append(f'echo "[meshperf] {client} done"')
    return "\n".join(lines) + "\n"


# -- E2SAR ---------------------------------------------------------------------------
# e2sar_perf exits 0 even when it failed, and prints its receiver's stats on stderr in
# 0.3.x: stdout and stderr go to one log (as the seed's `2>&1 | tee`), the index records
# the exit code all the same, and results/e2sar.py reads failure from the text.
# The URI is built at run time from the env (the receiver's own or the receiver's address,
# the token from its Secret) and handed over in EJFAT_URI, which e2sar_perf reads when `-u` is
# absent (bin/e2sar_perf.cpp, every release): the token is in no script and on no command line.
E2SAR_BIND_IP = "0.0.0.0"
URI_VAR = "EJFAT_URI"
# The lines e2sar_perf prints when it gives up (it exits 0 for most of them, and -1 for some).
TOOL_ERROR_RE = (
    "encountered an error|Unable to create|Error in parsing URI|Unable to parse command line|"
    "Error processing command-line"
)
TERMINATION_LOG = "/dev/termination-log"

_E2SAR_PRELUDE = (
    _LOGDIR_PRELUDE
    + """\
# If LANG names a locale that is not installed, e2sar_perf aborts at start.
LANG=C; LC_ALL=C; export LANG LC_ALL
"""
)


def e2sar_uri(case: E2sarCase, data_host: str, token: str = f"${{{E2SAR_TOKEN_VAR}}}") -> str:
    """The EJFAT URI: in direct mode only `data=` matters, but 0.1.4 wants `sync=` present too.

    Every release's reassembler refuses a URI without `data=` ("Data address not present in the
    URI"): the receiver's names its own address, the sender's the receiver's."""
    cp = case.control_plane
    base = f"ejfat://{token}@{cp.address}:{cp.port}/lb/{cp.lb_id}"
    return f"{base}?data={data_host}:{case.port}&sync={cp.sync_address}:{cp.sync_port}"


def e2sar_command(case: E2sarCase, role: str) -> list[str]:
    """The seed's e2sar_perf command lines (its entrypoints'), the URI in the env (`URI_VAR`)."""
    withcp = [] if case.direct_mode else ["--withcp"]
    if role == "receiver":
        return [
            "e2sar_perf", "-r", "-d", str(case.duration_s), "-b", str(case.buf_size),
            "--ip", E2SAR_BIND_IP, "--port", str(case.port), "--threads", str(case.threads), *withcp, "-4",
        ]  # fmt: skip
    return [
        "e2sar_perf", "-s", "--mtu", str(case.mtu),
        "--rate", _num(case.rate_gbps), "--length", str(case.length), "-n", str(case.num_events),
        "-b", str(case.buf_size), "--ip", E2SAR_BIND_IP, *withcp, "-4",
    ]  # fmt: skip


def _quote_with_var(word: str) -> str:
    """Double-quote a word that holds ${VAR} references (its other characters come from validated keys)."""
    if "${" not in word:
        return shlex.quote(word)
    assert not any(ch in word for ch in '"`\\'), word
    return f'"{word}"'


def _required(var: str, what: str) -> str:
    return f': "${{{var}:?{var} must hold {what}}}"'


def e2sar_script(case: E2sarCase, role: str) -> str:
    """The POSIX sh script of one E2SAR run (role: receiver or sender): raw output, index line, and
    the tool's last error line (if any) on stdout and in the termination message, so that a receiver
    that ends before it is ready is reported in e2sar_perf's own words."""
    run_id = case.receiver_id if role == "receiver" else case.sender_id
    limit = case.receiver_limit_s if role == "receiver" else case.sender_limit_s
    address = E2SAR_OWN_IP_VAR if role == "receiver" else E2SAR_RECEIVER_VAR
    lines = [
        "#!/bin/sh",
        f"# meshperf e2sar {role} for {case.id} ({case.rate_gbps:g} Gbps). Generated from the stack; do not edit.",
        _E2SAR_PRELUDE,
        _required(address, "the receiver's own address" if role == "receiver" else "the receiver address"),
        _required(E2SAR_TOKEN_VAR, "the control plane's token (from its Secret)"),
        f"case ${E2SAR_TOKEN_VAR} in *[!A-Za-z0-9._~-]*)",
        f'    echo "[meshperf] {run_id}: {E2SAR_TOKEN_VAR} holds characters a URI cannot carry" >&2; exit 2 ;;',
        "esac",
        f"{URI_VAR}={_quote_with_var(e2sar_uri(case, f'${{{address}}}'))}",
        f"export {URI_VAR}",
    ]
    command = " ".join(_quote_with_var(w) for w in e2sar_command(case, role))
    lines += [
        f'echo "[meshperf] {run_id} start"',
        f'log="$LOGDIR/{run_id}.txt"',
        "start=$(now)",
        f'timeout {limit} {command} > "$log" 2>&1',
        "rc=$?",
        f'printf \'%s\\t%s\\t%s\\t%s\\t%s\\n\' {run_id} "$start" "$(now)" "$rc" 1 >> "$LOGDIR/{INDEX_NAME}"',
        f'echo "[meshperf] {run_id} exit=$rc"',
        f"tool_error=$(grep -E '{TOOL_ERROR_RE}' \"$log\" | tail -n 1)",
        'if [ -n "$tool_error" ]; then',
        f'    echo "[meshperf] {run_id} error: $tool_error"',
        f"    if [ -w {TERMINATION_LOG} ]; then printf '%s\\n' \"$tool_error\" > {TERMINATION_LOG}; fi",
        "fi",
    ]
    return "\n".join(lines) + "\n"
