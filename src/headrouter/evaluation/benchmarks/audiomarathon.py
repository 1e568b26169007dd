"""AudioMarathon: its ten long-audio tasks read from the released files, with each task's prompt, answer length,
answer reading and metric as the benchmark's Qwen2.5-Omni scripts have them.

Source: github.com/DabDans/AudioMarathon (commit c8f49f3): the data loading and prompts of
``src/Qwen_2.5_Omni/Others/<script>`` and the layouts in its README ("Data Preparation"). A task is found under the
data folder by its metadata file (or, for HAD and LibriSpeech, its folders); tasks that are not there are left out
(logged). The scripts' audio roots and fields:

====  ==================  ===========================================  =====================  ==================
task  dataset (script)    metadata file                                audio of a record      answer
====  ==================  ===========================================  =====================  ==================
SER   SLUE                ``merged_audio_data.json`` (list)            ``<dir>/<path>``       ``answer_gt`` A-D
SCR   RACE (race)         ``race_benchmark.json`` (list)               ``<dir>/<audio_path>`` ``answer`` A-D
ASR   LibriSpeech         ``test-clean/<speaker>/<chapter>/<id>.flac`` with ``<id>.txt`` or ``<speaker>-<chapter>
                          .trans.txt``
SED   DESED               ``desed_sound_event_detection_task.json``    ``<dir>/<path>``       ``answer_gt`` A-D
                          (``{"tasks": [...]}``, choices ``{A..D}``)
MC    GTZAN               ``music_genre_classification_meta.json``     ``<dir>/wav/<path>``   ``answer_gt`` A-D
ASC   TAU                 ``acoustic_scene_task_meta.json``            ``<dir>/<path>``       ``answer_gt`` A-D
SD    HAD                 ``real/*.wav`` and ``fake/*.wav``            the file               real / fake
ER    VESUS               ``audio_emotion_dataset.json``               ``<dir>/<path>``       ``answer_gt`` A-D
SAR   VoxCeleb (Vox_age)  ``age_classification_task_meta.json``        ``<dir>/wav/<path>``   ``answer_gt`` group
SGR   VoxCeleb (Vox)      ``gender_id_task_meta.json``                 ``<dir>/wav/<path>``   male / female
====  ==================  ===========================================  =====================  ==================

``<dir>`` is the metadata file's folder. Each item's prompt is the script's user text; where a script puts its task
instruction in the system turn (GTZAN, DESED, HAD) it leads the user text here, as the other seven scripts do, since
the system turn is the run's (``--system-prompt``; the scripts use Qwen2.5-Omni's default one). Answer lengths are the
scripts' (5 new tokens; VESUS 10; ASR 1,100). As in the scripts, VESUS leaves out person 2's and 10's "happy" clips.
Not reproduced: HAD's and Vox's random balancing of the two classes (``random.sample`` over a ``glob`` order, not
reproducible across machines) and the scripts' shuffling; every record is kept, in file order.

Missing audio files are an error listing them (:func:`~.records.check_audio` says why), not skipped. A record
without a field the task needs is a ``ValueError`` naming the file and the record. Fields the loader does not use go
to ``extra``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from headrouter.evaluation.benchmarks.audiomarathon_tasks import LOADERS, TASKS
from headrouter.evaluation.benchmarks.records import check_audio
from headrouter.evaluation.tasks.items import Item

logger = logging.getLogger("headrouter")

QWEN_SYSTEM_PROMPT = (
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of perceiving auditory and "
    "visual inputs, as well as generating text and speech."
)
"""The system turn of the scripts (Qwen2.5-Omni's default); pass it with ``--system-prompt`` to match them."""


def load(root: str | Path) -> list[Item]:
    """The items of every AudioMarathon task found under ``root`` (a folder; the folder of one task works too), in
    the leaderboard's task order, each task in file order. ``ValueError`` when no task is found, for a malformed
    record (naming the file and record) and for missing audio files (listing them)."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"AudioMarathon data {root} is not a folder")
    found = _find(root)
    items: list[Item] = []
    for name, task in TASKS.items():
        places = found.get(name, [])
        if not places:
            logger.info("audiomarathon: task %s (%s) not found under %s", name, task.dataset, root)
        for place in places:
            items += LOADERS[name](place)
    if not items:
        wanted = ", ".join(sorted(MARKERS)) + ", real/ + fake/ folders (HAD), test-clean/ (LibriSpeech)"
        raise ValueError(f"no AudioMarathon task found under {root} (looked for {wanted})")
    check_audio(items, root)
    return items


# ---------------------------------------------------------------------- finding the tasks

MARKERS = {
    "merged_audio_data.json": "SER",
    "race_benchmark.json": "SCR",
    "desed_sound_event_detection_task.json": "SED",
    "music_genre_classification_meta.json": "MC",
    "acoustic_scene_task_meta.json": "ASC",
    "audio_emotion_dataset.json": "ER",
    "age_classification_task_meta.json": "SAR",
    "gender_id_task_meta.json": "SGR",
}
"""Metadata file name -> task."""


def _find(root: Path) -> dict[str, list[Path]]:
    """Task -> the metadata files (or, for HAD and LibriSpeech, the folders) under ``root``, sorted."""
    found: dict[str, list[Path]] = {}
    for path in sorted([root, *root.rglob("*")]):
        if path.is_file() and path.name in MARKERS:
            found.setdefault(MARKERS[path.name], []).append(path)
        elif path.is_dir() and path.name == "real" and (path.parent / "fake").is_dir():
            found.setdefault("SD", []).append(path.parent)
        elif path.is_dir() and path.name == "test-clean":
            found.setdefault("ASR", []).append(path)
    return found
