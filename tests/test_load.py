"""The load scenario (benchmarks/bench_load.py) as a bounded test: exactly once, despite drops."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "bench_load.py"


def test_every_envelope_arrives_exactly_once_while_clients_drop_and_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result_file = tmp_path / "load.json"
    args = ["--users", "12", "--connections", "3", "--messages", "150", "--drop-every", "2"]
    run = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--json", str(result_file)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(result_file.read_text())
    assert result["lineages"] == 36 and result["reconnects"] == 18
    assert result["envelopes_received"] == result["envelopes_expected"] == 36 * 150
    assert (result["missing"], result["duplicated"], result["out_of_order_lineages"]) == (0, 0, 0)
    assert result["latency_ms_p50"] > 0 and result["latency_ms_p99"] >= result["latency_ms_p50"]
    with capsys.disabled():
        print(f"\n[load] {run.stdout.splitlines()[0]}")
