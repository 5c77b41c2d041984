"""`bakong demo`: a scripted scenario on the in-memory ledger, printing the resulting balances.

The central bank issues riel and dollar liquidity to three participants; they open wallets
for customers and a merchant; customers pay each other across participants, pay a merchant
through a hold that the merchant posts, and one payment breaks the tier-0 daily limit and is
refused. Every step goes through the real validation ladder and block execution.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from bakong.ledger.transaction import Transaction
    from bakong.sandbox import Sandbox

__all__ = ["demo"]


@click.command()
def demo() -> None:
    """Run the scripted scenario and print balances."""
    from bakong.ledger.invariants import check_store
    from bakong.ledger.result import ResultCode
    from bakong.sandbox import Sandbox

    chain = Sandbox()
    click.echo(f"chain {chain.chain_id}: central bank 'nbc', participants aclb, wing, abaa\n")
    for title, transactions in _steps(chain):
        outcome = chain.commit(transactions)
        codes = ", ".join(ResultCode(result.code).name for result in outcome.results)
        click.echo(f"block {len(chain.blocks):>2}  {title:<66} [{codes}]")
    check_store(chain.store.items())
    _print_balances(chain)


def _steps(chain: Sandbox) -> Iterator[tuple[str, list[Transaction]]]:
    """The scenario, one block per step; each step is built once the previous one applied."""
    from bakong.ledger.assets import Asset
    from bakong.ledger.records import AccountKind, KycTier

    yield (
        "nbc issues KHR and USD liquidity to three participants",
        [
            chain.transaction(
                "nbc",
                [
                    chain.issue("aclb", Asset.KHR, 50_000_000_000, "nbc-reserve-0001"),
                    chain.issue("aclb", Asset.USD, 5_000_000_00, "nbc-reserve-0002"),
                    chain.issue("wing", Asset.KHR, 20_000_000_000, "nbc-reserve-0003"),
                    chain.issue("abaa", Asset.USD, 2_000_000_00, "nbc-reserve-0004"),
                ],
            )
        ],
    )
    yield (
        "participants open wallets (full KYC, basic, merchant)",
        [
            chain.transaction("aclb", [chain.open_account("sokha@aclb")]),
            chain.transaction("wing", [chain.open_account("dara@wing", tier=KycTier.basic)]),
            chain.transaction(
                "abaa", [chain.open_account("coffee_klaing@abaa", kind=AccountKind.merchant)]
            ),
        ],
    )
    yield (
        "cash-in: settlement accounts fund customer wallets",
        [
            chain.transaction(
                "settlement@aclb",
                [
                    chain.transfer("settlement@aclb", "sokha@aclb", Asset.KHR, 8_000_000),
                    chain.transfer("settlement@aclb", "sokha@aclb", Asset.USD, 250_00),
                ],
            ),
            chain.transaction(
                "settlement@wing",
                [chain.transfer("settlement@wing", "dara@wing", Asset.KHR, 1_500_000)],
            ),
        ],
    )
    yield from _payments(chain)


def _payments(chain: Sandbox) -> Iterator[tuple[str, list[Transaction]]]:
    from bakong.ledger.assets import Asset
    from bakong.ledger.commands import PlaceHold, PostHold

    hold_id = bytes.fromhex("0f" * 16)
    hold = PlaceHold(
        hold_id=hold_id,
        source="sokha@aclb",
        target="coffee_klaing@abaa",
        poster="coffee_klaing@abaa",
        asset=Asset.USD,
        amount=4_50,
        expires_ms=chain.time_ms + 600_000,
        memo="iced latte",
        reference="",
    )
    pay_rent = chain.transfer("sokha@aclb", "dara@wing", Asset.KHR, 1_200_000, "rent")
    yield (
        "sokha pays dara 1,200,000 KHR; places a 4.50 USD hold for the cafe",
        [chain.transaction("sokha@aclb", [pay_rent, hold])],
    )
    yield (
        "the cafe posts the hold; dara (tier 0) tries to send 2,500,000 KHR",
        [
            chain.transaction("coffee_klaing@abaa", [PostHold(hold_id=hold_id, amount=4_50)]),
            chain.transaction(
                "dara@wing", [chain.transfer("dara@wing", "sokha@aclb", Asset.KHR, 2_500_000)]
            ),
        ],
    )


def _print_balances(chain: Sandbox) -> None:
    from bakong.ledger.assets import ASSETS, format_amount

    click.echo("\nbalances (conservation checked over the whole state):")
    for account_id in (
        "settlement@aclb",
        "settlement@wing",
        "settlement@abaa",
        "sokha@aclb",
        "dara@wing",
        "coffee_klaing@abaa",
    ):
        account = chain.account(account_id)
        assert account is not None
        amounts = "  ".join(
            f"{format_amount(asset, account.balances[asset.index]):>22}" for asset in ASSETS
        )
        click.echo(f"  {account_id:<20} {amounts}")
    click.echo(f"\napp hash at height {len(chain.blocks)}: {chain.state.app_hash.hex()}")
