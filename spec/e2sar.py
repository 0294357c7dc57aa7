"""The E2SAR suite: the seed's UDP sender/receiver test (`e2sar_perf`), declared in the stack.

Every parameter of the seed (MTU, RATE, LENGTH, NUM_EVENTS, BUF_SIZE, DIRECT_MODE,
DURATION, PORT, THREADS) is a key here with the seed's default. Sender and receiver are
workloads of the stack (placed by node labels); by default on different nodes. Checks that
need the whole stack (placement, path MTU across clusters, ports shared with the netperf
servers) are in `check_e2sar`, which the Stack's validator calls.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from spec.base import Bool, Float, Int, Name, Strict

SEED_IMAGE = "jlabtsai/e2sar-container:latest"  # E2SAR 0.1.4
LB_AND_RE_HEADERS = 64  # IPv4 20 + UDP 8 + LB header 16 + RE header 20: what an MTU leaves for event data
MIN_START_S = 1  # the least a receiver must outlast the send time by: the sender has to start
BUFFER_WINDOW_S = 0.05  # socket buffers hold this much of the rate (a seed's 32 KB at 0.1 Gbps holds 2.6 ms)
BUFFER_MAX = 256 * 2**20
MAX_PORT = 65535

Version = Literal["0.1.4", "0.3.x"]
# The control plane's token is a secret: never in the stack's plain keys, the plan or a script.
# Pulumi reads it from this secret config key into a Kubernetes Secret (the pods' env); the lab
# from TOKEN_ENV of its own process. Without either, the seed's placeholder (direct mode ignores it).
TOKEN_KEY = "e2sar_token"
TOKEN_ENV = "MESHPERF_E2SAR_TOKEN"
DEFAULT_TOKEN = "useless"
TOKEN_RE = re.compile(r"^[A-Za-z0-9._~-]+$")  # what a URI's user part carries as it is
TOKEN_HINT = f"pulumi config set --secret meshperf:{TOKEN_KEY} TOKEN (the lab: {TOKEN_ENV}=TOKEN)"


def token_problem(token: str) -> str | None:
    """Why a token cannot go into the URI (never quoting it), or None."""
    return None if TOKEN_RE.match(token) else "holds characters other than A-Z a-z 0-9 . _ ~ -"


class ControlPlane(Strict):
    """The URI's control-plane parts: ignored in direct mode (0.1.4 still wants them present).

    The token is not one of them: see TOKEN_KEY."""

    address: ipaddress.IPv4Address = ipaddress.IPv4Address("10.10.10.10")
    """The control plane's address."""
    port: Annotated[Int, Field(ge=1, le=MAX_PORT)] = 1234
    """The control plane's port."""
    lb_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")] = "1"
    """The load balancer's id."""
    sync_address: ipaddress.IPv4Address = ipaddress.IPv4Address("192.168.77.7")
    """The sync address."""
    sync_port: Annotated[Int, Field(ge=1, le=MAX_PORT)] = 1234
    """The sync port."""

    @model_validator(mode="before")
    @classmethod
    def _no_token(cls, data: object) -> object:
        if isinstance(data, dict) and "token" in data:
            raise ValueError(f"token: a secret, not a stack key: {TOKEN_HINT}")
        return data


