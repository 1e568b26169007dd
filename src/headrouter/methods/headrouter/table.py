"""HeadTable: head weights and behaviour profiles per task type, and positional priors, saved as safetensors + JSON."""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

logger = logging.getLogger("headrouter")

TENSORS_FILE = "head_table.safetensors"
META_FILE = "head_table.json"


NOT_ARCHITECTURE = frozenset(
    {"vocab_size", "pad_token_id", "bos_token_id", "eos_token_id", "tie_word_embeddings", "initializer_range"}
    | {"attention_dropout", "use_cache"}
)
"""Fields of a decoder config that do not change how its heads attend: a fine-tune that adds tokens or a config saved
with ``use_cache=False`` still fits the table."""


def config_hash(config) -> str:
    """A short hash of a decoder config's architecture, to tell which model a table was calibrated on.

    It covers the fields the config's class adds to transformers' common ones (sizes, head counts, rotary settings,
    norms, attention layout) and the model type, less :data:`NOT_ARCHITECTURE` and less its sub-configs (a family
    whose decoder config is the whole model's, such as Phi-4-multimodal's, nests its audio and vision towers' configs
    there, whose common fields would change the hash). The common fields (dtype, labels, output switches, the
    transformers version) differ between loads of one model, so they are left out: the same checkpoint hashes alike
    in float32 and bfloat16, as a thinker or inside the full model, read from config.json or from the loaded model.
    """
    from transformers import PreTrainedConfig

    common = set(PreTrainedConfig().to_dict()) - {"model_type"}
    nested = set(getattr(config, "sub_configs", None) or {})
    fields = {
        k: v
        for k, v in config.to_dict().items()
        if not k.startswith("_") and k not in common and k not in NOT_ARCHITECTURE and k not in nested
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(repr=False)
class HeadTable:
    """Everything HeadRouter learns from calibration, for one model shape.

    Its keys are task *types* (``semantic``, ``acoustic``, ...), not the tasks of items (``pitch_class``, ...);
    :attr:`tasks` lists them. Per task type ``t``: ``weights[t]`` ``(layers, heads)`` non-negative head weights
    (each layer's weights sum to 1; heads that the statistics call irrelevant get exactly 0), ``profiles[t]``
    ``(layers, 2 * heads)`` the mean head-behaviour vector of that task type's samples, ``mass[t]`` and
    ``selectivity[t]`` ``(layers, heads)`` the statistics behind them. Shared: ``prior`` ``(layers, heads,
    bins)`` expected audio attention by relative position, and ``feature_mean`` / ``feature_std`` ``(layers,
    2 * heads)`` used to standardise behaviour vectors before routing.

    Optional (tables calibrated before they existed lack them): ``text_profiles[t]`` ``(layers, hidden)`` the mean
    instruction-text feature (:func:`~.stats.text_features`) of that task type's samples at each layer's input, and
    ``text_mean`` / ``text_std`` ``(layers, hidden)`` to standardise it; :attr:`has_text` says whether a table has
    them. Beside them, ``text_examples`` ``(samples, layers, hidden)`` every calibration sample's own feature and
    ``text_example_types`` ``(samples,)`` its task type (an index into :attr:`tasks`), for routing to the nearest
    calibration instruction (:attr:`has_text_examples`).
    """

    weights: dict[str, torch.Tensor]
    profiles: dict[str, torch.Tensor]
    mass: dict[str, torch.Tensor]
    selectivity: dict[str, torch.Tensor]
    prior: torch.Tensor
    feature_mean: torch.Tensor
    feature_std: torch.Tensor
    meta: dict = field(default_factory=dict)
    text_profiles: dict[str, torch.Tensor] | None = None
    text_mean: torch.Tensor | None = None
    text_std: torch.Tensor | None = None
    text_examples: torch.Tensor | None = None
    text_example_types: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if not self.weights:
            raise ValueError("a HeadTable needs at least one task type")
        shape = tuple(self.prior.shape[:2])
        for name, tensors in (("weights", self.weights), ("mass", self.mass), ("selectivity", self.selectivity)):
            for task_type, tensor in tensors.items():
                if tuple(tensor.shape) != shape:
                    raise ValueError(f"{name}[{task_type!r}] has shape {tuple(tensor.shape)}, expected {shape}")
        if set(self.profiles) != set(self.weights):
            raise ValueError(f"profiles cover {sorted(self.profiles)} but weights cover {sorted(self.weights)}")
        text = (self.text_profiles, self.text_mean, self.text_std)
        if any(t is None for t in text) and any(t is not None for t in text):
            raise ValueError("text_profiles, text_mean and text_std come together: give all three or none")
        if self.text_profiles is not None and set(self.text_profiles) != set(self.weights):
            raise ValueError(
                f"text_profiles cover {sorted(self.text_profiles)} but weights cover {sorted(self.weights)}"
            )
        self._check_text_examples()

    def _check_text_examples(self) -> None:
        examples, types = self.text_examples, self.text_example_types
        if (examples is None) != (types is None):
            raise ValueError("text_examples and text_example_types come together: give both or neither")
        if examples is None:
            return
        if not self.has_text:
            raise ValueError("text_examples need text_profiles, text_mean and text_std (they are standardised by them)")
        if examples.dim() != 3 or tuple(examples.shape[1:]) != tuple(self.text_mean.shape):
            raise ValueError(
                f"text_examples has shape {tuple(examples.shape)}, expected (samples, {tuple(self.text_mean.shape)})"
            )
        if tuple(types.shape) != (examples.shape[0],) or types.dtype != torch.long:
            raise ValueError(f"text_example_types must be a long tensor of shape ({examples.shape[0]},)")
        if types.numel() and not bool(((types >= 0) & (types < len(self.weights))).all()):
            raise ValueError(f"text_example_types must index the task types {self.tasks}")

    def __repr__(self) -> str:
        where = f"source={self.source!r}" if self.source is not None else "in memory"
        return f"HeadTable({where}, tasks={self.tasks}, layers={self.num_layers}, heads={self.num_heads})"

    @property
    def tasks(self) -> list[str]:
        """The task types, in order (the name is kept for compatibility: these are task types, not tasks)."""
        return list(self.weights)

    @property
    def source(self) -> str | None:
        """The directory this table was loaded from; None for a table built in memory (e.g. by ``calibrate``)."""
        return self.meta.get("source")

    def to_config(self) -> str:
        """The table as a setting in a config: its directory. ``ValueError`` for a table held only in memory, which a
        config cannot name."""
        if self.source is None:
            raise ValueError(
                "this HeadTable is held in memory only (it has no directory): save it with "
                "table.save_pretrained(directory) and pass the directory (table=directory) instead"
            )
        return self.source

    @property
    def has_text(self) -> bool:
        """Whether the table holds instruction-text profiles (tables calibrated since they exist)."""
        return self.text_profiles is not None

    @property
    def has_text_examples(self) -> bool:
        """Whether the table holds each calibration sample's instruction-text feature (routing to the nearest one)."""
        return self.text_examples is not None

    @property
    def num_layers(self) -> int:
        return int(self.prior.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.prior.shape[1])

    @property
    def bins(self) -> int:
        return int(self.prior.shape[2])

    def check_shape(self, num_layers: int, num_heads: int) -> None:
        """``ValueError`` naming both shapes if this table was made for another model shape."""
        if (num_layers, num_heads) != (self.num_layers, self.num_heads):
            raise ValueError(
                f"this HeadTable was calibrated for {self.num_layers} layers x {self.num_heads} heads, but the model "
                f"has {num_layers} layers x {num_heads} heads"
            )

    def check_config(self, config, model_class: str) -> None:
        """``ValueError`` naming both hashes and model classes if this table was calibrated on a decoder of another
        architecture (:func:`config_hash`; e.g. another rotary theta at the same shape). Tables that record no hash
        (built in memory) are not checked."""
        recorded = self.meta.get("config_hash")
        if recorded is None:
            return
        actual = config_hash(config)
        if actual != recorded:
            raise ValueError(
                f"this HeadTable was calibrated on a {self.meta.get('model_class', 'model')} whose decoder config hash "
                f"is {recorded}, but this {model_class}'s is {actual}: same shape, other architecture settings "
                "(rotary, norms, attention layout), so its head weights and positional priors describe another "
                "model; calibrate a table for this one (headrouter calibrate)"
            )

    def route(
        self,
        behaviour: torch.Tensor | None,
        layer: int,
        temperature: float,
        text: torch.Tensor | None = None,
        text_match: str = "mean",
    ) -> torch.Tensor:
        """``(B, task types)`` soft mixture of task types for behaviour vectors ``(B, 2H)`` at ``layer`` (K-1),
        instruction-text features ``(B, hidden)`` at the input of layer ``layer + 1`` (K), or both.

        Softmax over task types of ``-d^2 / temperature``, where d^2 is the mean squared distance between the
        standardised vector and the standardised profile of the task type (with both, the mean of the two
        distances): equal to a profile gives that task type the largest weight, halfway between two profiles gives
        them equal weights. ``text_match="nearest"``: a task type's text distance is to the nearest of its
        calibration samples' own features instead of to their mean (a task type asked in several wordings is
        several points, not their average). ``ValueError`` for text features and a table without text profiles (or
        without examples, for ``"nearest"``), or for neither.
        """
        distances = []
        if behaviour is not None:
            mean, std = self.feature_mean[layer], self.feature_std[layer]
            profiles = torch.stack([self.profiles[t][layer] for t in self.tasks])
            distances.append(_distance(behaviour, profiles, mean, std))
        if text is not None:
            if not self.has_text:
                raise ValueError("this HeadTable has no instruction-text profiles: recalibrate it to route on text")
            mean, std = self.text_mean[layer + 1], self.text_std[layer + 1]
            if text_match == "mean":
                profiles = torch.stack([self.text_profiles[t][layer + 1] for t in self.tasks])
                distances.append(_distance(text, profiles, mean, std))
            elif text_match == "nearest":
                distances.append(self._nearest_distance(text, layer + 1))
            else:
                raise ValueError(f"text_match must be 'mean' or 'nearest', got {text_match!r}")
        if not distances:
            raise ValueError("route needs behaviour vectors, text features or both")
        return torch.softmax(-torch.stack(distances).mean(0) / temperature, dim=-1)

    def _nearest_distance(self, text: torch.Tensor, layer: int) -> torch.Tensor:
        """``(B, T)``: standardised mean squared distance from each feature to the nearest calibration sample of each
        task type, at the input of ``layer``."""
        if not self.has_text_examples:
            raise ValueError(
                "this HeadTable has no per-sample instruction-text features: recalibrate it to route on the nearest "
                "calibration instruction, or use text_match='mean'"
            )
        examples = self.text_examples[:, layer].float()
        to_each = _distance(text, examples, self.text_mean[layer], self.text_std[layer])  # (B, samples)
        own = self.text_example_types[None, :] == torch.arange(len(self.weights))[:, None]  # (T, samples)
        masked = to_each[:, None, :].masked_fill(~own[None], float("inf"))
        return masked.amin(-1)

    def mixed_weights(self, mixture: torch.Tensor, layer: int) -> torch.Tensor:
        """``(B, H)`` head weights at ``layer`` for mixtures of task types ``(B, task types)``."""
        stacked = torch.stack([self.weights[t][layer] for t in self.tasks])  # (T, H)
        return mixture.to(stacked.dtype) @ stacked

    # ------------------------------------------------------------------ persistence

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``head_table.safetensors`` and ``head_table.json`` into ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {"prior": self.prior, "feature_mean": self.feature_mean, "feature_std": self.feature_std}
        for name, group in (
            ("weights", self.weights),
            ("profiles", self.profiles),
            ("mass", self.mass),
            ("selectivity", self.selectivity),
        ):
            tensors.update({f"{name}.{task_type}": tensor for task_type, tensor in group.items()})
        if self.has_text:
            tensors |= {"text_mean": self.text_mean, "text_std": self.text_std}
            tensors |= {f"text_profiles.{task_type}": t for task_type, t in self.text_profiles.items()}
        if self.has_text_examples:
            tensors |= {"text_examples": self.text_examples, "text_example_types": self.text_example_types}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(directory / TENSORS_FILE))
        meta = {
            **self.meta,
            "tasks": self.tasks,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "bins": self.bins,
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> HeadTable:
        """Load a table written by :meth:`save_pretrained`; ``FileNotFoundError`` if a file is missing, ``ValueError``
        naming the file if one does not parse or lacks an entry."""
        directory = Path(directory)
        for name in (TENSORS_FILE, META_FILE):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"{directory / name} not found: not a HeadTable directory")
        try:
            meta = json.loads((directory / META_FILE).read_text())
            task_types = meta["tasks"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(
                f"{directory / META_FILE}: not HeadTable metadata ({type(error).__name__}: {error})"
            ) from error
        try:
            tensors = load_file(str(directory / TENSORS_FILE))
        except SafetensorError as error:
            raise ValueError(f"{directory / TENSORS_FILE}: not a safetensors file ({error})") from error
        names = [f"{g}.{t}" for g in ("weights", "profiles", "mass", "selectivity") for t in task_types]
        missing = [n for n in [*names, "prior", "feature_mean", "feature_std"] if n not in tensors]
        if missing:
            raise ValueError(f"{directory / TENSORS_FILE} lacks the tensors {missing} its metadata's task types need")
        groups = {
            name: {t: tensors[f"{name}.{t}"] for t in task_types}
            for name in ("weights", "profiles", "mass", "selectivity")
        }
        text = {}
        if "text_mean" in tensors:
            missing = [f"text_profiles.{t}" for t in task_types if f"text_profiles.{t}" not in tensors]
            if missing or "text_std" not in tensors:
                raise ValueError(f"{directory / TENSORS_FILE} has text_mean but lacks {missing or ['text_std']}")
            text = {"text_mean": tensors["text_mean"], "text_std": tensors["text_std"]}
            text["text_profiles"] = {t: tensors[f"text_profiles.{t}"] for t in task_types}
        for name in ("text_examples", "text_example_types"):
            if name in tensors:
                text[name] = tensors[name]
        table = cls(
            **groups,
            prior=tensors["prior"],
            feature_mean=tensors["feature_mean"],
            feature_std=tensors["feature_std"],
            meta=meta,
            **text,
        )
        table.meta["source"] = str(directory)
        return table

    @staticmethod
    def metadata(model_class: str, config, counts: dict[str, int], failed: int, settings: dict) -> dict:
        """The JSON metadata calibration records."""
        from headrouter import __version__

        return {
            "model_class": model_class,
            "config_hash": config_hash(config),
            "calibration_counts": counts,
            "failed_samples": failed,
            "settings": settings,
            "headrouter_version": __version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }

    def plot(self):
        """A matplotlib figure: a layer x head heatmap of the weights per task type, and their difference."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError("table.plot() needs matplotlib: pip install 'headrouter[plot]'") from error
        task_types = self.tasks
        panels = len(task_types) + (1 if len(task_types) >= 2 else 0)
        figure, axes = plt.subplots(1, panels, figsize=(3.2 * panels + 1, 0.25 * self.num_layers + 2.5), squeeze=False)
        vmax = max(float(w.max()) for w in self.weights.values()) or 1.0
        for ax, task_type in zip(axes[0][: len(task_types)], task_types, strict=True):
            image = ax.imshow(self.weights[task_type].numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=vmax)
            ax.set_title(f"{task_type} (n={self.meta.get('calibration_counts', {}).get(task_type, '?')})")
            ax.set_xlabel("head")
            ax.set_ylabel("layer")
        figure.colorbar(image, ax=axes[0][: len(task_types)].tolist(), shrink=0.8, label="head weight")
        if len(task_types) >= 2:
            a, b = task_types[0], task_types[1]
            diff = (self.weights[a] - self.weights[b]).numpy()
            bound = float(abs(diff).max()) or 1.0
            ax = axes[0][-1]
            image = ax.imshow(diff, aspect="auto", cmap="coolwarm", vmin=-bound, vmax=bound)
            ax.set_title(f"{a} - {b}")
            ax.set_xlabel("head")
            figure.colorbar(image, ax=ax, shrink=0.8)
        return figure


def _distance(vectors: torch.Tensor, profiles: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` mean squared distance between standardised vectors ``(B, F)`` and profiles ``(T, F)``."""
    z = (vectors.float() - mean) / std
    return ((z[:, None, :] - ((profiles - mean) / std)[None]) ** 2).mean(-1)
