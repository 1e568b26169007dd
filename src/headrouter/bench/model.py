"""The model ``headrouter bench`` times and its prompt, from the settings through the family's adapter: the built-in
random-weight model at a published shape of the family (or one built from a config file, or a local checkpoint), and
a prompt of text around N audio placeholders without audio features. Nothing here knows a family."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from headrouter import adapters
from headrouter.bench import flops
from headrouter.bench.settings import DEFAULT_LAYERS, DTYPES, BenchSettings, audio_tower_families, family_adapter

TEXT_BEFORE = 4
"""Text tokens before the audio start token in the benchmark prompt."""
TEXT_AFTER = 16
"""Text tokens of instruction after the audio end token."""


def load_model(settings: BenchSettings) -> tuple[nn.Module, dict]:
    """The module to benchmark (the adapter's ``forward_module``), in eval mode, and a description of where it came
    from."""
    dtype = DTYPES[settings.dtype]
    attn = settings.attn_implementation
    torch.manual_seed(settings.seed)
    if settings.model_path:
        path = Path(settings.model_path)
        adapter_class = adapters.adapter_class_for_checkpoint(path)
        if settings.family is not None and settings.family != adapter_class.family:
            raise ValueError(f"{path} is a {adapter_class.family} checkpoint, not {settings.family}")
        if settings.with_audio_tower and not adapter_class.published_audio_towers:
            raise ValueError(
                f"{path} is a {adapter_class.family} checkpoint, which has no end-to-end benchmark prompt; with the "
                f"audio tower: {', '.join(audio_tower_families())}"
            )
        loaded = adapters.load_model(path, dtype=settings.dtype, attn_implementation=attn)
        source, random_weights = f"checkpoint {path}", False
    else:
        adapter_class = family_adapter(settings.family)
        if settings.config_path:
            loaded = adapter_class.random_model_from_config(settings.config_path, dtype=dtype, attn_implementation=attn)
            source = f"random weights from config {settings.config_path}"
        else:
            shape = settings.shape or next(iter(adapter_class.published_shapes))
            layers = settings.num_layers or DEFAULT_LAYERS
            if settings.with_audio_tower:
                loaded = adapter_class.random_model_with_audio_tower(
                    shape, layers, settings.tower_layers, dtype=dtype, attn_implementation=attn
                )
                source = (
                    f"random weights, {adapter_class.title}-{shape} decoder and audio-tower widths (built-in config)"
                )
            else:
                loaded = adapter_class.random_model(shape, layers, dtype=dtype, attn_implementation=attn)
                source = f"random weights, {adapter_class.title}-{shape} decoder widths (built-in config)"
        random_weights = True
    adapter = adapters.adapter_for(loaded)
    model = adapter.forward_module.eval().to(settings.device)
    if random_weights:  # a real model never writes placeholders
        model.generation_config.suppress_tokens = adapter.special_token_ids()
    text_config = adapter.text_config
    info = {
        "source": source,
        "family": adapter.family,
        "class": type(model).__name__,
        "random_weights": random_weights,
        "decoder": flops.DecoderShape.from_config(text_config).to_dict(),
        "vocab_size": int(text_config.vocab_size),
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": settings.dtype,
        "attn_implementation": attn,
        "device": settings.device,
    }
    if settings.with_audio_tower:
        tower = adapter.audio_tower
        info["audio_tower"] = {
            "layers": _tower_layers(tower),
            "parameters": sum(p.numel() for p in tower.parameters()),
        }
    return model, info


def make_inputs(
    model: nn.Module, audio_tokens: int, seed: int = 0, *, features: bool = False
) -> dict[str, torch.Tensor]:
    """One prompt on ``model``'s device: ``TEXT_BEFORE`` text tokens, the audio start token, ``audio_tokens``
    placeholders, the audio end token, ``TEXT_AFTER`` text tokens; ``input_ids`` and ``attention_mask``, and with
    ``features`` the audio features (in the model's dtype) that make exactly ``audio_tokens`` tokens."""
    adapter = adapters.adapter_for(model)
    make = adapter.feature_prompt if features else adapter.placeholder_prompt
    prompt = make(audio_tokens, text_before=TEXT_BEFORE, text_after=TEXT_AFTER, seed=seed)
    parameter = next(model.parameters())
    return {
        k: v.to(parameter.device, dtype=parameter.dtype if v.is_floating_point() else v.dtype)
        for k, v in prompt.items()
    }


def _tower_layers(tower: nn.Module) -> int:
    """Layers of an audio tower: the longest ``ModuleList`` of its children (a transformer encoder's blocks)."""
    lists = [m for m in tower.modules() if isinstance(m, nn.ModuleList)]
    return max((len(m) for m in lists), default=0)
