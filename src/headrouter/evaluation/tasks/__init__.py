"""Synthetic listening tasks and the evaluation item format."""

from headrouter.evaluation.tasks.generator import TASKS, Example, TaskSpec, generate, make_example
from headrouter.evaluation.tasks.items import Item, format_prompt, read_items, score, write_items

__all__ = [
    "TASKS",
    "Example",
    "Item",
    "TaskSpec",
    "format_prompt",
    "generate",
    "make_example",
    "read_items",
    "score",
    "write_items",
]
