"""The settlement report on a real chain: positions per participant, asset and Phnom Penh day
that net to zero and agree with the ledger's balances; a violation reported; the CSV and the
camt.053.001.08 export parsed back and checked against the message's element names."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from msgspec.structs import replace

from bakong.console.movements import Movement, MovementKind
from bakong.console.settlement import (
    CAMT053_NAMESPACE,
    TOTAL_ROW,
    SettlementDay,
    camt053,
    check_positions,
    decimal_amount,
    participant_holdings,
    phnom_penh_date,
    reconcile,
    settlement_csv,
    settlement_days,
)
from bakong.errors import LocalError
from bakong.ledger.assets import ASSETS, Asset
from bakong.ledger.commands import PostHold, Redeem
from bakong.ledger.result import ResultCode
from tests.console.sandbox_movements import MovementChain

HOUR_MS = 3_600_000
NS = {"c": CAMT053_NAMESPACE}


def _ledger_holdings(chain: MovementChain) -> dict[tuple[str, Asset], int]:
    """Each participant's balances summed (available and held), read from the ledger."""
    accounts = {row.source for row in chain.movements} | {row.target for row in chain.movements}
    balances = []
    for account_id in sorted(accounts):
        account = chain.chain.account(account_id)
        assert account is not None, account_id
        for asset in ASSETS:
            total = account.balances[asset.index] + account.held[asset.index]
            balances.append((account_id, asset, total))
    return participant_holdings(balances)


def _two_days() -> tuple[MovementChain, dict[tuple[str, Asset], int]]:
    """Day 1 (2026-01-01 in Phnom Penh): liquidity, customers, payments across banks and
    within one, a failed payment, a hold posted. Day 2: more payments, a redemption."""
    chain = MovementChain()
    chain.fund()
    sandbox = chain.chain
    pay = sandbox.transfer
    codes = chain.commit(
        [
            sandbox.transaction("sokha@aclb", [pay("sokha@aclb", "dara@wing", Asset.KHR, 40_000)]),
            sandbox.transaction("dara@wing", [pay("dara@wing", "vanna@abaa", Asset.USD, 1_250)]),
            sandbox.transaction("vanna@abaa", [pay("vanna@abaa", "sokha@aclb", Asset.KHR, 7)]),
            sandbox.transaction(
                "settlement@aclb", [pay("settlement@aclb", "sokha@aclb", Asset.KHR, 900)]
            ),
            sandbox.transaction("dara@wing", [pay("dara@wing", "sokha@aclb", Asset.USD, 10**8)]),
        ]
    )
    assert codes[:4] == [ResultCode.ok] * 4 and codes[4] is not ResultCode.ok
    chain.ok("sokha@aclb", chain.hold(b"h" * 16, "sokha@aclb", "vanna@abaa", 3_000, 60_000))
    chain.ok("vanna@abaa", PostHold(hold_id=b"h" * 16, amount=2_500))
    first_day_close = _ledger_holdings(chain)
    chain.commit([], advance_ms=17 * HOUR_MS)  # past midnight in Phnom Penh
    chain.ok("vanna@abaa", pay("vanna@abaa", "dara@wing", Asset.USD, 99))
    chain.ok("settlement@wing", pay("settlement@wing", "settlement@aclb", Asset.KHR, 1_000_000))
    chain.ok(
        "nbc", Redeem(account="settlement@aclb", asset=Asset.USD, amount=300, reserve_ref="rd")
    )
    return chain, first_day_close


def test_a_settlement_day_nets_to_zero_and_agrees_with_the_ledger() -> None:
    chain, first_day_close = _two_days()
    days = settlement_days(chain.movements)
    assert [day.day for day in days] == ["2026-01-01", "2026-01-02"]
    first, second = days
    assert first.balanced and second.balanced
    for day in days:
        for asset in ASSETS:
            nets = [p.net for p in day.positions if p.asset is asset]
            assert nets and sum(nets) == 0, (day.day, asset)
    assert reconcile(first, first_day_close) == []
    assert reconcile(second, _ledger_holdings(chain)) == []
    positions = {(p.participant, p.asset): p for p in first.positions}
    aclb_khr = positions[("aclb", Asset.KHR)]
    # Sent 40,000 to wing and 2,500 posted to abaa; received 7; the 900 within aclb moved nothing.
    assert (aclb_khr.sent, aclb_khr.received, aclb_khr.net) == (42_500, 7, -42_493)
    assert (aclb_khr.opening, aclb_khr.issued, aclb_khr.redeemed) == (0, 10**10, 0)
    assert positions[("wing", Asset.USD)].sent == 1_250  # the failed payment did not count
    second_positions = {(p.participant, p.asset): p for p in second.positions}
    assert second_positions[("aclb", Asset.USD)].redeemed == 300
    assert second_positions[("aclb", Asset.KHR)].opening == aclb_khr.closing
    assert second_positions[("aclb", Asset.KHR)].received == 1_000_000


