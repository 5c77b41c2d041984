"""The official KHQR SDK (npm bakong-khqr@1.0.20) under Node, as a batch oracle.

One Node process runs `sdk_oracle.js`, which reads JSON requests line by line and answers each
on its own line; `Oracle.ask` sends a whole batch through one process, so thousands of cases cost
one Node start-up. The SDK is looked for in `$BAKONG_KHQR_SDK`, else in `.cache/khqr-sdk` at the
checkout's root (where `make test` installs it with `npm install --prefix .cache/khqr-sdk`);
`bakong bench qr` checks the folder and its version the same way (`bakong.bench.qr.sdk_folder`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bakong.bench.qr import SDK_ENV, SDK_VERSION, sdk_folder
from bakong.errors import ConfigError
from tools import ROOT

__all__ = ["SDK_VERSION", "ask", "sdk_dir"]

SCRIPT = Path(__file__).resolve().parent / "sdk_oracle.js"
ask_timeout_s_max = 600


def sdk_dir() -> Path:
    """The folder holding `node_modules/bakong-khqr` at version 1.0.20; `ConfigError` if none."""
    return sdk_folder(os.environ.get(SDK_ENV) or ROOT / ".cache" / "khqr-sdk")


def ask(requests: list[dict[str, Any]], limit_ms: int = 250) -> list[dict[str, Any]]:
    """The SDK's answers to `requests`, in order (see `sdk_oracle.js` for their shapes)."""
    node = shutil.which("node")
    if node is None:
        raise ConfigError("node is not on PATH: the KHQR SDK oracle needs Node.js")
    lines = "".join(json.dumps(request) + "\n" for request in requests)
    done = subprocess.run(
        [node, str(SCRIPT), str(sdk_dir())],
        input=lines.encode("utf-8", "surrogatepass"),
        capture_output=True,
        timeout=ask_timeout_s_max,
        env={**os.environ, "ORACLE_LIMIT_MS": str(limit_ms)},
        check=False,
    )
    if done.returncode != 0:
        raise ConfigError(f"the SDK oracle failed: {done.stderr.decode(errors='replace')[-2000:]}")
    answers = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines() if line]
    assert len(answers) == len(requests), (len(answers), len(requests))
    return answers
