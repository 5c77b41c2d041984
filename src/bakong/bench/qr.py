"""`bakong bench qr`: KHQR verify+decode per second, ours against the official SDK, same run.

Method: one corpus of QR strings (the 100 published vectors, valid and invalid, and 100 codes
from our generator: individual and merchant, KHR and USD, static and dynamic, Khmer text). For
our codec, `verify(qr, now_ms)` then `decode(qr)` on each string in turn, for `--seconds`, after
a warm-up; single core, `time.perf_counter`. For the SDK, the same corpus through
`BakongKHQR.verify(qr)` then `BakongKHQR.decode(qr)` in one Node process (`bakong.qrdiff`'s
oracle), timed inside Node with `process.hrtime`, after a warm-up that lets V8 optimise. Neither
side caches anything between calls. `ratio = ours_per_s / sdk_per_s`; the target is >= 1.
"""

from __future__ import annotations

import json
import platform
import random
import shutil
import subprocess
import time
from pathlib import Path

import click

from bakong.khqr.decode import decode
from bakong.khqr.verify import verify
from bakong.qrdiff import cases, oracle
from bakong.qrdiff.compare import _ours_generate

__all__ = ["command", "corpus", "measure_ours", "measure_sdk"]

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors" / "khqr-published.json"
NOW_MS = cases.NOW_MS


def corpus(generated: int = 100, seed: int = 1) -> list[str]:
    """The benchmark's QR strings: the published vectors and `generated` codes of ours."""
    codes = []
    if VECTORS.is_file():
        codes = [vector["qr"] for vector in json.loads(VECTORS.read_text(encoding="utf-8"))]
    rng = random.Random(seed)
    while len(codes) < 100 + generated:
        made = _ours_generate(cases.valid_input(rng))
        if not isinstance(made, Exception):
            codes.append(made.qr)
    return codes


def measure_ours(codes: list[str], seconds: float) -> float:
    """Verify+decode pairs per second for `bakong.khqr`."""
    for qr in codes:
        verify(qr, NOW_MS)
        decode(qr)
    count = 0
    started = time.perf_counter()
    while True:
        for qr in codes:
            verify(qr, NOW_MS)
            decode(qr)
        count += len(codes)
        spent = time.perf_counter() - started
        if spent >= seconds:
            return count / spent


def measure_sdk(codes: list[str], seconds: float) -> float:
    """Verify+decode pairs per second for the SDK under Node (after a warm-up in-process)."""
    warm = {"op": "bench", "qrs": codes, "seconds": min(1.0, seconds)}
    answers = oracle.ask([warm, {"op": "bench", "qrs": codes, "seconds": seconds}])
    timed = answers[1]
    return float(timed["count"]) / float(timed["seconds"])


def _node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "missing"
    done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


@click.command()
@click.option("--seconds", type=click.FloatRange(0.1, 600), default=3.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def command(seconds: float, as_json: bool) -> None:
    """Verify+decode per second: bakong.khqr against npm bakong-khqr@1.0.20 under Node."""
    codes = corpus()
    ours = measure_ours(codes, seconds)
    sdk = measure_sdk(codes, seconds)
    figures = {
        "ours_per_s": round(ours, 1),
        "sdk_per_s": round(sdk, 1),
        "ratio": round(ours / sdk, 3),
        "codes": len(codes),
        "seconds": seconds,
        "python": platform.python_version(),
        "node": _node_version(),
        "sdk": f"bakong-khqr@{oracle.SDK_VERSION}",
    }
    if as_json:
        click.echo(json.dumps(figures))
    else:
        for key, value in figures.items():
            click.echo(f"{key}: {value}")
