"""The benchmark's report: markdown (setup, one row per cell, memory per length, the targets), a plot of speed-ups
against the FLOP ideal, and the files of a run (:mod:`headrouter.reporting` writes them)."""

from __future__ import annotations

from pathlib import Path

from headrouter.bench.model import TEXT_AFTER, TEXT_BEFORE
from headrouter.bench.targets import target_text
from headrouter.machine import describe_machine
from headrouter.reporting import markdown_table, pyplot, save_figure, write_report_files

MIB = 2**20


def format_markdown(results: dict) -> str:
    """The report as markdown: setup, one table row per cell, memory per length, the four targets, notes."""
    machine, model = results["machine"], results["model"]
    d = model["decoder"]
    end_to_end = results["settings"].get("with_audio_tower", False)
    lines = [
        "# headrouter bench",
        "",
        f"- machine: {describe_machine(machine)}; other processes used "
        f"{_fmt(machine.get('other_processes_cpu_share'), '{:.0%}')} of the CPUs during the run",
        f"- model: {model['source']}; hidden {d['hidden_size']}, {d['num_heads']} query heads, {d['num_kv_heads']} KV "
        f"heads, head dim {d['head_dim']}, MLP {d['intermediate_size']}, {d['num_layers']} layers, vocab "
        f"{model['vocab_size']}; {model['dtype']}, attention {model['attn_implementation']}",
        f"- split: {model['layer_split']}",
        *_tower_lines(model, end_to_end),
        f"- prefill: median of {results['settings']['runs']} runs after a warm-up, runs interleaved over the cells "
        "of a length; speed-up vs keep 1.0 of the same method",
        f"- headrouter's head table: {model['head_table']['source']}" if "head_table" in model else "",
        "",
        *(_end_to_end_sections(results) if end_to_end else _decoder_sections(results)),
        "",
        "## Targets",
        "",
        _target_table(results["targets"]),
    ]
    if results["notes"]:
        lines += ["", "## Notes", "", *(f"- {note}" for note in results["notes"])]
    return "\n".join(lines) + "\n"


def _tower_lines(model: dict, end_to_end: bool) -> list[str]:
    if not end_to_end:
        return [
            f"- prompt: {TEXT_BEFORE} text tokens, `<audio_bos>`, N audio placeholders, `<audio_eos>`, {TEXT_AFTER} "
            "text tokens; no `input_features` (the audio tower does not run; placeholder embeddings stand in for "
            "audio features), batch 1"
        ]
    tower = model["audio_tower"]
    return [
        f"- audio tower: {tower['layers']} layers, {tower['parameters'] / 1e6:,.0f} M parameters, run on random "
        "`input_features` of 4 mel frames per audio token (25 tokens per second of audio)",
        f"- prompt: {TEXT_BEFORE} text tokens, `<audio_bos>`, N audio tokens from the tower, `<audio_eos>`, "
        f"{TEXT_AFTER} text tokens, batch 1",
        "- end to end: tower = wall time inside the audio tower; decoder = prefill minus tower; end-to-end ideal = "
        "the tower's share s at keep 1.0 unchanged and the rest at the decoder's FLOP ideal, 1 / (s + (1 - s) / "
        "decoder ideal)",
    ]


def _decoder_sections(results: dict) -> list[str]:
    return [
        _cell_table(results["cells"]),
        "",
        "Scoring memory: peak allocation through PyTorch's CPU allocator (torch.profiler, profile_memory) in the "
        "router's capture and pruning hooks, beside eager attention of layer K-1 returning its heads x seq x seq "
        "weights, minus the same layer with sdpa (same inputs, same run).",
        "",
        _memory_table(results),
    ]


def _end_to_end_sections(results: dict) -> list[str]:
    header = [
        "audio tokens", "method", "keep", "tokens → kept", "prefill ms", "tower ms (share)", "decoder speed-up",
        "decoder ideal", "end-to-end speed-up", "end-to-end ideal", "measured / ideal", "peak prefill MiB",
        "KV MiB (ideal)", "decode ms/token",
    ]  # fmt: skip
    rows = []
    for c in results["cells"]:
        rows.append(
            [
                *_cell_start(c),
                f"{c['tower_ms']:,.0f} ({c['tower_share']:.0%})",
                _fmt(c["decoder_speedup"], "{:.2f}×"),
                f"{c['decoder_ideal_speedup']:.2f}×",
                _fmt(c["speedup"], "{:.2f}×"),
                _fmt(c["ideal_speedup"], "{:.2f}×"),
                _fmt(c["measured_over_ideal"], "{:.0%}"),
                _fmt(c["prefill_peak_bytes"] and c["prefill_peak_bytes"] / MIB, "{:,.0f}"),
                f"{c['kv_bytes'] / MIB:.1f} ({c['kv_bytes_ideal'] / MIB:.1f})",
                _fmt(c["decode_ms_per_token"], "{:.1f}"),
            ]
        )
    device = results["model"].get("device", "cpu")
    how = "the CUDA allocator's peak" if device.startswith("cuda") else "torch.profiler, profile_memory"
    return [
        markdown_table(header, rows),
        "",
        f"Peak prefill memory: the most allocated through PyTorch's allocator during the prefill above what was "
        f"allocated before it ({how}; the weights not counted), from the warm-up run.",
    ]


