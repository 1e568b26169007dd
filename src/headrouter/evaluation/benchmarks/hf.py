"""A Hugging Face ``datasets`` audio dataset on disk read into items: a folder written by ``save_to_disk``, a
``.parquet`` or ``.arrow`` file, or a folder of ``.parquet`` files.

``datasets`` is not a dependency of headrouter: it is imported here, and its absence is an ``ImportError`` that says
``pip install datasets``. Audio columns (the ``Audio`` feature) are read undecoded (``Audio(decode=False)``: the file's
bytes and its path; datasets' own decoder needs torchcodec), so headrouter's loader decodes them later: embedded bytes
are written once to ``audio_dir`` (``<id><suffix>``), paths are taken as they are (relative ones from the data's
folder). A plain string column of paths works too.

Columns: each item field is read from the first column of its list in :data:`COLUMNS` that the dataset has, or from
the column ``columns`` names for it. ``audio``, ``question`` and ``answer`` are needed; ``id`` defaults to the row
number, ``task`` to ``hf``, ``task_type`` to ``unknown``. Unless ``metric`` says otherwise (``wer`` for transcripts,
or a benchmark rule such as ``mmau``), a row with ``choices`` (a list) is scored by headrouter's ``choice`` rule (its
answer must be one of them) and any other by ``exact`` (normalised equality). Other columns JSON can hold go to
``extra``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from headrouter.evaluation.benchmarks.records import check_audio, extra_fields
from headrouter.evaluation.tasks.items import Item

logger = logging.getLogger("headrouter")

COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "uniq_id", "question_id"),
    "audio": ("audio", "audio_path", "path", "file"),
    "question": ("question", "instruction", "prompt", "query"),
    "answer": ("answer", "answer_gt", "target", "transcription", "text"),
    "choices": ("choices", "options"),
    "task": ("task", "category"),
    "task_type": ("task_type",),
    "domain": ("domain",),
}
"""Item field -> the column names tried, in order."""


def load(
    path: str | Path,
    *,
    audio_dir: str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    split: str | None = None,
    metric: str | None = None,
) -> list[Item]:
    """Items of the dataset at ``path`` (see the module doc). ``split`` picks a split of a saved ``DatasetDict``
    (needed when it has more than one). ``audio_dir`` is where embedded audio is written: ``ValueError`` if the
    dataset embeds audio and it is None. ``ValueError`` for a missing needed column (listing the dataset's), for a
    row that is not a valid item (naming the data and the row) and for missing audio files (listing them)."""
    path = Path(path)
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(COLUMNS))
    if unknown:
        raise ValueError(f"columns: unknown item field(s) {', '.join(unknown)}; known: {', '.join(COLUMNS)}")
    dataset = _dataset(path, split)
    names = _columns(dataset.column_names, columns, path)
    dataset = _undecoded(dataset, names["audio"])
    root = path if path.is_dir() else path.parent
    items, multi = [], 0
    for index, row in enumerate(dataset):
        audio = row[names["audio"]]
        if isinstance(audio, list):
            if len(audio) != 1:
                multi += 1
                continue
            audio = audio[0]
        try:
            items.append(_item(row, index, names, _audio_file(audio, row, index, names, root, audio_dir), metric))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: row {index}: not a valid item ({error})") from error
    if multi:
        logger.info("hf: left out %d rows with more than one clip (an item has one)", multi)
    if not items:
        raise ValueError(f"{path} holds no rows")
    check_audio(items, path)
    return items


def _datasets():
    try:
        import datasets
    except ImportError as error:
        raise ImportError("reading a Hugging Face dataset needs the datasets package: pip install datasets") from error
    return datasets


def _dataset(path: Path, split: str | None):
    """The ``datasets.Dataset`` at ``path``."""
    datasets = _datasets()
    import pyarrow.parquet as pq

    if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
        data = datasets.load_from_disk(str(path))
    elif path.is_dir():
        files = sorted(path.glob("*.parquet"))
        if not files:
            raise ValueError(f"{path}: neither a save_to_disk folder nor a folder of .parquet files")
        data = datasets.concatenate_datasets([datasets.Dataset(pq.read_table(f)) for f in files])
    elif path.suffix == ".parquet":
        data = datasets.Dataset(pq.read_table(path))
    elif path.suffix == ".arrow":
        data = datasets.Dataset.from_file(str(path))
    elif not path.exists():
        raise ValueError(f"dataset {path} not found")
    else:
        raise ValueError(f"{path}: expected a save_to_disk folder, a .parquet or .arrow file, or a folder of .parquet")
    if isinstance(data, datasets.DatasetDict):
        splits = list(data)
        if split is None and len(splits) == 1:
            split = splits[0]
        if split not in data:
            raise ValueError(f"{path} holds the splits {', '.join(splits)}: name one (split=..., or its folder)")
        data = data[split]
    return data


def _columns(available: list[str], chosen: dict[str, str], path: Path) -> dict[str, str | None]:
    """Item field -> column (None where an optional one is absent); ``ValueError`` for a needed one."""
    names: dict[str, str | None] = {}
    for field, candidates in COLUMNS.items():
        if field in chosen:
            if chosen[field] not in available:
                raise ValueError(f"{path}: no column {chosen[field]!r} (for {field}); columns: {', '.join(available)}")
            names[field] = chosen[field]
        else:
            names[field] = next((c for c in candidates if c in available), None)
    for field in ("audio", "question", "answer"):
        if names[field] is None:
            raise ValueError(
                f"{path}: no {field} column (tried {', '.join(COLUMNS[field])}); columns: {', '.join(available)}; "
                f"name it with columns={{'{field}': ...}} (--columns {field}=NAME)"
            )
    return names


def _undecoded(dataset, column: str):
    """``dataset`` with its ``Audio`` column read as bytes and path, not decoded."""
    datasets = _datasets()
    if isinstance(dataset.features.get(column), datasets.Audio):
        return dataset.cast_column(column, datasets.Audio(decode=False))
    return dataset


def _audio_file(audio: Any, row: dict, index: int, names: dict, root: Path, audio_dir: str | Path | None) -> Path:
    """The clip's file: its path (from ``root`` when relative), or its embedded bytes written to ``audio_dir``."""
    if isinstance(audio, str):
        return root / audio
    if not isinstance(audio, dict):
        raise TypeError(f"audio must be a path or an Audio feature's bytes and path, got {type(audio).__name__}")
    if audio.get("bytes") is None:
        if not audio.get("path"):
            raise ValueError("its audio has neither bytes nor a path")
        return root / audio["path"]
    if audio_dir is None:
        raise ValueError("the dataset embeds its audio: pass audio_dir, a folder to write the clips to")
    name = str(row[names["id"]]) if names["id"] else str(index)
    suffix = Path(audio.get("path") or "").suffix or ".wav"
    file = Path(audio_dir) / f"{''.join(c if c.isalnum() or c in '-_.' else '_' for c in name)}{suffix}"
    if not file.is_file() or file.stat().st_size != len(audio["bytes"]):
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(audio["bytes"])
    return file


def _item(row: dict, index: int, names: dict, audio: Path, metric: str | None) -> Item:
    def value(field: str, default: str | None = None):
        return row[names[field]] if names[field] and row[names[field]] is not None else default

    choices = value("choices")
    if choices is not None and not isinstance(choices, list):
        raise TypeError(f"choices must be a list, got {type(choices).__name__}")
    used = [c for c in names.values() if c]
    return Item(
        id=str(value("id", str(index))),
        audio=str(audio),
        question=str(value("question")),
        answer=str(value("answer")),
        task=str(value("task", "hf")),
        task_type=str(value("task_type", "unknown")),
        metric=metric or ("choice" if choices else "exact"),
        choices=[str(c) for c in choices] if choices else None,
        domain=value("domain"),
        extra=extra_fields(row, used),
    )
