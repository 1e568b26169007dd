"""The tiny tokenizer and the real ``Qwen2_5OmniProcessor`` built on it, offline, against the tiny model."""

import numpy as np
import pytest
import torch
from transformers import Qwen2_5OmniProcessor
from transformers.utils import is_torchvision_available

from headrouter.adapters.qwen2_5_omni import tiny

AUDIO_ITEM = "<|audio_bos|><|AUDIO|><|audio_eos|>"
SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"


def conversation(wav: np.ndarray, question: str) -> list[dict]:
    """One user turn: a clip, then a question."""
    return [{"role": "user", "content": [{"type": "audio", "audio": wav}, {"type": "text", "text": question}]}]


@pytest.fixture(scope="module")
def processor() -> Qwen2_5OmniProcessor:
    return tiny.tiny_processor()


@pytest.fixture(scope="module")
def model():
    return tiny.tiny_model()


@pytest.fixture(scope="module")
def batch(processor):
    """Two prompts, 3.0 s and 1.3 s of audio, and the batch the processor makes of them."""
    clips = [tiny.tone(3.0), tiny.tone(1.3, frequency=300.0)]
    texts = [
        processor.apply_chat_template(conversation(wav, question), add_generation_prompt=True, tokenize=False)
        for wav, question in zip(clips, ["What tone?", "Pitch?"], strict=True)
    ]
    return clips, texts, processor(text=texts, audio=clips, return_tensors="pt", padding=True)


def test_chat_template_renders_qwen_omni_format(processor):
    text = processor.apply_chat_template(
        conversation(tiny.tone(3.0), "What tone?"), add_generation_prompt=True, tokenize=False
    )
    assert text == f"{SYSTEM}<|im_start|>user\n{AUDIO_ITEM}What tone?<|im_end|>\n<|im_start|>assistant\n"
    assert processor.tokenizer.apply_chat_template(conversation(tiny.tone(1.0), "What tone?"), tokenize=False) == (
        f"{SYSTEM}<|im_start|>user\n{AUDIO_ITEM}What tone?<|im_end|>\n"
    )


def test_special_ids_are_the_model_config_ids(processor):
    config = tiny.tiny_thinker_config()
    tokenizer = processor.tokenizer
    assert len(tokenizer) == config.text_config.vocab_size
    assert tokenizer.pad_token_id == config.text_config.pad_token_id == tiny.PAD_TOKEN
    assert tokenizer.padding_side == "left"
    expected = {
        "audio_token_id": config.audio_token_index,
        "image_token_id": config.image_token_index,
        "video_token_id": config.video_token_index,
        "audio_bos_token_id": config.audio_start_token_id,
        "audio_eos_token_id": config.audio_end_token_id,
        "vision_bos_token_id": config.vision_start_token_id,
        "vision_eos_token_id": tiny.VISION_EOS,
    }
    assert {name: getattr(tokenizer, name) for name in expected} == expected
    assert (processor.audio_token_id, processor.image_token_id, processor.video_token_id) == (
        tiny.AUDIO_TOKEN,
        tiny.IMAGE_TOKEN,
        tiny.VIDEO_TOKEN,
    )
    for token_id, text in tiny.TOKEN_TEXT.items():
        assert tokenizer(text).input_ids == [token_id], text


def test_any_text_round_trips_byte_by_byte(processor):
    text = "Héllo, wörld: 3 € 🎵\n\ttabs & <tags>"
    ids = processor.tokenizer(text).input_ids
    assert len(ids) == len(text.encode())
    assert all(tiny.FIRST_BYTE <= i < tiny.VISION_EOS for i in ids)
    assert processor.tokenizer.decode(ids) == text


def test_three_seconds_of_audio_are_75_tokens(processor, batch):
    _, texts, _ = batch
    inputs = processor(text=[texts[0]], audio=[tiny.tone(3.0)], return_tensors="pt", padding=True)
    assert (inputs.input_ids == tiny.AUDIO_TOKEN).sum() == 75 == 3 * tiny.AUDIO_TOKENS_PER_SECOND
    assert inputs.input_features.shape[1] == 128
    assert inputs.feature_attention_mask.sum() == 300


def test_processor_and_encode_lay_out_prompts_alike(processor, batch):
    clips, texts, inputs = batch
    prompts = []
    for wav, text in zip(clips, texts, strict=True):
        before, after = text.split(AUDIO_ITEM)
        prompts.append(tiny.Prompt([processor.tokenizer(before).input_ids, wav, processor.tokenizer(after).input_ids]))
    encoded = tiny.encode(prompts)
    assert torch.equal(encoded.input_ids, inputs.input_ids)
    assert torch.equal(encoded.attention_mask, inputs.attention_mask)


def test_batch_of_two_is_left_padded_and_generates_as_alone(processor, model, batch):
    clips, texts, inputs = batch
    assert (inputs.input_ids == tiny.AUDIO_TOKEN).sum(-1).tolist() == [75, 32]
    short = inputs.attention_mask[1]
    padding = int((short == 0).sum())
    assert padding > 0 and not short[:padding].any() and short[padding:].all()
    assert (inputs.input_ids[1, :padding] == tiny.PAD_TOKEN).all()
    out = model.generate(**inputs, max_new_tokens=5)[:, inputs.input_ids.shape[1] :]
    assert out.shape == (2, 5)
    alone = processor(text=[texts[1]], audio=[clips[1]], return_tensors="pt", padding=True)
    assert torch.equal(model.generate(**alone, max_new_tokens=5)[0, alone.input_ids.shape[1] :], out[1])
    decoded = processor.batch_decode(out, skip_special_tokens=True)
    assert len(decoded) == 2 and all(isinstance(text, str) for text in decoded)


def test_save_pretrained_round_trips_offline(processor, batch, tmp_path):
    clips, texts, inputs = batch
    processor.save_pretrained(tmp_path)
    loaded = Qwen2_5OmniProcessor.from_pretrained(tmp_path, local_files_only=True)
    again = loaded(text=texts, audio=clips, return_tensors="pt", padding=True)
    assert set(again) == set(inputs)
    for key in inputs:
        assert torch.equal(again[key], inputs[key]), key
    assert loaded.chat_template == processor.chat_template
    assert loaded.tokenizer.chat_template == processor.tokenizer.chat_template
    assert loaded.tokenizer.get_vocab() == processor.tokenizer.get_vocab()
    assert loaded.tokenizer.special_tokens_map == processor.tokenizer.special_tokens_map
    assert sorted(loaded.tokenizer.all_special_ids) == sorted(processor.tokenizer.all_special_ids)
    assert loaded.tokenizer.padding_side == "left"


@pytest.mark.skipif(is_torchvision_available(), reason="the stand-in only fills in for missing torchvision")
def test_video_stand_in_refuses_videos(processor):
    assert isinstance(processor.video_processor, tiny.VideoStandIn)
    with pytest.raises(ImportError, match="torchvision"):
        processor(text=["<|vision_bos|><|VIDEO|><|vision_eos|>"], videos=[np.zeros((4, 28, 28, 3), np.uint8)])
