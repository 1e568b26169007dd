"""Evaluation: answer items unpruned and with every (method, keep ratio), score them, and summarise.

For each batch of items (in file order): load the audio (:func:`headrouter.audio.load_audio`) at the processor's
sampling rate, build the prompt with the processor's chat template (user turn: the audio, then
:func:`~.tasks.items.format_prompt`), and generate greedily once unpruned, then once per method and keep
ratio inside :func:`headrouter.pruning`. The answers (new tokens, special tokens skipped) are scored with
:func:`~.tasks.items.score`. The settings of one item run back to back, in an order that rotates from
item to item, so slow periods of a shared machine and whatever the previous call left in caches hit every setting
alike.

Figures, per task, per task family (``task_type``) and overall, per setting:

- **score**, higher is better, in [0, 1]: accuracy for ``choice``/``exact`` items, ``max(0, 1 - WER)`` for ``wer``
  items (mean WER is reported beside it). A family's or the overall score is the mean of its tasks' scores.
- **percent of unpruned**: score / unpruned score x 100 on the same items (None where the unpruned score is 0),
  with a 95% bootstrap interval over items, paired across settings (:mod:`.bootstrap`); the score has one too.
- **audio tokens** before and after pruning, mean per item, from the router's records.
- **prefill ms**, mean per item: wall time of the first forward call of the generating module (the thinker of a
  Qwen2.5-Omni) inside ``generate`` (the audio encoder, the decoder on the whole prompt with capture, scoring and
  selection, and the LM head), taken with forward hooks on that module: no extra passes. A batch's time is shared
  equally by its items. One untimed warm-up generation per setting precedes the first timed one.
- **routed to own type** (settings whose method reports a ``task_mixture`` detail, i.e. ``headrouter`` with a table;
  else None): the share of items whose routed task mixture leans most to the item's own ``task_type``; meaningful
  when the table's task types are the items' task types.

Each prediction row keeps the per-item ``details`` its method reports (``ScoringMethod.reports``: the task mixture,
DART's pivots). No method is treated by name: a method declares whether it uses a head table and what it reports.
It also keeps the item's ``domain`` and ``extra`` fields and, for an item scored by a benchmark's rule, the answer the
rule read out of the prediction (``reading``). An item's own ``max_new_tokens`` (a benchmark's answer length) replaces
the run's for that item; a batch generates to its longest item's limit and each answer is cut to its own (greedy
tokens do not depend on later ones, so this is the answer the item's limit gives).

Resumable runs: with a ``journal`` file, every prediction row is appended to it as soon as its (batch, setting) is
answered, and an (item, method, keep ratio) cell already there is not answered again. A run stopped by a crash or
Ctrl-C keeps what was done; the same call again answers only what is missing (also after methods or keep ratios are
added). The journal's first line records the settings the rows depend on, a fingerprint of the model's weights
among them (:func:`~.journal.weights_fingerprint`: a model retrained in the same folder does not inherit the old
one's answers); a journal of other settings is refused.

Nothing here prints; :mod:`headrouter.cli` and :mod:`headrouter.evaluation.report` format the results.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from headrouter.adapters import ModelAdapter, adapter_for
from headrouter.api import pruning
from headrouter.audio import load_audio, require_audio_tokens
from headrouter.config import DEFAULT_KEEP_RATIOS, DEFAULT_PRUNE_LAYER, PruningConfig
from headrouter.engine.pruner import Pruner
from headrouter.evaluation.arguments import MethodRun, check_arguments, method_runs, method_specs, ratios
from headrouter.evaluation.journal import FINGERPRINT, Journal, weights_fingerprint
from headrouter.evaluation.summary import UNPRUNED, Setting, summarize
from headrouter.evaluation.tasks.items import Item, format_prompt, judge, read_items
from headrouter.machine import machine_info
from headrouter.methods import ScoringMethod
from headrouter.methods.headrouter.table import HeadTable
from headrouter.timing import PrefillClock

logger = logging.getLogger("headrouter")

SCHEMA = "headrouter-eval/1"
DEFAULT_MAX_NEW_TOKENS = 16


def item_score(item: Item, prediction: str) -> tuple[float, float]:
    """``(score, raw)`` of :func:`~.tasks.items.judge`: ``raw`` is :func:`~.tasks.items.score` (WER for ``wer``
    items); ``score`` is the higher-is-better value that is averaged and compared: ``raw`` itself, or
    ``max(0, 1 - WER)``, or a benchmark rule's own."""
    value, raw, _ = judge(item, prediction)
    return value, raw


