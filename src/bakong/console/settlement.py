"""The settlement report: each participant's position per asset per Phnom Penh day, from movements.

A payment between customers of two participants is final on the ledger and moves its backing
with it; the central bank's books need each participant's position. Rules:

1. Only rows that moved money count (`Movement.moves_money`): ok transfers, ok posted holds
   (at their post, for the posted amount), ok issues and redemptions. A placed, voided or
   expired hold moved nothing between participants, nor did a failed transaction.
2. Interbank: a row from an account of participant A to an account of participant B (A != B)
   adds to A's gross sent and B's gross received; a payment between two accounts of one
   participant moves nothing between banks and is left out. Net = received - sent.
3. Issue and redemption are shown apart: the central bank's treasury creates or destroys the
   money, so they change the participant's holdings but are no interbank position.
4. A participant's holdings (the sum of its accounts' balances, available and held) move by
   exactly net + issued - redeemed: `opening` and `closing` are those holdings at the start
   and end of the day. `reconcile` compares the closing figures with the ledger's balances.
5. The day is the Asia/Phnom_Penh calendar day of the block's time (UTC+7, as the ledger's
   daily limits count it).
6. For each asset, the net interbank positions of a day sum to zero: every sent riel was
   received by someone. The sum is computed, not assumed, and a day where it is not zero
   carries an `Imbalance`, which the CSV shows in its total row and `balanced` reports.

Exports: CSV (one row per participant and asset, then a total row per asset) and ISO 20022
camt.053.001.08 (`BkToCstmrStmt`: a statement per participant and asset with its opening and
closing booked balances and one entry per movement). Amounts are decimals in the asset's
major unit (KHR 0 decimals, USD 2) made from the integers by `decimal_amount`; no float is
involved. Everything here is a pure function of its arguments: the creation time of a message
is passed in.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable, Mapping
from xml.etree import ElementTree

import msgspec

from bakong.console.movements import Movement, MovementKind
from bakong.errors import LocalError
from bakong.ledger.assets import Asset
from bakong.ledger.identifiers import participant_of
from bakong.ledger.policy import phnom_penh_day

__all__ = [
    "CAMT053_NAMESPACE",
    "ISO_MAX35_TEXT",
    "Imbalance",
    "Position",
    "TOTAL_ROW",
    "SettlementDay",
    "camt053",
    "check_positions",
    "decimal_amount",
    "participant_holdings",
    "phnom_penh_date",
    "reconcile",
    "settlement_csv",
    "settlement_days",
]

CAMT053_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
ISO_MAX35_TEXT = 35  # ISO 20022 Max35Text: message, statement and entry identifiers
_phnom_penh = datetime.timezone(datetime.timedelta(hours=7), "Asia/Phnom_Penh")
_epoch = datetime.date(1970, 1, 1)
_unix_epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)

Holdings = Mapping[tuple[str, Asset], int]  # (participant, asset) -> minor units


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """One participant's day in one asset, in minor units."""

    day: str  # ISO date, Phnom Penh
    participant: str
    asset: Asset
    opening: int
    sent: int
    received: int
    issued: int
    redeemed: int
    entries: int  # how many movements made it

    @property
    def net(self) -> int:
        return self.received - self.sent

    @property
    def closing(self) -> int:
        return self.opening + self.net + self.issued - self.redeemed


class Imbalance(msgspec.Struct, frozen=True, kw_only=True):
    day: str
    asset: Asset
    net_sum: int  # should be zero


class SettlementDay(msgspec.Struct, frozen=True, kw_only=True):
    day: str
    positions: tuple[Position, ...]  # sorted by participant, then asset
    movements: tuple[Movement, ...]  # the rows that count (rules 1-3), in ledger order
    imbalances: tuple[Imbalance, ...]

    @property
    def balanced(self) -> bool:
        return not self.imbalances


def phnom_penh_date(time_ms: int) -> str:
    """The ISO date of the Phnom Penh day of `time_ms`."""
    return (_epoch + datetime.timedelta(days=phnom_penh_day(time_ms))).isoformat()


