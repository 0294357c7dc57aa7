"""The seed's CSV rows: which tool and path each of its 16 rows holds, and their labels.

The seed (the cluster-mesh netperf benchmark) orders its TCP rows by paths 1, 2, 3, 4, 6
(remote cluster), 5 (hairpin), and has no hairpin row for UDP and netperf. Its users read
that layout, so the row table is kept here once, for `Results.throughput()` and the CSV.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from spec.model import NetPath
from spec.plan import PATH_LABELS

SeedTool = Literal["iperf3_tcp", "iperf3_udp", "tcp_stream"]
LABEL_WIDTH = 45

_TOOL_WORDS: dict[SeedTool, str] = {
    "iperf3_tcp": "iperf TCP.",
    "iperf3_udp": "iperf UDP.",
    "tcp_stream": "netperf.",
}
_P = NetPath
_OTHER_ORDER = (_P.SAME_NODE_POD, _P.SAME_NODE_VIP, _P.REMOTE_NODE_POD, _P.REMOTE_NODE_VIP, _P.REMOTE_CLUSTER_POD)
_TCP_ORDER = (*_OTHER_ORDER, _P.HAIRPIN)


class SeedRow(BaseModel):
    """One row of the seed's CSV."""

    model_config = ConfigDict(frozen=True)

    number: int | None
    tool: SeedTool
    path: NetPath

    @property
    def label(self) -> str:
        """'1 iperf TCP. Same VM using Pod IP'; rows the seed lacks carry no number."""
        words = f"{_TOOL_WORDS[self.tool]} {PATH_LABELS[self.path]}"
        return words if self.number is None else f"{self.number} {words}"


def _rows() -> tuple[SeedRow, ...]:
    order: list[tuple[SeedTool, NetPath]] = [("iperf3_tcp", p) for p in _TCP_ORDER]
    order += [("iperf3_udp", p) for p in _OTHER_ORDER]
    order += [("tcp_stream", p) for p in _OTHER_ORDER]
    return tuple(SeedRow(number=n, tool=t, path=p) for n, (t, p) in enumerate(order, start=1))


SEED_ROWS: tuple[SeedRow, ...] = _rows()
# Measured by the plan but absent from the seed's CSV: reported under unnumbered labels.
EXTRA_ROWS: tuple[SeedRow, ...] = (
    SeedRow(number=None, tool="iperf3_udp", path=_P.HAIRPIN),
    SeedRow(number=None, tool="tcp_stream", path=_P.HAIRPIN),
)
