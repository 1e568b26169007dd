"""Bootstrap intervals over items in the evaluation summary, on hand-made prediction rows (no model): zero-width
intervals where every resample agrees, exact pairing, determinism, hand-enumerated small cases, stratified groups,
and a macro-F1 task whose interval comes from the F1 recomputed on every resample."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from headrouter.evaluation.benchmarks.scoring import get_rule
from headrouter.evaluation.bootstrap import (
    RESAMPLES,
    items_to_resolve,
    mean_replicates,
    percent_replicates,
    percentile_interval,
    resample_indices,
)
from headrouter.evaluation.report import percent_table
from headrouter.evaluation.summary import UNPRUNED, Setting, summarize

FASTV = Setting("fastv", 0.5)
SETTINGS = [Setting(UNPRUNED, None), FASTV]


def row(task, setting, i, score, task_type="acoustic", metric="exact", answer="a", reading=None, domain=None):
    """One prediction row: item ``i`` of ``task`` answered under ``setting``."""
    return {
        "id": f"{task}-{i:02d}",
        "task": task,
        "task_type": task_type,
        "domain": domain,
        "metric": metric,
        "method": setting.method,
        "keep_ratio": setting.keep_ratio,
        "answer": answer,
        "reading": reading,
        "score": float(score),
        "raw": float(score),
        "audio_tokens_before": 10,
        "audio_tokens_after": 10,
        "prefill_ms": 1.0,
        "details": {},
    }


def task_rows(task, unpruned, pruned, task_type="acoustic", domain=None):
    """Rows of one task: item i scores ``unpruned[i]`` unpruned and ``pruned[i]`` under fastv 0.5."""
    return [
        row(task, setting, i, s, task_type=task_type, domain=domain)
        for setting, scores in zip(SETTINGS, (unpruned, pruned), strict=True)
        for i, s in enumerate(scores)
    ]


def rows_of(summary, method=FASTV.method):
    """The summary's rows of ``method``, by level."""
    return {level: [r for r in summary[level] if r["method"] == method] for level in summary}


def only(summary, level, method=FASTV.method):
    (found,) = rows_of(summary, method)[level]
    return found


def width(interval):
    return interval[1] - interval[0]


def test_all_items_equal_give_a_zero_width_interval_at_the_point():
    out = summarize(task_rows("pitch", [1] * 10, [0.5] * 10), SETTINGS)
    pruned, unpruned = only(out, "tasks"), only(out, "tasks", UNPRUNED)
    assert pruned["score"] == 0.5 and pruned["score_ci"] == [0.5, 0.5]
    assert pruned["percent_of_unpruned"] == 50.0 and pruned["percent_of_unpruned_ci"] == [50.0, 50.0]
    assert unpruned["score_ci"] == [1.0, 1.0] and unpruned["percent_of_unpruned_ci"] == [100.0, 100.0]
    assert only(out, "overall")["percent_of_unpruned_ci"] == [50.0, 50.0]
    assert "| fastv | 50.0 [50.0, 50.0] |" in percent_table(out["overall"])  # the interval beside the percent
    undefined = summarize(task_rows("pitch", [0] * 3, [1] * 3), SETTINGS)["overall"]
    assert "| fastv | - |" in percent_table(undefined)


def test_a_setting_identical_to_unpruned_is_exactly_100_thanks_to_pairing():
    scores = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0]
    rows = task_rows("pitch", scores, scores) + task_rows("word", scores[::-1], scores[::-1], task_type="semantic")
    out = summarize(rows, SETTINGS)
    for level in ("tasks", "families", "overall"):
        for r in rows_of(out)[level]:
            assert r["percent_of_unpruned_ci"] == [100.0, 100.0], level
            assert width(r["score_ci"]) > 0.2  # the scores do vary: the zero width comes from the pairing


def test_two_items_enumerated():
    """Items scoring (0, 1) pruned and (1, 1) unpruned: a resample's pruned mean is 0, 0.5 or 1 with probability
    1/4, 1/2, 1/4, so the 2.5th and 97.5th percentiles of 1,000 resamples are 0 and 1."""
    out = summarize(task_rows("pitch", [1, 1], [0, 1]), SETTINGS)
    pruned = only(out, "tasks")
    assert pruned["score"] == 0.5 and pruned["score_ci"] == [0.0, 1.0]
    assert pruned["percent_of_unpruned"] == 50.0 and pruned["percent_of_unpruned_ci"] == [0.0, 100.0]
    means = mean_replicates([0.0, 1.0], resample_indices(2, "acoustic/pitch"))
    shares = [np.mean(means == v) for v in (0.0, 0.5, 1.0)]
    assert shares == pytest.approx([0.25, 0.5, 0.25], abs=0.05)


