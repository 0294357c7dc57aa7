#!/bin/bash
# Re-capture the real iperf3 / netperf / ss outputs that tests/results parse.
#
# Why: parsers tested on outputs typed from memory test the memory, not the tools. This
# script runs the real tools between two fresh network namespaces joined by a veth pair
# (no link to the machine's own namespace, 10.250.0.0/24 inside only) and saves each raw
# output under tests/results/data/ (or the folder given as $1), named for what it holds.
#
# Needs root, iperf3, netperf/netserver, iproute2 (ip, ss, tc). Every process it starts is
# killed by pid and both namespaces are removed on every exit path.
set -euo pipefail

OUT=${1:-"$(cd "$(dirname "$0")" && pwd)/data"}
mkdir -p "$OUT"
TAG=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
SRV="mpcap-$TAG-srv"
CLI="mpcap-$TAG-cli"
VS="mpc${TAG}s"   # veth names must stay within 15 characters
VC="mpc${TAG}c"
SRV_IP=10.250.0.1
CLI_IP=10.250.0.2
SRV_IP6=fd00:250::1   # ULA, inside the two namespaces only
CLI_IP6=fd00:250::2
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    ip netns del "$CLI" 2>/dev/null || true
    ip netns del "$SRV" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_srv() { ip netns exec "$SRV" "$@"; }
in_cli() { ip netns exec "$CLI" "$@"; }

# bg_srv CMD...: start CMD in the server namespace in the background; its pid is in $LAST.
# ip netns exec execs the tool, so $! is the tool's own pid (a shell function in between would
# fork a subshell whose death leaves the tool running).
bg_srv() {
    ip netns exec "$SRV" "$@" >/dev/null 2>&1 &
    LAST=$!
    PIDS+=("$LAST")
}

# capture NAME EXT CMD...: run CMD in the client namespace; stdout -> NAME.EXT, stderr ->
# NAME.err when there is any, exit status -> NAME.rc (like the runner, which indexes it).
capture() {
    local name=$1 ext=$2 rc=0
    shift 2
    in_cli "$@" >"$OUT/$name.$ext" 2>"$OUT/$name.err" || rc=$?
    [ -s "$OUT/$name.err" ] || rm -f "$OUT/$name.err"
    echo "$rc" >"$OUT/$name.rc"
    echo "captured $name.$ext (exit $rc)"
}

# snapshot NAME PORT: the client's established sockets to PORT, a second into a test,
# with the same ss command line the runner uses.
snapshot() {
    (sleep 1; in_cli ss -tni state established "( dport = :$2 )" >"$OUT/$1.ss" 2>&1) &
    SNAP=$!
    PIDS+=("$SNAP")
}

wait_port() {  # wait_port PORT: until something listens on PORT in the server namespace
    local i
    for i in $(seq 1 50); do
        in_srv ss -ltn "( sport = :$1 )" | grep -q LISTEN && return 0
        sleep 0.1
    done
    echo "nothing listens on $1" >&2
    return 1
}

ip netns add "$SRV"
ip netns add "$CLI"
# Both ends are created inside their namespaces: the pair never exists in the machine's.
ip link add "$VS" netns "$SRV" type veth peer name "$VC" netns "$CLI"
in_srv ip addr add "$SRV_IP/24" dev "$VS"
in_cli ip addr add "$CLI_IP/24" dev "$VC"
for ns in "$SRV" "$CLI"; do ip -n "$ns" link set lo up; done
in_srv ip link set "$VS" up
in_cli ip link set "$VC" up

bg_srv iperf3 -s -p 5201
bg_srv netserver -D -p 12865 -4
bg_srv netserver -D -p 12867 -6   # IPv6 (its :: socket), as the servers of an IPv6 or dual-stack cluster
wait_port 5201
wait_port 12865
wait_port 12867

# iperf3 TCP with the MSS asked (-M), and the sockets in use during the test.
for mss in 536 1376; do
    snapshot "iperf3-3.12-tcp-mss$mss" 5201
    capture "iperf3-3.12-tcp-mss$mss" json iperf3 -c "$SRV_IP" -p 5201 -J -t 2 -M "$mss"
    wait "$SNAP"
done
# A smaller path MTU than the MSS asked: the kernel uses less (ss shows it, iperf3 does not).
in_srv ip link set "$VS" mtu 1000
in_cli ip link set "$VC" mtu 1000
snapshot "iperf3-3.12-tcp-mss1376-mtu1000" 5201
capture "iperf3-3.12-tcp-mss1376-mtu1000" json iperf3 -c "$SRV_IP" -p 5201 -J -t 2 -M 1376
wait "$SNAP"
in_srv ip link set "$VS" mtu 1500
in_cli ip link set "$VC" mtu 1500

