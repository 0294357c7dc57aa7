"""Building blocks shared by the stack's models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

NAME_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
Name = Annotated[str, Field(pattern=NAME_RE, max_length=40)]


class Strict(BaseModel):
    """Unknown keys are typos in a stack file: refuse them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