def test_resamples_whose_unpruned_score_is_zero_are_left_out_of_the_percent():
    """Unpruned and pruned both (0, 1): a quarter of the resamples pick item 0 twice (0 / 0, undefined), the rest
    give exactly 100."""
    out = summarize(task_rows("pitch", [0, 1], [0, 1]), SETTINGS)
    assert only(out, "tasks")["percent_of_unpruned_ci"] == [100.0, 100.0]
    assert percent_replicates(np.array([0.0, 1.0]), np.array([0.0, 2.0])).tolist()[1] == 50.0
    assert np.isnan(percent_replicates(np.array([0.0, 1.0]), np.array([0.0, 2.0]))[0])
    assert percentile_interval(np.array([np.nan, np.nan])) is None


def test_the_interval_widens_when_item_scores_disagree_more():
    one_wrong = summarize(task_rows("pitch", [1] * 20, [1] * 19 + [0]), SETTINGS)
    half_wrong = summarize(task_rows("pitch", [1] * 20, [1, 0] * 10), SETTINGS)
    narrow, wide = only(one_wrong, "tasks"), only(half_wrong, "tasks")
    assert 0 < width(narrow["score_ci"]) < width(wide["score_ci"])
    assert 0 < width(narrow["percent_of_unpruned_ci"]) < width(wide["percent_of_unpruned_ci"])
    assert narrow["score_ci"][1] == 1.0  # no resample can beat a perfect score


def mixed_rows():
    """Three tasks over two families and two domains, 30 items each, scores drawn from a seeded generator."""
    draw = random.Random(7)
    rows = []
    for task, family, domain, p_unpruned, p_pruned in [
        ("pitch", "acoustic", "music", 0.9, 0.7),
        ("event", "acoustic", "sound", 0.8, 0.75),
        ("word", "semantic", "speech", 0.85, 0.5),
    ]:
        unpruned = [draw.random() < p_unpruned for _ in range(30)]
        pruned = [u and draw.random() < p_pruned / p_unpruned for u in unpruned]
        rows += task_rows(task, unpruned, pruned, task_type=family, domain=domain)
    return rows


def test_deterministic_for_a_seed_and_the_point_lies_inside():
    rows = mixed_rows()
    first = summarize(rows, SETTINGS)
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    assert summarize(shuffled, SETTINGS) == first  # items are paired by id, not by row order
    other = summarize(rows, SETTINGS, seed=1)
    assert only(other, "overall")["score_ci"] != only(first, "overall")["score_ci"]
    assert json.loads(json.dumps(first)) == first  # intervals are plain JSON lists
    checked = 0
    for level in ("tasks", "domains", "families", "overall"):
        for r in first[level]:
            low, high = r["score_ci"]
            assert low <= r["score"] <= high, (level, r["method"])
            low, high = r["percent_of_unpruned_ci"]
            assert low <= r["percent_of_unpruned"] <= high, (level, r["method"])
            checked += 1
    assert checked == 2 * (3 + 3 + 2 + 1)


def test_groups_resample_within_each_task():
    """The family interval is the percentile interval of the mean of its tasks' resampled scores, each task
    resampled on its own (stratified), with the index matrix seeded by the task's name."""
    rows = mixed_rows()
    out = summarize(rows, SETTINGS)
    draws = {}
    for setting in SETTINGS:
        per_task = []
        for task in ("event", "pitch"):
            mine = sorted(
                (r for r in rows if r["task"] == task and r["method"] == setting.method), key=lambda r: r["id"]
            )
            indices = resample_indices(len(mine), f"acoustic/{task}")
            assert indices.shape == (RESAMPLES, 30)
            per_task.append(mean_replicates([r["score"] for r in mine], indices))
        draws[setting] = np.mean(per_task, axis=0)
    family = next(r for r in rows_of(out)["families"] if r["task_type"] == "acoustic")
    assert family["score_ci"] == pytest.approx(np.percentile(draws[FASTV], [2.5, 97.5]).tolist())
    by_hand = np.percentile(100 * draws[FASTV] / draws[SETTINGS[0]], [2.5, 97.5])
    assert family["percent_of_unpruned_ci"] == pytest.approx(by_hand.tolist())


def test_no_interval_where_it_cannot_be_had():
    out = summarize(task_rows("pitch", [1], [0]) + task_rows("word", [1], [1], task_type="semantic"), SETTINGS)
    for level in ("tasks", "families", "overall"):
        for r in out[level]:  # one item per task: nothing to resample
            assert r["score_ci"] is None and r["percent_of_unpruned_ci"] is None
    zero = only(summarize(task_rows("pitch", [0, 0, 0], [1, 0, 1]), SETTINGS), "tasks")
    assert zero["percent_of_unpruned"] is None and zero["percent_of_unpruned_ci"] is None
    assert zero["score_ci"] is not None
    rows = task_rows("pitch", [1, 0, 1], [1, 1, 1])
    rows[-1]["id"] = "elsewhere"  # the pruned setting answered another item: nothing to pair
    out = summarize(rows, SETTINGS)
    assert only(out, "tasks")["score_ci"] is None and only(out, "overall")["percent_of_unpruned_ci"] is None
    assert only(out, "tasks", UNPRUNED)["score_ci"] is None  # a task's items are every id it was answered for
    with pytest.raises(ValueError, match="resamples"):
        summarize(task_rows("pitch", [1, 1], [1, 0]), SETTINGS, resamples=0)