def test_reconcile_names_a_disagreement() -> None:
    chain, first_day_close = _two_days()
    first = settlement_days(chain.movements)[0]
    wrong = dict(first_day_close)
    wrong[("wing", Asset.USD)] += 1
    closing = next(
        p.closing for p in first.positions if (p.participant, p.asset.value) == ("wing", "USD")
    )
    assert reconcile(first, wrong) == [
        f"2026-01-01 wing USD: the report closes at {decimal_amount(Asset.USD, closing)}, "
        f"the ledger holds {decimal_amount(Asset.USD, closing + 1)}"
    ]


def test_a_violation_is_reported_in_the_day_and_in_its_csv() -> None:
    chain, _ = _two_days()
    first = settlement_days(chain.movements)[0]
    stored = list(first.positions)  # as a store would read them back, one row damaged
    index = next(i for i, p in enumerate(stored) if p.asset is Asset.KHR and p.sent)
    stored[index] = replace(stored[index], sent=stored[index].sent - 5)
    imbalances = check_positions(first.day, stored)
    assert [(i.asset, i.net_sum) for i in imbalances] == [(Asset.KHR, 5)]
    damaged = SettlementDay(
        day=first.day, positions=tuple(stored), movements=first.movements, imbalances=imbalances
    )
    assert not damaged.balanced
    totals = [row for row in csv.DictReader(io.StringIO(settlement_csv([damaged])))]
    khr_total = next(r for r in totals if r["participant"] == TOTAL_ROW and r["asset"] == "KHR")
    assert khr_total["net"] == "5"


def test_the_csv_has_a_row_per_position_and_a_zero_total_per_asset() -> None:
    chain, _ = _two_days()
    days = settlement_days(chain.movements)
    rows = list(csv.DictReader(io.StringIO(settlement_csv(days))))
    assert len(rows) == sum(len(day.positions) + len(ASSETS) for day in days)
    totals = [row for row in rows if row["participant"] == TOTAL_ROW]
    assert {(row["day"], row["asset"], row["net"]) for row in totals} == {
        ("2026-01-01", "KHR", "0"), ("2026-01-01", "USD", "0.00"),
        ("2026-01-02", "KHR", "0"), ("2026-01-02", "USD", "0.00"),
    }  # fmt: skip
    wing_usd = next(
        row for row in rows if row["day"] == "2026-01-01" and row["participant"] == "wing"
        and row["asset"] == "USD"
    )  # fmt: skip
    assert wing_usd["gross_sent"] == "12.50" and wing_usd["issued"] == "100000.00"
    for row in rows:
        for column in ("opening", "gross_sent", "net", "closing"):
            pattern = r"-?\d+" if row["asset"] == "KHR" else r"-?\d+\.\d\d"
            assert re.fullmatch(pattern, row[column]), (column, row[column])


# -- camt.053.001.08: the element names and their order, as the schema has them ----------------

