"""What the benchmark loaders share: the missing-audio check and the extra fields kept with an item."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from headrouter.evaluation.tasks.items import Item

logger = logging.getLogger("headrouter")


def check_audio(items: Sequence[Item], root: str | Path) -> None:
    """``ValueError`` listing the items' audio files that do not exist (the first ten and the count).

    Missing files are an error rather than skipped items: a benchmark figure over a silently smaller set is not the
    benchmark's, and a wrong data folder (every file missing) should fail before a model loads.
    """
    missing = [item.audio for item in items if not Path(item.audio).is_file()]
    if missing:
        shown = "\n  ".join(missing[:10])
        more = f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise ValueError(f"{len(missing)} of {len(items)} audio files under {root} are missing:\n  {shown}{more}")


def extra_fields(record: Mapping, used: Sequence[str]) -> dict:
    """The fields of ``record`` not in ``used`` that JSON can hold (others, e.g. raw bytes, are left out), for
    ``Item.extra``."""
    extra = {}
    for key, value in record.items():
        if key in used:
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            logger.debug("left out field %r of type %s: not JSON", key, type(value).__name__)
            continue
        extra[str(key)] = value
    return extra
