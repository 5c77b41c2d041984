"""The five scheme families a foreign switch simulator plays, their sample merchants and wallets,
and the real QR codes of those merchants (crossborder-qr.md §2).

| family   | switch  | schemes               | currency (exponent) | country |
|----------|---------|-----------------------|---------------------|---------|
| thai     | itmx    | promptpay             | THB (2)             | TH      |
| vietnam  | napas   | vietqr                | VND (0)             | VN      |
| malaysia | paynet  | duitnow               | MYR (2)             | MY      |
| laos     | lapnet  | laoqr                 | LAK (0)             | LA      |
| china    | upi     | unionpay, alipayplus  | CNY (2)             | CN      |

A merchant is found again from a scanned code by its payee key (`payee_key`): the PromptPay
proxy, the VietQR account, the DuitNow merchant account, the Lao QR receiver, the UnionPay
merchant ID, the Alipay URL. Each family also carries the rate its wallets pay a KHQR at
(`khr_per_unit`, `usd_per_unit`: riel or dollars for one unit of the local currency). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Final

from bakong.crossborder.messages import Currency
from bakong.khqr.alipayplus import generate_alipayplus
from bakong.khqr.duitnow import generate_duitnow
from bakong.khqr.foreign import Parsed
from bakong.khqr.laoqr import generate_laoqr
from bakong.khqr.promptpay import generate_promptpay
from bakong.khqr.unionpay import generate_unionpay
from bakong.khqr.vietqr import generate_vietqr

__all__ = [
    "FAMILIES",
    "Family",
    "SampleMerchant",
    "from_minor",
    "local_amount",
    "make_qr",
    "payee_key",
    "to_minor",
]


@dataclass(frozen=True)
class SampleMerchant:
    """A merchant `init` opens. `target` is the scheme's payee: a PromptPay phone, a VietQR
    `BIN/account`, a DuitNow `acquirer/account`, a Lao receiver ID, a UnionPay
    `acquirer/forwarding/merchant` or an Alipay merchant code."""

    merchant_id: str
    scheme: str
    name: str
    city: str
    target: str


@dataclass(frozen=True)
class Family:
    name: str
    switch: str
    schemes: tuple[str, ...]
    currency: Currency
    numeric: str
    exponent: int
    country: str
    khr_per_unit: Decimal
    usd_per_unit: Decimal
    merchants: tuple[SampleMerchant, ...]
    wallets: tuple[tuple[str, str, int], ...]  # (wallet id, holder, opening balance, minor)
    nostro_opening: int


def _family(
    name: str,
    switch: str,
    currency: Currency,
    numeric: str,
    exponent: int,
    country: str,
    rates: tuple[str, str],
    merchants: tuple[SampleMerchant, ...],
) -> Family:
    # Openings worth about 2,000,000 and 400,000 riel (wallets) and 10^9 riel (the nostro).
    def worth(riel: int) -> int:
        return int(Decimal(riel) / Decimal(rates[0])) * int(10**exponent)

    wallets = (
        (f"w-{country.lower()}-1", "Wallet One", worth(2_000_000)),
        (f"w-{country.lower()}-2", "Wallet Two", worth(400_000)),
    )
    schemes = tuple(dict.fromkeys(merchant.scheme for merchant in merchants))
    return Family(
        name,
        switch,
        schemes,
        currency,
        numeric,
        exponent,
        country,
        Decimal(rates[0]),
        Decimal(rates[1]),
        merchants,
        wallets,
        worth(10**9),
    )


FAMILIES: Final = {
    family.name: family
    for family in (
        _family(
            "thai",
            "itmx",
            "THB",
            "764",
            2,
            "TH",
            ("118.25", "0.0294"),
            (
                SampleMerchant("m-th-1", "promptpay", "Som Tam Nua", "Bangkok", "0812345678"),
                SampleMerchant("m-th-2", "promptpay", "Chatuchak Batik", "Bangkok", "0899999999"),
            ),
        ),
        _family(
            "vietnam",
            "napas",
            "VND",
            "704",
            0,
            "VN",
            ("0.158", "0.0000393"),
            (
                SampleMerchant("m-vn-1", "vietqr", "Pho Thin", "Ha Noi", "970436/0011001234567"),
                SampleMerchant(
                    "m-vn-2", "vietqr", "Ben Thanh Stall 12", "Ho Chi Minh", "970415/113366668888"
                ),
            ),
        ),
        _family(
            "malaysia",
            "paynet",
            "MYR",
            "458",
            2,
            "MY",
            ("905.5", "0.2245"),
            (
                SampleMerchant(
                    "m-my-1",
                    "duitnow",
                    "Nasi Kandar Pelita",
                    "Kuala Lumpur",
                    "890053/MDN16221766626210430",
                ),
                SampleMerchant(
                    "m-my-2", "duitnow", "Kedai Buku Jalan", "Penang", "603346/MD00129546"
                ),
            ),
        ),
        _family(
            "laos",
            "lapnet",
            "LAK",
            "418",
            0,
            "LA",
            ("0.1875", "0.0000465"),
            (
                SampleMerchant("m-la-1", "laoqr", "Khop Chai Deu", "Vientiane", "mch19B73F61B9E"),
                SampleMerchant(
                    "m-la-2", "laoqr", "Luang Prabang Silk", "Luang Prabang", "mch5d0077995d4ae"
                ),
            ),
        ),
        _family(
            "china",
            "upi",
            "CNY",
            "156",
            2,
            "CN",
            ("565.0", "0.1385"),
            (
                SampleMerchant(
                    "m-cn-1",
                    "unionpay",
                    "Jade Tea House",
                    "Kunming",
                    "30000156/00010156/MCH000000000042",
                ),
                SampleMerchant(
                    "m-cn-2", "alipayplus", "Peking Duck Hall", "Beijing", "2810000000000042"
                ),
            ),
        ),
    )
}


def from_minor(amount: int, exponent: int) -> Decimal:
    """`amount` minor units as a decimal amount in major units."""
    return Decimal(amount).scaleb(-exponent)


def to_minor(text: str, exponent: int) -> int | None:
    """A QR amount (`12.50`) in minor units, or None when it has more decimals than the
    currency or is not a positive number."""
    try:
        value = Decimal(text).scaleb(exponent)
    except ArithmeticError:
        return None
    if not value.is_finite() or value <= 0 or value != value.to_integral_value():
        return None
    return int(value)


def local_amount(family: Family, currency: str, amount: int) -> int:
    """What a wallet of `family` pays, in its minor units, for `amount` of KHR (whole riel) or
    USD (cents): converted at the family's rate and rounded up to the minor unit."""
    major = Decimal(amount) if currency == "KHR" else from_minor(amount, 2)
    rate = family.khr_per_unit if currency == "KHR" else family.usd_per_unit
    local = (major / rate).scaleb(family.exponent).to_integral_value(rounding=ROUND_CEILING)
    return max(int(local), 1)