class E2sarSuite(Strict):
    """`meshperf:suites.e2sar`: one receiver+sender pair per rate."""

    enabled: Bool = False
    """Run the E2SAR suite."""
    image: str = SEED_IMAGE
    """The image the sender and receiver run (the seed's is E2SAR 0.1.4)."""
    version: Version = "0.1.4"
    """The E2SAR version of `image`: `0.1.4` for the seed's image, `0.3.x` for the newer one."""
    sender: Name = "w3"
    """The workload that sends."""
    receiver: Name = "w2"
    """The workload that receives."""
    allow_same_node: Bool = False
    """Allow the sender and the receiver on one node."""
    mtu: Annotated[Int, Field(ge=0, le=9000)] = 512
    """The seed's MTU, in bytes (0: auto-detect, E2SAR 0.3.x only); at most the path's MTU."""
    rate_gbps: Annotated[Float, Field(gt=0, le=400)] = 0.1
    """The seed's RATE: the send rate, in Gbit/s."""
    rates_gbps: list[Annotated[Float, Field(gt=0, le=400)]] | None = None
    """Rates to sweep loss against, in Gbit/s, instead of `rate_gbps`."""
    length: Annotated[Int, Field(ge=1, le=2**30)] = 512
    """The seed's LENGTH: the event size, in bytes."""
    num_events: Annotated[Int, Field(ge=1)] = 10000
    """The seed's NUM_EVENTS: events sent per rate."""
    buf_size: Annotated[Int, Field(ge=1024, le=BUFFER_MAX)] = 32768
    """The seed's BUF_SIZE: the socket buffer, in bytes."""
    size_buffers_from_rate: Bool = True
    """Raise the socket buffers to hold 50 ms of the rate (at most 256 MiB)."""
    direct_mode: Bool = True
    """The seed's DIRECT_MODE: no control plane."""
    duration_s: Annotated[Int, Field(ge=1, le=86400)] = 300
    """The seed's DURATION, in seconds: at least the send time plus 1 s."""
    port: Annotated[Int, Field(ge=1024, le=MAX_PORT)] = 19522
    """The seed's PORT: the receiver's first UDP port."""
    threads: Annotated[Int, Field(ge=1, le=128)] = 1
    """The seed's THREADS: the receiver binds 2^ceil(log2(THREADS)) UDP ports from `port`."""
    pod_mtu: Annotated[Int, Field(ge=576, le=9000)] = 1500
    """The pod network's MTU, which `mtu` must not exceed."""
    control_plane: ControlPlane = ControlPlane()
    """The URI's control-plane parts."""
    network_policies: Literal["exempt", "enforced"] = "exempt"
    """Whether NetworkPolicies select the E2SAR pods. On kind (kube-network-policies) every datagram of a selected pod's
    one-way UDP crosses a userspace queue, so the loss would partly measure the policy engine: by default the pairs run
    outside every policy.
    """

    @field_validator("rates_gbps")
    @classmethod
    def _rates(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            if not v:
                raise ValueError("give at least one rate, or leave rates_gbps out")
            if len({rate_label(r) for r in v}) != len(v):
                raise ValueError("rates repeat")
        return v

    @model_validator(mode="after")
    def _possible(self) -> E2sarSuite:
        if self.mtu == 0 and self.version == "0.1.4":
            raise ValueError("mtu: 0 (auto-detect) needs E2SAR 0.3.x; 0.1.4 takes a fixed MTU")
        if 0 < self.mtu <= LB_AND_RE_HEADERS:
            raise ValueError(f"mtu: {self.mtu} leaves no room for data after {LB_AND_RE_HEADERS} bytes of headers")
        last = self.port + receiver_port_count(self.threads) - 1
        if last > MAX_PORT:
            raise ValueError(
                f"threads: {self.threads} threads need {receiver_port_count(self.threads)} UDP ports from "
                f"{self.port}, past {MAX_PORT}"
            )
        for rate in self.rates():
            need = self.send_seconds(rate)
            if self.duration_s < need + MIN_START_S:
                raise ValueError(
                    f"duration_s: {self.duration_s} s is shorter than sending {self.num_events} events of "
                    f"{self.length} bytes at {rate:g} Gbps ({need:.1f} s) plus {MIN_START_S} s to start"
                )
        return self

    def rates(self) -> list[float]:
        """The rates to run, in order: the sweep, or RATE alone."""
        return list(self.rates_gbps) if self.rates_gbps else [self.rate_gbps]

    def send_seconds(self, rate_gbps: float) -> float:
        """How long the sender takes at a rate: events x length x 8 bits / rate."""
        return self.num_events * self.length * 8 / (rate_gbps * 1e9)

    def port_range(self) -> tuple[int, int]:
        """The receiver's UDP ports, first and last."""
        return self.port, self.port + receiver_port_count(self.threads) - 1

    def buffer_bytes(self, rate_gbps: float) -> int:
        """Socket buffer (-b) for a rate: BUF_SIZE, raised to hold BUFFER_WINDOW_S of the rate unless told not to."""
        if not self.size_buffers_from_rate:
            return self.buf_size
        return min(BUFFER_MAX, max(self.buf_size, int(rate_gbps * 1e9 / 8 * BUFFER_WINDOW_S)))


def receiver_port_count(threads: int) -> int:
    """E2SAR's receiver binds 2^ceil(log2(THREADS)) consecutive UDP ports."""
    return 1 if threads <= 1 else 2 ** math.ceil(math.log2(threads))


def rate_label(rate_gbps: float) -> str:
    """A rate as a name part: 0.1 -> '100m', 2.5 -> '2500m', 0.0005 -> '0p5m' (Mbit/s)."""
    return f"{round(rate_gbps * 1000, 6):g}".replace(".", "p") + "m"
