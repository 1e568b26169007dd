"""Train the proving-ground model: a small Qwen2.5-Omni thinker (real audio tower, mRoPE, real processor over the
tiny 256-id tokenizer) that answers the synthetic listening tasks of ``headrouter.evaluation.tasks``.

CPU only, seeded, within an hour on 2 cores:

    python scripts/train_proving_ground.py --out src/headrouter/assets/proving_ground

The user turn is exactly what evaluation sends (``processor_inputs``: the audio, then ``format_prompt(item)``);
the loss is on the answer tokens and ``<|im_end|>`` after ``<|im_start|>assistant\\n``. Training items are made
in memory (seed ``--seed``, two worker processes), their log-mel features computed once and cached; held-out
checks use other seeds.

Training-only auxiliary heads (``AuxHeads``, weight ``--aux``, not saved) read the audio tower's output tokens
directly: CTC over the spoken words for the speech-content tasks, attention-pooled classification for the
acoustic choice tasks, and a per-token onset count for ``beep_count``. Without them the answer loss reaches the
audio tower only through the decoder's attention, and in a CPU hour the tower learned noise colour and nothing
else (held-out semantic 11%); with them it learns word identity and timing first, and the decoder learns to read.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import random
import time
from pathlib import Path

import numpy as np
import torch
from proving_ground_aux import AuxHeads, aux_target
from transformers import (
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniThinkerForConditionalGeneration,
    WhisperFeatureExtractor,
)

from headrouter.adapters.chat_inputs import processor_inputs
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.adapters.tiny_inputs import whisper_audio_tokens
from headrouter.evaluation.tasks.generator import TASKS, make_example
from headrouter.evaluation.tasks.items import format_prompt
from headrouter.evaluation.tasks.long import LONG_TASKS, make_long_example

IGNORE = -100
MAX_AUDIO_SECONDS = 120  # the shipped processor pads to (and accepts up to) 2 minutes of audio
AUX_WARMUP_LR = 3e-3  # the auxiliary heads alone are linear probes: they take a higher rate than the model


def build_config(args: argparse.Namespace) -> Qwen2_5OmniThinkerConfig:
    """The thinker config: Qwen2.5-Omni's architecture at small widths."""
    head_dim = args.head_dim or args.hidden // args.heads
    half = head_dim // 2
    sections = [half - 2 * (half * 3 // 8), half * 3 // 8, half * 3 // 8]
    config = Qwen2_5OmniThinkerConfig(
        audio_config=dict(
            num_mel_bins=128,
            encoder_layers=args.audio_layers,
            encoder_attention_heads=args.audio_heads,
            encoder_ffn_dim=2 * args.audio_width,
            d_model=args.audio_width,
            output_dim=args.hidden,
            n_window=100,
            max_source_positions=1500,
        ),
        vision_config=dict(
            depth=1,
            hidden_size=16,
            intermediate_size=16,
            num_heads=2,
            out_hidden_size=args.hidden,
            fullatt_block_indexes=[0],
        ),
        text_config=dict(
            vocab_size=256,
            hidden_size=args.hidden,
            intermediate_size=3 * args.hidden,
            num_hidden_layers=args.layers,
            num_attention_heads=args.heads,
            num_key_value_heads=args.kv_heads,
            head_dim=head_dim,
            max_position_embeddings=32768,
            pad_token_id=tiny.PAD_TOKEN,
            initializer_range=0.02,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": sections},
        ),
        audio_token_index=tiny.AUDIO_TOKEN,
        image_token_index=tiny.IMAGE_TOKEN,
        video_token_index=tiny.VIDEO_TOKEN,
        audio_start_token_id=tiny.AUDIO_BOS,
        audio_end_token_id=tiny.AUDIO_EOS,
        user_token_id=tiny.IM_START,
    )
    config.vision_start_token_id = tiny.VISION_BOS
    return config


def shipped_processor():
    """``tiny_processor()`` with a feature extractor that takes clips up to 2 minutes (the default cuts at 30 s)."""
    processor = tiny.tiny_processor()
    processor.feature_extractor = WhisperFeatureExtractor(
        feature_size=128, sampling_rate=tiny.SAMPLE_RATE, chunk_length=MAX_AUDIO_SECONDS
    )
    return processor


def log_mel(wav: np.ndarray, mel_filters: torch.Tensor) -> torch.Tensor:
    """Whisper's log-mel features (as ``WhisperFeatureExtractor`` computes them for a zero-padded clip), in
    float32 torch: ``(128, ceil(len / 160))``. Several times faster than the extractor's float64 path."""
    padded = torch.from_numpy(np.concatenate([wav, np.zeros(1600, dtype=np.float32)]))
    stft = torch.stft(padded, 400, 160, window=torch.hann_window(400), return_complex=True)
    power = stft[..., :-1].abs() ** 2
    log_spec = torch.clamp(mel_filters @ power, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    frames = -(-wav.size // 160)
    return ((log_spec + 4.0) / 4.0)[:, :frames]


class Encoder:
    """Turns an example into cached training tensors that equal what ``processor_inputs`` gives."""

    def __init__(self, processor) -> None:
        self.processor = processor
        self.extractor = processor.feature_extractor
        self.templates: dict[str, list[int]] = {}
        self.mel_filters = torch.tensor(self.extractor.mel_filters, dtype=torch.float32).T

    def prompt_ids(self, prompt: str) -> list[int]:
        """Token ids of the chat-templated user turn with a single ``<|AUDIO|>`` (expanded later)."""
        if prompt not in self.templates:
            conversation = [
                {"role": "user", "content": [{"type": "audio", "audio": ""}, {"type": "text", "text": prompt}]}
            ]
            text = self.processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
            self.templates[prompt] = self.processor.tokenizer(text)["input_ids"]
        return self.templates[prompt]

    def __call__(self, example) -> dict:
        wav = example.audio
        mel = log_mel(wav, self.mel_filters).to(torch.bfloat16)
        frames = mel.shape[1]
        count = int(whisper_audio_tokens(torch.tensor(frames)))
        ids = []
        for token in self.prompt_ids(format_prompt(example.item)):
            ids += [token] * count if token == tiny.AUDIO_TOKEN else [token]
        answer = self.processor.tokenizer(example.item.answer)["input_ids"] + [tiny.IM_END]
        return {
            "mel": mel,
            "tokens": count,
            "ids": torch.tensor(ids + answer),
            "labels": torch.tensor([IGNORE] * len(ids) + answer),
            "task": example.item.task,
            "aux": aux_target(example.item),
        }


def check_against_processor(encoder: Encoder, example) -> None:
    """The cached tensors must equal the processor's own inputs for the same clip and prompt."""
    ref = processor_inputs(encoder.processor, example.audio, format_prompt(example.item))
    mine = encoder(example)
    prompt_len = int((mine["labels"] == IGNORE).sum())
    assert torch.equal(ref["input_ids"][0], mine["ids"][:prompt_len]), "prompt ids differ from the processor's"
    frames = int(ref["feature_attention_mask"].sum())
    assert frames == mine["mel"].shape[1], (frames, mine["mel"].shape)
    diff = (ref["input_features"][0, :, :frames] - mine["mel"].float()).abs().max().item()
    assert diff < 0.02, f"features differ by {diff}"


_ENCODER: Encoder | None = None  # set before the worker processes fork


def _encode(job: tuple[str, int, int, dict]) -> dict:
    """One encoded example, its tensors as numpy arrays: a pool sending tensors runs out of file descriptors."""
    torch.set_num_threads(1)
    task, index, seed, lengths = job
    make = make_long_example if task in LONG_TASKS else make_example
    encoded = _ENCODER(make(task, index, seed, **lengths))
    return {k: v.float().numpy() if isinstance(v, torch.Tensor) else v for k, v in encoded.items()}


def _as_tensors(encoded: dict) -> dict:
    out = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in encoded.items()}
    out["mel"] = out["mel"].to(torch.bfloat16)
    out["ids"], out["labels"] = out["ids"].long(), out["labels"].long()
    return out


def make_dataset(encoder: Encoder, tasks, per_task: int, seed: int, workers: int, **lengths) -> list[dict]:
    """Encoded examples, ``per_task`` of every task in ``tasks`` (short or long family), for ``seed`` (in order,
    whatever the number of workers)."""
    global _ENCODER
    _ENCODER = encoder
    jobs = [(task, i, seed, lengths) for task in tasks for i in range(per_task)]
    if not jobs:
        return []
    start = time.time()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        data = [_as_tensors(d) for d in pool.imap(_encode, jobs, chunksize=8)]
    print(f"  {len(data)} items in {time.time() - start:.0f} s", flush=True)
    return data


def batches(data: list[dict], token_budget: int, max_batch: int, rng: random.Random) -> list[list[dict]]:
    """Length-bucketed batches of at most ``token_budget`` padded tokens, in random order."""
    order = sorted(data, key=lambda d: (len(d["ids"]), rng.random()))
    out, current = [], []
    for d in order:
        width = max(len(d["ids"]), max((len(c["ids"]) for c in current), default=0))
        if current and (width * (len(current) + 1) > token_budget or len(current) >= max_batch):
            out.append(current)
            current = []
        current.append(d)
    if current:
        out.append(current)
    rng.shuffle(out)
    return out


def collate(batch: list[dict]) -> dict:
    """Left-padded ids/labels/attention mask; right-padded mel features with their mask."""
    width = max(len(d["ids"]) for d in batch)
    frames = max(d["mel"].shape[1] for d in batch)
    ids = torch.full((len(batch), width), tiny.PAD_TOKEN, dtype=torch.long)
    labels = torch.full_like(ids, IGNORE)
    mask = torch.zeros_like(ids)
    mel = torch.zeros(len(batch), 128, frames)
    mel_mask = torch.zeros(len(batch), frames, dtype=torch.long)
    for b, d in enumerate(batch):
        n, f = len(d["ids"]), d["mel"].shape[1]
        ids[b, width - n :] = d["ids"]
        labels[b, width - n :] = d["labels"]
        mask[b, width - n :] = 1
        mel[b, :, :f] = d["mel"].float()
        mel_mask[b, :f] = 1
    return {"input_ids": ids, "attention_mask": mask, "input_features": mel, "feature_attention_mask": mel_mask}, labels


def loss_and_hits(model, batch: list[dict], aux: AuxHeads | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean answer-token cross-entropy (plus the auxiliary loss when ``aux`` is given), and per-sample "every
    answer token is the argmax" (= greedy is exact)."""
    inputs, labels = collate(batch)
    captured = []
    hook = model.model.audio_tower.register_forward_hook(lambda m, i, out: captured.append(out.last_hidden_state))
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(**inputs, use_cache=False).logits
    finally:
        hook.remove()
    logits, targets = logits[:, :-1].float(), labels[:, 1:]
    keep = targets != IGNORE
    loss = torch.nn.functional.cross_entropy(logits[keep], targets[keep])
    if aux is not None:
        loss = loss + aux(captured[0], batch)
    right = (logits.argmax(-1) == targets) | ~keep
    return loss, right.all(-1)


def warm_up_aux(model, aux: AuxHeads, sets: dict, args: argparse.Namespace) -> None:
    """Train the auxiliary heads alone, on the frozen audio tower's output, for ``args.aux_warmup`` steps.

    A grown or initialised model's tower already tells sounds and words apart, but fresh heads do not read it yet: the
    CTC loss of a 3,000-token clip starts near 500, and with every parameter in one optimizer its first gradients
    rewrite the tower (a grown model's short-task checks fell from 80% to 27% in 200 steps). Fitting the heads first
    lets the joint run start from losses the tower has earned."""
    optimizer = torch.optim.AdamW(aux.parameters(), lr=AUX_WARMUP_LR, betas=(0.9, 0.98))
    rng = random.Random(f"{args.seed}-aux-warmup")
    queues: dict[str, list[list[dict]]] = {"short": [], "mixed": [], "long": []}
    running = None
    for step in range(1, args.aux_warmup + 1):
        phase = "long" if rng.random() < args.long_share else "mixed"
        if not queues[phase]:
            queues[phase] = batches(sets[phase], args.token_budget, args.max_batch, rng)
        batch = queues[phase].pop()
        inputs, _ = collate(batch)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            tokens = model.get_audio_features(inputs["input_features"], inputs["feature_attention_mask"])
        loss = aux(tokens.last_hidden_state, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if step % 25 == 0:
            print(f"aux warm-up step {step} ({phase}) loss {running:.3f}", flush=True)


@torch.no_grad()
def evaluate(model, data: list[dict]) -> dict[str, float]:
    """Teacher-forced exact-answer accuracy per task (equal to greedy exact match)."""
    model.eval()
    hits: dict[str, list[float]] = {}
    for batch in batches(data, 8192, 16, random.Random(0)):
        _, right = loss_and_hits(model, batch)
        for d, r in zip(batch, right.tolist(), strict=True):
            hits.setdefault(d["task"], []).append(float(r))
    model.train()
    return {task: float(np.mean(v)) for task, v in sorted(hits.items())}


def family_means(accuracy: dict[str, float]) -> dict[str, float]:
    """Mean accuracy per task family (``acoustic``/``semantic`` for the short tasks, ``long acoustic`` ...)."""
    families: dict[str, list[float]] = {}
    for task, value in accuracy.items():
        family = f"long {LONG_TASKS[task].task_type}" if task in LONG_TASKS else TASKS[task].task_type
        families.setdefault(family, []).append(value)
    return {family: float(np.mean(v)) for family, v in families.items()}


def save(model, processor, out: Path, info: dict) -> None:
    """A ``from_pretrained`` directory: config, safetensors weights, tokenizer and processor files."""
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config.pad_token_id = tiny.PAD_TOKEN
    model.generation_config.eos_token_id = tiny.IM_END
    model.generation_config.suppress_tokens = list(tiny.SPECIAL_TOKENS)
    model.generation_config.do_sample = False
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")


def init_from(model, directory: Path) -> None:
    """Start from a trained model's audio tower, token embeddings, final norm and LM head where shapes agree (a
    second stage then spends its budget on the new decoder layers); its decoder layers are not taken, since a
    different head count splits the same projections into other heads."""
    theirs = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(directory).state_dict()
    mine = model.state_dict()
    taken = {k: v for k, v in theirs.items() if k in mine and mine[k].shape == v.shape and ".layers." not in k}
    taken |= {k: v for k, v in theirs.items() if k.startswith("model.audio_tower.") and k in mine}
    model.load_state_dict(taken, strict=False)
    print(f"initialised {len(taken)} of {len(mine)} tensors from {directory}: {sorted(taken)[:3]} ...", flush=True)


def grow_from(model, directory: Path) -> None:
    """Start from a smaller trained model so that the bigger one computes exactly what it computed: every tensor
    outside the decoder layers is taken; the old layers become the first layers, their heads the first heads
    (same head dimension, same query heads per KV head, so each old head keeps its KV head and rotary pairs);
    the new heads' columns of ``o_proj`` and the new layers' ``o_proj`` and ``down_proj`` are zero, so they add
    nothing until training moves them. A second stage then starts from a decoder that already reads words."""
    small = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(directory)
    old, new = small.config.text_config, model.config.text_config
    old_dim = getattr(old, "head_dim", None) or old.hidden_size // old.num_attention_heads
    new_dim = getattr(new, "head_dim", None) or new.hidden_size // new.num_attention_heads
    old_group = old.num_attention_heads // old.num_key_value_heads
    new_group = new.num_attention_heads // new.num_key_value_heads
    if (old.hidden_size, old_dim, old_group) != (new.hidden_size, new_dim, new_group):
        raise SystemExit(
            f"--grow-from needs the same hidden size, head dimension and query heads per KV head: {directory} has "
            f"{(old.hidden_size, old_dim, old_group)}, the new model {(new.hidden_size, new_dim, new_group)}"
        )
    if old.num_attention_heads > new.num_attention_heads or old.num_hidden_layers > new.num_hidden_layers:
        raise SystemExit(f"--grow-from: {directory} has more heads or layers than the new model")
    new_layers, old_layers = model.model.language_model.layers, small.model.language_model.layers
    model.load_state_dict(
        {k: v for k, v in small.state_dict().items() if ".language_model.layers." not in k}, strict=False
    )
    with torch.no_grad():
        for index, layer in enumerate(new_layers):
            mine = layer.state_dict()
            theirs = old_layers[index].state_dict() if index < len(old_layers) else {}
            for name, tensor in mine.items():
                if not theirs:
                    if name in ("self_attn.o_proj.weight", "mlp.down_proj.weight"):
                        tensor.zero_()
                elif name == "self_attn.o_proj.weight":
                    tensor.zero_()
                    tensor[:, : theirs[name].shape[1]] = theirs[name]
                else:  # q/k/v: the old heads are the first rows; norms and MLP: the whole tensor
                    tensor[: theirs[name].shape[0]] = theirs[name]
    print(
        f"grown from {directory}: {old.num_hidden_layers} x {old.num_attention_heads} heads -> "
        f"{new.num_hidden_layers} x {new.num_attention_heads}",
        flush=True,
    )
    check_same_function(small, model)


@torch.no_grad()
def check_same_function(small, big) -> None:
    """The grown model's logits must equal the small model's on a random prompt with audio."""
    count = int(whisper_audio_tokens(torch.tensor(300)))
    ids = torch.tensor([[tiny.IM_START, tiny.AUDIO_BOS] + [tiny.AUDIO_TOKEN] * count + [tiny.AUDIO_EOS] + [40] * 6])
    features = torch.randn(1, 128, 300, generator=torch.Generator().manual_seed(0))
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "input_features": features}
    inputs["feature_attention_mask"] = torch.ones(1, 300, dtype=torch.long)
    diff = (small(**inputs).logits - big(**inputs).logits).abs().max().item()
    assert diff < 1e-4, f"the grown model computes something else (logits differ by {diff})"


def make_data(encoder: Encoder, args: argparse.Namespace) -> dict[str, list[dict]]:
    """The training sets (``short``: 2-6 s, ``mixed``: the short tasks at all lengths, ``long``: the long family)
    and the held-out check set; every set has its own seed."""
    short_tasks, long_tasks = list(TASKS), list(LONG_TASKS)
    long_lengths = {"min_seconds": args.long_min_seconds, "max_seconds": args.long_max_seconds}
    sets = {}
    print("generating short training clips", flush=True)
    per_task = args.short_per_task if args.short_share > 0 else 0
    sets["short"] = make_dataset(
        encoder, short_tasks, per_task, args.seed, args.workers, max_seconds=6.0, long_fraction=0.0
    )
    print("generating training clips of all lengths", flush=True)
    mixed_lengths = {"max_seconds": args.max_seconds, "long_fraction": args.long_fraction, "long_from": args.long_from}
    sets["mixed"] = make_dataset(
        encoder, short_tasks, args.mixed_per_task, args.seed + 100, args.workers, **mixed_lengths
    )
    print("generating long training clips", flush=True)
    sets["long"] = make_dataset(encoder, long_tasks, args.long_per_task, args.seed + 200, args.workers, **long_lengths)
    print("generating held-out items", flush=True)
    held_out = make_dataset(
        encoder, short_tasks, args.eval_per_task, args.seed + 1, args.workers, max_seconds=args.max_seconds
    )
    if args.long_per_task:
        held_lengths = {"min_seconds": 60.0, "max_seconds": args.long_max_seconds}
        held_out += make_dataset(
            encoder, long_tasks, args.eval_long_per_task, args.seed + 201, args.workers, **held_lengths
        )
    sets["held_out"] = held_out
    return sets


DATA_OPTIONS = (
    "seed", "short_per_task", "short_share", "mixed_per_task", "long_per_task", "long_min_seconds",
    "long_max_seconds", "eval_per_task", "eval_long_per_task", "long_fraction", "long_from", "max_seconds",
)  # fmt: skip


def cached_data(encoder: Encoder, args: argparse.Namespace) -> dict[str, list[dict]]:
    """``make_data``, or the sets saved in ``--data-cache`` by an earlier run with the same data options (a resumed
    or repeated run then skips the ~12 minutes of clip generation)."""
    options = {name: getattr(args, name) for name in DATA_OPTIONS}
    if args.data_cache and args.data_cache.exists():
        cached = torch.load(args.data_cache, weights_only=False)
        if cached["options"] != options:
            differ = sorted(k for k in options if cached["options"].get(k) != options[k])
            raise SystemExit(f"--data-cache {args.data_cache} was made with other data options: {differ}")
        print(f"training sets from {args.data_cache}", flush=True)
        return cached["sets"]
    sets = make_data(encoder, args)
    if args.data_cache:
        args.data_cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"options": options, "sets": sets}, args.data_cache.with_suffix(".tmp"))
        args.data_cache.with_suffix(".tmp").replace(args.data_cache)
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("src/headrouter/assets/proving_ground"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init-from", type=Path, help="start from this model's weights where names and shapes agree")
    parser.add_argument("--grow-from", type=Path, help="start from a smaller model, computing what it computes")
    parser.add_argument(
        "--data-cache", type=Path, help="keep the encoded training sets in this file and reuse them when it exists"
    )
    parser.add_argument("--short-per-task", type=int, default=1200, help="short training clips per task (2-6 s)")
    parser.add_argument("--mixed-per-task", type=int, default=400, help="training clips per task of all lengths")
    parser.add_argument("--short-share", type=float, default=0.5, help="share of training spent on short clips first")
    parser.add_argument("--long-per-task", type=int, default=0, help="training clips per long-family task")
    parser.add_argument("--long-share", type=float, default=0.0, help="after the short phase: share of long batches")
    parser.add_argument("--long-min-seconds", type=float, default=30.0)
    parser.add_argument("--long-max-seconds", type=float, default=120.0)
    parser.add_argument("--eval-long-per-task", type=int, default=6, help="held-out long clips per task (60 s up)")
    parser.add_argument("--aux", type=float, default=1.0, help="weight of the auxiliary audio-tower losses (0: off)")
    parser.add_argument(
        "--aux-warmup",
        type=int,
        default=0,
        help="first train the auxiliary heads alone for this many steps, on the frozen audio tower",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes that generate the training clips")
    parser.add_argument("--long-fraction", type=float, default=0.12)
    parser.add_argument("--long-from", type=float, default=16.0, help="mixed clips: log-uniform below, long above")
    parser.add_argument("--max-seconds", type=float, default=64.0)
    parser.add_argument("--eval-per-task", type=int, default=24)
    parser.add_argument("--steps", type=int, default=0, help="train this many steps (deterministic schedule)")
    parser.add_argument("--minutes", type=float, default=52.0, help="without --steps: train this long (wall clock)")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="save the training state here every --eval-every steps and "
        "resume from it when it exists (--steps runs only)",
    )
    parser.add_argument("--token-budget", type=int, default=6144)
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--head-dim", type=int, default=0, help="0: hidden / heads")
    parser.add_argument("--audio-width", type=int, default=96)
    parser.add_argument("--audio-layers", type=int, default=2)
    parser.add_argument("--audio-heads", type=int, default=4)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.checkpoint and not args.steps:
        parser.error("--checkpoint needs --steps: a wall-clock schedule cannot be resumed step for step")
    if args.long_share and not args.long_per_task:
        parser.error("--long-share needs --long-per-task")
    if args.init_from and args.grow_from:
        parser.error("--init-from and --grow-from exclude each other")

    start = time.time()
    torch.set_num_threads(1)  # data preparation is many small ops: one thread avoids spin-waiting on a busy machine
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    processor = shipped_processor()
    encoder = Encoder(processor)
    check_against_processor(encoder, make_example("digit_string", 0, args.seed + 999, max_seconds=args.max_seconds))
    sets = cached_data(encoder, args)
    print(f"data ready after {time.time() - start:.0f} s", flush=True)

    torch.set_num_threads(args.threads)
    config = build_config(args)
    model = Qwen2_5OmniThinkerForConditionalGeneration._from_config(config, attn_implementation="sdpa")
    if args.init_from:
        init_from(model, args.init_from)
    if args.grow_from:
        grow_from(model, args.grow_from)
    model.model.visual.requires_grad_(False)  # audio-only: the (tiny) vision tower keeps its initial weights
    model.train()
    aux = AuxHeads(args.hidden, args.aux) if args.aux > 0 else None
    params = [p for p in model.parameters() if p.requires_grad]
    print(f"model: {sum(p.numel() for p in params) / 1e6:.2f} M trainable parameters", flush=True)
    if aux is not None:
        params += list(aux.parameters())
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.98),
    )
    step, running, history = 0, None, []
    state_file = args.checkpoint / "state.pt" if args.checkpoint else None
    if state_file and state_file.exists():
        state = torch.load(state_file, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if aux is not None:
            aux.load_state_dict(state["aux"])
        step, running, history = state["step"], state["running"], state["history"]
        print(f"resumed from {state_file} at step {step}", flush=True)
    if aux is not None and step == 0 and args.aux_warmup:
        warm_up_aux(model, aux, sets, args)
    train_start = time.time()

    def progress(step: int) -> float:
        if args.steps:
            return step / args.steps
        return (time.time() - train_start) / 60 / args.minutes

    def lr_at(done: float) -> float:
        warmup = 0.03
        if done < warmup:
            return args.lr * max(done, 0.002) / warmup
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, (done - warmup) / (1 - warmup)))))

    rng = random.Random(f"{args.seed}-{step}")  # a resumed run draws its batches from the resume step's stream
    queues: dict[str, list[list[dict]]] = {"short": [], "mixed": [], "long": []}
    next_eval = (step // args.eval_every + 1) * args.eval_every
    while True:
        done = progress(step)
        if done >= 1.0:
            break
        phase = "short" if done < args.short_share else "long" if rng.random() < args.long_share else "mixed"
        if not queues[phase]:
            queues[phase] = batches(sets[phase], args.token_budget, args.max_batch, rng)
        batch = queues[phase].pop()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(done)
        loss, _ = loss_and_hits(model, batch, aux)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        step += 1
        minutes = (time.time() - train_start) / 60
        if step % 25 == 0:
            print(f"step {step} ({phase}) loss {running:.3f} lr {lr_at(done):.2e} {minutes:.1f} min", flush=True)
        finished = progress(step) >= 1.0
        if step >= next_eval or finished:
            next_eval += args.eval_every
            accuracy = evaluate(model, sets["held_out"])
            families = family_means(accuracy)
            history.append({"step": step, "minutes": round(minutes, 1), "accuracy": accuracy, "families": families})
            print(f"eval step {step}: {json.dumps(accuracy)} families {json.dumps(families)}", flush=True)
            info = {"args": {k: str(v) for k, v in vars(args).items()}, "steps": step, "history": history}
            save(model, processor, args.out, info)
            if state_file:
                state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}
                state |= {"running": running, "history": history, "aux": aux.state_dict() if aux else None}
                state_file.parent.mkdir(parents=True, exist_ok=True)
                torch.save(state, state_file.with_suffix(".tmp"))
                state_file.with_suffix(".tmp").replace(state_file)
    print(f"done: {step} steps, {(time.time() - start) / 60:.1f} min in all", flush=True)


if __name__ == "__main__":
    main()
