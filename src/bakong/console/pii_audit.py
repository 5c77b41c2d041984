"""Scanning every block for the personal data the gateways took at onboarding.

`bakong audit pii` (docs/audit.md). The ledger holds no names, phone numbers or ID numbers
(design section 3): account IDs are handles, phone aliases are HMACs. This module proves it
for a real chain. It reads, from each gateway's own store (its home's config, database and
key-encryption key):

- `name`: each customer's full name, as entered (whitespace collapsed, compared ignoring case);
- `phone`: each phone number a customer, a registration code or a claim was for, in every
  form a person or a system might write it: E.164 (`+85512345678`), the same digits without
  the plus (`85512345678`), the national form (`012345678`) and the national digits alone
  (`12345678`);
- `id_number`: each document number read from an ID card (the KYC store's sealed readings,
  opened with the gateway's key-encryption key).

Values shorter than `limits.audit_pii_value_chars_min` are not searched for: they would match
everywhere and prove nothing. Then every transaction of every block is searched, its decoded
fields (each text field, and each integer field for the digit forms) and its raw canonical
bytes (ignoring ASCII case), for every form of every value. A finding names the height, the
transaction's hash, the kind of value and where it was found (a field name or `raw`), never
the value itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa

from bakong import limits
from bakong.console.chain_audit import Failure, SourcedBlock
from bakong.errors import ConfigError
from bakong.gateway import db
from bakong.gateway.home import load_home
from bakong.gateway.kyc import store as kyc_store
from bakong.ledger.transaction import Transaction, transaction_hash
from bakong.wire.codec import encode

__all__ = ["PersonalValues", "PiiReport", "read_gateway_values", "scan_blocks"]

_country_code = "855"  # Cambodia's calling code: the national form drops it for a 0


@dataclass
class PersonalValues:
    """Every form to search for, lower-cased, with the kind of value it is a form of."""

    forms: dict[str, str] = field(default_factory=dict)  # form -> kind
    values: int = 0  # distinct personal values behind the forms

    def add(self, kind: str, value: str | None) -> None:
        if not value:
            return
        forms = phone_forms(value) if kind == "phone" else [" ".join(value.split()).lower()]
        forms = [form for form in forms if len(form) >= limits.audit_pii_value_chars_min]
        new = [form for form in forms if form not in self.forms]
        if new:
            self.values += 1
        for form in new:
            self.forms[form] = kind


def phone_forms(phone: str) -> list[str]:
    """The ways one number is written: E.164, its digits, national with 0, national digits."""
    digits = "".join(character for character in phone if character.isdigit())
    if not digits:
        return []
    forms = {digits}
    if phone.strip().startswith("+"):
        forms.add("+" + digits)
    national = digits[len(_country_code) :] if digits.startswith(_country_code) else digits
    national = national.lstrip("0")
    forms.update(
        {national, "0" + national, _country_code + national, "+" + _country_code + national}
    )
    return sorted(forms)


# -- reading the gateways' stores ----------------------------------------------------------------


def read_gateway_values(
    homes: Iterable[Path], values: PersonalValues | None = None
) -> PersonalValues:
    """The personal values of every gateway home (module docstring)."""
    found = PersonalValues() if values is None else values
    for path in homes:
        home = load_home(path)
        engine = db.engine_for(home.database_url)
        try:
            with engine.connect() as connection:
                _read_store(connection, home.kek, found)
        except sa.exc.OperationalError as error:
            message = f"{path}: its database cannot be read ({type(error).__name__})"
            raise ConfigError(message) from None
        finally:
            engine.dispose()
    return found


def _read_store(connection: sa.Connection, kek: bytes, found: PersonalValues) -> None:
    customers = db.customers.c
    for kind, name, phone in connection.execute(
        sa.select(customers.kind, customers.name, customers.phone)
    ):
        if kind != "merchant":  # a merchant's name is its business's, printed on its KHQR
            found.add("name", name)
        found.add("phone", phone)
    for table in (db.otp_codes, db.claims):
        for (phone,) in connection.execute(sa.select(table.c.phone).distinct()):
            found.add("phone", phone)
    sealed_rows = connection.execute(
        sa.select(db.kyc_submissions.c.customer_id, db.kyc_submissions.c.fields_sealed).where(
            db.kyc_submissions.c.fields_sealed.is_not(None)
        )
    )
    for customer_id, sealed in sealed_rows:
        reading = kyc_store.open_fields(kek, customer_id, sealed)
        fields = reading.get("fields", reading)
        # Only the number: the name read from the card is the customer's name above, and one
        # part of it alone may well be part of a handle the customer chose.
        found.add("id_number", _field_value(fields.get("document_number")))


def _field_value(entry: Any) -> str | None:
    """A KYC reading's field: `{"value", "status"}`, or a bare string in older readings."""
    if isinstance(entry, dict):
        entry = entry.get("value")
    return entry if isinstance(entry, str) else None