def make_qr(family: Family, merchant: SampleMerchant, amount: int | None) -> str:
    """The merchant's code in its scheme; `amount` in the family's minor units, or static."""
    major = None if amount is None else from_minor(amount, family.exponent)
    parts = merchant.target.split("/")
    name, city = merchant.name[:25], merchant.city[:15]
    if merchant.scheme == "promptpay":
        return generate_promptpay(merchant.target, major)
    if merchant.scheme == "vietqr":
        return generate_vietqr(parts[0], parts[1], amount=amount)
    if merchant.scheme == "duitnow":
        return generate_duitnow(parts[0], parts[1], name=name, city=city, amount=major)
    if merchant.scheme == "laoqr":
        return generate_laoqr(merchant.target, amount=amount, name=name, city=city)
    if merchant.scheme == "unionpay":
        return generate_unionpay(parts[0], parts[1], parts[2], name=name, city=city, amount=major)
    assert merchant.scheme == "alipayplus", merchant.scheme
    return generate_alipayplus(merchant.target, name=name, city=city, amount=major)


def merchant_key(merchant: SampleMerchant) -> str:
    """The payee key `payee_key` reads from this merchant's codes."""
    return payee_key(_parse_own(merchant)) or ""


def _parse_own(merchant: SampleMerchant) -> Parsed:
    from bakong.khqr.foreign import parse

    family = next(family for family in FAMILIES.values() if merchant in family.merchants)
    return parse(make_qr(family, merchant, None))


def payee_key(parsed: Parsed) -> str | None:
    """The key a scanned code names its merchant by, per scheme; None if it names none."""
    fields = {
        "promptpay": "proxy",
        "vietqr": "account",
        "duitnow": "merchant_account",
        "laoqr": "receiver_id",
        "unionpay": "merchant_id",
        "alipayplus": "url",
    }
    field = fields.get(parsed.scheme)
    value = parsed.payee.get(field) if field else None
    return value if isinstance(value, str) else None
