"""What the USSD screens and the SMS receipts say, in English and Khmer, and how long each may be.

Rules:
- A USSD screen is 160 bytes: 182 characters when every character is in the GSM 03.38 default
  alphabet (7 bits each, the extension table's characters count twice), 80 UTF-16 units as
  soon as one is not (UCS-2, which Khmer needs). `screen_fits` applies whichever holds.
- An SMS segment is 160 GSM-7 characters or 70 UCS-2 units; a longer message is split into
  parts of 153 or 67 (the rest of each part carries the concatenation header). A receipt is
  written to fit one segment with ordinary values.
- Screens are composed from a template, a note above it (a wrong PIN, a bad entry) and a list
  (cash-out requests, the mini statement). Names, accounts and the bank are *elastic*: cut to
  an account ID's length, then to `limits.ussd_label_chars_max` and shorter still only while
  the screen does not fit; a list shows as many of its lines as fit. Amounts and notes are
  never cut. The menu test composes every screen with the longest values in both languages
  and checks each fits whole.
- Amounts are integers in minor units, written in English as `25,000 KHR` / `12.50 USD` and in
  Khmer as `25,000៛` / `$12.50`. Keypad entries are whole riel or whole dollars.
- Menu numbers and amounts are ASCII digits in both languages: they are what the keypad types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bakong import limits
from bakong.ledger.assets import Asset

__all__ = [
    "CLAIM_STATES",
    "LANGUAGES",
    "MORE",
    "MORE_KEY",
    "NOTES",
    "REASONS",
    "SCREENS",
    "abroad",
    "claim_receipt",
    "compose",
    "gsm7_length",
    "money",
    "receipt",
    "screen_fits",
    "sms_segments",
    "ucs2_units",
    "unit",
]

LANGUAGES = ("en", "km")

# GSM 03.38: the default alphabet (one septet each) and the extension table (two: escape + char).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
# A concatenated SMS part gives 7 bytes to its header: 153 septets or 67 UCS-2 units remain.
_GSM7_PART_CHARS = 153
_UCS2_PART_UNITS = 67
_CUT = ".."  # marks a cut label (GSM-7, unlike an ellipsis)


def gsm7_length(text: str) -> int | None:
    """Septets `text` takes in the GSM-7 default alphabet, or None if it needs UCS-2."""
    length = 0
    for character in text:
        if character in _GSM7_BASIC:
            length += 1
        elif character in _GSM7_EXTENSION:
            length += 2
        else:
            return None
    return length


def ucs2_units(text: str) -> int:
    """UTF-16 code units of `text` (what UCS-2 counts; Khmer is one unit a character)."""
    return len(text.encode("utf-16-le")) // 2


def screen_fits(text: str) -> bool:
    """Whether `text` fits one USSD screen in the encoding it needs."""
    septets = gsm7_length(text)
    if septets is not None:
        return septets <= limits.ussd_screen_gsm7_chars_max
    return ucs2_units(text) <= limits.ussd_screen_ucs2_units_max


def sms_segments(text: str) -> int:
    """How many SMS segments `text` is sent as."""
    septets = gsm7_length(text)
    if septets is not None:
        if septets <= limits.sms_segment_gsm7_chars_max:
            return 1
        return -(-septets // _GSM7_PART_CHARS)
    units = ucs2_units(text)
    if units <= limits.sms_segment_ucs2_units_max:
        return 1
    return -(-units // _UCS2_PART_UNITS)


def money(language: str, asset: Asset, amount: int) -> str:
    """An amount in minor units as a screen shows it (`25,000 KHR`, `25,000៛`, `$12.50`)."""
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**asset.exponent)
    number = f"{whole:,}" + (f".{fraction:0{asset.exponent}d}" if asset.exponent else "")
    if language == "en":
        return f"{sign}{number} {asset.value}"
    return f"{sign}{number}៛" if asset is Asset.KHR else f"{sign}${number}"


def abroad(head: str, merchant: str, currency: str, exponent: int, amount: int) -> str:
    """A payment to a shop abroad as a statement line shows it, in both languages: `head` (the
    date and the riel it cost), its price in the shop's currency, then the shop, cut to what a
    Khmer screen leaves of the line (at most `limits.ussd_label_chars_max`), so the line fits a
    screen by itself: `08/01 -29,563 KHR 250.00 THB Somchai Noodles`."""
    whole, fraction = divmod(amount, 10**exponent)
    number = f"{whole:,}" + (f".{fraction:0{exponent}d}" if exponent else "")
    priced = f"{head} {number} {currency}"
    room = min(limits.ussd_label_chars_max, limits.ussd_screen_ucs2_units_max - len(priced) - 1)
    return f"{priced} {_cut(merchant, room)}" if room >= 3 else priced


def unit(language: str, asset: Asset) -> str:
    """What a keypad amount counts in: whole riel or whole dollars."""
    if language == "en":
        return "KHR" if asset is Asset.KHR else "whole USD"
    return "រៀល" if asset is Asset.KHR else "ដុល្លារ"


_LANGUAGE_SCREEN = "ជ្រើសភាសា / Language\n1 ខ្មែរ\n2 English"

#: Screen templates by language and screen name. `{items}` is a list composed to fit.
SCREENS: dict[str, dict[str, str]] = {
    "en": {
        "language": _LANGUAGE_SCREEN,
        "welcome": "Welcome to {bank}. This number has no wallet here yet.\n"
        "1 Open a wallet\n2 Language",
        "reg_handle": "Choose your wallet name: {min} to {max} digits. Payers will see it.",
        "reg_pin": "Choose a PIN: {min} to {max} digits, not 123456 or 111111.",
        "reg_pin_again": "Enter the same PIN again.",
        "reg_done": "Your wallet {account} is open. Dial {code} to use it.",
        "reg_pending": "Your wallet is being opened. Dial {code} again in a minute.",
        "reg_elsewhere": "This number already has a wallet at another bank.",
        "reg_failed": "The wallet could not be opened. Please try again later.",
        "main": "{bank}\n1 Balance\n2 Send money\n3 Pay a shop\n4 Cash-out requests\n"
        "5 Mini statement\n6 Change PIN\n7 Language\n8 Claim money",
        "frozen": "Your wallet is frozen. Please contact {bank}.",
        "balance_pin": "Balance\nEnter your PIN",
        "balance": "Balance {account}\n{khr}\n{usd}",
        "send_phone": "Send money\nEnter the phone number",
        "send_asset": "To {payee}\n1 KHR\n2 USD",
        "send_amount": "Amount in {unit}",
        "send_confirm": "Send {amount} to {payee}\nEnter PIN to confirm",
        "shop_code": "Pay a shop\nEnter the shop's code",
        "shop_asset": "Pay {payee}\n1 KHR\n2 USD",
        "shop_amount": "Amount in {unit}",
        "shop_confirm": "Pay {amount} to {payee}\nEnter PIN to confirm",
        "paid": "Sent {amount} to {payee}. Ref {ref}. An SMS receipt follows.",
        "underway": "Your payment is on its way. An SMS will confirm it.",
        "refused": "Not sent: {reason}.",
        "pin_locked": "Too many wrong PINs. Try again in {minutes} min.",
        "approvals": "Cash-out requests\n{items}",
        "approvals_none": "No cash-out request is waiting for you.",
        "approval": "Agent {agent} asks to cash out {amount}\n1 Approve\n2 Decline",
        "approval_pin": "Approve {amount} to {agent}\nEnter your PIN",
        "approved": "Approved. Take {amount} in cash from the agent. Ref {ref}.",
        "declined": "Declined. No money moved.",
        "approval_gone": "This request is no longer waiting.",
        "statement_pin": "Mini statement\nEnter your PIN",
        "statement": "Last payments\n{items}",
        "statement_none": "No payments yet.",
        "pin_old": "Change PIN\nEnter your current PIN",
        "pin_new": "Enter a new PIN: {min} to {max} digits.",
        "pin_new_again": "Enter the new PIN again.",
        "pin_changed": "Your PIN is changed.",
        "timeout": "The session timed out. Dial {code} again.",
        "ended": "This session has ended. Dial {code} again.",
        "error": "The service is unavailable. Please try again later.",
        "claim_asset": "{payee} has no wallet yet. We text them a code to claim the money at "
        "any bank.\n1 KHR\n2 USD",
        "claim_amount": "Amount in {unit}",
        "claim_confirm": "Send {amount} to {payee} (no wallet yet: claimed by SMS code)\n"
        "Enter PIN to confirm",
        "claim_sent": "{amount} waits for {payee}, who is texted a code. If not claimed in "
        "time it comes back to you. Ref {ref}.",
        "claim_bank": "Claim money\nWhich bank texted you the code?\n{items}",
        "claim_code": "Enter the {digits}-digit code from the SMS of bank {holder}",
        "claimed": "Received {amount} into your wallet {account}. An SMS receipt follows.",
        "claim_underway": "Your claim is on its way. An SMS will confirm it.",
        "claim_none": "No money waits for your number at bank {holder}.",
        "claim_locked": "Too many wrong codes: the money goes back to the sender.",
        "claim_gone": "This money can no longer be claimed: it goes back to the sender.",
    },
    "km": {
        "language": _LANGUAGE_SCREEN,
        "welcome": "សូមស្វាគមន៍ {bank}\nលេខនេះមិនទាន់មានគណនី\n1 បើកគណនី\n2 ភាសា",
        "reg_handle": "ជ្រើសឈ្មោះគណនី៖ លេខ {min}-{max} ខ្ទង់",
        "reg_pin": "ជ្រើស PIN៖ លេខ {min}-{max} ខ្ទង់",
        "reg_pin_again": "បញ្ចូល PIN ម្តងទៀត",
        "reg_done": "គណនី {account} បានបើក។ ចុច {code} ដើម្បីប្រើ។",
        "reg_pending": "កំពុងបើកគណនី។ ចុច {code} ម្តងទៀតក្នុងមួយនាទី។",
        "reg_elsewhere": "លេខនេះមានគណនីនៅធនាគារផ្សេងរួចហើយ។",
        "reg_failed": "មិនអាចបើកគណនីបានទេ។ សូមព្យាយាមពេលក្រោយ។",
        "main": "1 សមតុល្យ\n2 ផ្ញើ\n3 បង់ហាង\n4 ដកប្រាក់\n5 ប្រវត្តិ\n6 ប្តូរ PIN\n7 ភាសា\n8 ទាមទារ",
        "frozen": "គណនីរបស់អ្នកត្រូវបានបង្កក។ សូមទាក់ទង {bank}។",
        "balance_pin": "សមតុល្យ\nបញ្ចូល PIN",
        "balance": "សមតុល្យ {account}\n{khr}\n{usd}",
        "send_phone": "ផ្ញើប្រាក់\nបញ្ចូលលេខទូរស័ព្ទ",
        "send_asset": "ទៅ {payee}\n1 KHR\n2 USD",
        "send_amount": "ចំនួនជា{unit}",
        "send_confirm": "ផ្ញើ {amount} ទៅ {payee}\nបញ្ចូល PIN ដើម្បីបញ្ជាក់",
        "shop_code": "ទូទាត់ហាង\nបញ្ចូលលេខកូដហាង",
        "shop_asset": "បង់ឲ្យ {payee}\n1 KHR\n2 USD",
        "shop_amount": "ចំនួនជា{unit}",
        "shop_confirm": "បង់ {amount} ឲ្យ {payee}\nបញ្ចូល PIN ដើម្បីបញ្ជាក់",
        "paid": "បានផ្ញើ {amount} ទៅ {payee}។ លេខយោង {ref}",
        "underway": "ការទូទាត់កំពុងដំណើរការ។ SMS នឹងបញ្ជាក់។",
        "refused": "មិនបានផ្ញើ៖ {reason}",
        "pin_locked": "PIN ខុសច្រើនដង។ ព្យាយាមម្តងទៀតក្នុង {minutes} នាទី។",
        "approvals": "សំណើដកប្រាក់\n{items}",
        "approvals_none": "គ្មានសំណើដកប្រាក់ទេ។",
        "approval": "ភ្នាក់ងារ {agent} សុំដក {amount}\n1 យល់ព្រម\n2 បដិសេធ",
        "approval_pin": "យល់ព្រមដក {amount}\nបញ្ចូល PIN",
        "approved": "បានយល់ព្រម។ យកសាច់ប្រាក់ {amount} ពីភ្នាក់ងារ។ លេខយោង {ref}",
        "declined": "បានបដិសេធ។ គ្មានប្រាក់ផ្ទេរទេ។",
        "approval_gone": "សំណើនេះលែងរង់ចាំហើយ។",
        "statement_pin": "ប្រវត្តិ\nបញ្ចូល PIN",
        "statement": "{items}",  # no title: five lines fill a UCS-2 screen
        "statement_none": "មិនទាន់មានប្រតិបត្តិការទេ។",
        "pin_old": "ប្តូរ PIN\nបញ្ចូល PIN បច្ចុប្បន្ន",
        "pin_new": "PIN ថ្មី៖ លេខ {min}-{max} ខ្ទង់",
        "pin_new_again": "បញ្ចូល PIN ថ្មីម្តងទៀត",
        "pin_changed": "PIN របស់អ្នកត្រូវបានប្តូរ។",
        "timeout": "ផុតពេល។ ចុច {code} ម្តងទៀត។",
        "ended": "វគ្គនេះបានបញ្ចប់។ ចុច {code} ម្តងទៀត។",
        "error": "សេវាមិនដំណើរការទេ។ សូមព្យាយាមពេលក្រោយ។",
        "claim_asset": "{payee} គ្មានគណនី។ គេនឹងទទួល SMS លេខកូដ\n1 KHR\n2 USD",
        "claim_amount": "ចំនួនជា{unit}",
        "claim_confirm": "ផ្ញើ {amount} ទៅ {payee} តាមលេខកូដ SMS\nបញ្ចូល PIN",
        "claim_sent": "{amount} រង់ចាំ {payee}។ បើមិនទទួល ប្រាក់ត្រឡប់មកវិញ។ Ref {ref}",
        "claim_bank": "ធនាគារណាផ្ញើ SMS?\n{items}",
        "claim_code": "បញ្ចូលលេខកូដ {digits} ខ្ទង់ ពី {holder}",
        "claimed": "បានទទួល {amount} ក្នុងគណនី {account}",
        "claim_underway": "កំពុងទទួលប្រាក់។ SMS នឹងបញ្ជាក់។",
        "claim_none": "គ្មានប្រាក់រង់ចាំលេខនេះនៅ {holder} ទេ។",
        "claim_locked": "លេខកូដខុសច្រើនដង។ ប្រាក់ត្រឡប់ទៅអ្នកផ្ញើ។",
        "claim_gone": "ប្រាក់នេះលែងទទួលបាន។ វាត្រឡប់ទៅអ្នកផ្ញើ។",
    },
}

#: Notes shown above a screen that is asked again.
NOTES: dict[str, dict[str, str]] = {
    "en": {
        "invalid": "Invalid entry.",
        "pin_wrong": "Wrong PIN: {count} tries left.",
        "pin_mismatch": "The PINs differ.",
        "pin_weak": "That PIN is not allowed.",
        "handle_taken": "That name is taken.",
        "handle_invalid": "Not a valid name.",
        "no_wallet": "No wallet has this number.",
        "self": "That is your own number.",
        "no_shop": "No shop has this code.",
        "phone_invalid": "Not a phone number.",
        "amount_invalid": "Not a valid amount.",
        "claim_code_invalid": "Not a code from the SMS.",
        "claim_code_wrong": "Wrong code: {count} tries left.",
    },
    "km": {
        "invalid": "ខុស។",
        "pin_wrong": "PIN ខុស នៅសល់ {count} ដង។",
        "pin_mismatch": "PIN មិនដូចគ្នា។",
        "pin_weak": "PIN នេះមិនអនុញ្ញាត។",
        "handle_taken": "ឈ្មោះនេះមានគេប្រើហើយ។",
        "handle_invalid": "ឈ្មោះមិនត្រឹមត្រូវ។",
        "no_wallet": "លេខនេះគ្មានគណនីទេ។",
        "self": "នេះជាលេខរបស់អ្នក។",
        "no_shop": "គ្មានហាងលេខកូដនេះទេ។",
        "phone_invalid": "លេខទូរស័ព្ទមិនត្រឹមត្រូវ។",
        "amount_invalid": "ចំនួនមិនត្រឹមត្រូវ។",
        "claim_code_invalid": "លេខកូដមិនត្រឹមត្រូវ។",
        "claim_code_wrong": "លេខកូដខុស នៅសល់ {count} ដង។",
    },
}

#: Why a payment was refused, as the `refused` screen says it.
REASONS: dict[str, dict[str, str]] = {
    "en": {
        "insufficient_funds": "not enough money",
        "daily_limit": "over today's limit, {remaining} left",
        "ussd_cap": "over today's USSD limit, {remaining} left",
        "recipient_frozen": "the payee's wallet is frozen",
        "account_frozen": "your wallet is frozen",
        "balance_cap": "the payee's wallet is full",
        "recipient_not_found": "the payee has no wallet",
        "self_custody": "this wallet pays only from its app",
        "refused": "refused by the ledger",
    },
    "km": {
        "insufficient_funds": "ប្រាក់មិនគ្រប់គ្រាន់",
        "daily_limit": "លើសដែនកំណត់ថ្ងៃនេះ នៅសល់ {remaining}",
        "ussd_cap": "លើសដែនកំណត់ USSD ថ្ងៃនេះ នៅសល់ {remaining}",
        "recipient_frozen": "គណនីអ្នកទទួលត្រូវបានបង្កក",
        "account_frozen": "គណនីរបស់អ្នកត្រូវបានបង្កក",
        "balance_cap": "គណនីអ្នកទទួលពេញកម្រិត",
        "recipient_not_found": "អ្នកទទួលគ្មានគណនី",
        "self_custody": "គណនីនេះបង់តែតាមកម្មវិធី",
        "refused": "ប្រព័ន្ធបដិសេធ",
    },
}

#: The state of money sent to a phone with no wallet, after its line in the mini statement.
CLAIM_STATES: dict[str, dict[str, str]] = {
    "en": {"waiting": "waiting", "claimed": "claimed", "returned": "returned"},
    "km": {"waiting": "រង់ចាំ", "claimed": "បានទទួល", "returned": "ត្រឡប់"},
}
#: The key and the line that turn a list's page (the banks a claim may be held at).
MORE_KEY = "9"
MORE = {"en": f"{MORE_KEY} More", "km": f"{MORE_KEY} ទៀត"}

#: The fields cut to fit; every other field is printed whole.
ELASTIC = ("bank", "payee", "account", "agent")
_BUDGETS = (limits.account_id_chars_max, limits.ussd_label_chars_max, 16, 10, 6)


def _cut(value: str, budget: int) -> str:
    return value if len(value) <= budget else value[: budget - len(_CUT)] + _CUT


def _render(
    template: str, fields: Mapping[str, str], note: str, items: Sequence[str], budget: int
) -> str:
    cut = {name: _cut(value, budget) if name in ELASTIC else value
           for name, value in fields.items()}  # fmt: skip
    head = f"{note}\n" if note else ""
    if "{items}" not in template:
        return head + template.format_map(cut)
    shown: list[str] = []
    for line in items:  # as many lines as fit, at least one
        trial = head + template.format_map({**cut, "items": "\n".join([*shown, line])})
        if shown and not screen_fits(trial):
            break
        shown.append(line)
    return head + template.format_map({**cut, "items": "\n".join(shown)})


def compose(
    template: str, fields: Mapping[str, str], note: str = "", items: Sequence[str] = ()
) -> str:
    """`template` filled with `fields` under `note`, cut to fit one screen (module rules)."""
    text = ""
    for budget in _BUDGETS:
        text = _render(template, fields, note, items, budget)
        if screen_fits(text):
            return text
    # Only a screen whose fixed parts overflow gets here; the menu test proves none does.
    text = _render(template, fields, "", items, _BUDGETS[-1])
    limit = limits.ussd_screen_ucs2_units_max
    return text if screen_fits(text) else text[:limit]


_RECEIPTS = {
    "en": {
        "out": "Sent {amount} to {party}, ref {ref}. Balance {balance}. {bank}",
        "in": "Received {amount} from {party}, ref {ref}. Balance {balance}. {bank}",
    },
    "km": {
        "out": "បានផ្ញើ {amount} ទៅ {party}។ Ref {ref}។ សមតុល្យ {balance}",
        "in": "បានទទួល {amount} ពី {party}។ Ref {ref}។ សមតុល្យ {balance}",
    },
}


def receipt(
    language: str, direction: str, asset: Asset, amount: int, party: str, ref: str,
    balance: int, bank: str,
) -> str:  # fmt: skip
    """The SMS receipt of a payment made (`out`) or received (`in`), in one segment where the
    counterparty's label allows it (it is cut first when the message would need two)."""
    template = _RECEIPTS[language][direction]
    fields = {"amount": money(language, asset, amount), "ref": ref, "bank": bank,
              "balance": money(language, asset, balance)}  # fmt: skip
    text = template.format(party=party, **fields)
    for budget in (limits.ussd_label_chars_max, 16, 10):
        if sms_segments(text) == 1:
            break
        text = template.format(party=_cut(party, budget), **fields)
    return text


_CLAIM_RECEIPTS = {
    "en": "Sent {amount} to {party}, who has no wallet yet and is texted a code to claim it "
    "by {day}, ref {ref}. {bank}",
    "km": "ផ្ញើ {amount} ទៅ {party} គ្មានគណនី ទទួលដល់ {day}។ Ref {ref}",
}


def claim_receipt(
    language: str, asset: Asset, amount: int, party: str, day: str, ref: str, bank: str
) -> str:
    """The payer's SMS receipt of money sent to a phone with no wallet (`party`: the masked
    number; `day`: the claim period's last day, dd/mm), in one segment."""
    return _CLAIM_RECEIPTS[language].format(
        amount=money(language, asset, amount), party=party, day=day, ref=ref,
        bank=_cut(bank, 10),
    )  # fmt: skip