# -- scanning the chain --------------------------------------------------------------------------


@dataclass
class PiiReport:
    blocks_scanned: int = 0
    transactions_scanned: int = 0
    values_checked: int = 0
    forms_checked: int = 0
    findings: list[dict[str, Any]] = field(default_factory=list)  # the first ones
    findings_count: int = 0  # all of them
    source_failure: Failure | None = None  # the source could not give every block

    @property
    def ok(self) -> bool:
        return self.findings_count == 0 and self.source_failure is None

    def as_json(self) -> dict[str, Any]:
        failure = None if self.source_failure is None else self.source_failure.as_json()
        return {
            "ok": self.ok,
            "blocks_scanned": self.blocks_scanned,
            "transactions_scanned": self.transactions_scanned,
            "values_checked": self.values_checked,
            "forms_checked": self.forms_checked,
            "findings": self.findings,
            "findings_count": self.findings_count,
            "source_failure": failure,
        }


class _Matcher:
    """One regular expression over every form, longest first, so the longest form matches."""

    def __init__(self, values: PersonalValues) -> None:
        self.kinds = values.forms
        forms = sorted(values.forms, key=lambda form: (-len(form), form))
        self._text = re.compile("|".join(re.escape(form) for form in forms)) if forms else None
        self._bytes = (
            re.compile(b"|".join(re.escape(form.encode()) for form in forms)) if forms else None
        )

    def in_text(self, text: str) -> str | None:
        if self._text is None:
            return None
        found = self._text.search(" ".join(text.split()).lower())
        return None if found is None else self.kinds[found.group()]

    def in_bytes(self, data: bytes) -> str | None:
        if self._bytes is None:
            return None
        found = self._bytes.search(data.lower())
        return None if found is None else self.kinds[found.group().decode()]

    def is_digits(self, number: int) -> str | None:
        kind = self.kinds.get(str(number))
        return kind if kind == "phone" or kind == "id_number" else None


def _fields(value: Any, name: str) -> Iterator[tuple[str, Any]]:
    """Every leaf of a decoded record with the name of the field that holds it."""
    if isinstance(value, msgspec.Struct):
        for field_name in value.__struct_fields__:
            yield from _fields(getattr(value, field_name), field_name)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _fields(item, name)
    else:
        yield name, value


def _transaction_findings(matcher: _Matcher, transaction: Transaction) -> dict[str, str]:
    """kind -> where, for each kind of personal value the transaction holds."""
    found: dict[str, str] = {}
    for name, leaf in _fields(transaction.payload, "payload"):
        kind = None
        if isinstance(leaf, str):
            kind = matcher.in_text(leaf)
        elif isinstance(leaf, int) and not isinstance(leaf, bool):
            kind = matcher.is_digits(leaf)
        if kind is not None:
            found.setdefault(kind, name)
    kind = matcher.in_bytes(encode(transaction))
    if kind is not None:
        found.setdefault(kind, "raw")
    return found


def scan_blocks(blocks: Iterable[SourcedBlock | Failure], values: PersonalValues) -> PiiReport:
    """Search every transaction of `blocks` for every form of `values`."""
    matcher = _Matcher(values)
    report = PiiReport(values_checked=values.values, forms_checked=len(values.forms))
    for item in blocks:
        if isinstance(item, Failure):
            report.source_failure = item
            break
        report.blocks_scanned += 1
        for transaction in item.block.transactions:
            report.transactions_scanned += 1
            for kind, where in _transaction_findings(matcher, transaction).items():
                report.findings_count += 1
                if len(report.findings) == limits.audit_pii_findings_max:
                    continue
                report.findings.append({
                    "height": item.height,
                    "tx_hash": transaction_hash(transaction.payload).hex(),
                    "kind": kind,
                    "field": where,
                })  # fmt: skip
    return report
