"""``headrouter show``: draw which audio tokens of one clip each method keeps, under the clip's spectrogram."""

from __future__ import annotations

import argparse
from pathlib import Path

from headrouter.cli.argtypes import method_specs, share
from headrouter.cli.options import add_prune_layer
from headrouter.config import DEFAULT_METHOD

DEFAULT_METHODS = ("random", "frame", "fastv", "dart", "segment", "headrouter", DEFAULT_METHOD)
DEFAULT_KEEP = 0.3
DEFAULT_PROMPT = "What do you hear in this recording?"
"""The prompt for a clip that is not a shipped demo clip and comes without ``--prompt``."""


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    """Add ``headrouter show`` to ``subcommands``."""
    subcommands.add_parser(
        "show",
        help="draw which audio tokens of one clip each method keeps (PNG)",
        description=(
            "Runs one prefill of the model on CLIP and a prompt per method at --keep, and draws the clip's spectrogram "
            "(or waveform) with, below it, one row per method marking the audio tokens it kept along time. CLIP is an "
            "audio file or the id of a shipped demo clip (its question is then the prompt). Default model: the "
            "shipped proving-ground model, with its shipped head table for headrouter."
        ),
        arguments=_arguments,
    ).set_defaults(run=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    from headrouter.visual.plot import AUDIO_VIEWS

    parser.add_argument(
        "clip", metavar="CLIP", help="an audio file, or a shipped demo clip id (e.g. pitch_class-000000)"
    )
    parser.add_argument(
        "--methods",
        type=method_specs,
        default=list(DEFAULT_METHODS),
        help=f"comma-separated method specs, one row each, e.g. headrouter[diversity=0.95] (default "
        f"{','.join(DEFAULT_METHODS)})",
    )
    parser.add_argument(
        "--keep", type=share, default=DEFAULT_KEEP, help=f"keep ratio in (0, 1] (default {DEFAULT_KEEP:g})"
    )
    parser.add_argument("--model", metavar="DIR", help="a local checkpoint directory (default: the shipped model)")
    parser.add_argument(
        "--table",
        metavar="DIR",
        help="HeadTable for the headrouter method (default: the shipped one with the shipped model; with --model, "
        "none unless given)",
    )
    parser.add_argument(
        "--prompt", help=f"the text after the audio (default: a demo clip's question, else {DEFAULT_PROMPT!r})"
    )
    parser.add_argument("--audio", choices=AUDIO_VIEWS, default=AUDIO_VIEWS[0], help="what the top row draws")
    parser.add_argument("--out", default="kept.png", help="image file to write (default kept.png)")
    add_prune_layer(parser)


def run(args: argparse.Namespace) -> int:
    """Check the clip, model and table, then load the model, compute what each method keeps and save the figure."""
    from transformers.utils import logging as transformers_logging

    from headrouter.adapters import load_model, load_processor
    from headrouter.evaluation.demo import SHIPPED_MODEL, SHIPPED_TABLE
    from headrouter.evaluation.runner import check_checkpoint
    from headrouter.methods.base import get_method
    from headrouter.methods.headrouter.table import HeadTable
    from headrouter.visual import kept_tokens, plot_kept

    audio, prompt = resolve_clip(args.clip)
    model_dir = Path(args.model) if args.model is not None else SHIPPED_MODEL
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir / 'config.json'} not found")
    table = args.table
    uses_table = any(get_method(m).uses_table for m in args.methods)
    if table is None and args.model is None and uses_table and (SHIPPED_TABLE / "head_table.json").is_file():
        table = SHIPPED_TABLE
    head_table = HeadTable.from_pretrained(table) if table is not None else None
    check_checkpoint(model_dir, args.prune_layer, head_table)
    transformers_logging.disable_progress_bar()  # the command's output is the image
    model, processor = load_model(model_dir, dtype="float32"), load_processor(model_dir)
    kept = kept_tokens(
        model,
        processor,
        audio,
        args.prompt if args.prompt is not None else prompt,
        args.methods,
        args.keep,
        table=head_table,
        prune_layer=args.prune_layer,
    )
    plot_kept(kept, audio=args.audio).savefig(args.out, dpi=110, bbox_inches="tight")
    print(f"wrote {args.out}")
    return 0


def resolve_clip(clip: str) -> tuple[Path, str]:
    """The audio file of ``clip`` and its default prompt: a shipped demo clip's question, else
    :data:`DEFAULT_PROMPT`. ``FileNotFoundError`` if ``clip`` is neither a file nor a shipped clip id."""
    from headrouter.evaluation.demo import SHIPPED_ITEMS
    from headrouter.evaluation.runner import load_items
    from headrouter.evaluation.tasks.items import format_prompt

    path = Path(clip)
    shipped = load_items(SHIPPED_ITEMS) if SHIPPED_ITEMS.is_file() else []
    for item in shipped:
        if item.id == clip or (path.is_file() and Path(item.audio).resolve() == path.resolve()):
            return Path(item.audio), format_prompt(item)
    if path.is_file():
        return path, DEFAULT_PROMPT
    if not shipped:
        raise FileNotFoundError(f"clip {clip}: no such audio file")
    known = ", ".join(item.id for item in shipped)
    raise FileNotFoundError(f"clip {clip}: neither an audio file nor a shipped demo clip id ({known})")