_LEAF = ""
_ACCOUNT = "CashAccount"
_SCHEMA: dict[str, tuple[tuple[str, str, bool], ...]] = {
    # type: (child tag, child type or _LEAF, required), in the schema's sequence order
    "Document": (("BkToCstmrStmt", "BankToCustomerStatement", True),),
    "BankToCustomerStatement": (
        ("GrpHdr", "GroupHeader", True), ("Stmt", "AccountStatement", True),
        ("SplmtryData", _LEAF, False),
    ),
    "GroupHeader": (
        ("MsgId", _LEAF, True), ("CreDtTm", _LEAF, True), ("MsgRcpt", _LEAF, False),
        ("MsgPgntn", _LEAF, False), ("OrgnlBizQry", _LEAF, False), ("AddtlInf", _LEAF, False),
    ),
    "AccountStatement": (
        ("Id", _LEAF, True), ("StmtPgntn", _LEAF, False), ("ElctrncSeqNb", _LEAF, False),
        ("RptgSeq", _LEAF, False), ("LglSeqNb", _LEAF, False), ("CreDtTm", _LEAF, False),
        ("FrToDt", "DateTimePeriod", False), ("CpyDplctInd", _LEAF, False),
        ("RptgSrc", _LEAF, False), ("Acct", _ACCOUNT, True), ("RltdAcct", _ACCOUNT, False),
        ("Intrst", _LEAF, False), ("Bal", "CashBalance", True),
        ("TxsSummry", "TotalTransactions", False), ("Ntry", "ReportEntry", False),
        ("AddtlStmtInf", _LEAF, False),
    ),
    "DateTimePeriod": (("FrDtTm", _LEAF, True), ("ToDtTm", _LEAF, True)),
    _ACCOUNT: (
        ("Id", "AccountIdentificationChoice", True), ("Tp", _LEAF, False), ("Ccy", _LEAF, False),
        ("Nm", _LEAF, False), ("Prxy", _LEAF, False), ("Ownr", _LEAF, False),
        ("Svcr", _LEAF, False),
    ),
    "AccountIdentificationChoice": (("IBAN", _LEAF, False), ("Othr", "GenericAccountId", False)),
    "GenericAccountId": (("Id", _LEAF, True), ("SchmeNm", _LEAF, False), ("Issr", _LEAF, False)),
    "CashBalance": (
        ("Tp", "BalanceType", True), ("CdtLine", _LEAF, False), ("Amt", _LEAF, True),
        ("CdtDbtInd", _LEAF, True), ("Dt", "DateAndDateTimeChoice", True),
        ("Avlbty", _LEAF, False),
    ),
    "BalanceType": (("CdOrPrtry", "CodeOrProprietary", True), ("SubTp", _LEAF, False)),
    "CodeOrProprietary": (("Cd", _LEAF, False), ("Prtry", _LEAF, False)),
    "DateAndDateTimeChoice": (("Dt", _LEAF, False), ("DtTm", _LEAF, False)),
    "TotalTransactions": (
        ("TtlNtries", "NumberAndSum", False), ("TtlCdtNtries", _LEAF, False),
        ("TtlDbtNtries", _LEAF, False), ("TtlNtriesPerBkTxCd", _LEAF, False),
    ),
    "NumberAndSum": (
        ("NbOfNtries", _LEAF, False), ("Sum", _LEAF, False),
        ("TtlNetNtry", "AmountAndDirection", False),
    ),
    "AmountAndDirection": (("Amt", _LEAF, True), ("CdtDbtInd", _LEAF, True)),
    "ReportEntry": (
        ("NtryRef", _LEAF, False), ("Amt", _LEAF, True), ("CdtDbtInd", _LEAF, True),
        ("RvslInd", _LEAF, False), ("Sts", "CodeOrProprietary", True),
        ("BookgDt", "DateAndDateTimeChoice", False), ("ValDt", "DateAndDateTimeChoice", False),
        ("AcctSvcrRef", _LEAF, False), ("Avlbty", _LEAF, False),
        ("BkTxCd", "BankTransactionCode", True), ("ComssnWvrInd", _LEAF, False),
        ("AddtlInfInd", _LEAF, False), ("AmtDtls", _LEAF, False), ("Chrgs", _LEAF, False),
        ("TechInptChanl", _LEAF, False), ("Intrst", _LEAF, False), ("CardTx", _LEAF, False),
        ("NtryDtls", "EntryDetails", False), ("AddtlNtryInf", _LEAF, False),
    ),
    "BankTransactionCode": (("Domn", _LEAF, False), ("Prtry", "ProprietaryCode", False)),
    "ProprietaryCode": (("Cd", _LEAF, True), ("Issr", _LEAF, False)),
    "EntryDetails": (("Btch", _LEAF, False), ("TxDtls", "EntryTransaction", False)),
    "EntryTransaction": (
        ("Refs", "TransactionReferences", False), ("Amt", _LEAF, False),
        ("CdtDbtInd", _LEAF, False), ("AmtDtls", _LEAF, False), ("Avlbty", _LEAF, False),
        ("BkTxCd", "BankTransactionCode", False), ("Chrgs", _LEAF, False),
        ("Intrst", _LEAF, False), ("RltdPties", "TransactionParties", False),
        ("RltdAgts", _LEAF, False), ("LclInstrm", _LEAF, False), ("Purp", _LEAF, False),
        ("RmtInf", _LEAF, False), ("AddtlTxInf", _LEAF, False),
    ),
    "TransactionReferences": (
        ("MsgId", _LEAF, False), ("AcctSvcrRef", _LEAF, False), ("PmtInfId", _LEAF, False),
        ("InstrId", _LEAF, False), ("EndToEndId", _LEAF, False), ("UETR", _LEAF, False),
        ("TxId", _LEAF, False),
    ),
    "TransactionParties": (
        ("InitgPty", _LEAF, False), ("Dbtr", _LEAF, False), ("DbtrAcct", _ACCOUNT, False),
        ("UltmtDbtr", _LEAF, False), ("Cdtr", _LEAF, False), ("CdtrAcct", _ACCOUNT, False),
        ("UltmtCdtr", _LEAF, False),
    ),
}  # fmt: skip
_REPEATABLE = {"Stmt", "Bal", "Ntry", "TxDtls"}
_CHOICES = {"AccountIdentificationChoice", "CodeOrProprietary", "DateAndDateTimeChoice"}