def load_items(path: str | Path, limit: int | None = None) -> list[Item]:
    """Items of a JSON-lines file (:func:`~.tasks.items.read_items`), the first ``limit`` if given."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"items file {path} not found")
    items = read_items(path)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        items = items[:limit]
    if not items:
        raise ValueError(f"{path} holds no items")
    return items


def check_checkpoint(model_dir: str | Path, prune_layer: int, table: HeadTable | None = None) -> None:
    """Check ``prune_layer`` and ``table`` against the checkpoint's config.json, without loading its weights, so
    that a typo fails in a second rather than after the model has loaded: ``ValueError`` for a prune layer outside
    the decoder or a table of another shape or architecture, ``FileNotFoundError`` for a missing config.json."""
    from transformers import AutoConfig

    config_file = Path(model_dir) / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} not found: the model must be a local checkpoint directory")
    config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    text_config = config.get_text_config(decoder=True)
    PruningConfig(prune_layer=prune_layer).check_layers(text_config.num_hidden_layers)
    if table is not None:
        table.check_shape(text_config.num_hidden_layers, text_config.num_attention_heads)
        table.check_config(text_config, f"{type(config).__name__} checkpoint {model_dir}")


@dataclass
class _Batch:
    items: list[Item]
    inputs: dict
    audio_tokens: list[int]


def evaluate(
    model: nn.Module,
    processor,
    items: Sequence[Item],
    methods: Sequence[str],
    keep_ratios: Sequence[float] = DEFAULT_KEEP_RATIOS,
    *,
    table: HeadTable | str | Path | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    batch_size: int = 1,
    prune_layer: int = DEFAULT_PRUNE_LAYER,
    system_prompt: str | None = None,
    truncate_audio: bool = False,
    progress: bool = True,
    journal: str | Path | None = None,
) -> dict:
    """Answer ``items`` unpruned and with every method at every keep ratio; score and summarise (see the module doc).

    ``methods`` are method specs (:mod:`~.arguments`): names, or names with settings such as
    ``"headrouter[smooth=0.25]"``, ``"segment[inner=headrouter]"`` or ``"headrouter[oracle]"`` (each item's own task
    type as ``task``); rows name a method by its spec as written.

    ``table`` (a :class:`HeadTable` or its directory) goes to every method that uses one (``uses_table``, e.g.
    ``headrouter``, through ``with_table``); without one such a method uses its calibration-free fallback.
    ``settings["method_settings"]`` holds each method's config as named, before the table is handed over; the table
    itself is ``settings["table"]`` (its metadata). An item whose audio cannot be loaded or processed, or is too
    short to make a single audio token, is logged by path with the reason and skipped. Returns a dict: ``schema``,
    ``settings``, ``counts`` (``items``, ``evaluated``, ``skipped``), ``skipped`` (id, audio, error),
    ``tasks``/``domains``/``families``/``overall`` (summary rows, see :func:`summarize`) and ``predictions`` (one row
    per item and setting). ``max_new_tokens`` is the answer length of items that name none. ``journal``: a JSON-lines
    file the rows are appended to as they finish and read back on the next call (see the module doc); ``ValueError``
    if it holds rows of other settings.
    """
    items, methods, keep_ratios = list(items), method_specs(methods), ratios(keep_ratios)
    check_arguments(items, methods, keep_ratios, max_new_tokens, batch_size)
    adapter = adapter_for(model)
    # the module that answers in text (the thinker of a full Qwen2.5-Omni): generate with it and prune it
    generator = adapter.forward_module
    if getattr(model, "headrouter", None) is not None or getattr(generator, "headrouter", None) is not None:
        raise ValueError("evaluate needs an unwrapped model (call headrouter.unwrap(model) first)")
    if isinstance(table, (str, Path)):
        table = HeadTable.from_pretrained(table)
    runs, method_settings = method_runs(methods)
    if table is not None:
        if not any(run.method.uses_table for run in runs.values()):
            logger.warning("evaluate: a head table was given but none of the methods uses one; it is unused")
        runs = {m: replace(r, method=r.method.with_table(table)) if r.method.uses_table else r for m, r in runs.items()}
    for run in runs.values():  # a wrong layer, table shape, model or item task type fails here, before any item runs
        for _, scorer in run.groups(items):
            with pruning(generator, keep_ratios[0], prune_layer=prune_layer, method=scorer):
                pass

    settings = [Setting(UNPRUNED, None)] + [Setting(m, k) for m in methods for k in keep_ratios]
    run_settings = {
        "model_name": str(getattr(model, "name_or_path", "") or ""),
        "model_class": type(model).__name__,
        FINGERPRINT: weights_fingerprint(generator),
        "dtype": str(generator.dtype).removeprefix("torch."),
        "prune_layer": prune_layer,
        "max_new_tokens": max_new_tokens,
        "system_prompt": system_prompt,
        "truncate_audio": truncate_audio,
        "table": table.meta if table is not None else None,
        "method_settings": method_settings,
    }
    book = Journal(journal, run_settings) if journal is not None else None
    wanted = {item.id for item in items}
    predictions = [r for r in book.rows if r["id"] in wanted and _setting(r) in settings] if book is not None else []
    done = {(r["id"], _setting(r)) for r in predictions}
    skipped: list[dict] = []
    warm = False
    bar = tqdm(total=len(items), desc="evaluating", unit="item", disable=not progress)
    try:
        with PrefillClock(generator) as clock:
            runner = _Runner(
                generator,
                adapter,
                processor,
                runs,
                prune_layer,
                _generation_kwargs(generator, processor, max_new_tokens),
                clock,
                system_prompt,
                truncate_audio,
            )
            for start in range(0, len(items), batch_size):
                chunk = [i for i in items[start : start + batch_size] if any((i.id, s) not in done for s in settings)]
                batch = runner.load(chunk, skipped) if chunk else None
                if batch is not None:
                    if not warm:  # first calls pay one-off costs; keep them out of the timings
                        for setting in settings:
                            runner.answer(batch, setting, max_new_tokens=1)
                        warm = True
                    turn = (start // batch_size) % len(settings)  # rotate the order: no setting always runs first
                    for setting in settings[turn:] + settings[:turn]:
                        todo = [i for i in batch.items if (i.id, setting) not in done]
                        if not todo:
                            continue
                        part = batch if len(todo) == len(batch.items) else runner.load(todo, skipped)
                        if part is None:
                            continue
                        rows = runner.answer(part, setting)
                        predictions += rows
                        if book is not None:
                            book.append(rows)
                bar.update(min(batch_size, len(items) - start))
                bar.set_postfix(skipped=len(skipped))
    finally:
        bar.close()
    if skipped:
        logger.warning("evaluate: skipped %d of %d items (see the log above for each path)", len(skipped), len(items))
    if not predictions:
        raise ValueError(f"all {len(items)} items failed to load; see the log for each path")

    position = {item.id: i for i, item in enumerate(items)}
    rank = {s: i for i, s in enumerate(settings)}
    predictions.sort(key=lambda r: (position[r["id"]], rank[_setting(r)]))
    summary = summarize(predictions, settings)
    return {
        "schema": SCHEMA,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": {
            "methods": methods,
            "keep_ratios": keep_ratios,
            "prune_layer": prune_layer,
            "max_new_tokens": max_new_tokens,
            "batch_size": batch_size,
            "system_prompt": system_prompt,
            "truncate_audio": truncate_audio,
            "table": run_settings["table"],
            "method_settings": method_settings,
            "model_class": run_settings["model_class"],
            FINGERPRINT: run_settings[FINGERPRINT],
            "dtype": run_settings["dtype"],
            "device": str(generator.device),
            "journal": str(journal) if journal is not None else None,
            "resumed": len(done),
        },
        "counts": {"items": len(items), "evaluated": len(items) - len(skipped), "skipped": len(skipped)},
        "skipped": skipped,
        **summary,
        "predictions": predictions,
    }


def _setting(row: dict) -> Setting:
    return Setting(row["method"], row["keep_ratio"])


def _generation_kwargs(generator: nn.Module, processor, max_new_tokens: int) -> dict:
    """Greedy decoding; pad and end tokens from the tokenizer where the model's generation config has none."""
    config = generator.generation_config
    tokenizer = processor.tokenizer
    kwargs = {"max_new_tokens": max_new_tokens, "do_sample": False, "num_beams": 1}
    if config.pad_token_id is None and tokenizer.pad_token_id is not None:
        kwargs["pad_token_id"] = tokenizer.pad_token_id
    if config.eos_token_id is None and tokenizer.eos_token_id is not None:
        kwargs["eos_token_id"] = tokenizer.eos_token_id
    # sampling settings in a checkpoint's generation config only draw warnings under greedy decoding
    kwargs.update(temperature=None, top_p=None, top_k=None)
    return kwargs


