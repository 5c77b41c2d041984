"""`bakong bench qr`: KHQR verify+decode per second, ours against the official SDK, same run.

Method: one corpus of QR strings (the 100 published vectors, valid and invalid, shipped as
package data in `bakong.vectors`, and 100 codes from our generator: individual and merchant,
KHR and USD, static and dynamic, Khmer and CJK text). For our codec, `verify(qr, now_ms)` then
`decode(qr)` on each string in turn, for `--seconds`, after a warm-up; single core,
`time.perf_counter`. For the SDK, the same corpus through `BakongKHQR.verify(qr)` then
`BakongKHQR.decode(qr)` in one Node process (`khqr_sdk.js`, package data), timed inside Node
with `process.hrtime`, after a warm-up that lets V8 optimise. Neither side caches anything
between calls. `ratio = ours_per_s / sdk_per_s`; the target is >= 1.

The SDK is not a dependency of bakong: the baseline needs Node and npm `bakong-khqr@1.0.20`
installed in a folder given by `--sdk`, else `$BAKONG_KHQR_SDK`, else `.cache/khqr-sdk` under
the working directory (where `make test` puts it). Without them the command says how to get it.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import subprocess
import time
from importlib import resources
from pathlib import Path

import click

from bakong import limits, vectors
from bakong.errors import ConfigError
from bakong.khqr.decode import decode
from bakong.khqr.generate import Options, generate_individual, generate_merchant
from bakong.khqr.verify import verify

__all__ = ["SDK_ENV", "SDK_VERSION", "command", "corpus", "measure_ours", "measure_sdk"]

SDK_VERSION = "1.0.20"
SDK_ENV = "BAKONG_KHQR_SDK"
SDK_DEFAULT = Path(".cache") / "khqr-sdk"
NOW_MS = 1_763_700_000_000  # 2025-11-21: the clock of every verify, and of the generated codes

_NAMES = ["John Smith", "Coffee Shop", "ចន ស្មីន", "文山", "ACLEDA Café"]
_CITIES = ["Phnom Penh", "Siem Reap", "សៀមរាប", None]


def sdk_folder(configured: str | Path | None = None) -> Path:
    """The folder holding `node_modules/bakong-khqr` at `SDK_VERSION`: `configured`, else
    `$BAKONG_KHQR_SDK`, else `.cache/khqr-sdk`. `ConfigError` saying how to install it if none."""
    folder = Path(configured or os.environ.get(SDK_ENV) or SDK_DEFAULT)
    package = folder / "node_modules" / "bakong-khqr" / "package.json"
    if not package.is_file():
        raise ConfigError(
            f"the KHQR SDK is not installed in {folder}: run `npm install --prefix {folder} "
            f"bakong-khqr@{SDK_VERSION}`, or name its folder with --sdk or ${SDK_ENV}"
        )
    version = json.loads(package.read_text(encoding="utf-8")).get("version")
    if version != SDK_VERSION:
        raise ConfigError(f"{folder} holds bakong-khqr {version}, not {SDK_VERSION}")
    return folder.resolve()


def _generated(rng: random.Random) -> str:
    """One valid code of ours at `NOW_MS`: static or dynamic, individual or merchant."""
    usd = rng.random() < 0.5
    dynamic = rng.random() < 0.6
    khmer = rng.random() < 0.3
    amount = rng.choice([1.5, 20.25, 7, 0.01] if usd else [100, 5000, 250000])
    options = Options(
        currency=840 if usd else 116,
        amount=amount if dynamic else None,
        expiration_timestamp=NOW_MS + rng.randint(60_000, 600_000) if dynamic else None,
        bill_number=f"#{rng.randint(1, 99999)}" if rng.random() < 0.3 else None,
        store_label=rng.choice([None, "Kiosk 1", "ហាង"]),
        language_preference="km" if khmer else None,
        merchant_name_alternate_language="ចន" if khmer else None,
    )
    name, city = rng.choice(_NAMES), rng.choice(_CITIES)
    if rng.random() < 0.5:
        return generate_individual("john_smith@devb", name, city, options, now_ms=NOW_MS).qr
    return generate_merchant(
        "khqr@aclb", name, city, "123456", "ACLEDA Bank Plc", options, now_ms=NOW_MS
    ).qr


def corpus(generated: int = 100, seed: int = 1) -> list[str]:
    """The benchmark's QR strings: the published vectors and `generated` codes of ours."""
    rng = random.Random(seed)
    codes = [vector["qr"] for vector in vectors.load(vectors.KHQR_PUBLISHED)]
    return codes + [_generated(rng) for _ in range(generated)]


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


def measure_sdk(codes: list[str], seconds: float, sdk: Path) -> float:
    """Verify+decode pairs per second for the SDK in `sdk` under Node (after a warm-up)."""
    node = shutil.which("node")
    if node is None:
        raise ConfigError("node is not on PATH: the SDK baseline needs Node.js")
    script = resources.files(__package__).joinpath("khqr_sdk.js")
    with resources.as_file(script) as path:
        done = subprocess.run(
            [node, str(path), str(sdk), str(seconds)],
            input=json.dumps(codes).encode("utf-8", "surrogatepass"),
            capture_output=True,
            timeout=limits.bench_qr_sdk_timeout_s_max,
            check=False,
        )
    if done.returncode != 0:
        failure = done.stderr.decode(errors="replace")[-2000:]
        raise ConfigError(f"the SDK baseline failed: {failure}")
    timed = json.loads(done.stdout)
    return float(timed["count"]) / float(timed["seconds"])


def _node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "missing"
    done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


@click.command()
@click.option("--seconds", type=click.FloatRange(0.1, 600), default=3.0, show_default=True)
@click.option("--sdk", type=click.Path(file_okay=False), default=None,
              help=f"Folder holding node_modules/bakong-khqr (default: ${SDK_ENV}, "
              f"else {SDK_DEFAULT}).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def command(seconds: float, sdk: str | None, as_json: bool) -> None:
    """Verify+decode per second: bakong.khqr against npm bakong-khqr@1.0.20 under Node."""
    codes = corpus()
    try:
        folder = sdk_folder(sdk)
        ours = measure_ours(codes, seconds)
        theirs = measure_sdk(codes, seconds, folder)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    ours, theirs = round(ours, 1), round(theirs, 1)
    figures = {
        "ours_per_s": ours,
        "sdk_per_s": theirs,
        "ratio": round(ours / theirs, 3),  # of the printed figures, so that they agree
        "codes": len(codes),
        "seconds": seconds,
        "python": platform.python_version(),
        "node": _node_version(),
        "sdk": f"bakong-khqr@{SDK_VERSION}",
    }
    if as_json:
        click.echo(json.dumps(figures))
    else:
        for key, value in figures.items():
            click.echo(f"{key}: {value}")