# iperf3 UDP: a paced rate and an unlimited one (-b 0, which loses packets).
capture iperf3-3.12-udp-100M-len1400 json iperf3 -c "$SRV_IP" -p 5201 -J -t 2 -u -b 100M -l 1400
capture iperf3-3.12-udp-unlimited-len1400 json iperf3 -c "$SRV_IP" -p 5201 -J -t 2 -u -b 0 -l 1400

# iperf3 failures: nothing listens; the server is stopped mid-test (exit 0, "error" set).
capture iperf3-3.12-refused json iperf3 -c "$SRV_IP" -p 5299 -J -t 2
bg_srv iperf3 -s -p 5202
victim=$LAST
wait_port 5202
(sleep 2; kill -TERM "$victim" 2>/dev/null || true) &
PIDS+=("$!")
capture iperf3-3.12-server-terminated json iperf3 -c "$SRV_IP" -p 5202 -J -t 6

# netperf TCP_STREAM: classic table, omni -k (the runner's form) in three units.
capture netperf-2.7-tcp-stream-classic txt netperf -H "$SRV_IP" -p 12865 -t TCP_STREAM -l 2 -4
capture netperf-2.7-tcp-stream-keyval txt netperf -H "$SRV_IP" -p 12865 -t TCP_STREAM -l 2 -4 \
    -- -P ,12866 -k THROUGHPUT,THROUGHPUT_UNITS,LOCAL_SEND_SIZE,ELAPSED_TIME
capture netperf-2.7-tcp-stream-keyval-gbits txt netperf -H "$SRV_IP" -p 12865 -t TCP_STREAM -l 2 -4 -f g \
    -- -P ,12866 -k THROUGHPUT,THROUGHPUT_UNITS,LOCAL_SEND_SIZE,ELAPSED_TIME
capture netperf-2.7-tcp-stream-csv txt netperf -H "$SRV_IP" -p 12865 -t TCP_STREAM -l 2 -4 \
    -- -P ,12866 -o THROUGHPUT,THROUGHPUT_UNITS,LOCAL_SEND_SIZE,ELAPSED_TIME

# netperf TCP_RR: classic table, omni -k latencies (the runner's form), omni -o CSV.
RR_KEYS=MIN_LATENCY,MEAN_LATENCY,P50_LATENCY,P90_LATENCY,P99_LATENCY,MAX_LATENCY,TRANSACTION_RATE
capture netperf-2.7-tcp-rr-classic txt netperf -H "$SRV_IP" -p 12865 -t TCP_RR -l 2 -4
capture netperf-2.7-tcp-rr-keyval txt netperf -H "$SRV_IP" -p 12865 -t TCP_RR -l 2 -4 -- -P ,12866 -k "$RR_KEYS"
capture netperf-2.7-tcp-rr-csv txt netperf -H "$SRV_IP" -p 12865 -t TCP_RR -l 2 -4 -- -P ,12866 -o "$RR_KEYS"

# netperf TCP_CRR and UDP_RR (the runner's form: latency percentiles and rate), and UDP_STREAM
# with the receiver's figures beside the sender's (-R 1: netperf's UDP tests do not route otherwise).
capture netperf-2.7-tcp-crr-keyval txt netperf -H "$SRV_IP" -p 12865 -t TCP_CRR -l 2 -4 -- -P ,12866 -k "$RR_KEYS"
capture netperf-2.7-udp-rr-keyval txt netperf -H "$SRV_IP" -p 12865 -t UDP_RR -l 2 -4 -- -P ,12866 -R 1 -k "$RR_KEYS"
UDP_STREAM_KEYS=THROUGHPUT,THROUGHPUT_UNITS,LOCAL_SEND_THROUGHPUT,REMOTE_RECV_THROUGHPUT,LOCAL_SEND_SIZE
UDP_STREAM_KEYS=$UDP_STREAM_KEYS,LOCAL_SEND_CALLS,REMOTE_RECV_CALLS,ELAPSED_TIME
capture netperf-2.7-udp-stream-keyval txt netperf -H "$SRV_IP" -p 12865 -t UDP_STREAM -l 2 -4 \
    -- -P ,12866 -R 1 -m 1422 -k "$UDP_STREAM_KEYS"
capture netperf-2.7-udp-stream-classic txt netperf -H "$SRV_IP" -p 12865 -t UDP_STREAM -l 2 -4 -- -R 1 -m 1422

