"""An in-memory chain for the demo, benchmarks and tests: real ledger, no consensus, no disk.

Keys are derived from names (`SHA-256("bakong-sandbox-key/" + name)`), so scenarios are
reproducible. That makes them public: a sandbox key must never guard real money, which is why
this module lives outside the ledger and no production path imports it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from bakong.ledger.assets import Asset
from bakong.ledger.block import (
    Block,
    BlockOutcome,
    LedgerState,
    block_hash,
    build_block,
)
from bakong.ledger.commands import Command, CreateAccount, Issue, Transfer
from bakong.ledger.context import SignatureVerifier
from bakong.ledger.genesis import (
    GenesisFile,
    GenesisParticipant,
    GenesisValidator,
    genesis_hash,
    genesis_state,
)
from bakong.ledger.records import Account, AccountKind, KycTier
from bakong.ledger.state import account_key, decode_value
from bakong.ledger.transaction import Transaction, TransactionPayload, sign_transaction
from bakong.wire import keys

__all__ = ["Sandbox", "sandbox_key", "sandbox_participant"]


def sandbox_key(name: str) -> keys.SigningKey:
    return keys.SigningKey(hashlib.sha256(b"bakong-sandbox-key/" + name.encode()).digest())


def sandbox_participant(code: str, name: str) -> GenesisParticipant:
    """A genesis participant whose admin and gateway keys are `sandbox_key`s."""
    return GenesisParticipant(
        code=code,
        name=name,
        admin_keys=[sandbox_key(f"{code}/admin").public_key.hex()],
        admin_quorum=1,
        gateway_keys=[sandbox_key(f"{code}/gateway").public_key.hex()],
    )


class Sandbox:
    """A chain with a central bank, some participants and one validator, in memory."""

    def __init__(
        self,
        *,
        chain_id: str = "bakong-sandbox",
        central_bank: str = "nbc",
        participants: Sequence[str] = ("aclb", "wing", "abaa"),
        genesis_time_ms: int = 1_767_225_600_000,  # 2026-01-01 07:00 in Phnom Penh
        block_interval_ms: int = 1_000,
    ) -> None:
        self.genesis = GenesisFile(
            chain_id=chain_id,
            genesis_time_ms=genesis_time_ms,
            central_bank=sandbox_participant(central_bank, "National Bank of Cambodia"),
            participants=[sandbox_participant(code, code.upper()) for code in participants],
            validators=[
                GenesisValidator(
                    name="validator-1",
                    public_key=sandbox_key("validator-1").public_key.hex(),
                    power=1,
                )
            ],
        )
        self.state, self.store = genesis_state(self.genesis)
        self.chain_id = chain_id
        self.central_bank = central_bank
        self.time_ms = genesis_time_ms
        self.block_interval_ms = block_interval_ms
        self.previous_hash = genesis_hash(self.genesis)
        self.nonce = 0
        self.blocks: list[Block] = []

    def transaction(
        self, creator: str, commands: Iterable[Command], signers: Sequence[str] | None = None
    ) -> Transaction:
        """A transaction by `creator`, signed by the named sandbox keys (default: its own)."""
        self.nonce += 1
        payload = TransactionPayload(
            chain_id=self.chain_id,
            creator=creator,
            created_ms=self.time_ms,
            nonce=self.nonce,
            commands=tuple(commands),
        )
        names = signers if signers is not None else [self.key_name(creator)]
        return sign_transaction(payload, [sandbox_key(name) for name in names])

    @staticmethod
    def key_name(creator: str) -> str:
        """The sandbox key that signs for `creator`: a participant's admin key, or the account's."""
        if "@" not in creator:
            return f"{creator}/admin"
        name, participant = creator.split("@")
        if name in ("settlement", "treasury"):
            return f"{participant}/admin"
        return creator

    def commit(
        self,
        transactions: Sequence[Transaction],
        verify: SignatureVerifier = keys.verify,
        advance_ms: int | None = None,
    ) -> BlockOutcome:
        """Build, apply and persist one block (in memory) holding `transactions`."""
        self.time_ms += self.block_interval_ms if advance_ms is None else advance_ms
        block, outcome = build_block(
            self.state,
            time_ms=self.time_ms,
            proposer=sandbox_key("validator-1").public_key,
            previous_hash=self.previous_hash,
            last_commit=None,
            transactions=transactions,
            verify=verify,
        )
        self.store.apply(outcome.write_set, outcome.written)
        self.state = LedgerState(store=self.store, app_hash=outcome.app_hash)
        self.previous_hash = block_hash(block.header)
        self.blocks.append(block)
        return outcome

    def account(self, account_id: str) -> Account | None:
        raw = self.store.get(account_key(account_id))
        if raw is None:
            return None
        account = decode_value(account_key(account_id), raw)
        assert isinstance(account, Account)
        return account

    @staticmethod
    def open_account(
        account_id: str,
        kind: AccountKind = AccountKind.personal,
        tier: KycTier = KycTier.full,
    ) -> CreateAccount:
        return CreateAccount(
            account=account_id,
            kind=kind,
            tier=tier,
            signatories=(sandbox_key(account_id).public_key,),
            quorum=1,
        )

    def issue(self, participant: str, asset: Asset, amount: int, reserve_ref: str) -> Issue:
        return Issue(
            account=f"settlement@{participant}", asset=asset, amount=amount, reserve_ref=reserve_ref
        )

    @staticmethod
    def transfer(source: str, target: str, asset: Asset, amount: int, memo: str = "") -> Transfer:
        return Transfer(
            source=source,
            target=target,
            asset=asset,
            amount=amount,
            memo=memo,
            reference="",
            external_ref="",
        )
