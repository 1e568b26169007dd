"""``headrouter calibrate``: profile a local checkpoint's heads on a calibration set and save a HeadTable."""

from __future__ import annotations

import argparse
import functools
import logging
import math
import tempfile
from pathlib import Path

from headrouter.cli.argtypes import at_least, items, keep_ratios, layer_list, positive_int, share
from headrouter.cli.options import add_dtype, add_truncate_audio, library_default

BUILTIN_SAMPLES = 32
"""``--builtin``'s samples per task type: the shipped table was calibrated on 30-50 per task type."""


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    """Add ``headrouter calibrate`` to ``subcommands``."""
    subcommands.add_parser(
        "calibrate",
        help="profile per-head audio attention on a calibration set and save a HeadTable",
        description="One forward pass per sample; writes head_table.safetensors and head_table.json to OUT. With "
        "--builtin the samples come from headrouter's task generator: no data needed. With --out the checkpoint "
        "directory, headrouter.wrap(model) finds the table by itself.",
        arguments=_arguments,
    ).set_defaults(run=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    from headrouter.methods.headrouter.calibration import DEFAULT_TASKS, calibrate
    from headrouter.methods.headrouter.fidelity import WEIGHTINGS

    parser.add_argument("--model", required=True, help="a local checkpoint directory of a supported model")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--data",
        nargs="+",
        metavar="FILE",
        help='JSON lines: {"audio": PATH, "prompt": TEXT, "task": TYPE} per sample, or evaluation items; several '
        "files are calibrated on together",
    )
    source.add_argument(
        "--builtin",
        action="store_true",
        help="generate the calibration set with headrouter's task generator (every task of each task type; the "
        "speech tasks need espeak-ng) in a temporary directory",
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        help=f"with --builtin: samples per task type, spread over its tasks (default {BUILTIN_SAMPLES})",
    )
    parser.add_argument("--seed", type=int, help="with --builtin: the generator's seed (default 0)")
    parser.add_argument("--out", required=True, help="directory for the table")
    parser.add_argument(
        "--tasks",
        type=items,
        default=list(DEFAULT_TASKS),
        help="comma-separated task types; each needs >= 1 sample in --data, --builtin makes them "
        f"(default {','.join(DEFAULT_TASKS)})",
    )
    bins, coverage = library_default(calibrate, "bins"), library_default(calibrate, "coverage")
    parser.add_argument("--bins", type=positive_int, default=bins, help=f"positional-prior bins (default {bins})")
    parser.add_argument(
        "--coverage",
        type=share,
        default=coverage,
        help=f"share of importance the kept heads hold, (0, 1] (default {coverage:g})",
    )
    parser.add_argument(
        "--weighting",
        choices=WEIGHTINGS,
        default=library_default(calibrate, "weighting"),
        help="attention: weigh heads by audio mass x selectivity (the paper's profile); fidelity: then weigh the heads "
        "of --fidelity-layers by how well each one's own choice of tokens keeps the unpruned model's next-token "
        "distribution (no labels; about (heads + 1) x ratios more forward passes per sample) (default %(default)s)",
    )
    layers = ",".join(str(layer) for layer in library_default(calibrate, "fidelity_layers"))
    parser.add_argument(
        "--fidelity-layers",
        type=layer_list,
        help=f"with --weighting fidelity: the layers measured, K-1 for each prune layer K used (default {layers})",
    )
    ratios = ",".join(f"{r:g}" for r in library_default(calibrate, "fidelity_keep_ratios"))
    parser.add_argument(
        "--fidelity-keep",
        type=keep_ratios,
        help=f"with --weighting fidelity: the keep ratios each head's choice is tried at (default {ratios})",
    )
    z = library_default(calibrate, "fidelity_z")
    parser.add_argument(
        "--fidelity-z",
        type=functools.partial(at_least, 0.0, why="standard errors"),
        help=f"with --weighting fidelity: standard errors by which a head's mean gain over a random choice must exceed "
        f"0 for the head to be weighted; 0 weighs every head with a positive mean gain (default {z:g})",
    )
    add_dtype(parser)
    add_truncate_audio(parser)


