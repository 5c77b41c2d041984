"""A whole local network on one machine: its directory, and the validator processes it runs.

`init_localnet(DIR, validators)` writes, into an empty DIR:

    DIR/genesis.json                 the chain: central bank `nbc`, participants aclb, wing, abaa
    DIR/keys/<code>-admin.json       each participant's admin key (signs its transactions)
    DIR/keys/<code>-gateway.json     each participant's gateway key (signs its API requests)
    DIR/validator-<i>/               one validator home each (`bakong.node.home`)

Keys are generated from the operating system's randomness on this machine, never shipped.
Ports are free loopback ports picked at init (`bakong.ports`: held by the initialising process
while it lives) and kept in each config, so a restart of the same DIR resumes the same chain
at the same addresses.

`Localnet` starts one `bakong node run` process per validator, waits until blocks are
committed, writes `DIR/localnet.json` (`{"chain_id", "validators": [{"name", "api_url",
"pid", ...}], "participants": [...], "central_bank"}`) and, on `stop`, stops its children with
SIGTERM (SIGKILL after a grace period).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bakong import lifeline, limits
from bakong.errors import ConfigError
from bakong.keystore import generate_key, write_key_file
from bakong.ledger.genesis import (
    GenesisFile,
    GenesisParticipant,
    GenesisValidator,
    decode_genesis,
    encode_genesis,
)
from bakong.node.home import (
    BlocksSection,
    ConsensusSection,
    MempoolSection,
    NodeConfig,
    NodeSection,
    PeerConfig,
    format_config,
    load_home,
)
from bakong.ports import loopback_port

__all__ = ["CENTRAL_BANK", "LOCAL_MEMPOOL", "PARTICIPANTS", "Localnet", "init_localnet"]

CHAIN_ID = "bakong-localnet"
CENTRAL_BANK = ("nbc", "National Bank of Cambodia")
PARTICIPANTS = (
    ("aclb", "ACLEDA Bank"),
    ("wing", "Wing Bank"),
    ("abaa", "ABA Bank"),
)
#: Local links are fast: short timeouts recover from a stopped proposer in about a second.
LOCAL_CONSENSUS = ConsensusSection(
    timeout_propose_ms=1_000, timeout_prevote_ms=500, timeout_precommit_ms=500, timeout_delta_ms=250
)
LOCAL_BLOCKS = BlocksSection(txs_max=2_000, interval_ms=50, heartbeat_ms=2_000)
#: The validators share the machine's cores: each verifies on its event loop (no workers).
LOCAL_MEMPOOL = MempoolSection(verify_workers=0)
#: Genesis's snapshot interval and lag: a snapshot every few minutes when idle (a heartbeat
#: block every 2 s), so `bakong node restore` has one to offer; under load, every few seconds.
LOCAL_SNAPSHOTS = (100, 10)


def _participant(directory: Path, code: str, name: str) -> GenesisParticipant:
    admin, gateway = generate_key(), generate_key()
    write_key_file(directory / f"{code}-admin.json", admin)
    write_key_file(directory / f"{code}-gateway.json", gateway)
    return GenesisParticipant(
        code=code,
        name=name,
        admin_keys=[admin.public_key.hex()],
        admin_quorum=1,
        gateway_keys=[gateway.public_key.hex()],
    )


def init_localnet(
    directory: Path,
    validators: int,
    *,
    blocks: BlocksSection = LOCAL_BLOCKS,
    mempool: MempoolSection = LOCAL_MEMPOOL,
    snapshots: tuple[int, int] = LOCAL_SNAPSHOTS,
) -> None:
    """Write a new network into `directory` (module docstring); it must be empty.

    `blocks` and `mempool` override those config sections on every validator, and `snapshots`
    the genesis's snapshot interval and lag (benchmarks); by default a local network batches
    as `LOCAL_BLOCKS` says, verifies as `LOCAL_MEMPOOL` says (its validators share the
    machine's cores), and snapshots as `LOCAL_SNAPSHOTS` says.
    A network tolerates a faulty validator from 4 (n = 3f + 1); fewer serve measurements
    (`bakong bench network --validators 1`: one validator alone on the machine).
    """
    if not 1 <= validators <= 10:
        raise ConfigError("a local network has 1 to 10 validators")
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise ConfigError(f"{directory} is not empty")
    keys_dir = directory / "keys"
    keys_dir.mkdir(mode=0o700)
    central_bank = _participant(keys_dir, *CENTRAL_BANK)
    participants = [_participant(keys_dir, code, name) for code, name in PARTICIPANTS]
    node_keys = [generate_key() for _ in range(validators)]
    genesis = GenesisFile(
        chain_id=CHAIN_ID,
        genesis_time_ms=time.time_ns() // 1_000_000,
        central_bank=central_bank,
        participants=participants,
        validators=[
            GenesisValidator(f"validator-{index}", key.public_key.hex(), 1)
            for index, key in enumerate(node_keys)
        ],
        snapshot_interval=snapshots[0],
        snapshot_lag=snapshots[1],
    )
    genesis_bytes = encode_genesis(genesis)
    (directory / "genesis.json").write_bytes(genesis_bytes)
    p2p = [f"127.0.0.1:{loopback_port()}" for _ in node_keys]
    for index, key in enumerate(node_keys):
        home = directory / f"validator-{index}"
        home.mkdir()
        (home / "genesis.json").write_bytes(genesis_bytes)
        write_key_file(home / "node_key.json", key)
        config = NodeConfig(
            node=NodeSection(f"validator-{index}", p2p[index], f"127.0.0.1:{loopback_port()}"),
            peers=[
                PeerConfig(other.public_key.hex(), p2p[peer])
                for peer, other in enumerate(node_keys)
                if peer != index
            ],
            consensus=LOCAL_CONSENSUS,
            blocks=blocks,
            mempool=mempool,
        )
        (home / "config.toml").write_text(format_config(config))


@dataclass
class _Child:
    name: str
    home: Path
    api_url: str
    p2p: str
    process: subprocess.Popen[bytes] | None = None


class Localnet:
    """The validator processes of one local network directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.genesis = decode_genesis((directory / "genesis.json").read_bytes())
        self.children: list[_Child] = []
        for home_dir in sorted(directory.glob("validator-*"), key=lambda p: int(p.name[10:])):
            home = load_home(home_dir)
            api_url = f"http://{home.config.node.api_listen}"
            node = home.config.node
            self.children.append(_Child(node.name, home_dir, api_url, node.p2p_listen))

    def start_validator(self, index: int) -> None:
        child = self.children[index]
        assert child.process is None or child.process.poll() is not None
        output = open(child.home / "stdout.log", "ab")  # the child process writes to it
        child.process = subprocess.Popen(
            [sys.executable, "-m", "bakong", "node", "run", "--home", str(child.home)],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            **lifeline.child_options(),
        )
        output.close()

    def start(self) -> None:
        for index in range(len(self.children)):
            self.start_validator(index)

    def wait_for_height(self, height: int, timeout_s: float, count: int | None = None) -> bool:
        """True once `count` validators (all by default) answer a height >= `height`."""
        needed = len(self.children) if count is None else count
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                heights = [self.height_of(client, child) for child in self.children]
                if sum(1 for h in heights if h is not None and h >= height) >= needed:
                    return True
                time.sleep(0.2)
        return False

    @staticmethod
    def height_of(client: httpx.Client, child: _Child) -> int | None:
        try:
            response = client.get(child.api_url + "/v1/status")
            height: int = response.json()["height"]
            return height
        except (httpx.HTTPError, ValueError, KeyError):
            return None

    def describe(self) -> dict[str, object]:
        keys = self.directory / "keys"
        parties = [self.genesis.central_bank, *self.genesis.participants]
        return {
            "chain_id": self.genesis.chain_id,
            "genesis": str(self.directory / "genesis.json"),
            "validators": [
                {
                    "name": child.name,
                    "api_url": child.api_url,
                    "p2p": child.p2p,
                    "home": str(child.home),
                    "pid": child.process.pid if child.process else None,
                }
                for child in self.children
            ],
            "central_bank": self.genesis.central_bank.code,
            "participants": [
                {
                    "code": party.code,
                    "name": party.name,
                    "admin_key_file": str(keys / f"{party.code}-admin.json"),
                    "gateway_key_file": str(keys / f"{party.code}-gateway.json"),
                }
                for party in parties
            ],
        }

    def write_description(self) -> Path:
        path = self.directory / "localnet.json"
        path.write_text(json.dumps(self.describe(), indent=2) + "\n")
        return path

    def stop_validator(self, index: int, sig: int = signal.SIGTERM) -> None:
        process = self.children[index].process
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(limits.localnet_stop_grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + limits.localnet_stop_grace_s
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
