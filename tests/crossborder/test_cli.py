"""`bakong link init`, `key` and `rate`: the home written, checked, and the rate stored."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner, Result

from bakong.cli import main
from bakong.crossborder import store
from bakong.crossborder.home import load_home
from bakong.ledger.genesis import encode_genesis
from bakong.sandbox import Sandbox, sandbox_key

SWITCH_KEY = sandbox_key("switch/thai").public_key.hex()


def _init(tmp_path: Path, *extra: str) -> Result:
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(encode_genesis(Sandbox(participants=("aclb", "xlnk")).genesis))
    return CliRunner().invoke(main, [
        "link", "init", "--home", str(tmp_path / "link"), "--participant", "xlnk",
        "--core-url", "http://127.0.0.1:1", "--genesis", str(genesis), *extra])


def test_init_writes_a_home_and_rate_moves_the_rate(tmp_path: Path) -> None:
    made = _init(tmp_path, "--corridor", f"thai=thai,http://127.0.0.1:2,{SWITCH_KEY},118.25")
    assert made.exit_code == 0, made.output
    answer = json.loads(made.output)
    assert answer["accounts"] == ["thai@xlnk"]
    home = load_home(tmp_path / "link")
    assert home.config.corridors["thai"].currency == "THB"
    key = CliRunner().invoke(main, ["link", "key", "--home", str(tmp_path / "link")])
    assert key.output.strip() == home.iso_key.public_key.hex() == answer["iso_key"]
    rate = CliRunner().invoke(main, ["link", "rate", "--home", str(tmp_path / "link"),
                                     "--corridor", "thai", "--rate", "119.5"])
    assert rate.exit_code == 0, rate.output
    engine = store.engine_for(home.database_url)
    with engine.connect() as connection:
        assert connection.execute(sa.select(store.rates.c.rate)).scalar_one() == "119.5"
    engine.dispose()
    wrong = CliRunner().invoke(main, ["link", "rate", "--home", str(tmp_path / "link"),
                                      "--corridor", "thai", "--rate", "abc"])
    assert wrong.exit_code == 2 and "positive decimal" in wrong.output


def test_init_refuses_a_wrong_corridor(tmp_path: Path) -> None:
    bad_key = _init(tmp_path, "--corridor", "thai=thai,http://127.0.0.1:2,abcd,118.25")
    assert bad_key.exit_code == 2
    assert "public key" in bad_key.output
    unknown = _init(tmp_path, "--participant", "zzzz")
    assert unknown.exit_code != 0
