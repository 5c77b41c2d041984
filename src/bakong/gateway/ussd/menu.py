"""The USSD menus as a pure state machine: (state, event, facts, now) -> reply or action.

`step(state, event, facts, now_ms)` is deterministic and does no I/O: the service stores the
state between hits, passes the customer's facts and the clock in, and performs the actions the
machine asks for, feeding each result back as the next event. Events are `Dial` (a session's
first hit), `Entry` (one input the customer typed) and the results below (`PayeeFound`,
`Paid`, ...). `step` answers `Reply` (the screen, whether it ends the session, the new state)
or `Perform` (an action, and the state to step from when its result comes back).

Menus, for a phone with a wallet at this bank (`main`):

    1 Balance           PIN -> the balances (END)
    2 Send money        phone number -> payee's masked name, 1 KHR / 2 USD -> amount
                        -> "Send X to NAME", PIN -> paid (END)
    3 Pay a shop        the shop's short code -> its name, currency, amount, PIN -> paid
    4 Cash-out requests the agent requests waiting -> one -> 1 approve (PIN) / 2 decline
    5 Mini statement    PIN -> the latest payments, money sent to phones with its state, a
                        payment to a shop abroad as its price there and the shop (END)
    6 Change PIN        current PIN -> new PIN, again -> changed (END)
    7 Language          1 Khmer / 2 English
    8 Claim money       the bank that texted a code (a page of banks) -> the code -> received

and for a phone without one (`welcome`): 1 open a wallet (a name of digits, a PIN twice;
basic tier), 2 language. A phone that never chose a language is asked first. On every screen
`0` goes back a screen and `00` to the first menu.

Rules:
- A PIN is never part of the state: an action that needs one carries it (the service uses it
  at once and keeps it nowhere). A PIN chosen twice (registration, a new PIN) is compared by
  its HMAC under the session's `facts.digest_key`, kept only until the second entry.
- Inputs arrive at most `limits.ussd_input_ms` apart, within `limits.ussd_session_ms` of the
  dial; a later one ends the session (`timeout`).
- A payment or an approval ends the session. A payment's action carries `step` (the number
  of inputs the session had taken): the service derives the payment's idempotency key from
  the session and that step, so a replayed or resumed session cannot pay twice; an approval
  pays under the request's own key (`bakong.gateway.approvals`).
- Sending to a number with no wallet at any bank (`PayeeClaimable`) offers the claimable send
  (`bakong.gateway.claims`): the screen says the payee has no wallet and will be texted a
  code, then the currency, the amount and the PIN (`PayClaim`, keyed by its step as a
  payment is). The number itself is never in the state: the service hands back the masked
  number to show and the number sealed under its own key, which only the action opens.
- Claiming money sent to this phone (`RedeemClaim`) asks the bank the text named (a numbered
  page of the participants' codes, `9` the next page) and the code; wrong codes are counted by
  the bank holding the money, as for the app. Cash-out requests come from the agent side
  (`bakong.gateway.approvals`), which this machine only lists, approves and declines.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from bakong import limits
from bakong.gateway import pins
from bakong.gateway.ussd import texts
from bakong.ledger.assets import Asset
from bakong.ledger.policy import phnom_penh_day

__all__ = [
    "Abroad", "Action", "Approve", "ApprovalGone", "Approved", "Balance", "Balances", "CheckHandle",
    "ClaimClosed", "ClaimCodeWrong", "ClaimPlaced", "ClaimUnderway", "Claimed", "Decline",
    "Declined", "Dial", "Entry", "Event", "Facts", "HandleFree", "HandleTaken", "Item",
    "LanguageSaved", "ListApprovals", "LookupPayee", "LookupShop", "Opening", "Paid",
    "PayClaim", "PayeeClaimable", "PayeeFound", "PayeeMissing", "Pay", "Perform",
    "PhoneElsewhere", "PinChanged", "PinLocked", "PinOk", "PinWrong", "RedeemClaim", "Refused",
    "Register", "Registered", "Reply", "SCREENS", "SECRET_SCREENS", "SetLanguage", "SetPin",
    "ShopFound", "ShopMissing", "State", "Statement", "StatementShown", "Unavailable",
    "Underway", "VerifyPin", "WaitingApprovals", "normalise_phone", "render", "step",
]  # fmt: skip

BACK, HOME = "0", "00"


class Abroad(msgspec.Struct, frozen=True):
    """A statement entry's payment to a shop abroad: the shop and its price in its currency."""

    merchant: str
    currency: str  # ISO 4217 alpha
    exponent: int  # the currency's minor-unit digits
    amount: int  # minor units of `currency`


