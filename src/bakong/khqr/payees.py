"""Scheme detection and payee extraction for EMVCo merchant codes (crossborder-qr.md §2, §2.11).

`matches` lists every scheme whose GUID (or tag) a parsed code carries; `extract` reads the
payee of the chosen one into plain keys. GUIDs compare case-insensitively (`SG.PAYNOW`,
`com.alipay`). Sub-field meanings per scheme:

- KHQR, tag 29/30 (khqr.md §3): 00 Bakong account `name@bank`, 01 account information (29) or
  merchant ID (30), 02 acquiring bank.
- PromptPay, GUID A000000677010111 (§2.1): 01 mobile `0066...`, 02 national/tax ID, 03 e-wallet;
  bill payment A000000677010112: 01 biller ID, 02 reference 1, 03 reference 2, 62.07 reference 3.
- VietQR, GUID A000000727 (§2.2): 01 beneficiary {00 BIN, 01 account or card}, 02 service.
- DuitNow, GUID A0000006150001 (§2.3): 01 acquirer ID, 02 merchant account.
- Lao QR, GUID A005266284662577 (§2.4): 01 IIN, 02 payment type, 03 receiver ID.
- UnionPay, tag 15 (§2.5): acquirer IIN (8) + forwarding IIN (8) + merchant ID.
- PayNow, GUID SG.PAYNOW (§2.7): 01 proxy type, 02 proxy, 03 editable, 04 expiry, 05 reference;
  SGQR, GUID SG.SGQR: 01 SGQR ID, 02 version, 03 postal code.
- QRIS (§2.8): tag 51 GUID ID.CO.QRIS.WWW {02 NMID, 03 criteria} and an acquirer template
  {01 merchant PAN 9360..., 02 merchant ID, 03 criteria}; QRIS Transfer in tag 40.
- Alipay inside EMVCo: GUID com.alipay (or COM.ALIPAY.OPENAPI), 01 the URL (§2.6).
"""

from __future__ import annotations

from typing import Final

from bakong.errors import QRDecodeError
from bakong.khqr.tlv import Tree, read

__all__ = ["extract", "matches"]

PROMPTPAY: Final = "A000000677010111"
PROMPTPAY_BILL: Final = "A000000677010112"
NAPAS: Final = "A000000727"
DUITNOW: Final = "A0000006150001"
LAPNET: Final = "A005266284662577"
PAYNOW: Final = "SG.PAYNOW"
SGQR: Final = "SG.SGQR"
QRIS: Final = "ID.CO.QRIS.WWW"
ALIPAY: Final = frozenset({"COM.ALIPAY", "COM.ALIPAY.OPENAPI"})

_MERCHANT_TAGS: Final = [f"{number:02d}" for number in range(2, 52)]
_PROXY_KINDS: Final = {"01": "mobile", "02": "national_id", "03": "ewallet"}


def _templates(fields: Tree) -> list[tuple[str, str, dict[str, str | Tree]]]:
    """`(tag, GUID upper-cased, template)` for each template 02-51 whose sub-tag 00 is text."""
    found = []
    for tag in _MERCHANT_TAGS:
        value = fields.get(tag)
        if isinstance(value, dict):
            guid = value.get("00")
            if isinstance(guid, str):
                found.append((tag, guid.upper(), value))
    return found


def _find(fields: Tree, *guids: str) -> tuple[str, str, dict[str, str | Tree]] | None:
    return next((item for item in _templates(fields) if item[1] in guids), None)


def _khqr_template(fields: Tree) -> tuple[str, dict[str, str | Tree]] | None:
    """Tag 29 or 30 holding a Bakong account ID (`name@bank`) in sub-tag 00, if any."""
    for tag in ("29", "30"):
        template = fields.get(tag)
        if isinstance(template, dict):
            account = template.get("00")
            if isinstance(account, str) and account.count("@") == 1 and "." not in account:
                return tag, template
    return None


def _is_qris(fields: Tree, country: str | None) -> bool:
    if _find(fields, QRIS) is not None:
        return True
    if country != "ID":
        return False
    return any(
        isinstance(pan := template.get("01"), str) and pan.startswith("9360")
        for _, _, template in _templates(fields)
    )


def matches(fields: Tree, country: str | None) -> set[str]:
    """Every scheme this parsed EMVCo code can be routed through."""
    guids = {guid for _, guid, _ in _templates(fields)}
    found = set()
    if _khqr_template(fields) is not None:
        found.add("khqr")
    checks = {
        "promptpay": any(guid.startswith("A000000677") for guid in guids),
        "vietqr": NAPAS in guids,
        "duitnow": DUITNOW in guids,
        "laoqr": LAPNET in guids,
        "paynow": PAYNOW in guids,
        "sgqr": SGQR in guids,
        "alipayplus": bool(ALIPAY & guids),
        "unionpay": isinstance(fields.get("15"), str),
        "qris": _is_qris(fields, country),
    }
    return found | {scheme for scheme, hit in checks.items() if hit}


def _pick(template: dict[str, str | Tree], names: dict[str, str]) -> dict[str, str | Tree]:
    """The sub-fields of `template` named in `names` (sub-tag -> payee key), when present."""
    return {key: value for sub, key in names.items() if isinstance(value := template.get(sub), str)}


def _unionpay(value: str) -> dict[str, str | Tree]:
    return {"acquirer_iin": value[:8], "forwarding_iin": value[8:16], "merchant_id": value[16:]}


