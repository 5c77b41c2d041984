"""Simulated gateways: the participants' services submitting signed transactions.

The workload first sets the chain up through consensus, one stage at a time (each waits
until the previous one is committed, as a real onboarding would): the central bank issues
riel and dollars to each participant's settlement account (one transaction per participant:
the ledger refuses a transaction whose commands touch different participants); each
participant opens `accounts_per_participant` wallets; each funds its wallets from its
settlement account.

Then, every `transfer_every_ms` of the seed's plan, each participant's gateway signs one
transfer from one of its own wallets to any other wallet of any participant, in riel or
dollars. A small share of them ask for more than the wallet's daily limit (refused with
`daily_limit_exceeded`, which is still a committed, executed transaction), and a small share
are holds instead, for the participant's settlement account to post, which it never does:
each expires a few simulated seconds later, and the ledger must void it then.

A gateway sends each transaction to one node chosen at random (its API), and keeps it until it
sees it committed (`Checker.is_committed`, standing in for its commit stream); one not seen
committed after `limits.sim_resubmit_ms` is sent again, to another random node. Resubmitting is safe
because the ledger refuses a transaction hash it has already executed: that is the property
"every acknowledged transaction is committed exactly once" checks end to end.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from bakong import limits
from bakong.ledger.assets import Asset
from bakong.ledger.commands import Command, Issue, PlaceHold
from bakong.ledger.transaction import TransactionPayload, sign_transaction, transaction_hash
from bakong.sandbox import Sandbox, sandbox_key
from bakong.sim.chain import CENTRAL_BANK, CHAIN_ID, PARTICIPANTS
from bakong.wire.codec import encode
from bakong.wire.keys import SigningKey

__all__ = ["Workload", "accounts_per_participant"]

accounts_per_participant = 8
issue_amounts = {Asset.KHR: 10_000_000_000, Asset.USD: 100_000_000}
fund_amounts = {Asset.KHR: 100_000_000, Asset.USD: 500_000}
transfer_amounts_max = {Asset.KHR: 50_000, Asset.USD: 2_000}
overdraft_share = 0.03
hold_share = 0.05

assert accounts_per_participant * len(fund_amounts) <= 32  # one funding transaction each
for _asset, _amount in fund_amounts.items():
    assert _amount * accounts_per_participant <= issue_amounts[_asset]


@dataclass
class Pending:
    data: bytes
    sent_ms: int


#: submit(node index, tx hash, canonical transaction bytes), on the run's clock.
Submitter = Callable[[int, bytes, bytes], None]


class Workload:
    """The gateways of every participant (module docstring)."""

    def __init__(self, rng: random.Random, nodes: int, wall_ms: Callable[[], int]) -> None:
        self.rng = rng
        self.nodes = nodes
        self.wall_ms = wall_ms
        self.wallets = {
            code: [f"user{i}@{code}" for i in range(accounts_per_participant)]
            for code in PARTICIPANTS
        }
        self.everyone = [wallet for code in PARTICIPANTS for wallet in self.wallets[code]]
        self._keys: dict[str, SigningKey] = {}
        self.pending: dict[bytes, Pending] = {}  # insertion-ordered: oldest first
        self.stage = 0
        self.nonce = 0
        self.signed = 0
        self.draining = False

    @property
    def ready(self) -> bool:
        """The setup stages are committed and transfers flow."""
        return self.stage >= 3

    def tick(self, now_ms: int, is_committed: Callable[[bytes], bool], submit: Submitter) -> None:
        for tx_hash in [tx for tx in self.pending if is_committed(tx)]:
            del self.pending[tx_hash]
        if not self.ready:
            if not self.pending:
                for creator, signer, commands in self._setup(self.stage):
                    self._sign_and_submit(now_ms, creator, signer, commands, submit)
                self.stage += 1
        elif not self.draining and len(self.pending) < limits.sim_pending_txs_max:
            for code in PARTICIPANTS:
                self._transfer(now_ms, code, submit)
        self._resubmit(now_ms, submit)

    def _setup(self, stage: int) -> list[tuple[str, str, list[Command]]]:
        """(creator, signing key name, commands) of each setup transaction of `stage`."""
        if stage == 0:
            return [
                (
                    CENTRAL_BANK,
                    f"{CENTRAL_BANK}/admin",
                    [
                        Issue(account=f"settlement@{code}", asset=asset, amount=amount,
                              reserve_ref=f"sim-{code}-{asset.name.lower()}")
                        for asset, amount in issue_amounts.items()
                    ],
                )
                for code in PARTICIPANTS
            ]
        if stage == 1:
            return [
                (code, f"{code}/admin", [Sandbox.open_account(w) for w in self.wallets[code]])
                for code in PARTICIPANTS
            ]
        assert stage == 2
        return [
            (
                f"settlement@{code}",
                f"{code}/admin",
                [
                    Sandbox.transfer(f"settlement@{code}", wallet, asset, amount)
                    for wallet in self.wallets[code]
                    for asset, amount in fund_amounts.items()
                ],
            )
            for code in PARTICIPANTS
        ]

    def _transfer(self, now_ms: int, code: str, submit: Submitter) -> None:
        rng = self.rng
        source = rng.choice(self.wallets[code])
        target = rng.choice(self.everyone)
        while target == source:
            target = rng.choice(self.everyone)
        asset = rng.choice((Asset.KHR, Asset.USD))
        amount = rng.randint(1, transfer_amounts_max[asset])
        if rng.random() < overdraft_share:
            amount = fund_amounts[asset] * 1_000
        command: Command = Sandbox.transfer(source, target, asset, amount)
        if rng.random() < hold_share:
            lifetime_ms = rng.randint(
                limits.sim_hold_lifetime_ms_min, limits.sim_hold_lifetime_ms_max
            )
            command = PlaceHold(
                hold_id=rng.randbytes(16),
                source=source,
                target=target,
                poster=f"settlement@{code}",
                asset=asset,
                amount=amount,
                expires_ms=self.wall_ms() + lifetime_ms,
                memo="",
                reference="",
            )
        self._sign_and_submit(now_ms, source, source, [command], submit)

    def _key(self, name: str) -> SigningKey:
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = sandbox_key(name)
        return key

    def _sign_and_submit(
        self, now_ms: int, creator: str, signer: str, commands: list[Command], submit: Submitter
    ) -> None:
        self.nonce += 1
        payload = TransactionPayload(
            chain_id=CHAIN_ID,
            creator=creator,
            created_ms=self.wall_ms(),
            nonce=self.nonce,
            commands=tuple(commands),
        )
        transaction = sign_transaction(payload, [self._key(signer)])
        tx_hash = transaction_hash(payload)
        data = encode(transaction)
        self.pending[tx_hash] = Pending(data, now_ms)
        self.signed += 1
        submit(self.rng.randrange(self.nodes), tx_hash, data)

    def _resubmit(self, now_ms: int, submit: Submitter) -> None:
        sent = 0
        for tx_hash, pending in self.pending.items():
            if sent >= limits.sim_resubmits_per_tick_max:
                break
            if now_ms - pending.sent_ms >= limits.sim_resubmit_ms:
                pending.sent_ms = now_ms
                submit(self.rng.randrange(self.nodes), tx_hash, pending.data)
                sent += 1