class Item(msgspec.Struct, frozen=True):
    """A line of a list screen: a cash-out request (`key` its id) or a statement entry (`key`
    the state of money sent to a phone with no wallet, `texts.CLAIM_STATES`, or empty;
    `abroad` a payment to a shop abroad)."""

    label: str  # the agent, or the entry's date (dd/mm)
    asset: str
    amount: int  # minor units; a statement's is negative when money left
    key: str = ""
    abroad: Abroad | None = None


class State(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What is stored between hits: never a PIN, never the raw input."""

    screen: str
    language: str
    started_ms: int
    last_ms: int
    inputs: int = 0  # inputs taken so far
    values: dict[str, str] = msgspec.field(default_factory=dict)
    items: tuple[Item, ...] = ()
    trail: tuple[str, ...] = ()  # the screens `0` goes back to
    note: str = ""
    note_value: str = ""
    ended: bool = False


class Facts(msgspec.Struct, frozen=True, kw_only=True):
    """What the service knows of the caller at this hit (not stored)."""

    bank: str
    service_code: str
    country_code: str
    phone: str  # E.164, as the aggregator vouches for it
    registered: bool
    account_id: str = ""
    frozen: bool = False
    language: str | None = None  # the saved choice; None: never chosen
    digest_key: bytes = b""
    banks: tuple[str, ...] = ()  # the participants' codes a claim can be held at


# -- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dial:
    """The first hit of a session."""


@dataclass(frozen=True)
class Entry:
    text: str


@dataclass(frozen=True)
class LanguageSaved: ...


@dataclass(frozen=True)
class HandleFree: ...


@dataclass(frozen=True)
class HandleTaken: ...


@dataclass(frozen=True)
class PhoneElsewhere: ...


@dataclass(frozen=True)
class Registered:
    account_id: str


@dataclass(frozen=True)
class Opening: ...


@dataclass(frozen=True)
class PayeeFound:
    account_id: str
    name: str | None  # None when the payee's bank could not be asked


@dataclass(frozen=True)
class PayeeMissing: ...


@dataclass(frozen=True, repr=False)
class PayeeClaimable:
    """No wallet at any bank has the number: the money can wait for its claim."""

    masked: str  # what the payer is shown (`claim_records.mask_phone`)
    sealed: str  # the number, sealed by the service for its own `PayClaim`


@dataclass(frozen=True)
class ClaimPlaced:
    ref: str  # the hold's transaction hash's first hex digits


@dataclass(frozen=True)
class Claimed:
    asset: str
    amount: int


@dataclass(frozen=True)
class ClaimUnderway: ...


@dataclass(frozen=True)
class ClaimCodeWrong:
    attempts_left: int


@dataclass(frozen=True)
class ClaimClosed:
    screen: str  # `claim_none`, `claim_locked` or `claim_gone`


@dataclass(frozen=True)
class ShopFound:
    account_id: str
    name: str


@dataclass(frozen=True)
class ShopMissing: ...


@dataclass(frozen=True)
class PinWrong:
    attempts_left: int


@dataclass(frozen=True)
class PinLocked:
    until_ms: int


@dataclass(frozen=True)
class PinOk: ...


@dataclass(frozen=True)
class PinChanged: ...


@dataclass(frozen=True)
class Paid:
    ref: str  # the transaction hash's first hex digits


@dataclass(frozen=True)
class Underway: ...


@dataclass(frozen=True)
class Refused:
    reason: str  # a key of `texts.REASONS`
    remaining: int | None = None  # what today's limit leaves, in the payment's asset
    asset: str = ""


@dataclass(frozen=True)
class Balances:
    khr: int
    usd: int


@dataclass(frozen=True)
class StatementShown:
    # (time_ms, asset, signed amount, the state of money sent to a phone or ""), newest first
    entries: tuple[tuple[int, str, int, str], ...]
    # The entries (by their place in `entries`) that paid a shop abroad.
    abroad: dict[int, Abroad] = field(default_factory=dict)


@dataclass(frozen=True)
class WaitingApprovals:
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Approved:
    ref: str


@dataclass(frozen=True)
class Declined: ...


@dataclass(frozen=True)
class ApprovalGone: ...


@dataclass(frozen=True)
class Unavailable: ...


Result = (
    LanguageSaved | HandleFree | HandleTaken | PhoneElsewhere | Registered | Opening
    | PayeeFound | PayeeMissing | PayeeClaimable | ShopFound | ShopMissing | PinWrong
    | PinLocked | PinOk | PinChanged | Paid | Underway | Refused | Balances | StatementShown
    | WaitingApprovals | Approved | Declined | ApprovalGone | Unavailable | ClaimPlaced
    | Claimed | ClaimUnderway | ClaimCodeWrong | ClaimClosed
)  # fmt: skip
Event = Dial | Entry | Result

# -- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetLanguage:
    language: str


@dataclass(frozen=True)
class CheckHandle:
    handle: str


@dataclass(frozen=True, repr=False)
class Register:
    handle: str
    pin: str


@dataclass(frozen=True)
class LookupPayee:
    phone: str


@dataclass(frozen=True)
class LookupShop:
    code: str


@dataclass(frozen=True, repr=False)
class Balance:
    pin: str


@dataclass(frozen=True, repr=False)
class Statement:
    pin: str


@dataclass(frozen=True, repr=False)
class VerifyPin:
    pin: str


@dataclass(frozen=True, repr=False)
class SetPin:
    pin: str


@dataclass(frozen=True, repr=False)
class Pay:
    pin: str
    payee: str  # account ID
    asset: str
    amount: int  # minor units
    step: int


@dataclass(frozen=True, repr=False)
class PayClaim:
    """Money for a phone with no wallet: a claim (`bakong.gateway.claims`)."""

    pin: str
    sealed: str  # the payee's number as `PayeeClaimable` sealed it
    asset: str
    amount: int  # minor units
    step: int


@dataclass(frozen=True, repr=False)
class RedeemClaim:
    """Claim money sent to this phone into its wallet, at the bank holding it."""

    bank: str  # participant code
    code: str


@dataclass(frozen=True)
class ListApprovals: ...


@dataclass(frozen=True, repr=False)
class Approve:
    approval_id: int
    pin: str


@dataclass(frozen=True)
class Decline:
    approval_id: int


Action = (
    SetLanguage | CheckHandle | Register | LookupPayee | LookupShop | Balance | Statement
    | VerifyPin | SetPin | Pay | PayClaim | RedeemClaim | ListApprovals | Approve | Decline
)  # fmt: skip


@dataclass(frozen=True)
class Reply:
    text: str
    end: bool
    state: State


@dataclass(frozen=True)
class Perform:
    action: Action
    state: State


Outcome = Reply | Perform

# -- screens ----------------------------------------------------------------------------------

#: Every screen: whether it ends the session.
SCREENS: dict[str, bool] = {
    "language": False, "welcome": False, "reg_handle": False, "reg_pin": False,
    "reg_pin_again": False, "reg_done": True, "reg_pending": True, "reg_elsewhere": True,
    "reg_failed": True, "main": False, "frozen": True, "balance_pin": False, "balance": True,
    "send_phone": False, "send_asset": False, "send_amount": False, "send_confirm": False,
    "shop_code": False, "shop_asset": False, "shop_amount": False, "shop_confirm": False,
    "paid": True, "underway": True, "refused": True, "pin_locked": True, "approvals": False,
    "approvals_none": True, "approval": False, "approval_pin": False, "approved": True,
    "declined": True, "approval_gone": True, "statement_pin": False, "statement": True,
    "statement_none": True, "pin_old": False, "pin_new": False, "pin_new_again": False,
    "pin_changed": True, "timeout": True, "ended": True, "error": True,
    "claim_asset": False, "claim_amount": False, "claim_confirm": False, "claim_sent": True,
    "claim_bank": False, "claim_code": False, "claimed": True, "claim_underway": True,
    "claim_none": True, "claim_locked": True, "claim_gone": True,
}  # fmt: skip
#: Screens whose entry is a PIN: the service masks it wherever an input could show.
SECRET_SCREENS = frozenset(
    ["reg_pin", "reg_pin_again", "balance_pin", "send_confirm", "shop_confirm", "approval_pin",
     "statement_pin", "pin_old", "pin_new", "pin_new_again", "claim_confirm"]
)  # fmt: skip


def _fields(state: State, facts: Facts) -> dict[str, str]:
    values = dict(state.values)
    language = state.language
    fields = {"bank": facts.bank, "code": facts.service_code, "account": facts.account_id,
              "min": str(limits.ussd_handle_digits_min), "max": str(limits.ussd_handle_digits_max),
              "digits": str(limits.claim_code_digits), **values}  # fmt: skip
    if state.screen in ("reg_pin", "pin_new"):
        fields.update(min=str(limits.pin_digits_min), max=str(limits.pin_digits_max))
    if "asset" in values:
        asset = Asset(values["asset"])
        fields["unit"] = texts.unit(language, asset)
        if "amount" in values:
            fields["amount"] = texts.money(language, asset, int(values["amount"]))
        if "remaining" in values:
            fields["remaining"] = texts.money(language, asset, int(values["remaining"]))
    for name in ("khr", "usd"):
        if name in values:
            fields[name] = texts.money(language, Asset(name.upper()), int(values[name]))
    if "reason" in values:
        fields["reason"] = texts.REASONS[language][values["reason"]].format_map(fields)
    return fields


def _day(time_ms: int) -> str:
    day = datetime.date(1970, 1, 1) + datetime.timedelta(days=phnom_penh_day(time_ms))
    return f"{day.day:02d}/{day.month:02d}"


def _bank_page(state: State, facts: Facts) -> tuple[list[str], bool]:
    """The banks the claim screen lists now, and whether more follow (`9` turns the page)."""
    size = limits.ussd_banks_per_page
    start = int(state.values.get("page", "0")) * size
    return list(facts.banks[start : start + size]), len(facts.banks) > size


def _lines(state: State, facts: Facts) -> list[str]:
    language = state.language
    if state.screen == "claim_bank":
        banks, more = _bank_page(state, facts)
        lines = [f"{number} {code.upper()}" for number, code in enumerate(banks, start=1)]
        return [*lines, texts.MORE[language]] if more else lines
    if state.screen == "approvals":
        return [
            f"{number} {item.label}: {texts.money(language, Asset(item.asset), item.amount)}"
            for number, item in enumerate(state.items, start=1)
        ]
    if state.screen != "statement":
        return []
    return [_statement_line(language, item) for item in state.items]


def _statement_line(language: str, item: Item) -> str:
    if item.abroad is not None:  # what left the wallet, then the price the shop asked
        paid = item.abroad
        total = texts.money(language, Asset(item.asset), item.amount)
        head = f"{item.label} {total}"
        return texts.abroad(head, paid.merchant, paid.currency, paid.exponent, paid.amount)
    return (
        f"{item.label} {'+' if item.amount > 0 else ''}"
        f"{texts.money(language, Asset(item.asset), item.amount)}"
        + (f" {texts.CLAIM_STATES[language][item.key]}" if item.key else "")
    )


def render(state: State, facts: Facts) -> str:
    """The screen `state` shows (also what a replayed hit is answered again)."""
    language = state.language
    fields = _fields(state, facts)
    note = ""
    if state.note:
        note = texts.NOTES[language][state.note].format(count=state.note_value)
    return texts.compose(texts.SCREENS[language][state.screen], fields, note, _lines(state, facts))


# -- moving between screens ---------------------------------------------------------------------


def _reply(state: State, facts: Facts) -> Reply:
    end = SCREENS[state.screen]
    state = msgspec.structs.replace(state, ended=end)
    return Reply(render(state, facts), end, state)


def _go(state: State, screen: str, facts: Facts, **values: str) -> Reply:
    """Forward to `screen`, remembering where `0` comes back to."""
    trail = (*state.trail, state.screen)[-limits.ussd_inputs_max :]
    moved = msgspec.structs.replace(
        state, screen=screen, trail=trail, values={**state.values, **values}, note="",
        note_value="",
    )  # fmt: skip
    return _reply(moved, facts)


def _again(state: State, note: str, facts: Facts, value: str = "") -> Reply:
    """The same screen again, under a note."""
    return _reply(msgspec.structs.replace(state, note=note, note_value=value), facts)


def _start_screen(facts: Facts) -> str:
    return "main" if facts.registered else "welcome"


def _home(state: State, facts: Facts) -> Reply:
    started = msgspec.structs.replace(
        state, screen=_start_screen(facts), trail=(), values={}, items=(), note="", note_value=""
    )
    return _reply(started, facts)


def _back(state: State, facts: Facts) -> Reply:
    if not state.trail:
        return _again(state, "", facts)
    screen = state.trail[-1]
    if screen in ("main", "welcome"):  # back at a first menu, nothing chosen is kept
        return _home(state, facts)
    back = msgspec.structs.replace(
        state, screen=screen, trail=state.trail[:-1], note="", note_value=""
    )
    return _reply(back, facts)


def _dial(facts: Facts, now_ms: int) -> Reply:
    language = facts.language or "km"
    state = State(screen="language", language=language, started_ms=now_ms, last_ms=now_ms)
    if facts.registered and facts.frozen:
        return _reply(msgspec.structs.replace(state, screen="frozen"), facts)
    if facts.language is None:
        return _reply(state, facts)
    return _reply(msgspec.structs.replace(state, screen=_start_screen(facts)), facts)


def _timed_out(state: State, now_ms: int) -> bool:
    return (
        now_ms - state.last_ms > limits.ussd_input_ms
        or now_ms - state.started_ms > limits.ussd_session_ms
    )


def step(state: State | None, event: Event, facts: Facts, now_ms: int) -> Outcome:
    """The machine's one move (module docstring)."""
    if isinstance(event, Dial):
        return _dial(facts, now_ms)
    assert state is not None, "only a dial starts a session"
    if state.ended:
        return _reply(msgspec.structs.replace(state, screen="ended", values={}, items=()), facts)
    if not isinstance(event, Entry):
        return _RESULTS[type(event)](state, event, facts, now_ms)
    if _timed_out(state, now_ms):
        return _reply(msgspec.structs.replace(state, screen="timeout"), facts)
    state = msgspec.structs.replace(state, inputs=state.inputs + 1, last_ms=now_ms)
    if event.text == HOME:
        return _home(state, facts)
    if event.text == BACK:
        return _back(state, facts)
    return _ENTRIES[state.screen](state, event.text, facts)


# -- what each screen does with an entry ---------------------------------------------------------


def _choice(
    options: dict[str, Callable[[State, Facts], Outcome]],
) -> Callable[[State, str, Facts], Outcome]:
    def chosen(state: State, text: str, facts: Facts) -> Outcome:
        option = options.get(text)
        return _again(state, "invalid", facts) if option is None else option(state, facts)

    return chosen


def _to(screen: str) -> Callable[[State, Facts], Outcome]:
    return lambda state, facts: _go(state, screen, facts)


def _perform(action: Action) -> Callable[[State, Facts], Outcome]:
    return lambda state, facts: Perform(action, state)


def _language(language: str) -> Callable[[State, Facts], Outcome]:
    def chosen(state: State, facts: Facts) -> Outcome:
        return Perform(SetLanguage(language), msgspec.structs.replace(state, language=language))

    return chosen


def _is_pin_shaped(text: str) -> bool:
    return (
        text.isascii()
        and text.isdigit()
        and (limits.pin_digits_min <= len(text) <= limits.pin_digits_max)
    )


def _digest(facts: Facts, pin: str) -> str:
    return hmac.new(facts.digest_key, pin.encode(), hashlib.sha256).hexdigest()


def _with_pin(make: Callable[[State, str], Action]) -> Callable[[State, str, Facts], Outcome]:
    """A screen whose entry is a PIN handed to the action `make` builds."""

    def entered(state: State, text: str, facts: Facts) -> Outcome:
        if not _is_pin_shaped(text):
            return _again(state, "invalid", facts)
        return Perform(make(state, text), state)

    return entered


def _handle(state: State, text: str, facts: Facts) -> Outcome:
    digits = text.isascii() and text.isdigit()
    length_ok = limits.ussd_handle_digits_min <= len(text) <= limits.ussd_handle_digits_max
    if not (digits and length_ok) or text in facts.phone:  # a name never repeats the number
        return _again(state, "handle_invalid", facts)
    return Perform(CheckHandle(text), msgspec.structs.replace(
        state, values={**state.values, "handle": text}
    ))  # fmt: skip


def _new_pin(state: State, text: str, facts: Facts) -> Outcome:
    if not _is_pin_shaped(text) or pins.pin_problem(text) is not None:
        return _again(state, "pin_weak", facts)
    after = "reg_pin_again" if state.screen == "reg_pin" else "pin_new_again"
    return _go(state, after, facts, pin_check=_digest(facts, text))


def _pin_again(state: State, text: str, facts: Facts) -> Outcome:
    check = state.values.get("pin_check", "")
    values = {name: value for name, value in state.values.items() if name != "pin_check"}
    forgotten = msgspec.structs.replace(state, values=values)
    if not hmac.compare_digest(check, _digest(facts, text)):
        first = "reg_pin" if state.screen == "reg_pin_again" else "pin_new"
        retry = msgspec.structs.replace(forgotten, screen=first, trail=state.trail[:-1])
        return _again(retry, "pin_mismatch", facts)
    if state.screen == "reg_pin_again":
        return Perform(Register(values.get("handle", ""), text), forgotten)
    return Perform(SetPin(text), forgotten)


def normalise_phone(text: str, country_code: str) -> str | None:
    """The E.164 number a keypad entry names (`0XX...` national, `00...` or `855...`
    international), or None."""
    if not (text.isascii() and text.isdigit()):
        return None
    if text.startswith("00"):
        number = "+" + text[2:]
    elif text.startswith("0"):
        number = "+" + country_code + text[1:]
    else:
        number = "+" + text
    digits = len(number) - 1
    if not 8 <= digits <= limits.phone_digits_max or number[1] == "0":
        return None
    return number


def _payee_phone(state: State, text: str, facts: Facts) -> Outcome:
    phone = normalise_phone(text, facts.country_code)
    if phone is None:
        return _again(state, "phone_invalid", facts)
    if phone == facts.phone:
        return _again(state, "self", facts)
    return Perform(LookupPayee(phone), state)


def _shop_code(state: State, text: str, facts: Facts) -> Outcome:
    if not (text.isascii() and text.isdigit()) or len(text) > limits.ussd_shop_code_digits_max:
        return _again(state, "no_shop", facts)
    return Perform(LookupShop(text), state)


def _asset(screen: str) -> Callable[[State, str, Facts], Outcome]:
    def chosen(state: State, text: str, facts: Facts) -> Outcome:
        assets = {"1": Asset.KHR, "2": Asset.USD}
        if text not in assets:
            return _again(state, "invalid", facts)
        return _go(state, screen, facts, asset=assets[text].value)

    return chosen


def _amount(screen: str) -> Callable[[State, str, Facts], Outcome]:
    def entered(state: State, text: str, facts: Facts) -> Outcome:
        digits = text.isascii() and text.isdigit() and len(text) <= limits.ussd_amount_digits_max
        if not digits or int(text) == 0:
            return _again(state, "amount_invalid", facts)
        asset = Asset(state.values["asset"])
        return _go(state, screen, facts, amount=str(int(text) * 10**asset.exponent))

    return entered


def _pay(state: State, pin: str) -> Action:
    values = state.values
    return Pay(pin, values["payee_account"], values["asset"], int(values["amount"]), state.inputs)


def _pay_claim(state: State, pin: str) -> Action:
    values = state.values
    return PayClaim(pin, values["claim_phone"], values["asset"], int(values["amount"]),
                    state.inputs)  # fmt: skip


def _pick_bank(state: State, text: str, facts: Facts) -> Outcome:
    banks, more = _bank_page(state, facts)
    if more and text == texts.MORE_KEY:
        pages = -(-len(facts.banks) // limits.ussd_banks_per_page)
        page = (int(state.values.get("page", "0")) + 1) % pages
        turned = msgspec.structs.replace(state, values={**state.values, "page": str(page)})
        return _again(turned, "", facts)
    index = int(text) - 1 if text.isascii() and text.isdigit() and len(text) == 1 else -1
    if not 0 <= index < len(banks):
        return _again(state, "invalid", facts)
    return _go(state, "claim_code", facts, holder=banks[index])


def _claim_code(state: State, text: str, facts: Facts) -> Outcome:
    if not (text.isascii() and text.isdigit() and len(text) == limits.claim_code_digits):
        return _again(state, "claim_code_invalid", facts)
    return Perform(RedeemClaim(state.values["holder"], text), state)


def _claim_banks(state: State, facts: Facts) -> Outcome:
    return _go(msgspec.structs.replace(state, values={**state.values, "page": "0"}),
               "claim_bank", facts)  # fmt: skip


def _pick_approval(state: State, text: str, facts: Facts) -> Outcome:
    index = int(text) - 1 if text.isascii() and text.isdigit() and len(text) == 1 else -1
    if not 0 <= index < len(state.items):
        return _again(state, "invalid", facts)
    item = state.items[index]
    values = {"approval_id": item.key, "agent": item.label, "asset": item.asset,
              "amount": str(item.amount)}  # fmt: skip
    return _go(state, "approval", facts, **values)


def _approval_id(state: State) -> int:
    return int(state.values["approval_id"])


_main = _choice({
    "1": _to("balance_pin"), "2": _to("send_phone"), "3": _to("shop_code"),
    "4": _perform(ListApprovals()), "5": _to("statement_pin"), "6": _to("pin_old"),
    "7": _to("language"), "8": _claim_banks,
})  # fmt: skip

_ENTRIES: dict[str, Callable[[State, str, Facts], Outcome]] = {
    "language": _choice({"1": _language("km"), "2": _language("en")}),
    "welcome": _choice({"1": _to("reg_handle"), "2": _to("language")}),
    "reg_handle": _handle,
    "reg_pin": _new_pin,
    "reg_pin_again": _pin_again,
    "main": _main,
    "balance_pin": _with_pin(lambda state, pin: Balance(pin)),
    "send_phone": _payee_phone,
    "send_asset": _asset("send_amount"),
    "send_amount": _amount("send_confirm"),
    "send_confirm": _with_pin(_pay),
    "shop_code": _shop_code,
    "shop_asset": _asset("shop_amount"),
    "shop_amount": _amount("shop_confirm"),
    "shop_confirm": _with_pin(_pay),
    "approvals": _pick_approval,
    "approval": _choice(
        {
            "1": _to("approval_pin"),
            "2": lambda state, facts: Perform(Decline(_approval_id(state)), state),
        }
    ),  # fmt: skip
    "approval_pin": _with_pin(lambda state, pin: Approve(_approval_id(state), pin)),
    "claim_asset": _asset("claim_amount"),
    "claim_amount": _amount("claim_confirm"),
    "claim_confirm": _with_pin(_pay_claim),
    "claim_bank": _pick_bank,
    "claim_code": _claim_code,
    "statement_pin": _with_pin(lambda state, pin: Statement(pin)),
    "pin_old": _with_pin(lambda state, pin: VerifyPin(pin)),
    "pin_new": _new_pin,
    "pin_new_again": _pin_again,
}
assert set(_ENTRIES) == {screen for screen, end in SCREENS.items() if not end}

# -- what each result does ---------------------------------------------------------------------

ResultStep = Callable[[State, Result, Facts, int], Outcome]


def _final(state: State, screen: str, facts: Facts, **values: str) -> Reply:
    ended = msgspec.structs.replace(
        state, screen=screen, values={**state.values, **values}, note="", note_value=""
    )
    return _reply(ended, facts)


def _on_language(state: State, result: Result, facts: Facts, now_ms: int) -> Outcome:
    return _home(state, facts)


def _on_handle(state: State, result: Result, facts: Facts, now_ms: int) -> Outcome:
    if isinstance(result, HandleTaken):  # when checked, or taken since (by a race)
        retry = msgspec.structs.replace(state, screen="reg_handle", trail=("welcome",))
        return _again(retry, "handle_taken", facts)
    if isinstance(result, PhoneElsewhere):
        return _final(state, "reg_elsewhere", facts)
    return _go(state, "reg_pin", facts)


def _on_registered(state: State, result: Result, facts: Facts, now_ms: int) -> Outcome:
    if isinstance(result, Registered):
        return _final(state, "reg_done", facts, account=result.account_id)
    return _final(state, "reg_pending", facts)


def _on_payee(state: State, result: Result, facts: Facts, now_ms: int) -> Outcome:
    if isinstance(result, PayeeMissing):
        return _again(state, "no_wallet", facts)
    if isinstance(result, PayeeClaimable):
        return _go(state, "claim_asset", facts, payee=result.masked, claim_phone=result.sealed)
    assert isinstance(result, PayeeFound)
    label = result.account_id if result.name is None else f"{result.name} {result.account_id}"
    return _go(state, "send_asset", facts, payee=label, payee_account=result.account_id)


def _on_shop(state: State, result: Result, facts: Facts, now_ms: int) -> Outcome:
    if isinstance(result, ShopMissing):
        return _again(state, "no_shop", facts)
    assert isinstance(result, ShopFound)
    return _go(state, "shop_asset", facts, payee=result.name, payee_account=result.account_id)


def _on_pin(state: State, result: Result, facts: Facts, now_ms: int) -> Outcome:
    if isinstance(result, PinWrong):
        return _again(state, "pin_wrong", facts, str(result.attempts_left))
    assert isinstance(result, PinLocked)
    minutes = max(1, -(-(result.until_ms - now_ms) // 60_000))
    return _final(state, "pin_locked", facts, minutes=str(minutes))


def _on_paid(state: State, result: Result, facts: Facts, now_ms: int) -> Outcome:
    if isinstance(result, Paid):
        return _final(state, "paid", facts, ref=result.ref)
    if isinstance(result, Approved):
        return _final(state, "approved", facts, ref=result.ref)
    if isinstance(result, ClaimPlaced):
        return _final(state, "claim_sent", facts, ref=result.ref)
    if isinstance(result, Refused):
        values = {"reason": result.reason}
        if result.remaining is not None:
            values.update(remaining=str(result.remaining), asset=result.asset)
        elif result.reason in _LIMIT_REASONS:  # a limit says what remains, or says no more
            values["reason"] = "refused"
        return _final(state, "refused", facts, **values)
    screens = {Underway: "underway", Declined: "declined", ApprovalGone: "approval_gone"}
    return _final(state, screens[type(result)], facts)


_LIMIT_REASONS = ("daily_limit", "ussd_cap")


def _on_unavailable(state: State, result: Result, facts: Facts, now_ms: int) -> Outcome:
    screen = "reg_failed" if state.screen == "reg_pin_again" else "error"
    return _final(state, screen, facts)


def _on_balances(state: State, result: Result, facts: Facts, now_ms: int) -> Outcome:
    assert isinstance(result, Balances)
    return _final(state, "balance", facts, khr=str(result.khr), usd=str(result.usd))


def _on_statement(state: State, result: Result, facts: Facts, now_ms: int) -> Outcome:
    assert isinstance(result, StatementShown)
    if not result.entries:
        return _final(state, "statement_none", facts)
    items = tuple(
        Item(_day(time_ms), asset, amount, mark, result.abroad.get(place))
        for place, (time_ms, asset, amount, mark) in enumerate(result.entries)
    )
    return _final(msgspec.structs.replace(state, items=items), "statement", facts)


def _on_approvals(state: State, result: Result, facts: Facts, now_ms: int) -> Outcome:
    assert isinstance(result, WaitingApprovals)
    if not result.items:
        return _final(state, "approvals_none", facts)
    listed = msgspec.structs.replace(state, items=result.items[: limits.ussd_approvals_shown_max])
    return _go(listed, "approvals", facts)


def _on_claim(state: State, result: Result, facts: Facts, now_ms: int) -> Outcome:
    if isinstance(result, ClaimCodeWrong):
        if result.attempts_left <= 0:
            return _final(state, "claim_locked", facts)
        return _again(state, "claim_code_wrong", facts, str(result.attempts_left))
    if isinstance(result, Claimed):
        return _final(state, "claimed", facts, asset=result.asset, amount=str(result.amount))
    if isinstance(result, ClaimClosed):
        return _final(state, result.screen, facts)
    return _final(state, "claim_underway", facts)


_RESULTS: dict[type, ResultStep] = {
    LanguageSaved: _on_language,
    HandleFree: _on_handle, HandleTaken: _on_handle, PhoneElsewhere: _on_handle,
    Registered: _on_registered, Opening: _on_registered,
    PayeeFound: _on_payee, PayeeMissing: _on_payee, PayeeClaimable: _on_payee,
    ClaimPlaced: _on_paid, Claimed: _on_claim, ClaimUnderway: _on_claim,
    ClaimCodeWrong: _on_claim, ClaimClosed: _on_claim,
    ShopFound: _on_shop, ShopMissing: _on_shop,
    PinWrong: _on_pin, PinLocked: _on_pin,
    PinOk: lambda state, result, facts, now_ms: _go(state, "pin_new", facts),
    PinChanged: lambda state, result, facts, now_ms: _final(state, "pin_changed", facts),
    Paid: _on_paid, Underway: _on_paid, Refused: _on_paid, Approved: _on_paid,
    Declined: _on_paid, ApprovalGone: _on_paid,
    Balances: _on_balances, StatementShown: _on_statement, WaitingApprovals: _on_approvals,
    Unavailable: _on_unavailable,
}  # fmt: skip
