"""`python -m results ARGS` run in this process: its `main()` with the command line, from the project
folder, stdout and stderr captured, argparse's exits caught. The same exit code and text as the
command gives, without a new interpreter importing scipy and matplotlib (seconds per call).
Each test module that uses it keeps one run of the real command, for the module's wiring.
"""

from __future__ import annotations

import contextlib
import io
import subprocess

from results_testkit import ROOT

from results.__main__ import main


def results_cli(*args: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's errors (exit 2) and --help
            code = 0 if exit_.code is None else exit_.code if isinstance(exit_.code, int) else 1
    return subprocess.CompletedProcess(["python", "-m", "results", *args], code, out.getvalue(), err.getvalue())
