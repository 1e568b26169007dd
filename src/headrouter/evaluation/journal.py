"""The resume journal of :func:`headrouter.evaluation.runner.evaluate`: a JSON-lines file of the run's settings and
its prediction rows, appended as they finish, so that a stopped run continues where it stopped."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

logger = logging.getLogger("headrouter")

JOURNAL_SCHEMA = "headrouter-eval-journal/1"
FINGERPRINT = "model_weights"
"""The settings key of :func:`weights_fingerprint`; journals written before it existed lack it (resumed, with a
warning)."""
_SAMPLES = 64


def weights_fingerprint(model: nn.Module) -> str:
    """A short hash of ``model``'s weights: every parameter's and buffer's name, shape and dtype, and 64 of its values
    evenly spread over it. The same checkpoint gives the same hash on every machine and dtype-preserving load; a
    retrained or fine-tuned one a different hash, without reading every weight of a large model."""
    digest = hashlib.sha256()
    tensors = [*model.named_parameters(), *model.named_buffers()]
    for name, tensor in sorted(tensors, key=lambda pair: pair[0]):
        digest.update(f"{name}|{tuple(tensor.shape)}|{tensor.dtype}|".encode())
        if tensor.device.type != "meta":  # weights offloaded by accelerate: only their names and shapes count
            flat = tensor.detach().reshape(-1)
            index = torch.linspace(0, max(flat.numel() - 1, 0), min(_SAMPLES, flat.numel()), device=flat.device)
            digest.update(flat[index.long()].float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


class Journal:
    """The JSON-lines file of a resumable run: header lines (``{"journal": ..., "settings": ...}``, one more whenever a
    run adds methods) and prediction rows, appended and flushed as they finish."""

    def __init__(self, path: str | Path, settings: dict) -> None:
        settings = json.loads(json.dumps(settings))  # compared with what JSON gives back: lists, not tuples
        self.path = Path(path)
        self.rows: list[dict] = []
        known: dict | None = None
        if self.path.is_file():
            known = self._read()
            self._check(known, settings)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        methods = settings["method_settings"]
        if known is None or set(methods) - set(known["method_settings"]):
            self._write([{"journal": JOURNAL_SCHEMA, "settings": settings}])
        if self.rows:
            logger.info("evaluate: %d answers read back from %s; they are not computed again", len(self.rows), path)

    def append(self, rows: Sequence[dict]) -> None:
        self._write(rows)

    def _write(self, lines: Sequence[dict]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write("".join(json.dumps(line) + "\n" for line in lines))
            f.flush()

    def _read(self) -> dict | None:
        """Read the rows; return the settings of the header lines merged (None if there is none)."""
        settings: dict | None = None
        text = self.path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):  # a run killed while writing its last line: drop that line
            logger.warning("evaluate: dropping the unfinished last line of %s", self.path)
            text = text[: text.rfind("\n") + 1]
            self.path.write_text(text, encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{self.path}:{number}: not a journal line ({error})") from error
            if "journal" in data:
                if data["journal"] != JOURNAL_SCHEMA:
                    raise ValueError(f"{self.path}:{number}: journal schema {data['journal']!r}, not {JOURNAL_SCHEMA}")
                if settings is None:
                    settings = data["settings"]
                else:
                    settings["method_settings"].update(data["settings"]["method_settings"])
            else:
                self.rows.append(data)
        if self.rows and settings is None:
            raise ValueError(f"{self.path} holds answers but no header line: not a journal of headrouter eval")
        return settings

    def _check(self, known: dict | None, settings: dict) -> None:
        """``ValueError`` naming the settings that differ from the journal's."""
        if known is None:
            return
        if FINGERPRINT in settings and FINGERPRINT not in known:
            logger.warning(
                "evaluate: %s was written without a fingerprint of the model's weights: its answers are read back on "
                "trust that the model at %s is the one that gave them",
                self.path,
                settings.get("model_name") or "this path",
            )
            known = {**known, FINGERPRINT: settings[FINGERPRINT]}
        differ = [k for k in settings if k != "method_settings" and known.get(k) != settings[k]]
        methods = settings["method_settings"]
        differ += [
            f"method {m}"
            for m in methods
            if m in known["method_settings"] and known["method_settings"][m] != methods[m]
        ]
        if differ:
            raise ValueError(
                f"{self.path} holds answers of other settings ({', '.join(differ)} differ): give another output folder "
                "or remove the file to start over"
            )
