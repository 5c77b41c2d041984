"""`bakong foreign init` and `merchants`, run as commands: the home's files, the merchants'
codes that parse as their schemes, and a second init refused."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from bakong.keystore import generate_key
from bakong.khqr.foreign import parse


def bakong(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bakong", "foreign", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_init_writes_a_home_and_merchants_lists_real_codes(tmp_path: Path) -> None:
    link = generate_key()
    (tmp_path / "link.pub").write_text(link.public_key.hex() + "\n")
    home = tmp_path / "laos"
    done = bakong(
        "init",
        "--home",
        str(home),
        "--family",
        "laos",
        "--link-url",
        "http://127.0.0.1:8700/",
        "--link-key",
        str(tmp_path / "link.pub"),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["switch"] == "lapnet"
    assert (home / "switch.pub").read_text().strip() == figures["public_key"]
    assert stat.S_IMODE((home / "switch.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "sim.secret").stat().st_mode) == 0o600
    listed = json.loads(bakong("merchants", "--home", str(home), "--json").stdout)
    assert [m["merchant_id"] for m in listed["merchants"]] == ["m-la-1", "m-la-2"]
    for merchant in listed["merchants"]:
        parsed = parse(merchant["qr"])
        assert (parsed.scheme, parsed.currency, parsed.crc_valid) == ("laoqr", "418", True)
        assert merchant["balance"] == 0
    again = bakong(
        "init",
        "--home",
        str(home),
        "--family",
        "laos",
        "--link-url",
        "http://127.0.0.1:8700",
        "--link-key",
        str(tmp_path / "link.pub"),
    )
    assert again.returncode == 2 and "already holds" in again.stderr


def test_init_refuses_a_link_key_that_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "bad.pub").write_text("not a key")
    done = bakong(
        "init",
        "--home",
        str(tmp_path / "h"),
        "--family",
        "thai",
        "--link-url",
        "http://127.0.0.1:8700",
        "--link-key",
        str(tmp_path / "bad.pub"),
    )
    assert done.returncode == 2 and "public key" in done.stderr
    assert not (tmp_path / "h" / "config.toml").exists()
