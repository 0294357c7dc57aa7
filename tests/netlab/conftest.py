"""Lab tests run the real `python -m netlab` as root; `tests/conftest.py` checks they leave nothing."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def clean_machine() -> None:
    """The lab tests need root: network namespaces (what is left behind is checked for every test)."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root: network namespaces")