@dataclass
class _Runner:
    """What answering needs: the generating module, its adapter, the processor, the method objects and the generation
    settings."""

    generator: nn.Module
    adapter: ModelAdapter
    processor: Any
    runs: dict[str, MethodRun]
    prune_layer: int
    generation: dict
    clock: PrefillClock
    system_prompt: str | None
    truncate_audio: bool

    def load(self, items: Sequence[Item], skipped: list[dict]) -> _Batch | None:
        """Inputs of the items that load and process; the others are logged and appended to ``skipped``."""
        rate = self.adapter.sampling_rate(self.processor)
        options = {"system_prompt": self.system_prompt, "truncate_audio": self.truncate_audio}
        loaded, wavs, inputs = [], [], None
        for item in items:
            try:
                wav = load_audio(item.audio, rate)
                inputs = self.adapter.build_inputs(self.processor, [wav], [format_prompt(item)], **options)
                require_audio_tokens(self.adapter.audio_mask(inputs["input_ids"]), wav.size / rate)
            except Exception as error:  # a broken or too short clip must not stop the run
                what = f"{type(error).__name__}: {error}"
                logger.warning("evaluate: skipping item %s (%s): %s", item.id, item.audio, what)
                skipped.append({"id": item.id, "audio": item.audio, "error": what})
                continue
            loaded.append(item)
            wavs.append(wav)
        if not loaded:
            return None
        if len(loaded) > 1:
            inputs = self.adapter.build_inputs(self.processor, wavs, [format_prompt(i) for i in loaded], **options)
        inputs = inputs.to(device=self.generator.device, dtype=self.generator.dtype)  # casts floating tensors only
        audio = self.adapter.audio_mask(inputs["input_ids"]) & inputs["attention_mask"].bool()
        return _Batch(loaded, dict(inputs), audio.sum(-1).tolist())

    def answer(self, batch: _Batch, setting: Setting, max_new_tokens: int | None = None) -> list[dict]:
        """Generate for one batch in one setting: one prediction row per item, in one sub-batch per group of items
        that share their per-item method settings (:meth:`MethodRun.groups`)."""
        if setting.method == UNPRUNED:
            return self._answer(batch, setting, None, max_new_tokens)
        rows = []
        for indices, method in self.runs[setting.method].groups(batch.items):
            whole = len(indices) == len(batch.items)
            part = batch if whole else self.load([batch.items[i] for i in indices], [])
            rows += self._answer(part, setting, method, max_new_tokens)
        return rows

    def _answer(
        self, batch: _Batch, setting: Setting, method: ScoringMethod | None, max_new_tokens: int | None
    ) -> list[dict]:
        default = self.generation["max_new_tokens"]
        limits = [max_new_tokens or item.max_new_tokens or default for item in batch.items]
        kwargs = {**self.generation, "max_new_tokens": max(limits)}
        length = batch.inputs["input_ids"].shape[1]
        self.clock.reset()
        with self._pruning(method, setting.keep_ratio) as router, torch.inference_mode():
            out = self.generator.generate(**batch.inputs, **kwargs)
            records = list(router.records) if router is not None else None
        new = out[:, length:]
        texts = self.processor.batch_decode([new[b, :n] for b, n in enumerate(limits)], skip_special_tokens=True)
        ms = (self.clock.seconds or 0.0) * 1e3 / len(batch.items)
        rows = []
        for b, (item, text) in enumerate(zip(batch.items, texts, strict=True)):
            prediction = text.strip()
            value, raw, reading = judge(item, prediction)
            before = batch.audio_tokens[b]
            rows.append(
                {
                    "id": item.id,
                    "task": item.task,
                    "task_type": item.task_type,
                    "domain": item.domain,
                    "metric": item.metric,
                    "method": setting.method,
                    "keep_ratio": setting.keep_ratio,
                    "prediction": prediction,
                    "answer": item.answer,
                    "reading": reading,
                    "score": value,
                    "raw": raw,
                    "audio_tokens_before": before,
                    "audio_tokens_after": records[b].audio_tokens_after if records is not None else before,
                    "prefill_ms": ms,
                    "details": records[b].details if records is not None else {},
                    "extra": item.extra,
                }
            )
        return rows

    @contextmanager
    def _pruning(self, method: ScoringMethod | None, keep_ratio: float | None) -> Iterator[Pruner | None]:
        if method is None:
            yield None
            return
        with pruning(self.generator, keep_ratio, prune_layer=self.prune_layer, method=method) as router:
            yield router
