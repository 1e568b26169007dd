"""Report pieces shared by eval and bench: markdown tables, the files of a run, the plot as an optional extra, and
the machine line every report carries."""

from __future__ import annotations

import json
import logging
import sys

from headrouter import reporting
from headrouter.machine import _cpuinfo_field, bf16_units, describe_machine, machine_info


def test_markdown_table():
    text = reporting.markdown_table(["a", "b"], [["1", "2"], ["3", "4"]])
    assert text.splitlines() == ["| a | b |", "| --- | --- |", "| 1 | 2 |", "| 3 | 4 |"]


def test_report_files_without_and_with_a_plot(tmp_path):
    paths = reporting.write_report_files(tmp_path / "out", "run", {"x": 1}, "# title\n")
    assert set(paths) == {"json", "markdown"}
    assert json.loads(paths["json"].read_text()) == {"x": 1} and paths["markdown"].read_text() == "# title\n"

    def draw(path):
        path.write_bytes(b"png")
        return path

    drawn = reporting.write_report_files(tmp_path, "run", {}, "", plot=draw)
    assert drawn["plot"] == tmp_path / "run.png" and drawn["plot"].read_bytes() == b"png"
    skipped = reporting.write_report_files(tmp_path, "run", {}, "", plot=lambda path: None)
    assert "plot" not in skipped


def test_plot_is_skipped_with_a_log_line_without_matplotlib(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    with caplog.at_level(logging.INFO, logger="headrouter"):
        assert reporting.pyplot() is None
    assert "plot skipped: matplotlib is not installed" in caplog.text


def test_machine_line():
    info = machine_info()
    for key in (
        "cpu",
        "cores",
        "cpu_bf16",
        "torch_threads",
        "memory_bytes",
        "torch",
        "transformers",
        "headrouter",
        "gpu",
    ):
        assert key in info
    line = describe_machine(info)
    assert line.startswith(f"{info['cpu']}, {info['cores']} cores") and f"torch {info['torch']}" in line
    assert describe_machine({**info, "gpu": "H200"}).endswith(", GPU H200")
    assert describe_machine() == line


def test_bf16_units_from_cpu_flags(tmp_path):
    assert bf16_units(["fpu", "avx512_bf16", "amx_bf16", "amx_tile"]) == "AMX"
    assert bf16_units(["avx512f", "avx512_bf16"]) == "AVX512-BF16"
    assert bf16_units(["avx2", "amx_tile"]) is None and bf16_units([]) is None
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu amx_bf16\n\nprocessor\t: 1\n")
    assert _cpuinfo_field("model name", str(cpuinfo)) == "Some CPU"
    assert _cpuinfo_field("flags", str(cpuinfo)) == "fpu amx_bf16"
    assert _cpuinfo_field("bogomips", str(cpuinfo)) is None and _cpuinfo_field("flags", str(tmp_path / "no")) is None
    info = {**machine_info(), "cpu": "X", "cores": 2, "cpu_bf16": "AMX"}
    assert describe_machine(info).startswith("X, 2 cores, AMX bf16 units, torch threads ")
    assert describe_machine({**info, "cpu_bf16": None}).startswith("X, 2 cores, torch threads ")
    old = {k: v for k, v in info.items() if k != "cpu_bf16"}  # a report written before the key existed
    assert describe_machine(old).startswith("X, 2 cores, torch threads ")
