"""headrouter quickstart: prune audio tokens inside Qwen2.5-Omni, generate, and see what was kept.

With no arguments it runs on a fresh CPU machine without downloads, on a tiny random-weight Qwen2.5-Omni
thinker and 60 s of synthetic audio (its "answers" are random token ids):

    python examples/quickstart.py

With a real local checkpoint and an audio file (nothing is downloaded: the checkpoint must be on disk):

    python examples/quickstart.py --model /path/to/Qwen2.5-Omni-7B --audio talk.wav --prompt "Summarise the talk."

A thinker checkpoint works too, such as the small model shipped with headrouter (it answers only the questions it
was trained on, docs/proving_ground.md):

    python examples/quickstart.py --model src/headrouter/assets/proving_ground \
        --audio src/headrouter/assets/demo/clips/digit_string-000000.wav \
        --prompt "Transcribe the spoken digits, separated by spaces."
"""

from __future__ import annotations

import argparse
import statistics

import torch

import headrouter
from headrouter.config import DEFAULT_METHOD
from headrouter.evaluation.demo import measure_prefill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="local Qwen2.5-Omni checkpoint (full model or thinker)")
    parser.add_argument("--audio", help="audio file to ask about (any format librosa reads)")
    parser.add_argument("--prompt", default="What is said in this audio? Answer briefly.", help="question to ask")
    parser.add_argument("--keep", type=float, default=0.7, help="keep ratio in (0, 1] (default 0.7)")
    parser.add_argument(
        "--method",
        default=DEFAULT_METHOD,
        help=f"a method name or spec, e.g. fastv or 'headrouter[task=semantic]' (default wrap's, {DEFAULT_METHOD})",
    )
    parser.add_argument("--max-new-tokens", type=int, help="tokens to generate (default 8 tiny, 128 real)")
    parser.add_argument("--runs", type=int, default=3, help="timed prefill passes (default 3)")
    args = parser.parse_args()
    if (args.model is None) != (args.audio is None):
        parser.error("--model and --audio go together")
    if not 0.0 < args.keep <= 1.0:
        parser.error(f"--keep must be in (0, 1], got {args.keep}")
    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        parser.error(f"--max-new-tokens must be >= 1, got {args.max_new_tokens}")
    if args.runs < 1:
        parser.error(f"--runs must be >= 1, got {args.runs}")
    try:
        headrouter.get_method(args.method)
    except (TypeError, ValueError) as error:
        parser.error(f"--method: {error}")
    if args.model is None:
        tiny_quickstart(args.keep, args.method, args.max_new_tokens or 8, args.runs)
    else:
        real_quickstart(
            args.model, args.audio, args.prompt, args.keep, args.method, args.max_new_tokens or 128, args.runs
        )


# --------------------------------------------------------------------------- no downloads: the tiny model


def tiny_quickstart(keep: float, method: str, max_new_tokens: int, runs: int) -> None:
    from headrouter.adapters.qwen2_5_omni import tiny

    model = tiny.tiny_model()  # a random-weight Qwen2_5OmniThinkerForConditionalGeneration, 4 decoder layers
    inputs = tiny.encode([tiny.audio_prompt([tiny.tone(60.0)], text_lengths=[5, 12])])  # 60 s -> 1,500 audio tokens
    prompt_length = inputs["input_ids"].shape[1]
    print(f"tiny random-weight Qwen2.5-Omni thinker; prompt of {prompt_length} tokens with 60 s of audio\n")

    # 1. the model as it is
    plain = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    plain_ms = median_ms(model, inputs, runs)
    print(f"unpruned:       new tokens {plain[0, prompt_length:].tolist()}, prefill {plain_ms:.1f} ms")

    # 2. wrap: same model object, same API, fewer audio tokens from layer 2 on
    headrouter.wrap(model, keep_ratio=keep, prune_layer=2, method=method)
    pruned = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    pruned_ms = median_ms(model, inputs, runs)
    print(f"{method} keep {keep}: new tokens {pruned[0, prompt_length:].tolist()}, prefill {pruned_ms:.1f} ms")
    print(f"router: {model.headrouter}")
    for record in model.headrouter.records:  # one per sample of the last prefill
        print_record(record)

    # 3. unwrap: the model is as it was
    headrouter.unwrap(model)
    assert not hasattr(model, "headrouter")

    # 4. or prune only inside a block, here every method at a few keep ratios
    print("\nprefill with headrouter.pruning(...) for each method:")
    width = max(len(name) for name in headrouter.available_methods())
    for name in headrouter.available_methods():
        for ratio in (1.0, 0.7, 0.3):
            with headrouter.pruning(model, keep_ratio=ratio, method=name) as router:
                ms = median_ms(model, inputs, runs)
                record = router.records[0]
            print(
                f"  {name:<{width}}  keep {ratio:<4} audio tokens {record.audio_tokens_before} -> "
                f"{record.audio_tokens_after:<5} prefill {ms:6.1f} ms ({ms / plain_ms:.2f} of unpruned)"
            )


