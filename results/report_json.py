"""Results as JSON: the model's own dump, so that `Results.model_validate_json` reads it back."""

from __future__ import annotations

from results.model import Results


def results_json(results: Results) -> str:
    return results.model_dump_json(indent=2) + "\n"
