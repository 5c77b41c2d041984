"""`bakong demo`: a whole local network, a scripted scenario through the SDK, then it keeps running.

    bakong demo --home .localnet

Starts (initialising if empty) the four-validator local network of `bakong localnet start`,
then acts as the central bank and three banks through `bakong.client`, every request signed
and every transaction submitted to a validator and waited for until committed: the central
bank issues riel and dollar liquidity, banks open wallets, the banks' settlement accounts fund
them, customers pay across banks, a transaction paying two banks at once is refused
(`participants_mixed`: each bank would see the other's payment), and a payment beyond a
basic-KYC wallet's daily limit is refused with its result code. It prints each step with its
block height and result, the balances as the API reports them, and where to look.

Then it starts one participant gateway per sample bank (`bakong gateway init` and `bakong
gateway run` over HTTPS on loopback, SQLite in `.localnet/gateway-<code>/`), publishes each
one's URL on the ledger as the central bank (`set_participant_endpoint`: gateways find each
other through the participant directory), registers a customer at each through the wallet API,
cashes them in, opens a merchant at abaa, previews (the payee's masked name, from its bank) and
pays one of its dynamic KHQR codes from a customer of aclb, makes a bank officer at abaa, and
writes `.localnet/demo.json` (`bakong.gateway.demo`), with where the pages are (each bank's
wallet, the merchant's till, the officer's desk) and how each person signs in to them; it
prints the same in words (with a Thai merchant's PromptPay code to pay through the
cross-border link `xlnk` and its Thai switch simulator, `bakong.crossborder.demo`), and runs
until Ctrl-C, which stops the gateways, the link and the simulator too. Customer
wallet keys of the SDK scenario are made fresh for each run (names carry the run's suffix),
so the scenario can run again on the same network; the gateways' customers are reused while
`demo.json` matches them.
"""

from __future__ import annotations

import secrets
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from bakong.client import SyncClient
    from bakong.gateway.demo import DemoGateways
    from bakong.ledger.commands import Command
    from bakong.node.localnet import Localnet
    from bakong.wire.keys import SigningKey

__all__ = ["demo"]


@click.command()
@click.option("--home", "home", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".localnet"), show_default=True)
def demo(home: Path) -> None:
    """Start the local network, run the scenario through the SDK, keep running."""
    from bakong.cli.localnet import run_network
    from bakong.gateway.demo import run_demo_gateways

    # Entered gateways are stopped when this closes: after the network, on Ctrl-C or an error.
    with ExitStack() as gateways_running:

        def up(network: Localnet) -> None:
            _scenario(network)
            click.echo("\nstarting a gateway per bank and seeding them through their APIs ...")
            gateways = run_demo_gateways(network.directory, gateways_running)
            _where(network)
            _gateways(gateways)
            _pages(gateways)

        run_network(home, 4, up)


def _key(network: Localnet, name: str) -> SigningKey:
    from bakong.keystore import read_key_file

    return read_key_file(network.directory / "keys" / f"{name}.json")


def _step(client: SyncClient, title: str, creator: str, keys: list[SigningKey],
          *commands: Command) -> None:
    from bakong.client import sign

    transaction = sign(client.builder(creator).add(*commands).payload(), *keys)
    committed = client.submit_and_wait(transaction, timeout_s=30)
    click.echo(f"  block {committed.height:>5}  {title:<58} [{committed.result}]")