def _local(tag: str) -> str:
    namespace, _, name = tag[1:].partition("}")
    assert namespace == CAMT053_NAMESPACE, tag
    return name


def _check_element(element: ElementTree.Element, type_name: str) -> None:
    """The element's children are the type's, in its order, required ones present."""
    children = [_local(child.tag) for child in element]
    if type_name == _LEAF:
        assert children == [], f"{element.tag} has children {children}"
        assert (element.text or "").strip(), f"{element.tag} is empty"
        return
    sequence = [tag for tag, _, _ in _SCHEMA[type_name]]
    positions = [sequence.index(tag) if tag in sequence else -1 for tag in children]
    assert -1 not in positions, f"{type_name}: unknown element among {children}"
    assert positions == sorted(positions), f"{type_name}: out of order {children}"
    for tag in children:
        assert tag in _REPEATABLE or children.count(tag) == 1, f"{type_name}: {tag} repeats"
    if type_name in _CHOICES:
        assert len(children) == 1, f"{type_name}: a choice has one element, not {children}"
    for tag, _, required in _SCHEMA[type_name]:
        assert not required or tag in children, f"{type_name}: {tag} is missing"
    types = {tag: child_type for tag, child_type, _ in _SCHEMA[type_name]}
    for child in element:
        _check_element(child, types[_local(child.tag)])


def _amount(element: ElementTree.Element, asset: str) -> Decimal:
    text = element.text or ""
    assert re.fullmatch(r"\d+" if asset == "KHR" else r"\d+\.\d\d", text), (asset, text)
    return Decimal(text)


def _signed(parent: ElementTree.Element, asset: str) -> Decimal:
    amount = parent.find("c:Amt", NS)
    indicator = parent.findtext("c:CdtDbtInd", namespaces=NS)
    assert amount is not None and amount.get("Ccy") == asset and indicator in ("CRDT", "DBIT")
    value = _amount(amount, asset)
    return value if indicator == "CRDT" else -value


def test_camt053_parses_back_with_the_schema_names_and_balances_that_add_up() -> None:
    chain, _ = _two_days()
    first = settlement_days(chain.movements)[0]
    created_ms = chain.chain.time_ms
    message = camt053(first, message_id="NBC-SETTLE-20260101", created_ms=created_ms)
    assert message.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ElementTree.fromstring(message)
    assert root.tag == f"{{{CAMT053_NAMESPACE}}}Document"
    _check_element(root, "Document")
    assert root.findtext("c:BkToCstmrStmt/c:GrpHdr/c:MsgId", namespaces=NS) == (
        "NBC-SETTLE-20260101"
    )
    statements = root.findall("c:BkToCstmrStmt/c:Stmt", NS)
    assert len(statements) == len(first.positions)
    positions = {(p.participant, p.asset.value): p for p in first.positions}
    for statement in statements:
        participant = statement.findtext("c:Acct/c:Id/c:Othr/c:Id", namespaces=NS) or ""
        asset = statement.findtext("c:Acct/c:Ccy", namespaces=NS) or ""
        position = positions.pop((participant, asset))
        balances = {
            balance.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=NS): _signed(balance, asset)
            for balance in statement.findall("c:Bal", NS)
        }
        entries = [_signed(entry, asset) for entry in statement.findall("c:Ntry", NS)]
        assert balances["OPBD"] + sum(entries) == balances["CLBD"]
        exponent = Asset(asset).exponent
        assert balances["CLBD"] * 10**exponent == position.closing
        count = statement.findtext("c:TxsSummry/c:TtlNtries/c:NbOfNtries", namespaces=NS)
        assert count == str(len(entries)) == str(position.entries)
        gross = statement.findtext("c:TxsSummry/c:TtlNtries/c:Sum", namespaces=NS)
        assert Decimal(gross or "") == sum(abs(entry) for entry in entries)
        for dated in statement.iterfind("c:Bal/c:Dt/c:Dt", NS):
            assert dated.text == "2026-01-01"
    assert positions == {}, "a statement per participant and asset"


