"""Reports of :func:`headrouter.evaluation.runner.evaluate` results: markdown tables, a plot, and the files of a run.

``write_report`` writes ``results.json`` (every figure, the settings and the machine, and the paper table; predictions
left out), ``predictions.jsonl`` (one line per item and setting), ``results.md`` and, with matplotlib,
``results.png``.

The paper table (:func:`paper_table`) is the layout of the HeadRouter paper's results: one column per task, per domain
(speech, sound, music), per task type (semantic, acoustic) and the average, one row per method and keep ratio, each
cell the percent of the unpruned score; its first row holds the unpruned scores themselves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from headrouter.evaluation.summary import UNPRUNED
from headrouter.machine import describe_machine
from headrouter.reporting import markdown_table, pyplot, save_figure, write_report_files

SCORE_NOTE = (
    "Score: accuracy for choice and exact-answer items, max(0, 1 - WER) for transcription (wer) items, and a "
    "benchmark's own task metric for its tasks (e.g. AudioMarathon's macro F1, 1 - WER for its ASR); a domain's, a "
    "task family's and the overall score are the mean of their tasks' scores. % of unpruned = score / unpruned score "
    "x 100 on the same items; [low, high] beside it: its 95% bootstrap interval over items (paired with the unpruned "
    "answers, stratified by task, seeded). Audio tokens and prefill ms are means per item; prefill is the first "
    "forward call of the generating module (a Qwen2.5-Omni's thinker, else the model) inside generate (audio "
    "encoder + decoder + LM head)."
)
PAPER_NOTE = (
    "First row: the unpruned score x 100. Other rows: the score as a percent of the unpruned score on the same items. "
    "Columns: each task, each domain's and task type's mean over its tasks, and the average over all tasks."
)
ROUTING_NOTE = (
    "Percent of items whose routed task mixture (the task_mixture a method reports: headrouter with a table) leans "
    "most to the item's own task type; meaningful when the head table was calibrated on the items' task types."
)


# ---------------------------------------------------------------------- markdown


def format_markdown(results: dict) -> str:
    """The whole report: settings, percent-of-unpruned tables, per-family and per-task tables, skipped items."""
    settings, counts = results["settings"], results["counts"]
    lines = ["# headrouter eval", ""]
    if settings.get("model"):
        lines.append(f"- model: `{settings['model']}` ({settings['model_class']}, {settings['dtype']})")
    if settings.get("data"):
        lines.append(f"- data: `{settings['data']}`")
    lines += [
        f"- items: {counts['items']}, evaluated {counts['evaluated']}, skipped {counts['skipped']}",
        f"- methods: {', '.join(settings['methods']) or '-'}; keep ratios: "
        f"{', '.join(ratio(k) for k in settings['keep_ratios']) or '-'}; prune layer {settings['prune_layer']}; "
        f"greedy, max {settings['max_new_tokens']} new tokens (items that name their own: theirs); batch size "
        f"{settings['batch_size']}",
        f"- head table: {_table_note(settings.get('table'))}",
        f"- machine: {describe_machine(results['machine'])}",
        f"- date: {results.get('date', '-')}",
        "",
        SCORE_NOTE,
        "",
        "## Paper table: percent of unpruned, per task, domain and task type",
        "",
        PAPER_NOTE,
        "",
        paper_markdown(paper_table(results)),
        "",
        "## Percent of unpruned score",
        "",
    ]
    for row_set, name in [(results["overall"], "overall")] + [
        (_rows_of(results["families"], f), f) for f in families(results)
    ]:
        base = next(r for r in row_set if r["method"] == UNPRUNED)
        lines += [
            f"**{name}**: unpruned score {_num(base['score'], '.3f')} ({base['items']} items, tasks: {base['tasks']})",
            "",
            percent_table(row_set),
            "",
        ]
    routed = [r for r in results["overall"] + results["families"] if r.get("routed_to_own_type") is not None]
    if routed:
        lines += ["## Routing", "", ROUTING_NOTE, "", routing_table(routed), ""]
    lines += ["## Per task family", "", detail_table(results["overall"] + results["families"], family=True), ""]
    if results.get("domains"):
        lines += ["## Per domain", "", detail_table(results["domains"], family=True), ""]
    lines += ["## Per task", "", detail_table(results["tasks"], family=False), ""]
    if results["skipped"]:
        lines += ["## Skipped items", "", markdown_table(["id", "audio", "error"], [
            [s["id"], f"`{s['audio']}`", s["error"]] for s in results["skipped"]
        ]), ""]  # fmt: skip
    return "\n".join(lines)


def percent_table(rows: Sequence[dict]) -> str:
    """Methods x keep ratios, each cell the percent of the unpruned score (``-`` where undefined) and its bootstrap
    interval where there is one."""
    keeps = sorted({r["keep_ratio"] for r in rows if r["method"] != UNPRUNED}, reverse=True)
    methods = list(dict.fromkeys(r["method"] for r in rows if r["method"] != UNPRUNED))
    cell = {(r["method"], r["keep_ratio"]): r for r in rows}
    body = [[m] + [_percent(cell[m, k]) if (m, k) in cell else "" for k in keeps] for m in methods]
    return markdown_table(["method"] + [f"keep {ratio(k)}" for k in keeps], body)


def routing_table(rows: Sequence[dict]) -> str:
    """Task families x (method, keep ratio): the percent of items routed to their own task type."""
    settings = list(dict.fromkeys((r["method"], r["keep_ratio"]) for r in rows))
    names = list(dict.fromkeys(r["task_type"] or "overall" for r in rows))
    cell = {(r["task_type"] or "overall", r["method"], r["keep_ratio"]): r["routed_to_own_type"] for r in rows}
    body = [
        [name] + [_num(100 * cell[(name, *s)], ".1f") if (name, *s) in cell else "" for s in settings] for name in names
    ]
    return markdown_table(["family"] + [f"{m} {ratio(k)}" for m, k in settings], body)


def detail_table(rows: Sequence[dict], family: bool) -> str:
    """Every figure of summary rows (overall/family rows with ``family=True``, task rows otherwise)."""
    if family:
        header = [
            "family",
            "method",
            "keep",
            "items",
            "score",
            "% of unpruned",
            "audio tokens",
            "prefill ms",
            "vs unp.",
        ]
    else:
        header = ["task", "family", "metric", "method", "keep", "items", "accuracy", "WER", "score", "% of unpruned"]
        header += ["audio tokens", "prefill ms", "vs unp."]
    body = []
    for r in rows:
        where = [r["task_type"] or r.get("domain") or "overall"] if family else [r["task"], r["task_type"], r["metric"]]
        figures = [] if family else [_num(r["accuracy"], ".3f"), _num(r["wer"], ".3f")]
        body.append(
            where
            + [_method(r), _keep(r), str(r["items"])]
            + figures
            + [
                _num(r["score"], ".3f"),
                _num(r["percent_of_unpruned"], ".1f"),
                f"{_num(r['audio_tokens_before'], '.0f')} -> {_num(r['audio_tokens_after'], '.0f')}",
                _num(r["prefill_ms"], ".1f"),
                _num(r["prefill_vs_unpruned"], ".2f"),
            ]
        )
    return markdown_table(header, body)


def families(results: dict) -> list[str]:
    """Task families (``task_type`` values) in the results, in order."""
    return list(dict.fromkeys(r["task_type"] for r in results["families"]))


def _rows_of(rows: Sequence[dict], family: str) -> list[dict]:
    return [r for r in rows if r["task_type"] == family]


def _table_note(meta: dict | None) -> str:
    if meta is None:
        return "none (methods that use one, such as headrouter, fall back to their calibration-free rule)"
    counts = meta.get("calibration_counts", {})
    return "calibrated on " + ", ".join(f"{task}: {n}" for task, n in counts.items())


def _method(row: dict) -> str:
    return "unpruned" if row["method"] == UNPRUNED else row["method"]


def _keep(row: dict) -> str:
    return "-" if row["keep_ratio"] is None else ratio(row["keep_ratio"])


def ratio(keep: float) -> str:
    """A keep ratio as text: ``1.0``, ``0.5``, ``0.25``."""
    return f"{keep:.1f}" if float(keep).is_integer() else f"{keep:g}"


def setting_name(row: dict) -> str:
    """``unpruned`` or ``method keep`` of a summary or prediction row."""
    return "unpruned" if row["method"] == UNPRUNED else f"{row['method']} {ratio(row['keep_ratio'])}"


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _percent(row: dict) -> str:
    """The percent of unpruned with its interval: ``93.1 [90.2, 95.8]``."""
    interval = row.get("percent_of_unpruned_ci")
    text = _num(row["percent_of_unpruned"], ".1f")
    return text if interval is None else f"{text} [{interval[0]:.1f}, {interval[1]:.1f}]"


# ---------------------------------------------------------------------- the paper's layout


def paper_table(results: dict) -> dict:
    """The paper's layout as data: ``columns`` (``label``, ``kind``: task, domain, task_type or average, ``name``),
    ``unpruned`` (label -> unpruned score) and ``rows`` (``method``, ``keep_ratio``, ``percent_of_unpruned``: label ->
    percent, None where undefined), keep ratios from high to low.

    Tasks and task types come in the order of the items (a benchmark's own order: AudioMarathon's leaderboard order),
    or the summary's where the results hold no predictions. A domain column that would repeat a task column (the
    domain's only task has its name, as in MMAU) is left out.
    """
    seen = _unique(results.get("predictions", []), lambda r: (r["task_type"], r["task"]))
    tasks = sorted(_unique(results["tasks"], lambda r: (r["task_type"], r["task"])), key=lambda t: _rank(seen, t))
    kinds = sorted(families(results), key=lambda f: _rank([t for t, _ in seen], f))
    names = [task for _, task in tasks]
    columns = []
    for family, task in tasks:
        label = f"{task} ({family})" if names.count(task) > 1 else task
        columns.append(
            (label, "task", task, [r for r in results["tasks"] if (r["task_type"], r["task"]) == (family, task)])
        )
    for domain in _unique(results.get("domains", []), lambda r: r["domain"]):
        own = {r["task"] for r in results["tasks"] if r["domain"] == domain}
        if own != {domain}:
            columns.append(
                (f"{domain} (mean)", "domain", domain, [r for r in results["domains"] if r["domain"] == domain])
            )
    for family in kinds:
        columns.append((f"{family} (mean)", "task_type", family, _rows_of(results["families"], family)))
    columns.append(("average", "average", None, results["overall"]))
    settings = sorted(
        {(r["method"], r["keep_ratio"]) for r in results["overall"] if r["method"] != UNPRUNED},
        key=lambda s: (-s[1], _order(results["overall"], s[0])),
    )
    cell = {(label, r["method"], r["keep_ratio"]): r for label, _, _, rows in columns for r in rows}
    return {
        "columns": [{"label": label, "kind": kind, "name": name} for label, kind, name, _ in columns],
        "unpruned": {label: cell[label, UNPRUNED, None]["score"] for label, _, _, _ in columns},
        "rows": [
            {
                "method": method,
                "keep_ratio": keep,
                "percent_of_unpruned": {
                    label: cell[label, method, keep]["percent_of_unpruned"] for label, _, _, _ in columns
                },
            }
            for method, keep in settings
        ],
    }


def paper_markdown(table: dict) -> str:
    """:func:`paper_table` as a markdown table."""
    labels = [c["label"] for c in table["columns"]]
    body = [["unpruned", "-"] + [_num(None if v is None else 100 * v, ".1f") for v in table["unpruned"].values()]]
    for row in table["rows"]:
        percents = [_num(row["percent_of_unpruned"][label], ".1f") for label in labels]
        body.append([row["method"], ratio(row["keep_ratio"]), *percents])
    return markdown_table(["method", "keep", *labels], body)


def _unique(rows: Sequence[dict], key) -> list:
    return list(dict.fromkeys(key(r) for r in rows))


def _rank(order: Sequence, key) -> int:
    """``key``'s place in ``order`` (first appearance), after all of it if absent."""
    return order.index(key) if key in order else len(order)


