"""Voxtral (``VoxtralForConditionalGeneration``: Voxtral-Mini-3B-2507, Voxtral-Small-24B-2507): Whisper's encoder run
on 30 s chunks, a projector that merges 4 encoder frames into one audio token (12.5 per second, 375 per chunk), and a
Llama decoder with 1-D RoPE. mistral-common's tokenizer writes ``[BEGIN_AUDIO]`` and one ``[AUDIO]`` placeholder per
audio token, so the audio positions are where ``input_ids`` holds the placeholder; the model scatters the audio
embeddings there and expands nothing.

The model is laid out as Qwen2-Audio's (``model.model`` gets ``input_ids``, the padding mask and the cache before its
audio tower runs; the decoder is ``model.model.language_model``), so the adapter reuses
:class:`~headrouter.adapters.qwen2_decoder.Qwen2DecoderAdapter`: nothing there depends on Qwen2's q/k/v bias. Llama's
attention computes queries and keys as that adapter does (``q_proj``/``k_proj`` on the input-normed states, then
``x * cos + rotate_half(x) * sin``, ``scaling = head_dim ** -0.5``); only ``rotate_half`` is taken from Llama's
modeling code here.
"""

from __future__ import annotations

from headrouter.adapters.qwen2_decoder import Qwen2DecoderAdapter
from headrouter.adapters.rotary import rotary_query_key


class VoxtralAdapter(Qwen2DecoderAdapter):
    model_classes = ("VoxtralForConditionalGeneration",)
    processor_class = "VoxtralProcessor"

    def project_query_key(self, attention, hidden_states, position_embeddings, query_index):
        # imported here, where the model (and so its modeling code) exists: importing headrouter stays light
        from transformers.models.llama.modeling_llama import rotate_half

        return rotary_query_key(attention, hidden_states, position_embeddings, query_index, rotate_half)

    # no built-in benchmark model yet (family stays unset): benchmark a checkpoint with --model
    title = "Voxtral"