def test_camt053_entries_name_the_transaction_and_the_accounts() -> None:
    chain, _ = _two_days()
    first = settlement_days(chain.movements)[0]
    root = ElementTree.fromstring(camt053(first, message_id="m1", created_ms=0))
    posted = next(row for row in first.movements if row.kind is MovementKind.hold_posted)
    abaa_khr = next(
        s for s in root.iterfind("c:BkToCstmrStmt/c:Stmt", NS)
        if s.findtext("c:Acct/c:Id/c:Othr/c:Id", namespaces=NS) == "abaa"
        and s.findtext("c:Acct/c:Ccy", namespaces=NS) == "KHR"
    )  # fmt: skip
    reference = f"{posted.height}-{posted.tx_index}-{posted.command_index}"
    entry = next(
        e
        for e in abaa_khr.iterfind("c:Ntry", NS)
        if e.findtext("c:NtryRef", namespaces=NS) == reference
    )
    assert _signed(entry, "KHR") == Decimal(2_500)
    assert entry.findtext("c:BkTxCd/c:Prtry/c:Cd", namespaces=NS) == "hold_posted"
    details = "c:NtryDtls/c:TxDtls/"
    assert entry.findtext(details + "c:RltdPties/c:DbtrAcct/c:Id/c:Othr/c:Id", namespaces=NS) == (
        "sokha@aclb"
    )
    assert entry.findtext(details + "c:RltdPties/c:CdtrAcct/c:Id/c:Othr/c:Id", namespaces=NS) == (
        "vanna@abaa"
    )
    assert posted.tx_hash.hex() in (entry.findtext(details + "c:AddtlTxInf", namespaces=NS) or "")
    assert entry.findtext("c:BookgDt/c:DtTm", namespaces=NS, default="").endswith("+07:00")


def test_a_message_id_is_bounded_by_iso() -> None:
    day = SettlementDay(day="2026-01-01", positions=(), movements=(), imbalances=())
    with pytest.raises(LocalError):
        camt053(day, message_id="x" * 36, created_ms=0)
    with pytest.raises(LocalError):
        camt053(day, message_id="", created_ms=0)


def test_amounts_are_decimals_made_from_integers() -> None:
    assert decimal_amount(Asset.KHR, 1_500) == "1500"
    assert decimal_amount(Asset.USD, 1_234) == "12.34"
    assert decimal_amount(Asset.USD, 5) == "0.05"
    assert decimal_amount(Asset.USD, -105) == "-1.05"
    assert decimal_amount(Asset.USD, 10**17 + 1) == "1000000000000000.01"


def test_the_day_turns_at_midnight_in_phnom_penh() -> None:
    midnight_ms = 1_767_200_400_000  # 2025-12-31 17:00 UTC
    assert phnom_penh_date(midnight_ms - 1) == "2025-12-31"
    assert phnom_penh_date(midnight_ms) == "2026-01-01"

    def row(time_ms: int, height: int) -> Movement:
        return Movement(
            height=height, time_ms=time_ms, tx_index=0, tx_hash=b"\x01" * 32, command_index=0,
            kind=MovementKind.transfer, source="a@aclb", target="b@wing",
            source_participant="aclb", target_participant="wing", asset=Asset.KHR, amount=10,
            result="ok", reference="", hold_id=b"",
        )  # fmt: skip

    days = settlement_days([row(midnight_ms, 2), row(midnight_ms - 1, 1)])
    assert [(day.day, len(day.movements)) for day in days] == [("2025-12-31", 1), ("2026-01-01", 1)]
    assert days[1].positions[0].opening == -10  # aclb opens at what it sent the day before
