"""A validator's `config.toml` (`bakong.node.home`): `mempool.verify_workers`, "auto" by
default, resolved against the cores the process may use; a local network's validators, which
share the machine, verify on their event loops."""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec
import pytest

from bakong import limits
from bakong.errors import ConfigError
from bakong.node.home import NodeConfig, format_config, load_home, verify_workers_for
from bakong.node.localnet import init_localnet

_NODE = {"name": "v", "p2p_listen": "127.0.0.1:1", "api_listen": "127.0.0.1:2"}


def _config(**mempool: object) -> NodeConfig:
    return msgspec.convert({"node": _NODE, "mempool": mempool}, NodeConfig)


def test_verify_workers_are_auto_by_default_one_per_core_but_the_event_loops() -> None:
    assert _config().mempool.verify_workers == "auto"
    assert [verify_workers_for("auto", cores) for cores in (1, 2, 3)] == [0, 1, 2]
    assert verify_workers_for("auto", 64) == limits.verify_workers_auto_max
    assert verify_workers_for(0, 64) == 0 and verify_workers_for(7, 1) == 7


@pytest.mark.parametrize("setting", [-1, limits.verify_workers_max + 1])
def test_a_verify_workers_count_out_of_range_is_refused(setting: int) -> None:
    with pytest.raises(ConfigError, match="mempool.verify_workers"):
        _config(verify_workers=setting)


def test_a_verify_workers_word_other_than_auto_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match="verify_workers"):
        _config(verify_workers="all")


def test_the_written_config_reads_back_the_same() -> None:
    for setting in ("auto", 3):
        config = _config(verify_workers=setting)
        text = format_config(config)
        assert msgspec.convert(tomllib.loads(text), NodeConfig) == config


def test_a_local_networks_validators_verify_on_their_event_loops(tmp_path: Path) -> None:
    init_localnet(tmp_path, 4)
    homes = [load_home(tmp_path / f"validator-{index}") for index in range(4)]
    assert [home.config.mempool.verify_workers for home in homes] == [0] * 4
