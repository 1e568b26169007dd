"""The head table the benchmark's headrouter method runs with: a given one, or one calibrated on the benchmark's own
prompts, so that the timed path is the calibrated one (routing, mixed head weights, debiasing), not the table-free
fallback. A random-weight model's table carries no meaning; its cost does not depend on its values."""

from __future__ import annotations

from torch import nn

from headrouter.bench.model import make_inputs
from headrouter.bench.settings import BenchSettings
from headrouter.methods.headrouter.calibration import DEFAULT_TASKS, calibrate_inputs
from headrouter.methods.headrouter.table import HeadTable

CALIBRATION_TOKENS = 750
"""Audio tokens of each calibration prompt (at most the shortest benchmarked length): the table's positional prior
is binned relative to the audio's length, so a short prompt calibrates a table for every length."""


def bench_table(model: nn.Module, settings: BenchSettings) -> tuple[HeadTable, dict]:
    """The table for ``settings`` (``settings.table``, or calibrated on one benchmark prompt per task type of
    :data:`DEFAULT_TASKS`, seeds after the benchmark's) and a description of where it came from."""
    if settings.table is not None:
        return HeadTable.from_pretrained(settings.table), {"source": f"table {settings.table}"}
    tokens = min(CALIBRATION_TOKENS, *settings.lengths)
    inputs = [
        (make_inputs(model, tokens, settings.seed + 1 + i, features=settings.with_audio_tower), task_type)
        for i, task_type in enumerate(DEFAULT_TASKS)
    ]
    table = calibrate_inputs(model, inputs)
    source = f"calibrated on the benchmark's prompts ({len(inputs)} prompts of {tokens} audio tokens)"
    return table, {"source": source, "tasks": table.tasks}