def _order(rows: Sequence[dict], method: str) -> int:
    return _unique(rows, lambda r: r["method"]).index(method)


# ---------------------------------------------------------------------- plot


def plot_scores(results: dict, path: str | Path) -> Path | None:
    """Score vs keep ratio per method, one panel for all tasks and one per family, the unpruned score dashed.

    Returns the path, or None (logged) if matplotlib is not installed.
    """
    plt = pyplot()
    if plt is None:
        return None
    panels = [("all tasks", results["overall"])] + [(f, _rows_of(results["families"], f)) for f in families(results)]
    for domain in _unique(results.get("domains", []), lambda r: r["domain"]):
        panels.append((domain, [r for r in results["domains"] if r["domain"] == domain]))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False, sharey=True)
    for ax, (title, rows) in zip(axes[0], panels, strict=True):
        base = next(r for r in rows if r["method"] == UNPRUNED)
        for method in dict.fromkeys(r["method"] for r in rows if r["method"] != UNPRUNED):
            points = sorted((r["keep_ratio"], r["score"]) for r in rows if r["method"] == method)
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=method)
        if base["score"] is not None:
            ax.axhline(base["score"], color="black", linestyle="--", linewidth=1, label="unpruned")
        ax.set_title(f"{title} ({base['items']} items)")
        ax.set_xlabel("keep ratio")
        ax.set_xlim(1.05, 0.0)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("score")
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return save_figure(figure, path)


# ---------------------------------------------------------------------- files


def write_report(results: dict, out_dir: str | Path, plot: bool = True) -> dict[str, Path]:
    """Write ``results.json``, ``predictions.jsonl``, ``results.md`` and (if possible) ``results.png`` to
    ``out_dir``; returns the paths written, by kind."""
    summary = {k: v for k, v in results.items() if k != "predictions"}
    summary["paper_table"] = paper_table(results)
    drawing = (lambda path: plot_scores(results, path)) if plot else None
    paths = write_report_files(out_dir, "results", summary, format_markdown(results) + "\n", drawing)
    paths["predictions"] = Path(out_dir) / "predictions.jsonl"
    with paths["predictions"].open("w", encoding="utf-8") as f:
        for row in results.get("predictions", []):
            f.write(json.dumps(row) + "\n")
    return paths
