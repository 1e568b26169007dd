"""Options several subcommands share, and the library's defaults they show.

A default is written once, in the library: a named constant where the library has one, else the default of the
library function the option feeds (:func:`library_default`).
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable, Sequence

from headrouter.cli.argtypes import keep_ratios, method_specs, positive_int


def library_default(function: Callable, parameter: str):
    """The default value of ``function``'s ``parameter``."""
    default = inspect.signature(function).parameters[parameter].default
    if default is inspect.Parameter.empty:
        raise TypeError(f"{function.__qualname__}'s {parameter} has no default")
    return default


def add_methods_and_keep(parser: argparse.ArgumentParser, methods: Sequence[str], keep: Sequence[float]) -> None:
    """``--methods`` and ``--keep``, defaulting to ``methods`` and ``keep``."""
    from headrouter.methods import available_methods

    parser.add_argument(
        "--methods",
        type=method_specs,
        default=list(methods),
        help=f"comma-separated method specs, NAME or NAME[KEY=VALUE,...] (default {','.join(methods)}; known: "
        f"{','.join(available_methods())})",
    )
    parser.add_argument(
        "--keep",
        type=keep_ratios,
        default=list(keep),
        help=f"comma-separated keep ratios in (0, 1] (default {','.join(f'{k:g}' for k in keep)})",
    )


def add_prune_layer(parser: argparse.ArgumentParser) -> None:
    """``--prune-layer``, defaulting to the library's K."""
    from headrouter.config import DEFAULT_PRUNE_LAYER

    parser.add_argument(
        "--prune-layer",
        type=positive_int,
        default=DEFAULT_PRUNE_LAYER,
        help=f"first pruned decoder layer K (default {DEFAULT_PRUNE_LAYER})",
    )


def add_dtype(parser: argparse.ArgumentParser) -> None:
    """``--dtype``: ``auto`` (the checkpoint's own) or a torch dtype name, for the loader."""
    parser.add_argument("--dtype", default="auto", help="model dtype (default: the checkpoint's)")


def add_truncate_audio(parser: argparse.ArgumentParser) -> None:
    """``--truncate-audio``: hear each clip only up to the feature extractor's chunk length."""
    parser.add_argument(
        "--truncate-audio",
        action="store_true",
        help="cut audio at the feature extractor's chunk_length (30 s for Whisper's), as the processor does by "
        "default; without it every clip is heard whole",
    )


def add_device_and_attention(parser: argparse.ArgumentParser) -> None:
    """``--device`` and ``--attn``, both ``auto`` by default (:mod:`headrouter.device`: the GPU when torch sees one,
    flash-attention-2 there when installed, else sdpa)."""
    from headrouter.device import ATTENTION_KINDS, AUTO

    parser.add_argument("--device", default=AUTO, help="cpu, cuda or cuda:N (default auto: the GPU if any)")
    parser.add_argument(
        "--attn",
        choices=(AUTO, *ATTENTION_KINDS),
        default=AUTO,
        help="attention (default auto: flash_attention_2 on a GPU where flash-attn is installed, else sdpa)",
    )