# --------------------------------------------------------------------------- a real local checkpoint


def real_quickstart(path: str, audio: str, prompt: str, keep: float, method: str, max_new_tokens: int, runs: int):
    import librosa

    from headrouter.adapters.chat_inputs import processor_inputs
    from headrouter.adapters.qwen2_5_omni.loading import load_model, load_processor

    # the class config.json names: the full model (with its talker: transformers' generate reads it even for
    # text output) or the thinker alone; local files only
    model = load_model(path).to("cuda" if torch.cuda.is_available() else "cpu")
    processor = load_processor(path)  # Qwen2_5OmniProcessor, also without torchvision (then it refuses videos)

    wav, _ = librosa.load(audio, sr=processor.feature_extractor.sampling_rate)
    # the processor's chat template; unlike a plain processor call, audio longer than chunk_length is kept whole
    inputs = processor_inputs(processor, wav, prompt, QWEN_SYSTEM_PROMPT).to(model.device)

    plain = answer(model, processor, inputs, max_new_tokens)
    plain_ms = median_ms(model, inputs, runs)

    headrouter.wrap(model, keep_ratio=keep, method=method)
    pruned = answer(model, processor, inputs, max_new_tokens)
    record = model.headrouter.records[0]
    pruned_ms = median_ms(model, inputs, runs)
    headrouter.unwrap(model)

    print(f"audio: {len(wav) / processor.feature_extractor.sampling_rate:.1f} s; prompt: {prompt!r}\n")
    print(f"unpruned ({record.audio_tokens_before} audio tokens, prefill {plain_ms:.0f} ms):\n  {plain}\n")
    print(
        f"{method}, keep {keep} ({record.audio_tokens_before} -> {record.audio_tokens_after} audio tokens from layer "
        f"{record.layer} on, prefill {pruned_ms:.0f} ms, {pruned_ms / plain_ms:.2f} of unpruned):\n  {pruned}"
    )


QWEN_SYSTEM_PROMPT = (
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of perceiving auditory and "
    "visual inputs, as well as generating text and speech."
)


def answer(model, processor, inputs, max_new_tokens: int) -> str:
    """Greedy text answer; the full model takes its thinker's settings with a ``thinker_`` prefix."""
    if hasattr(model, "thinker"):  # Qwen2_5OmniForConditionalGeneration
        out = model.generate(
            **inputs, generation_mode="text", thinker_max_new_tokens=max_new_tokens, thinker_do_sample=False
        )
    else:  # Qwen2_5OmniThinkerForConditionalGeneration
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    new = out[:, inputs["input_ids"].shape[1] :]
    return processor.batch_decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)[0].strip()


# --------------------------------------------------------------------------- shared


def median_ms(model, inputs, runs: int) -> float:
    """Median prefill (one forward pass after a warm-up) in milliseconds."""
    return statistics.median(measure_prefill(model, inputs, runs)) * 1e3


def print_record(record: headrouter.SampleRecord) -> None:
    kept = record.kept_positions
    print(
        f"  sample {record.sample}: audio tokens {record.audio_tokens_before} -> {record.audio_tokens_after} at layer "
        f"{record.layer} by {record.method} (scoring {record.scoring_seconds * 1e3:.2f} ms); kept positions "
        f"{kept[:6]} ... {kept[-3:]}"
    )


if __name__ == "__main__":
    main()
