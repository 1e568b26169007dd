"""Evaluation: the runner that answers items unpruned and pruned, the items and synthetic tasks, the report, and the
demo on the shipped model."""

from headrouter.evaluation.report import write_report
from headrouter.evaluation.runner import evaluate, load_items

__all__ = ["evaluate", "load_items", "write_report"]
