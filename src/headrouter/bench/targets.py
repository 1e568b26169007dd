"""The four figures the benchmark is judged on, their targets, and whether a run met them."""

from __future__ import annotations

TARGET_SPEED = {"audio_tokens": 3000, "keep_ratio": 0.3, "min_share_of_ideal": 0.90}
TARGET_SCORING_TIME = {"audio_tokens": 7500, "max_share_of_prefill": 0.02}
TARGET_SCORING_MEMORY = {"audio_tokens": 7500, "max_share_of_reference": 0.01}
TARGET_KV = {"max_relative_error": 0.01}


def evaluate_targets(results: dict) -> list[dict]:
    """The four figures the benchmark is judged on, each with its target and whether it was met (None: not in
    this run's grid)."""
    cells = [c for c in results["cells"] if c["method"] != "none"]

    def at(n: int, keep: float | None = None) -> list[dict]:
        return [c for c in cells if c["audio_tokens"] == n and (keep is None or c["keep_ratio"] == keep)]

    speed = [c["measured_over_ideal"] for c in at(TARGET_SPEED["audio_tokens"], TARGET_SPEED["keep_ratio"])]
    scoring = [c["scoring_share"] for c in at(TARGET_SCORING_TIME["audio_tokens"]) if c["scoring_share"] is not None]
    memory = [
        c["scoring_peak_share"]
        for c in at(TARGET_SCORING_MEMORY["audio_tokens"])
        if c["scoring_peak_share"] is not None
    ]
    kv = [c["kv_error"] for c in results["cells"]]
    ideal = "end-to-end ideal" if results["settings"].get("with_audio_tower") else "FLOP-ideal"
    return [
        _target(
            "speedup_vs_ideal",
            f"measured / {ideal} speed-up at {TARGET_SPEED['audio_tokens']} audio tokens, keep "
            f"{TARGET_SPEED['keep_ratio']} (worst method)",
            ">=",
            TARGET_SPEED["min_share_of_ideal"],
            min(speed) if speed else None,
        ),
        _target(
            "scoring_time_share",
            f"scoring time / unpruned prefill at {TARGET_SCORING_TIME['audio_tokens']} audio tokens (worst cell)",
            "<=",
            TARGET_SCORING_TIME["max_share_of_prefill"],
            max(scoring) if scoring else None,
        ),
        _target(
            "scoring_memory_share",
            f"extra scoring memory / extra memory of eager full attention at layer K-1 at "
            f"{TARGET_SCORING_MEMORY['audio_tokens']} audio tokens (worst cell)",
            "<=",
            TARGET_SCORING_MEMORY["max_share_of_reference"],
            max(memory) if memory else None,
        ),
        _target(
            "kv_bytes_error",
            "|KV-cache bytes - ideal| / ideal (worst cell)",
            "<=",
            TARGET_KV["max_relative_error"],
            max(kv) if kv else None,
        ),
    ]


def _target(name: str, description: str, comparison: str, target: float, value: float | None) -> dict:
    met = None if value is None else (value >= target if comparison == ">=" else value <= target)
    return {"name": name, "description": description, "comparison": comparison, "target": target, "value": value,
            "met": met}  # fmt: skip


def format_targets(targets: list[dict]) -> list[str]:
    """One line per target: ``figure: measured (target) -> met/MISSED``."""
    lines = []
    for t in targets:
        value = target_text(t["name"], t["value"]) if t["value"] is not None else "not in this run"
        status = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        target = target_text(t["name"], t["target"])
        lines.append(f"{t['description']}: {value} (target {t['comparison']} {target}) -> {status}")
    return lines


def target_text(name: str, value: float) -> str:
    """A target's figure as text: the speed share to 0.1%, the others (small shares) to 0.001%."""
    return f"{value:.1%}" if name == "speedup_vs_ideal" else f"{value:.3%}"