# iperf3 parallel streams (-P 4): per-stream figures in end.streams, every data socket in ss.
snapshot iperf3-3.12-tcp-mss1376-streams4 5201
capture iperf3-3.12-tcp-mss1376-streams4 json iperf3 -c "$SRV_IP" -p 5201 -J -t 2 -P 4 -M 1376
wait "$SNAP"
capture iperf3-3.12-udp-unlimited-len1422-streams4 json iperf3 -c "$SRV_IP" -p 5201 -J -t 2 -P 4 -u -b 0 -l 1422
# The UDP datagram-size sweep's smallest point.
capture iperf3-3.12-udp-unlimited-len96 json iperf3 -c "$SRV_IP" -p 5201 -J -t 2 -u -b 0 -l 96

# netperf failure: no netserver on the control port.
capture netperf-2.7-no-netserver txt netperf -H "$SRV_IP" -p 12999 -t TCP_STREAM -l 2 -4 \
    -- -P ,12866 -k THROUGHPUT,THROUGHPUT_UNITS

# A slow link (tbf 50mbit on the client's egress): throughput well under 100 Mbit/s.
in_cli tc qdisc add dev "$VC" root tbf rate 50mbit burst 32kbit latency 400ms
capture netperf-2.7-tcp-stream-classic-tbf50mbit txt netperf -H "$SRV_IP" -p 12865 -t TCP_STREAM -l 3 -4
capture netperf-2.7-tcp-stream-keyval-kbits-tbf50mbit txt netperf -H "$SRV_IP" -p 12865 -t TCP_STREAM -l 3 -4 \
    -f k -- -P ,12866 -k THROUGHPUT,THROUGHPUT_UNITS,LOCAL_SEND_SIZE,ELAPSED_TIME
in_cli tc qdisc del dev "$VC" root

# IPv6, in the runner's forms (iperf3 -6, netperf -6): the same parsers, IPv6 addresses in the outputs.
# The addresses come here, after the MTU test above: a link whose MTU drops below 1280 loses its IPv6
# addresses. nodad: usable at once (no duplicate address detection to wait for).
in_srv ip -6 addr add "$SRV_IP6/64" dev "$VS" nodad
in_cli ip -6 addr add "$CLI_IP6/64" dev "$VC" nodad
snapshot iperf3-3.12-tcp-mss1376-ipv6 5201
capture iperf3-3.12-tcp-mss1376-ipv6 json iperf3 -c "$SRV_IP6" -6 -p 5201 -J -t 2 -M 1376
wait "$SNAP"
capture iperf3-3.12-udp-unlimited-len1400-ipv6 json iperf3 -c "$SRV_IP6" -6 -p 5201 -J -t 2 -u -b 0 -l 1400
capture netperf-2.7-tcp-stream-keyval-ipv6 txt netperf -H "$SRV_IP6" -p 12867 -t TCP_STREAM -l 2 -6 \
    -- -P ,12868 -k THROUGHPUT,THROUGHPUT_UNITS,LOCAL_SEND_SIZE,ELAPSED_TIME
capture netperf-2.7-tcp-stream-classic-ipv6 txt netperf -H "$SRV_IP6" -p 12867 -t TCP_STREAM -l 2 -6
capture netperf-2.7-tcp-rr-keyval-ipv6 txt netperf -H "$SRV_IP6" -p 12867 -t TCP_RR -l 2 -6 -- -P ,12868 -k "$RR_KEYS"
capture netperf-2.7-tcp-crr-keyval-ipv6 txt netperf -H "$SRV_IP6" -p 12867 -t TCP_CRR -l 2 -6 -- -P ,12868 -k "$RR_KEYS"
capture netperf-2.7-udp-rr-keyval-ipv6 txt netperf -H "$SRV_IP6" -p 12867 -t UDP_RR -l 2 -6 \
    -- -P ,12868 -R 1 -k "$RR_KEYS"
capture netperf-2.7-udp-stream-keyval-ipv6 txt netperf -H "$SRV_IP6" -p 12867 -t UDP_STREAM -l 2 -6 \
    -- -P ,12868 -R 1 -m 1422 -k "$UDP_STREAM_KEYS"
# IPv4 against netserver -6 (a dual-stack cluster's servers): its :: socket takes IPv4 as well.
capture netperf-2.7-tcp-rr-keyval-ipv4-to-netserver6 txt netperf -H "$SRV_IP" -p 12867 -t TCP_RR -l 2 -4 \
    -- -P ,12868 -k "$RR_KEYS"
# Without -6, netperf 2.7 takes an IPv6 target for a host name and fails (why the runner passes it).
capture netperf-2.7-ipv6-without-family txt netperf -H "$SRV_IP6" -p 12867 -t TCP_RR -l 2 -4 -- -k "$RR_KEYS"

{
    echo "iperf3: $(iperf3 --version 2>&1 | head -n1)"
    echo "netperf: $(netperf -V 2>&1 | head -n1)"
    echo "kernel: $(uname -r)"
    echo "captured: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$OUT/VERSIONS.txt"
echo "done: $OUT"
