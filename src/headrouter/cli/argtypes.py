"""argparse value types shared by the ``headrouter`` subcommands and ``headrouter bench``'s arguments.

Light on purpose: the method registry (and with it torch) is imported only when ``--methods`` is parsed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence


def number(kind: Callable[[str], object], text: str):
    """``kind(text)``, or an argparse error saying what was expected."""
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = number(int, text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def at_least(low: float, text: str, why: str) -> float:
    """A finite number >= ``low``; the error says the bound and ``why``."""
    value = number(float, text)
    if not low <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be at least {low:g} ({why}), got {text}")
    return value


def share(text: str) -> float:
    """A number in (0, 1]."""
    value = number(float, text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1]."""
    value = number(float, text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def items(text: str) -> list[str]:
    """A comma-separated list without empty items."""
    parts = [item.strip() for item in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list without empty items, got {text!r}")
    return parts


def keep_ratios(text: str) -> list[float]:
    """Distinct keep ratios in (0, 1]."""
    ratios = []
    for item in items(text):
        ratio = number(float, item)
        if not 0.0 < ratio <= 1.0:
            raise argparse.ArgumentTypeError(f"keep ratios must be in (0, 1], got {item}")
        ratios.append(ratio)
    if len(set(ratios)) != len(ratios):
        raise argparse.ArgumentTypeError(f"keep ratios must not repeat, got {text}")
    return ratios


def layer_list(text: str) -> list[int]:
    """Distinct comma-separated layer indices >= 0."""
    layers = []
    for item in items(text):
        layer = number(int, item)
        if layer < 0:
            raise argparse.ArgumentTypeError(f"layers must be >= 0, got {item}")
        layers.append(layer)
    if len(set(layers)) != len(layers):
        raise argparse.ArgumentTypeError(f"layers must not repeat, got {text}")
    return layers


def checked_specs(text: str, make: Callable[[list[str]], object]) -> list[str]:
    """Distinct method specs (``name`` or ``name[key=value,...]``) of registered methods, split at the commas outside
    brackets and given to ``make``, which makes their methods so that a bad setting fails before the model loads."""
    from headrouter.methods import available_methods
    from headrouter.methods.base import parse_spec, split_specs

    try:
        specs = split_specs(text)
        known_names(",".join(dict.fromkeys(parse_spec(s)[0] for s in specs)), available_methods(), "method")
        if len(set(specs)) != len(specs):
            raise argparse.ArgumentTypeError(f"methods must not repeat, got {text}")
        make(specs)
    except (TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return specs


def method_specs(text: str) -> list[str]:
    """:func:`checked_specs` of methods made from their specs alone (``headrouter[diversity=0.95]``)."""
    from headrouter.methods.base import get_method

    return checked_specs(text, lambda specs: [get_method(spec) for spec in specs])


def known_names(text: str, known: Sequence[str], what: str) -> list[str]:
    """Distinct comma-separated names out of ``known``; the error names the unknown ones and lists ``known``."""
    names = items(text)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {what}(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{what}s must not repeat, got {text}")
    return names