def f1_rows(readings_unpruned, readings_pruned):
    """AudioMarathon HAD (speech deepfake detection, macro F1 over real/fake) rows; answers alternate."""
    rule = get_rule("audiomarathon-had")
    answers = ["real", "fake"] * (len(readings_unpruned) // 2)
    return [
        row("SD", setting, i, answer == reading, metric=rule.name, answer=answer, reading=reading)
        for setting, readings in zip(SETTINGS, (readings_unpruned, readings_pruned), strict=True)
        for i, (answer, reading) in enumerate(zip(answers, readings, strict=True))
    ]


def test_a_macro_f1_task_recomputes_f1_on_every_resample():
    """Half the pruned answers unreadable (score 0, left out of the F1), the other half right: the F1 is 1 on every
    resample that has a readable answer (all but about 1 in 4,096), so the interval is [1, 1], where a mean of item
    scores would give a wide interval around 0.5."""
    truth = ["real", "fake"] * 6
    pruned = [t if i % 4 < 2 else "" for i, t in enumerate(truth)]
    out = summarize(f1_rows(truth, pruned), SETTINGS)
    task = only(out, "tasks")
    assert task["metric"] == "macro_f1" and task["accuracy"] == 0.5
    assert task["score"] == 1.0 and task["score_ci"] == [1.0, 1.0]
    assert task["percent_of_unpruned_ci"] == [100.0, 100.0]

    mistaken = ["fake" if i % 4 == 0 else t for i, t in enumerate(truth)]  # macro F1 0.733, accuracy 0.75
    rows = f1_rows(truth, mistaken)
    task = only(summarize(rows, SETTINGS), "tasks")
    assert task["score"] == pytest.approx((6 / 9 + 12 / 15) / 2) and task["accuracy"] == 0.75
    metric = get_rule("audiomarathon-had").task_metric
    mine = sorted((r for r in rows if r["method"] == FASTV.method), key=lambda r: r["id"])
    indices = resample_indices(len(mine), "acoustic/SD")
    f1s = [metric.combine(*([mine[i][k] for i in pick] for k in ("answer", "reading", "score"))) for pick in indices]
    assert task["score_ci"] == pytest.approx(np.percentile(f1s, [2.5, 97.5]).tolist())
    means = np.percentile(mean_replicates([r["score"] for r in mine], indices), [2.5, 97.5]).tolist()
    assert task["score_ci"] != pytest.approx(means)  # the F1, not the mean of the item scores, was resampled
    assert task["score_ci"][0] <= task["score"] <= task["score_ci"][1]


def test_items_to_resolve_by_hand():
    assert items_to_resolve(1.0, [-1.0, 3.0], 100) == 400.0  # half-width 2, twice the lead: 4x the items
    assert items_to_resolve(-0.5, [-2.5, 1.5], 100) == 1600.0  # the lead's sign does not matter
    assert items_to_resolve(0.5, [0.1, 0.9], 100) == 100.0  # resolved already
    assert items_to_resolve(-2.0, [-3.0, -0.5], 7) == 7.0
    assert items_to_resolve(3.0, [-0.1, 5.1], 100) == 100.0  # never fewer than it has
    assert items_to_resolve(0.0, [-1.0, 1.0], 100) == float("inf")
    for bad in (0, -3, 2.0, True):
        with pytest.raises(ValueError, match="items must be an int >= 1"):
            items_to_resolve(1.0, [-1.0, 3.0], bad)
    with pytest.raises(ValueError, match="interval must be"):
        items_to_resolve(1.0, [3.0, -1.0], 10)


def test_items_to_resolve_predicts_the_interval_of_a_larger_set():
    """The same per-item differences repeated k times (the same spread, k times the items): the bootstrap interval
    clears 0 at about the predicted size and not at a quarter of it."""
    diffs = np.random.default_rng(0).choice([-1.0, 0.0, 1.0, 1.0, -1.0, 0.0, 1.0], size=60)  # mean 0.03 here
    lead = float(diffs.mean())
    interval = percentile_interval(mean_replicates(diffs, resample_indices(60, "d")))
    assert interval[0] < 0 < interval[1]
    needed = items_to_resolve(lead, interval, 60)
    assert 1_000 < needed < 10_000

    def interval_at(k: int) -> list[float]:
        tiled = np.tile(diffs, k)
        return percentile_interval(mean_replicates(tiled, resample_indices(len(tiled), "d")))

    big = interval_at(int(np.ceil(1.5 * needed / 60)))
    small = interval_at(max(1, int(needed / 60 / 4)))
    assert big[0] > 0
    assert small[0] < 0