def _scenario(network: Localnet) -> None:
    from bakong.client import Client, SyncClient, create_account, issue, transfer
    from bakong.keystore import generate_key
    from bakong.ledger.assets import Asset
    from bakong.ledger.records import AccountKind, KycTier

    run = secrets.token_hex(2)
    sokha, dara, cafe = f"sokha{run}@aclb", f"dara{run}@wing", f"cafe{run}@abaa"
    keys = {sokha: generate_key(), dara: generate_key(), cafe: generate_key()}
    admin = {code: _key(network, f"{code}-admin") for code in ("nbc", "aclb", "wing", "abaa")}
    url = network.children[0].api_url
    click.echo(f"\nscenario through the SDK against {url}:")
    with SyncClient(Client(url, _key(network, "nbc-gateway"))) as nbc:
        # One bank per transaction: a transaction's commands all touch the same participants.
        _step(nbc, "nbc issues KHR and USD liquidity to aclb", "nbc", [admin["nbc"]],
              issue("settlement@aclb", Asset.KHR, 50_000_000_000, f"reserve-{run}-1"),
              issue("settlement@aclb", Asset.USD, 5_000_000_00, f"reserve-{run}-2"))
        _step(nbc, "nbc issues KHR liquidity to wing", "nbc", [admin["nbc"]],
              issue("settlement@wing", Asset.KHR, 20_000_000_000, f"reserve-{run}-3"))
        _step(nbc, "nbc issues USD liquidity to abaa", "nbc", [admin["nbc"]],
              issue("settlement@abaa", Asset.USD, 2_000_000_00, f"reserve-{run}-4"))
        _step(nbc, f"aclb opens {sokha} (full KYC)", "aclb", [admin["aclb"]],
              create_account(sokha, [keys[sokha]], tier=KycTier.full))
        _step(nbc, f"wing opens {dara} (basic KYC)", "wing", [admin["wing"]],
              create_account(dara, [keys[dara]], tier=KycTier.basic))
        _step(nbc, f"abaa opens merchant {cafe}", "abaa", [admin["abaa"]],
              create_account(cafe, [keys[cafe]], kind=AccountKind.merchant))
        _step(nbc, "cash-in: aclb funds sokha in riel and dollars", "settlement@aclb",
              [admin["aclb"]], transfer("settlement@aclb", sokha, Asset.KHR, 8_000_000),
              transfer("settlement@aclb", sokha, Asset.USD, 250_00))
        _step(nbc, "sokha (aclb) pays dara (wing) 1,200,000 KHR rent", sokha, [keys[sokha]],
              transfer(sokha, dara, Asset.KHR, 1_200_000, memo="rent"))
        _step(nbc, "sokha (aclb) pays the cafe (abaa) 4.50 USD", sokha, [keys[sokha]],
              transfer(sokha, cafe, Asset.USD, 4_50, memo="iced latte"))
        _step(nbc, "sokha pays dara and the cafe in one transaction: refused, two banks",
              sokha, [keys[sokha]], transfer(sokha, dara, Asset.KHR, 1_000),
              transfer(sokha, cafe, Asset.KHR, 1_000))
        _step(nbc, "dara tries 50,000,000 KHR: beyond basic KYC's daily limit", dara,
              [keys[dara]], transfer(dara, sokha, Asset.KHR, 50_000_000))
        _balances(nbc, ["settlement@aclb", "settlement@wing", "settlement@abaa", sokha, dara, cafe])


def _balances(client: SyncClient, accounts: list[str]) -> None:
    from bakong.ledger.assets import ASSETS, format_amount

    click.echo("\nbalances, as the API reports them:")
    for account_id in accounts:
        info = client.account(account_id)
        amounts = "  ".join(
            f"{format_amount(asset, info.balances.get(asset, 0)):>22}" for asset in ASSETS
        )
        click.echo(f"  {account_id:<20} {amounts}")
    status = client.status()
    click.echo(f"\nheight {status.height}, app hash {status.app_hash.hex()}")


def _where(network: Localnet) -> None:
    click.echo("\nthe network keeps running:")
    for child in network.children:
        click.echo(f"  {child.name}: {child.api_url}/v1/status   log {child.home}/node.log")
    click.echo(f"  metrics: {network.children[0].api_url}/metrics")
    click.echo(f"  API reference: docs/api.md; SDK: docs/sdk.md; keys in {network.directory}/keys")
    click.echo(f"  network: {network.directory / 'localnet.json'}")