def decimal_amount(asset: Asset, amount: int) -> str:
    """Minor units as a decimal in the major unit: KHR 1500 -> "1500", USD 1234 -> "12.34"."""
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**asset.exponent)
    if not asset.exponent:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{asset.exponent}d}"


def _counts(row: Movement) -> bool:
    """Rules 1-3: money moved, and between participants or by the treasury."""
    if not row.moves_money:
        return False
    if row.kind in (MovementKind.issue, MovementKind.redeem):
        return True
    return row.source_participant != row.target_participant


class _Tally:
    """A day's sums for one participant and asset, while the rows are read."""

    def __init__(self) -> None:
        self.sent = self.received = self.issued = self.redeemed = self.entries = 0

    def add(self, row: Movement, participant: str) -> None:
        self.entries += 1
        if row.kind is MovementKind.issue:
            self.issued += row.amount
        elif row.kind is MovementKind.redeem:
            self.redeemed += row.amount
        elif participant == row.source_participant:
            self.sent += row.amount
        else:
            self.received += row.amount


def _sides(row: Movement) -> tuple[str, ...]:
    """The participants whose position the row moves (the treasury's side is no position)."""
    if row.kind is MovementKind.issue:
        return (row.target_participant,)
    if row.kind is MovementKind.redeem:
        return (row.source_participant,)
    return (row.source_participant, row.target_participant)


def _day(day: str, rows: list[Movement], opening: dict[tuple[str, Asset], int]) -> SettlementDay:
    """One day from its counting rows; `opening` is updated to the day's closing holdings."""
    tallies: dict[tuple[str, Asset], _Tally] = {key: _Tally() for key in opening}
    for row in rows:
        for participant in _sides(row):
            tallies.setdefault((participant, row.asset), _Tally()).add(row, participant)
    positions = []
    for (participant, asset), tally in sorted(tallies.items(), key=lambda item: _key(item[0])):
        position = Position(
            day=day, participant=participant, asset=asset,
            opening=opening.get((participant, asset), 0), sent=tally.sent,
            received=tally.received, issued=tally.issued, redeemed=tally.redeemed,
            entries=tally.entries,
        )  # fmt: skip
        opening[(participant, asset)] = position.closing
        positions.append(position)
    return SettlementDay(
        day=day,
        positions=tuple(positions),
        movements=tuple(rows),
        imbalances=check_positions(day, positions),
    )


def check_positions(day: str, positions: Iterable[Position]) -> tuple[Imbalance, ...]:
    """Rule 6 for a day's positions, however they were obtained (derived here, or read back
    from a store): one `Imbalance` per asset whose net positions do not sum to zero."""
    net_sums: dict[Asset, int] = {}
    for position in positions:
        net_sums[position.asset] = net_sums.get(position.asset, 0) + position.net
    return tuple(
        Imbalance(day=day, asset=asset, net_sum=net_sum)
        for asset, net_sum in sorted(net_sums.items(), key=lambda item: item[0].index)
        if net_sum != 0
    )


def _key(key: tuple[str, Asset]) -> tuple[str, int]:
    participant, asset = key
    return participant, asset.index


def settlement_days(
    movements: Iterable[Movement], opening: Holdings | None = None
) -> tuple[SettlementDay, ...]:
    """The report of every day on which money moved, in day order.

    `opening` are the participants' holdings before the first movement (none: the movements
    start at genesis); each day opens with the previous one's closing figures, and a
    participant known from an earlier day has a position on each later one."""
    ordered = sorted(movements, key=lambda row: (row.height, row.tx_index, row.command_index))
    by_day: dict[str, list[Movement]] = {}
    for row in ordered:
        if _counts(row):
            by_day.setdefault(phnom_penh_date(row.time_ms), []).append(row)
    holdings = dict(opening or {})
    return tuple(_day(day, rows, holdings) for day, rows in sorted(by_day.items()))


def participant_holdings(
    balances: Iterable[tuple[str, Asset, int]],
) -> dict[tuple[str, Asset], int]:
    """Accounts' balances `(account id, asset, available + held)` summed per participant: the
    ledger's side of `reconcile`."""
    holdings: dict[tuple[str, Asset], int] = {}
    for account, asset, amount in balances:
        key = (participant_of(account), asset)
        holdings[key] = holdings.get(key, 0) + amount
    return holdings


