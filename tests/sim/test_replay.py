"""A seed replays byte for byte: the same result and trace hash, in this process and another.

Method: run one seed twice in this process and compare everything, trace hash included; run
it in two fresh interpreters with different string-hash seeds (PYTHONHASHSEED), so that any
iteration over an unsorted set would show, and compare their printed JSON with ours.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bakong.sim.faults import Options
from bakong.sim.run import run_seed

OPTIONS = Options(validators=4, byzantine=1, heights=60)


def test_the_same_seed_gives_the_same_run() -> None:
    first, second = run_seed(11, OPTIONS), run_seed(11, OPTIONS)
    assert first.as_json() == second.as_json()
    assert first.trace_hash == second.trace_hash
    assert run_seed(12, OPTIONS).trace_hash != first.trace_hash


def _replay_elsewhere(hash_seed: str) -> dict[str, object]:
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    program = "from bakong.cli import main; main()"
    arguments = ["sim", "--seed", "11", "--heights", "60", "--json"]
    completed = subprocess.run(
        [sys.executable, "-c", program, *arguments],
        env=environment,
        capture_output=True,
        check=True,
        timeout=120,
    )
    data: dict[str, object] = json.loads(completed.stdout)
    return data


def test_a_replay_in_other_processes_prints_the_same_bytes() -> None:
    ours = {**run_seed(11, OPTIONS).as_json()}
    one, two = _replay_elsewhere("1"), _replay_elsewhere("4242")
    assert one == two
    assert one["trace_hash"] == ours["trace_hash"]
    assert one["heights"] == ours["heights"]