def _gateways(gateways: DemoGateways) -> None:
    state = gateways.state
    ca = gateways.tls.authority
    click.echo("\nthe banks' gateways (HTTPS; clients trust the local CA: "
               f"SSL_CERT_FILE={ca}, or curl --cacert {ca}):")  # fmt: skip
    for code, process in gateways.processes.items():
        click.echo(f"  {code}: {process.url}/openapi.json   log {process.home.path}/gateway.log")
    click.echo("customers (sign in: POST <gateway>/v1/sessions {\"phone\", \"pin\"}):")
    for customer in state["customers"]:
        click.echo(f"  {customer['account']:<24} phone {customer['phone']}  PIN {customer['pin']}")
    merchant = state["merchant"]
    click.echo(f"merchant {merchant['account']}: Open API at {merchant['open_api_base']}")
    click.echo(f"  token (Authorization: Bearer ...): {merchant['open_api_token']}")
    if gateways.preview is not None:
        shown = gateways.preview
        click.echo(f"the payer's preview of the code, from the payee's bank: {shown['account_id']}"
                   f" is \"{shown['display_name']}\"")  # fmt: skip
    paid = state["paid_khqr"][-1]
    click.echo(
        f"paid KHQR: {paid['amount']} {paid['currency']} from {paid['from_account']} "
        f"to {paid['to_account']}, md5 {paid['md5']}, transaction {paid['hash']}"
    )
    click.echo(f"  check it: POST {merchant['open_api_base']}/check_transaction_by_md5 "
               f"{{\"md5\": \"{paid['md5']}\"}} with the token")  # fmt: skip


def _pages(gateways: DemoGateways) -> None:
    state = gateways.state
    pages = state["pages"]
    click.echo("\nthe pages, in a browser (each gateway's certificate is signed by the local CA "
               f"{gateways.tls.authority}: import it as an authority, or accept the warning):")
    phones = {c["participant"]: c for c in state["customers"]}
    for code, url in pages["wallet"].items():
        customer = phones[code]
        click.echo(f"  wallet at {code}: {url}")
        click.echo(f"    sign in: phone {customer['phone']}  PIN {customer['pin']}")
    merchant = state["merchant"]
    till = merchant["till_sign_in"]
    click.echo(f"  till of {merchant['account']}: {pages['till']}")
    click.echo(f"    sign in: handle {till['handle']}  PIN {till['pin']}")
    officer = state["officer"]
    click.echo(f"  bank officer at {officer['participant']}: {pages['officer']}")
    click.echo(f"    sign in: name {officer['name']}  password {officer['password']}")
    click.echo("  pay the merchant: open the till, enter an amount; in a wallet, Scan, and point "
               "the camera at the till (or choose a photo of its code)")
    click.echo("  sign up in a wallet with any +855 number: the text messages a phone would get "
               "(the sign-up code) are in that gateway's log")
    officer_site = pages["officer"].removesuffix("/officer/")
    click.echo("  onboarding by ID card and selfie (partial KYC): in a wallet, Verify "
               "(<gateway>/wallet/verify, docs/kyc.md); what it cannot decide waits for an "
               f"officer at {officer_site}/officer/kyc")
    click.echo("\nfeature phones (USSD, as an aggregator calls each bank):")
    for code, ussd in state["ussd"].items():
        customer = phones[code]
        click.echo(f"  {code} {ussd['service_code']}: bakong phone --gateway "
                   f"{state['gateways'][code]} --cacert {ussd['ca']} --service-code "
                   f"'{ussd['service_code']}' --aggregator {ussd['aggregator']} --secret "
                   f"{ussd['secret']} --msisdn {customer['phone']}")
    agent = state["agent"]
    click.echo(f"cash agent {agent['account']} (float from {agent['participant']}'s settlement "
               f"account): sign in with phone {agent['phone']}  PIN {agent['pin']}; API in "
               "docs/agents-and-claims.md")
    from bakong.gateway.demo import core_banking_lines

    for line in core_banking_lines(gateways):
        click.echo(line)
    from bakong.crossborder.demo import crossborder_lines

    for line in crossborder_lines(gateways.state, gateways.tls.authority):
        click.echo(line)
    console = gateways.state["console"]
    click.echo(f"\nthe central bank's console: {console['url']}  (docs/console.md)")
    for member in console["staff"]:
        click.echo(f"  {member['role']:<10} {member['user']:<16} password {member['password']}")
    click.echo(f"all of it as JSON: {gateways.path}")
    click.echo("Ctrl-C stops the network, the gateways, the link and the simulator; "
               "`make demo` again resumes them.")
