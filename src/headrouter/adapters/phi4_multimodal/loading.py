"""Loading a local Phi-4-multimodal checkpoint (with its speech LoRA) and its processor (no downloads).

The released checkpoint hears audio through a speech LoRA adapter kept beside the base weights (``speech-lora/``,
r=320 on every decoder layer's ``qkv_proj``, ``o_proj``, ``gate_up_proj`` and ``down_proj``), which transformers
loads through PEFT (``model.load_adapter(..., adapter_kwargs={"subfolder": "speech-lora"})``). Its image processor
needs torchvision; without it :class:`ImageStandIn` fills the processor's image slot, which audio prompts never use.
"""

from __future__ import annotations

import logging
from pathlib import Path

from torch import nn
from transformers import BatchFeature, ImageProcessingMixin
from transformers.utils import is_peft_available, is_torchvision_available

logger = logging.getLogger("headrouter")

SPEECH_LORA = "speech-lora"
"""The folder of the released checkpoint that holds the speech LoRA adapter."""


def load_model(path: str | Path, dtype: str = "auto", attn_implementation: str | None = None) -> nn.Module:
    """``Phi4MultimodalForCausalLM`` from local files only, in eval mode, with the checkpoint's speech LoRA loaded
    and active when it has one (``ImportError`` if it has one and PEFT is missing: without it the model does not hear
    audio as released)."""
    from transformers import Phi4MultimodalForCausalLM

    kwargs = {"dtype": dtype, "local_files_only": True}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    model = Phi4MultimodalForCausalLM.from_pretrained(str(path), **kwargs)
    if (Path(path) / SPEECH_LORA / "adapter_config.json").is_file():
        if not is_peft_available():
            raise ImportError(
                f"{path} has a speech LoRA ({SPEECH_LORA}/), through which Phi-4-multimodal hears audio; loading it "
                "needs peft (pip install peft)"
            )
        model.load_adapter(str(path), adapter_name="speech", adapter_kwargs={"subfolder": SPEECH_LORA})
        model.set_adapter("speech")
    else:
        logger.warning("%s has no %s/ folder: the model runs without its speech LoRA", path, SPEECH_LORA)
    return model.eval()


class ImageStandIn(ImageProcessingMixin):
    """Fills ``Phi4MultimodalProcessor``'s image slot where torchvision (which Phi-4's image processor needs) is
    missing; refuses images."""

    def __call__(self, images, **kwargs) -> BatchFeature:
        """Refuses: Phi-4's image processor needs torchvision."""
        raise ImportError("image input needs torchvision; without it this processor takes text and audio")


def image_processor(path: str | Path | None = None):
    """Phi-4's image processor (from ``path``'s settings, or the defaults), or :class:`ImageStandIn` without
    torchvision."""
    if not is_torchvision_available():
        return ImageStandIn()
    from transformers import AutoImageProcessor, Phi4MultimodalImageProcessor

    if path is None:
        return Phi4MultimodalImageProcessor()
    return AutoImageProcessor.from_pretrained(str(path), local_files_only=True)


def load_processor(path: str | Path):
    """``Phi4MultimodalProcessor`` of a local checkpoint, built from its parts: transformers 5.24's
    ``Phi4MultimodalProcessor.from_pretrained`` drops the saved chat template (its ``__init__`` takes it through
    ``**kwargs``, which ``from_args_and_dict`` filters out), and needs torchvision for the image processor."""
    from transformers import AutoTokenizer, Phi4MultimodalFeatureExtractor, Phi4MultimodalProcessor

    saved, _ = Phi4MultimodalProcessor.get_processor_dict(str(path), local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    return Phi4MultimodalProcessor(
        image_processor=image_processor(path),
        audio_processor=Phi4MultimodalFeatureExtractor.from_pretrained(str(path), local_files_only=True),
        tokenizer=tokenizer,
        chat_template=saved.get("chat_template") or tokenizer.chat_template,
    )
