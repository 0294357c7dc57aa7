"""E2SAR outputs written by hand from the formats in reference/e2sar.md (no e2sar_perf here).

Each constant is what one log holds: stdout and stderr together, as the runner (and the
seed's `2>&1 | tee`) keeps them.
"""

SENDER_014 = """\
E2SAR Version: 0.1.4
Control plane                OFF
Event rate reporting in Sync OFF
Using usecs as event numbers OFF
*** Make sure the URI reflects proper data address, other parts are ignored.
Sending bit rate is 0.1 Gbps
Event size is 512 bytes or 4096 bits
Event rate is 24414.1 Hz
Inter-event sleep time is 40 microseconds
Sending 10,000 event buffers
Using MTU 512
Completed, 10,000 frames sent, 0 errors
Stopping threads
"""

RECEIVER_014 = """\
Control plane will be OFF
Using Unassigned Threads
Will run for 300 sec
Receiving on ports 19522:19522
Stats:
\tEvents Received: 0
\tEvents Mangled: 0
\tEvents Lost: 0
\tData Errors: 0
\tgRPC Errors: 0
\tEvents lost so far:
Stats:
\tEvents Received: 9,871
\tEvents Mangled: 0
\tEvents Lost: 3
\tData Errors: 0
\tgRPC Errors: 0
\tEvents lost so far: 17:0 4211:0 9000:0
Completed
Stopping threads
Deregistering worker
"""

# 0.1.4, a sender that is not keeping up (the WARNING), and a receiver that lost events
# none of whose fragments arrived: E2SAR's own counter says 2, sent minus received says 1,200.
SENDER_014_WARNING = SENDER_014.replace(
    "Completed, 10,000 frames sent, 0 errors",
    "WARNING: Fewer frames than expected have been sent (9,500 of 10,000), sender is not keeping up with the "
    "requested send rate.\nCompleted, 9,500 frames sent, 0 errors",
)
RECEIVER_014_LOSS = RECEIVER_014.replace("Events Received: 9,871", "Events Received: 8,800").replace(
    "Events Lost: 3", "Events Lost: 2"
)

SENDER_03 = """\
E2SAR Version:                 0.3.1
Control plane:                 OFF
Event rate reporting in Sync:  OFF
Using usecs as event numbers:  OFF
Sending sockets/threads:       4
Using LB Header Version:       2
*** Make sure the URI reflects proper data address, other parts are ignored.
Sending average bit rate is:   1.5 Gbps (per-event sleep is based on average rate)
Inter-event sleep (usec) is:   2
Event size is 512 bytes or 4096 bits
Sending 1,000,000 event buffers
Using interface eth0
Using MTU 1500
Completed, 1,000,000 packets sent, 0 errors
Elapsed usecs: 2,834,112 microseconds
Estimated effective throughput (Gbps): 1.445
Estimated goodput (Gbps): 1.156
"""

RECEIVER_03 = """\
E2SAR Version:                 0.3.1
Control plane:                 OFF
Event reassembly timeout (ms): 500
Will run for:                  10 sec
Using IP address:              0.0.0.0
Receiving on ports:            19522:19525
12: [14:03:07.123456] {info} Stats:
\tTotal Bytes: 1,024,000
\tTotal Packets: 2,000
\tBad RE Header Discards: 0
\tEvents Received: 2,000
\tEvents Mangled: 0
\tEvents Lost in reassembly: 0
\tEvents Lost in enqueue: 0
\tData Errors: 0
\tgRPC Errors: 0
\tEvents lost so far (<Evt ID:Data ID/num frags rcvd>):
12: [14:03:08.123456] {info} Stats:
\tTotal Bytes: 508,416,000
\tTotal Packets: 993,000
\tBad RE Header Discards: 0
\tEvents Received: 992,990
\tEvents Mangled: 1
\tEvents Lost in reassembly: 4
\tEvents Lost in enqueue: 6
\tData Errors: 0
\tgRPC Errors: 0
\tEvents lost so far (<Evt ID:Data ID/num frags rcvd>): 11:0/1 12:0/1
Port Stats:\x20
\tPort: 19522 Received: 248,250
\tPort: 19523 Received: 248,250
\tPort: 19524 Received: 248,250
\tPort: 19525 Received: 248,250
\tTotal: 993,000
"""

# A failed run whose exit code was 0: the reassembler could not be made.
RECEIVER_03_FAILED = """\
E2SAR Version:                 0.3.1
Control plane:                 OFF
Receiving on ports:            19522:19522
Unable to create reassembler: unable to bind to port 19522: Address already in use
"""
SENDER_014_FAILED = """\
E2SAR Version: 0.1.4
Control plane                OFF
Sending bit rate is 0.1 Gbps
Event size is 512 bytes or 4096 bits
Sending 10000 event buffers
Using MTU 512
Segmenter encountered an error: E2SARErrorc::SocketError Unable to send
Completed, 12 frames sent, 9988 errors
Last error encountered: Network is unreachable
Stopping threads
"""
