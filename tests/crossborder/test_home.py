"""A link home's participant: one of the genesis, or one the central bank registered since
(asked of the ledger through the node API), as `bakong demo` admits `xlnk`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakong.client import register_participant
from bakong.crossborder.home import Corridor, LinkConfig, LinkSection, init_home, load_home
from bakong.errors import ConfigError
from bakong.keystore import write_key_file
from bakong.ledger.genesis import encode_genesis
from bakong.sandbox import sandbox_key
from tests.crossborder.conftest import Core

SWITCH_KEY = sandbox_key("switch/thai").public_key.hex()


def _config(code: str, core_url: str) -> LinkConfig:
    corridor = Corridor(family="thai", switch_url="http://127.0.0.1:2", switch_key=SWITCH_KEY,
                        rate="118.25")
    return LinkConfig(LinkSection(participant=code, core_url=core_url),
                      corridors={"thai": corridor})


def _init(core: Core, tmp_path: Path, code: str, core_url: str = "") -> Path:
    (tmp_path / "genesis.json").write_bytes(encode_genesis(core.sandbox.genesis))
    for name in ("admin", "gateway"):
        if not (tmp_path / f"{code}-{name}.json").exists():
            write_key_file(tmp_path / f"{code}-{name}.json", sandbox_key(f"{code}/{name}"))
    home = tmp_path / code
    init_home(home, _config(code, core_url or core.url), tmp_path / "genesis.json",
              gateway_key_file=tmp_path / f"{code}-gateway.json",
              admin_key_file=tmp_path / f"{code}-admin.json")
    return home


def test_a_participant_registered_after_the_genesis_runs_a_link(core: Core,
                                                                tmp_path: Path) -> None:
    assert "xnew" not in {p.code for p in core.sandbox.genesis.participants}
    with pytest.raises(ConfigError, match="not a participant"):
        _init(core, tmp_path, "xnew")  # not on the ledger yet
    admitted = register_participant("xnew", "New link", [sandbox_key("xnew/admin").public_key],
                                    gateway_keys=[sandbox_key("xnew/gateway").public_key])
    assert core.commit("nbc", [admitted]).results[0].code == 0  # ok
    home = load_home(_init(core, tmp_path, "xnew"))
    assert home.participant == "xnew" and home.account("thai") == "thai@xnew"


def test_a_participant_outside_the_genesis_needs_a_core_that_answers(core: Core,
                                                                    tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot say"):
        _init(core, tmp_path, "xnew", core_url="http://127.0.0.1:1")