def _khqr(fields: Tree) -> dict[str, str | Tree]:
    found = _khqr_template(fields)
    assert found is not None
    tag, template = found
    names = {"00": "account_id", "01": "merchant_id" if tag == "30" else "account_information"}
    return {"template": tag, **_pick(template, {**names, "02": "acquiring_bank"})}


def _promptpay(fields: Tree) -> dict[str, str | Tree]:
    item = next(item for item in _templates(fields) if item[1].startswith("A000000677"))
    tag, guid, template = item
    payee: dict[str, str | Tree] = {"template": tag, "guid": guid}
    if guid == PROMPTPAY_BILL:
        payee.update(_pick(template, {"01": "biller_id", "02": "ref1", "03": "ref2"}))
        additional = fields.get("62")
        if isinstance(additional, dict) and isinstance(additional.get("07"), str):
            payee["ref3"] = additional["07"]
        return payee
    for sub, kind in _PROXY_KINDS.items():
        proxy = template.get(sub)
        if isinstance(proxy, str):
            payee.update({"proxy_type": sub, "proxy_kind": kind, "proxy": proxy})
            break
    return payee


def _vietqr(fields: Tree) -> dict[str, str | Tree]:
    item = _find(fields, NAPAS)
    assert item is not None
    tag, guid, template = item
    payee: dict[str, str | Tree] = {"template": tag, "guid": guid}
    service = template.get("02")
    if isinstance(service, str):
        payee["service"] = service
    beneficiary = template.get("01")
    if isinstance(beneficiary, str):
        try:
            beneficiary = dict(read(beneficiary))
        except QRDecodeError:
            pass
    if isinstance(beneficiary, dict):
        target = "card" if service == "QRIBFTTC" else "account"
        payee.update(_pick(beneficiary, {"00": "bin", "01": target}))
    elif isinstance(beneficiary, str):
        payee.update({"beneficiary_raw": beneficiary, "beneficiary_error": "nested_tlv"})
    return payee


_SIMPLE: Final = {
    "duitnow": (DUITNOW, {"01": "acquirer_id", "02": "merchant_account"}),
    "laoqr": (LAPNET, {"01": "iin", "02": "payment_type", "03": "receiver_id"}),
    "paynow": (
        PAYNOW,
        {"01": "proxy_type", "02": "proxy", "03": "editable", "04": "expiry", "05": "reference"},
    ),
    "sgqr": (SGQR, {"01": "sgqr_id", "02": "version", "03": "postal_code"}),
}


def _simple(scheme: str, fields: Tree) -> dict[str, str | Tree]:
    guid, names = _SIMPLE[scheme]
    item = _find(fields, guid)
    assert item is not None
    tag, found_guid, template = item
    payee: dict[str, str | Tree] = {"template": tag, "guid": found_guid, **_pick(template, names)}
    sgqr = _find(fields, SGQR)
    if scheme == "paynow" and sgqr is not None and isinstance(sgqr[2].get("01"), str):
        payee["sgqr_id"] = sgqr[2]["01"]
    return payee


def _qris(fields: Tree) -> dict[str, str | Tree]:
    transfer = fields.get("40")
    if isinstance(transfer, dict) and str(transfer.get("00", "")).upper().startswith("ID."):
        payee: dict[str, str | Tree] = {"kind": "transfer", "template": "40"}
        payee.update(_pick(transfer, {"00": "guid", "01": "customer_pan", "02": "beneficiary_id"}))
        additional = fields.get("62")
        if isinstance(additional, dict) and isinstance(additional.get("08"), str):
            payee["purpose"] = additional["08"]
        return payee
    payee = {"kind": "merchant"}
    national = _find(fields, QRIS)
    if national is not None:
        payee.update(_pick(national[2], {"02": "nmid", "03": "criteria"}))
    for tag, guid, template in _templates(fields):
        if guid != QRIS and tag != "51":
            payee.update({"template": tag, "guid": template["00"]})
            payee.update(_pick(template, {"01": "merchant_pan", "02": "merchant_id"}))
            break
    return payee


def _alipay(fields: Tree) -> dict[str, str | Tree]:
    item = next(item for item in _templates(fields) if item[1] in ALIPAY)
    tag, _, template = item
    return {"template": tag, **_pick(template, {"00": "guid", "01": "url"})}


def _unknown(fields: Tree) -> dict[str, str | Tree]:
    templates = _templates(fields)
    if not templates:
        return {}
    tag, _, template = templates[0]
    return {"template": tag, **_pick(template, {"00": "guid"})}


def extract(scheme: str, fields: Tree) -> Tree:
    """The payee of `scheme` in `fields`, plus `unionpay_15` when tag 15 rides along."""
    if scheme == "khqr":
        payee = _khqr(fields)
    elif scheme == "promptpay":
        payee = _promptpay(fields)
    elif scheme == "vietqr":
        payee = _vietqr(fields)
    elif scheme in _SIMPLE:
        payee = _simple(scheme, fields)
    elif scheme == "qris":
        payee = _qris(fields)
    elif scheme == "alipayplus":
        payee = _alipay(fields)
    elif scheme == "unionpay":
        value = fields["15"]
        assert isinstance(value, str)
        return {"template": "15", **_unionpay(value)}
    else:
        payee = _unknown(fields)
    union = fields.get("15")
    if isinstance(union, str):
        payee["unionpay_15"] = _unionpay(union)
    return payee
