"""Results: raw tool outputs in, figures, a Results model and reports out.

The middle is pure (text in, models out): `parse_output` reads one raw output, `collect`
turns a plan and a log folder's contents into `Results`, and the `report_*` modules render
them. Only `logs.read_log_folder` and `__main__` touch the file system. This package
imports `spec` and nothing else of the project, so both backends feed the same lines.
"""

from results.collect import collect
from results.detect import detect_tool, parse_output
from results.errors import UnknownOutputError
from results.figures import Figures, Latency
from results.logs import read_log_folder
from results.model import CaseResult, Results

__all__ = [
    "CaseResult",
    "Figures",
    "Latency",
    "Results",
    "UnknownOutputError",
    "collect",
    "detect_tool",
    "parse_output",
    "read_log_folder",
]