def run(args: argparse.Namespace) -> int:
    """Check the data, load the model, calibrate and write the table."""
    from headrouter.adapters import load_model, load_processor
    from headrouter.methods.headrouter.calibration import calibrate
    from headrouter.methods.headrouter.samples import check_tasks, load_samples

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # everything that can be checked without the weights is checked first: a typo fails before a minute of loading
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise NotADirectoryError(f"--out {args.out} is a file; the table needs a directory")
    if not args.builtin and (args.samples is not None or args.seed is not None):
        raise ValueError("--samples and --seed choose what --builtin generates; with --data they mean nothing")
    fidelity = {
        "fidelity_layers": args.fidelity_layers,
        "fidelity_keep_ratios": args.fidelity_keep,
        "fidelity_z": args.fidelity_z,
    }
    if args.weighting != "fidelity" and any(v is not None for v in fidelity.values()):
        raise ValueError(
            "--fidelity-layers, --fidelity-keep and --fidelity-z set up --weighting fidelity; alone they mean nothing"
        )
    with tempfile.TemporaryDirectory(prefix="headrouter-calibration-") as scratch:
        if args.builtin:
            builtin = {"samples_per_task_type": args.samples or BUILTIN_SAMPLES, "seed": args.seed or 0}
            tasks = builtin_tasks(args.tasks)
            samples = builtin_samples(Path(scratch), tasks, builtin["samples_per_task_type"], builtin["seed"])
        else:
            samples = [sample for path in args.data for sample in load_samples(path)]
        check_tasks(samples, args.tasks)
        model = load_model(args.model, dtype=args.dtype)
        processor = load_processor(args.model)
        table = calibrate(
            model,
            processor,
            samples,
            tasks=args.tasks,
            bins=args.bins,
            coverage=args.coverage,
            truncate_audio=args.truncate_audio,
            weighting=args.weighting,
            **{k: v for k, v in fidelity.items() if v is not None},
        )
    if args.builtin:
        table.meta["builtin_calibration_set"] = {**builtin, "tasks": tasks}
    out = table.save_pretrained(args.out)
    counts = ", ".join(f"{task}: {n}" for task, n in table.meta["calibration_counts"].items())
    print(f"calibrated on {counts} ({table.meta['failed_samples']} failed); table written to {out}")
    return 0


def builtin_tasks(task_types: list[str]) -> dict[str, list[str]]:
    """The generator's tasks of each task type; ``ValueError`` for a task type it has no task of, ``OSError`` if one
    of them speaks and espeak-ng is missing."""
    from headrouter.evaluation.tasks.generator import SPEECH_TASKS, TASKS
    from headrouter.evaluation.tasks.speech import ESPEAK, espeak_available

    tasks = {t: [name for name, spec in TASKS.items() if spec.task_type == t] for t in task_types}
    missing = [t for t, names in tasks.items() if not names]
    if missing:
        known = sorted({spec.task_type for spec in TASKS.values()})
        raise ValueError(f"--builtin has no task of task type {missing}; its task types: {', '.join(known)}")
    speaking = [name for names in tasks.values() for name in names if name in SPEECH_TASKS]
    if speaking and not espeak_available():
        raise OSError(
            f"--builtin speaks its {', '.join(speaking)} clips with {ESPEAK}, which is not on PATH: install it "
            "(apt-get install espeak-ng, brew install espeak-ng) or calibrate on your own clips with --data"
        )
    return tasks


def builtin_samples(directory: Path, tasks: dict[str, list[str]], per_type: int, seed: int) -> list:
    """``per_type`` calibration samples of each task type, taken in turn from its tasks (so each task type's tasks
    are equally represented), generated by :func:`~headrouter.evaluation.tasks.generator.generate` with ``seed``
    into ``directory``. The prompt of each is what evaluation sends for the item."""
    from headrouter.evaluation.tasks.generator import generate
    from headrouter.methods.headrouter.samples import load_samples

    samples = []
    for task_type, names in tasks.items():
        per_task = math.ceil(per_type / len(names))
        generate(directory / task_type, per_task, seed, tasks=names, progress=False)
        generated = load_samples(directory / task_type / "items.jsonl")  # task-major: per_task of each task in turn
        turns = [generated[k * per_task + i] for i in range(per_task) for k in range(len(names))]
        samples += turns[:per_type]
    return samples