def _cell_start(c: dict) -> list[str]:
    """The columns every cell table starts with: length, method, keep ratio, tokens before and after, prefill ms."""
    pruned = c["method"] != "none"
    return [
        f"{c['audio_tokens']:,}",
        c["method"] if pruned else "unwrapped",
        f"{c['keep_ratio']:g}" if pruned else "–",
        f"{c['tokens_before']:,} → {c['tokens_after']:,}",
        f"{c['prefill_ms']:,.0f}",
    ]


def _cell_table(cells: list[dict]) -> str:
    header = [
        "audio tokens", "method", "keep", "tokens → kept", "prefill ms", "speed-up", "ideal", "measured / ideal",
        "scoring ms (% of unpruned)", "scoring extra MiB", "KV MiB (ideal)", "decode ms/token",
    ]  # fmt: skip
    rows = []
    for c in cells:
        rows.append(
            [
                *_cell_start(c),
                _fmt(c["speedup"], "{:.2f}×"),
                f"{c['ideal_speedup']:.2f}×",
                _fmt(c["measured_over_ideal"], "{:.0%}"),
                f"{c['scoring_ms']:.1f} ({c['scoring_share']:.2%})" if c["scoring_ms"] is not None else "–",
                _fmt(c["scoring_peak_bytes"] and c["scoring_peak_bytes"] / MIB, "{:.1f}"),
                f"{c['kv_bytes'] / MIB:.1f} ({c['kv_bytes_ideal'] / MIB:.1f})",
                _fmt(c["decode_ms_per_token"], "{:.1f}"),
            ]
        )
    return markdown_table(header, rows)


def _memory_table(results: dict) -> str:
    header = [
        "audio tokens", "unpruned prefill ms", "eager + weights, layer K-1 MiB", "sdpa, layer K-1 MiB",
        "reference extra MiB", "heads·L²·bytes MiB", "worst scoring extra MiB", "scoring / reference",
        "CPU used by others while timing",
    ]  # fmt: skip
    rows = []
    for item in results["lengths"]:
        if item.get("skipped"):
            rows.append([f"{item['audio_tokens']:,}", "skipped", "", "", "", "", "", "", ""])
            continue
        ref = item.get("reference")
        cells = [c for c in results["cells"] if c["audio_tokens"] == item["audio_tokens"] and c["scoring_peak_bytes"]]
        worst = max(cells, key=lambda c: c["scoring_peak_bytes"], default=None)
        rows.append(
            [
                f"{item['audio_tokens']:,}",
                f"{item['unpruned_prefill_ms']:,.0f}",
                _fmt(ref and ref["eager_peak_bytes"] / MIB, "{:,.1f}"),
                _fmt(ref and ref["sdpa_peak_bytes"] / MIB, "{:,.1f}"),
                _fmt(ref and ref["extra_bytes"] / MIB, "{:,.1f}"),
                _fmt(ref and ref["analytic_weights_bytes"] / MIB, "{:,.1f}"),
                _fmt(worst and worst["scoring_peak_bytes"] / MIB, "{:,.1f}"),
                _fmt(worst and worst["scoring_peak_share"], "{:.2%}"),
                _fmt(item.get("other_processes_cpu_share"), "{:.0%}"),
            ]
        )
    return markdown_table(header, rows)


def _target_table(targets: list[dict]) -> str:
    rows = [
        [
            t["description"],
            f"{t['comparison']} {target_text(t['name'], t['target'])}",
            target_text(t["name"], t["value"]) if t["value"] is not None else "not in this run",
            {True: "met", False: "MISSED", None: "–"}[t["met"]],
        ]
        for t in targets
    ]
    return markdown_table(["figure", "target", "measured", ""], rows)


def _fmt(value, spec: str) -> str:
    return "–" if value is None else spec.format(value)


def plot_speedups(results: dict, path: str | Path) -> Path | None:
    """Speed-up vs keep ratio, one line per audio length and one panel per method, the ideal dashed.

    Returns the file written, or None (logged) when matplotlib is not installed.
    """
    plt = pyplot()
    if plt is None:
        return None
    methods = list(dict.fromkeys(c["method"] for c in results["cells"] if c["method"] != "none"))
    lengths = sorted({c["audio_tokens"] for c in results["cells"]})
    fig, axes = plt.subplots(
        1, max(len(methods), 1), figsize=(5.5 * max(len(methods), 1), 4.2), squeeze=False, sharey=True
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, method in zip(axes[0], methods, strict=False):
        for i, n in enumerate(lengths):
            cells = sorted(
                (c for c in results["cells"] if c["method"] == method and c["audio_tokens"] == n),
                key=lambda c: c["keep_ratio"],
            )
            keep = [c["keep_ratio"] for c in cells]
            color = colors[i % len(colors)]
            ax.plot(keep, [c["speedup"] for c in cells], "o-", color=color, label=f"{n:,} audio tokens")
            ax.plot(keep, [c["ideal_speedup"] for c in cells], "--", color=color, alpha=0.7)
        ax.plot([], [], "--", color="gray", label="FLOP-ideal")
        ax.set_title(f"{method}: {results['model']['layer_split'].split('(')[-1].rstrip(')')}")
        ax.set_xlabel("keep ratio")
        ax.set_ylabel("prefill speed-up vs keep 1.0")
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def write_report(results: dict, out_dir: str | Path, stem: str = "bench", plot: bool = True) -> dict[str, Path]:
    """Write ``{stem}.json``, ``{stem}.md`` and (with matplotlib) ``{stem}.png`` into ``out_dir``."""
    drawing = (lambda path: plot_speedups(results, path)) if plot else None
    return write_report_files(out_dir, stem, results, format_markdown(results), drawing)