def reconcile(day: SettlementDay, ledger: Holdings) -> list[str]:
    """Where the day's closing figures disagree with the ledger's holdings at the day's end
    (each participant's balances summed, available and held): empty when they agree."""
    closing = {(p.participant, p.asset): p.closing for p in day.positions}
    problems = []
    for key in sorted(closing.keys() | ledger.keys(), key=_key):
        participant, asset = key
        reported, held = closing.get(key, 0), ledger.get(key, 0)
        if reported != held:
            problems.append(
                f"{day.day} {participant} {asset.value}: the report closes at "
                f"{decimal_amount(asset, reported)}, the ledger holds {decimal_amount(asset, held)}"
            )
    return problems


_CSV_COLUMNS = (
    "day", "participant", "asset", "opening", "gross_sent", "gross_received", "net",
    "issued", "redeemed", "closing", "entries",
)  # fmt: skip
TOTAL_ROW = "*total*"  # the participant column of a day's total row


def settlement_csv(days: Iterable[SettlementDay]) -> str:
    """One row per participant and asset and day, then a total row per asset and day whose
    `net` is the sum of the net positions (zero when the day balances, rule 6)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)
    for day in days:
        for position in day.positions:
            writer.writerow(_csv_row(position.participant, position.asset, day.day, [position]))
        for asset in sorted({position.asset for position in day.positions}, key=lambda a: a.index):
            of_asset = [position for position in day.positions if position.asset is asset]
            writer.writerow(_csv_row(TOTAL_ROW, asset, day.day, of_asset))
    return out.getvalue()


def _csv_row(participant: str, asset: Asset, day: str, positions: list[Position]) -> list[str]:
    def total(field: str) -> str:
        return decimal_amount(asset, sum(getattr(position, field) for position in positions))

    fields = ("opening", "sent", "received", "net", "issued", "redeemed", "closing")
    entries = str(sum(position.entries for position in positions))
    return [day, participant, asset.value, *(total(field) for field in fields), entries]


# -- ISO 20022 camt.053.001.08 ---------------------------------------------------------------


def _text(parent: ElementTree.Element, tag: str, text: str) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, tag)
    element.text = text
    return element


def _iso_time(time_ms: int) -> str:
    moment = _unix_epoch + datetime.timedelta(milliseconds=time_ms)
    return moment.astimezone(_phnom_penh).isoformat(timespec="milliseconds")


def _amount(parent: ElementTree.Element, asset: Asset, amount: int) -> None:
    """An amount with its sign as a credit/debit indicator (ISO amounts are never negative)."""
    element = _text(parent, "Amt", decimal_amount(asset, abs(amount)))
    element.set("Ccy", asset.value)
    _text(parent, "CdtDbtInd", "DBIT" if amount < 0 else "CRDT")


def _balance(stmt: ElementTree.Element, code: str, position: Position, amount: int) -> None:
    balance = ElementTree.SubElement(stmt, "Bal")
    kind = ElementTree.SubElement(ElementTree.SubElement(balance, "Tp"), "CdOrPrtry")
    _text(kind, "Cd", code)
    _amount(balance, position.asset, amount)
    _text(ElementTree.SubElement(balance, "Dt"), "Dt", position.day)


def _account(parent: ElementTree.Element, tag: str, identifier: str) -> None:
    other = ElementTree.SubElement(ElementTree.SubElement(parent, tag), "Id")
    _text(ElementTree.SubElement(other, "Othr"), "Id", identifier)


def _entry_reference(row: Movement) -> str:
    reference = f"{row.height}-{row.tx_index}-{row.command_index}"
    assert len(reference) <= ISO_MAX35_TEXT
    return reference


def _signed(row: Movement, participant: str) -> int:
    """The row's effect on the participant's holdings."""
    if row.kind is MovementKind.issue:
        return row.amount
    if row.kind is MovementKind.redeem:
        return -row.amount
    return -row.amount if row.source_participant == participant else row.amount


def _entry(stmt: ElementTree.Element, row: Movement, participant: str) -> None:
    entry = ElementTree.SubElement(stmt, "Ntry")
    reference = _entry_reference(row)
    _text(entry, "NtryRef", reference)
    _amount(entry, row.asset, _signed(row, participant))
    _text(ElementTree.SubElement(entry, "Sts"), "Cd", "BOOK")
    _text(ElementTree.SubElement(entry, "BookgDt"), "DtTm", _iso_time(row.time_ms))
    _text(ElementTree.SubElement(entry, "ValDt"), "Dt", phnom_penh_date(row.time_ms))
    _text(entry, "AcctSvcrRef", reference)
    code = ElementTree.SubElement(ElementTree.SubElement(entry, "BkTxCd"), "Prtry")
    _text(code, "Cd", row.kind.value)
    details = ElementTree.SubElement(ElementTree.SubElement(entry, "NtryDtls"), "TxDtls")
    refs = ElementTree.SubElement(details, "Refs")
    _text(refs, "AcctSvcrRef", reference)
    short = row.reference if 0 < len(row.reference) <= ISO_MAX35_TEXT else ""
    _text(refs, "EndToEndId", short or "NOTPROVIDED")
    parties = ElementTree.SubElement(details, "RltdPties")
    _account(parties, "DbtrAcct", row.source)
    _account(parties, "CdtrAcct", row.target)
    info = f"tx {row.tx_hash.hex()}" + (f" reference {row.reference}" if row.reference else "")
    _text(details, "AddtlTxInf", info)


def _statement(
    document: ElementTree.Element, position: Position, rows: list[Movement], created: str
) -> None:
    stmt = ElementTree.SubElement(document, "Stmt")
    _text(stmt, "Id", f"{position.participant}-{position.asset.value}-{position.day}")
    _text(stmt, "CreDtTm", created)
    period = ElementTree.SubElement(stmt, "FrToDt")
    _text(period, "FrDtTm", f"{position.day}T00:00:00.000+07:00")
    _text(period, "ToDtTm", f"{position.day}T23:59:59.999+07:00")
    account = ElementTree.SubElement(stmt, "Acct")
    _text(ElementTree.SubElement(ElementTree.SubElement(account, "Id"), "Othr"), "Id",
          position.participant)  # fmt: skip
    _text(account, "Ccy", position.asset.value)
    _balance(stmt, "OPBD", position, position.opening)
    _balance(stmt, "CLBD", position, position.closing)
    summary = ElementTree.SubElement(ElementTree.SubElement(stmt, "TxsSummry"), "TtlNtries")
    _text(summary, "NbOfNtries", str(len(rows)))
    gross = sum(row.amount for row in rows)
    _text(summary, "Sum", decimal_amount(position.asset, gross))
    net = ElementTree.SubElement(summary, "TtlNetNtry")
    change = position.closing - position.opening
    _text(net, "Amt", decimal_amount(position.asset, abs(change)))  # a bare decimal: no Ccy
    _text(net, "CdtDbtInd", "DBIT" if change < 0 else "CRDT")
    for row in rows:
        _entry(stmt, row, position.participant)


def camt053(day: SettlementDay, *, message_id: str, created_ms: int) -> bytes:
    """The day as one camt.053.001.08 message: a statement per participant and asset."""
    if not 0 < len(message_id) <= ISO_MAX35_TEXT:
        raise LocalError(f"a message id has 1 to {ISO_MAX35_TEXT} characters")
    created = _iso_time(created_ms)
    root = ElementTree.Element("Document", {"xmlns": CAMT053_NAMESPACE})
    document = ElementTree.SubElement(root, "BkToCstmrStmt")
    header = ElementTree.SubElement(document, "GrpHdr")
    _text(header, "MsgId", message_id)
    _text(header, "CreDtTm", created)
    for position in day.positions:
        rows = [
            row
            for row in day.movements
            if row.asset is position.asset and position.participant in _sides(row)
        ]
        _statement(document, position, rows, created)
    body: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return body
