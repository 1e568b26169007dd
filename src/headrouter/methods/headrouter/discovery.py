"""Finding a HeadRouter head table for a model nobody named one for, so ``wrap(model, keep_ratio=0.7)`` needs no setup.

Two places are looked at, most specific first:

1. beside the checkpoint: ``head_table.json`` + ``head_table.safetensors`` in the directory the model was loaded from
   (``model.config._name_or_path``), where ``headrouter calibrate --model DIR --builtin --out DIR`` writes them;
2. the table shipped with headrouter (``assets/head_table``), which fits the shipped proving-ground model only.

A table is used only if it fits: it records the decoder's config hash (:func:`~.table.config_hash`) and it equals the
model's, it was calibrated on a model class of the model's family, and its layers and heads match. A table that is
found but does not fit is never used; it is named, with the reason, in the one WARNING that also says how to
calibrate. The table used is logged at INFO with its directory.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from headrouter.adapters import ModelAdapter
from headrouter.methods.headrouter.table import META_FILE, TENSORS_FILE, HeadTable, config_hash

logger = logging.getLogger("headrouter")

SHIPPED_TABLE = Path(__file__).resolve().parents[2] / "assets" / "head_table"
"""The head table calibrated on the shipped proving-ground model."""


def checkpoint_dir(model) -> Path | None:
    """The local directory ``model`` was loaded from (``config._name_or_path``), or None (built from a config, or
    loaded by a hub name that is not a local directory)."""
    name = getattr(getattr(model, "config", None), "_name_or_path", "") or ""
    path = Path(name) if name else None
    return path if path is not None and path.is_dir() else None


def calibrate_command(model) -> str:
    """The command that writes a table where :func:`find_table` looks for it first."""
    where = checkpoint_dir(model)
    directory = str(where) if where is not None else "CHECKPOINT_DIR"
    return f"headrouter calibrate --model {directory} --builtin --out {directory}"


def misfit(directory: Path, adapter: ModelAdapter) -> str | None:
    """Why the table in ``directory`` does not fit ``adapter``'s model (None if it fits); only its JSON is read."""
    try:
        meta = json.loads((directory / META_FILE).read_text())
    except (OSError, json.JSONDecodeError) as error:
        return f"its metadata does not read ({type(error).__name__}: {error})"
    if not isinstance(meta, dict) or meta.get("config_hash") is None:
        return "it records no config hash, so which model it describes is unknown"
    model_class = meta.get("model_class")
    if model_class not in type(adapter).model_classes:
        return f"it was calibrated on a {model_class}, not a model of {', '.join(type(adapter).model_classes)}"
    shape = (meta.get("num_layers"), meta.get("num_heads"))
    if shape != (adapter.num_layers, adapter.num_heads):
        return (
            f"it has {shape[0]} layers x {shape[1]} heads, the model {adapter.num_layers} layers x "
            f"{adapter.num_heads} heads"
        )
    actual = config_hash(adapter.text_config)
    if meta["config_hash"] != actual:
        return f"its decoder config hash is {meta['config_hash']}, the model's is {actual} (another architecture)"
    return None


def find_table(model, adapter: ModelAdapter) -> HeadTable | None:
    """The head table that fits ``model`` (beside its checkpoint, else the shipped one), or None after one WARNING
    that names every table found and ignored and the command that calibrates one."""
    beside = checkpoint_dir(model)
    places = [("beside the checkpoint", beside)] if beside is not None else []
    places.append(("shipped with headrouter", SHIPPED_TABLE))
    ignored = []
    for label, directory in places:
        if not ((directory / META_FILE).is_file() and (directory / TENSORS_FILE).is_file()):
            continue
        reason = misfit(directory, adapter)
        if reason is None:
            table = HeadTable.from_pretrained(directory)
            logger.info("headrouter: using the head table %s (%s)", directory, label)
            return table
        if label != "shipped with headrouter":  # the shipped table misfits every other model: not worth a word
            ignored.append(f"ignored the table in {directory}: {reason}; ")
    logger.warning(
        "headrouter: %sno head table fits this %s, so heads are weighted by each input's own selectivity (table-free "
        "mode). Calibrate a table (no data needed) with: %s",
        "".join(ignored),
        type(adapter.model).__name__,
        calibrate_command(model),
    )
    return None
