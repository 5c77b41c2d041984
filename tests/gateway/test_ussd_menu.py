"""The USSD menus as a pure state machine: every path, back and home, bad entries, timeouts, and
every screen of every menu within its encoding's limit in English and Khmer.

The limit test walks the whole machine: from each first screen (a phone without a wallet that
never chose a language, customers in each language, a frozen wallet) it tries the entries each
screen takes, the usual wrong ones, `0` and `00`, and every result each action can come back
with, with the longest values there are (names in Latin and Khmer script, the largest amounts,
the longest account IDs). It fails unless it reached every screen in both languages."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import msgspec
import pytest

from bakong import limits
from bakong.gateway.ussd import menu, texts
from bakong.gateway.ussd.menu import (
    Dial,
    Entry,
    Facts,
    Item,
    Perform,
    Reply,
    State,
    step,
)
from bakong.ledger.assets import Asset

NOW = 1_767_225_600_000
PIN, OTHER_PIN, WEAK_PIN = "482913", "590142", "654321"
PHONE = "+85512000001"
LONG_ACCOUNT = "abcdefghijklmnopqrstuvwxyz0@aclb"  # 32 characters, the KHQR maximum
LONG_NAME = "Chanthavongsaphan Sokunthearith"
KHMER_NAME = "សុខា ចាន់ថាវង្សសុវណ្ណារ៉ាត់"  # forces UCS-2 on an English screen too
BIGGEST = 2**63 - 1  # a balance can be anything the ledger holds
AMOUNT_MAX_KHR = 10**limits.ussd_amount_digits_max - 1
AMOUNT_MAX_USD = AMOUNT_MAX_KHR * 100
# Participant codes as long as they may be, more than a page of them.
BANKS = ("aclb", *(f"bank{letter}xyz" for letter in "abcdefg"))
CLAIM_CODE = "4821390751"
SEALED = "ab" * 60  # what the service seals a payee's number into (opaque to the menu)
MASKED = "+855 *** 999"


def facts(language: str | None = "en", registered: bool = True, frozen: bool = False) -> Facts:
    return Facts(
        bank="ACLEDA Bank Plc. of the Kingdom of Cambodia", service_code="*855*12#",
        country_code="855", phone=PHONE, registered=registered,
        account_id=LONG_ACCOUNT if registered else "", frozen=frozen, language=language,
        digest_key=b"\x07" * 32, banks=BANKS,
    )  # fmt: skip


def reply(outcome: menu.Outcome) -> Reply:
    assert isinstance(outcome, Reply), outcome
    return outcome


def perform(outcome: menu.Outcome) -> Perform:
    assert isinstance(outcome, Perform), outcome
    return outcome


def walk(start: Facts, *entries: str, results: dict[type, menu.Result] | None = None) -> Reply:
    """Dial, then type `entries`, answering each action from `results` by its type."""
    answers = results or {}
    now = reply(step(None, Dial(), start, NOW))
    state = now.state
    for entry in entries:
        outcome = step(state, Entry(entry), start, NOW)
        while isinstance(outcome, Perform):
            outcome = step(outcome.state, answers[type(outcome.action)], start, NOW)
        now = outcome
        state = now.state
    return now


# -- the whole machine, every screen within its limit --------------------------------------------

ENTRIES: dict[str, tuple[str, ...]] = {
    "language": ("1", "2"),
    "welcome": ("1", "2"),
    "reg_handle": ("5821", "012", "12000001"),
    "reg_pin": (PIN, WEAK_PIN),
    "reg_pin_again": (PIN, OTHER_PIN),
    "main": ("1", "2", "3", "4", "5", "6", "7", "8", "9"),
    "send_phone": ("012000002", "012000001", "12"),
    "send_asset": ("1", "2", "3"),
    "send_amount": (str(AMOUNT_MAX_KHR), "0"),
    "shop_code": ("1001", "123456789"),
    "shop_asset": ("1", "2"),
    "shop_amount": (str(AMOUNT_MAX_KHR), "x1"),
    "approvals": ("1", "3", "4"),
    "approval": ("1", "2", "3"),
    "claim_asset": ("1", "2", "3"),
    "claim_amount": (str(AMOUNT_MAX_KHR), "0"),
    "claim_bank": ("1", "2", "5", "6", "9", "x"),
    "claim_code": (CLAIM_CODE, "123", "48213907510"),
    "pin_new": (PIN, "111111"),
    "pin_new_again": (PIN, OTHER_PIN),
}
ALWAYS = ("0", "00", "", "#")
PIN_SCREENS = ("balance_pin", "statement_pin", "pin_old", "send_confirm", "shop_confirm",
               "approval_pin", "claim_confirm")  # fmt: skip
APPROVALS = tuple(Item(LONG_NAME, asset, AMOUNT_MAX_USD, str(n)) for n, asset in
                  enumerate(["USD", "KHR", "USD"], start=1))  # fmt: skip
REFUSALS = tuple(menu.Refused(reason, AMOUNT_MAX_USD, "USD") for reason in texts.REASONS["en"]) + (
    menu.Refused("daily_limit"),
)
#: A payment to a shop abroad as long as one shows: a Khmer name, the largest price.
ABROAD = menu.Abroad(KHMER_NAME + KHMER_NAME, "THB", 2, limits.foreign_amount_max)
PIN_VERDICTS = (menu.PinWrong(limits.pin_failures_max - 1), menu.PinLocked(NOW + 15 * 60_000))
RESULTS: dict[type, tuple[menu.Result, ...]] = {
    menu.SetLanguage: (menu.LanguageSaved(),),
    menu.CheckHandle: (menu.HandleFree(), menu.HandleTaken(), menu.PhoneElsewhere(),
                       menu.Unavailable()),
    menu.Register: (menu.Registered(LONG_ACCOUNT), menu.Opening(), menu.HandleTaken(),
                    menu.PhoneElsewhere(), menu.Unavailable()),
    menu.LookupPayee: (menu.PayeeFound(LONG_ACCOUNT, LONG_NAME),
                       menu.PayeeFound(LONG_ACCOUNT, KHMER_NAME),
                       menu.PayeeFound(LONG_ACCOUNT, None), menu.PayeeMissing(),
                       menu.PayeeClaimable(MASKED, SEALED), menu.Unavailable()),
    menu.LookupShop: (menu.ShopFound(LONG_ACCOUNT, KHMER_NAME), menu.ShopMissing()),
    menu.Balance: (menu.Balances(BIGGEST, BIGGEST), *PIN_VERDICTS),
    menu.Statement: (menu.StatementShown(tuple((NOW, "USD", -BIGGEST, "") for _ in range(5))),
                     menu.StatementShown(tuple((NOW, "KHR", -BIGGEST, mark) for mark in
                                               ("waiting", "claimed", "returned", "", ""))),
                     menu.StatementShown(()),
                     menu.StatementShown(tuple((NOW, "KHR", -BIGGEST, "") for _ in range(5)),
                                         {place: ABROAD for place in range(5)}),
                     *PIN_VERDICTS),
    menu.VerifyPin: (menu.PinOk(), *PIN_VERDICTS),
    menu.SetPin: (menu.PinChanged(),),
    menu.Pay: (menu.Paid("1a2b3c4d"), menu.Underway(), *REFUSALS, *PIN_VERDICTS,
               menu.Unavailable()),
    menu.ListApprovals: (menu.WaitingApprovals(APPROVALS), menu.WaitingApprovals(())),
    menu.Approve: (menu.Approved("1a2b3c4d"), menu.Underway(), menu.ApprovalGone(),
                   *REFUSALS, *PIN_VERDICTS),
    menu.Decline: (menu.Declined(), menu.ApprovalGone()),
    menu.PayClaim: (menu.ClaimPlaced("1a2b3c4d"), menu.Underway(), *REFUSALS, *PIN_VERDICTS,
                    menu.Unavailable()),
    menu.RedeemClaim: (menu.Claimed("USD", AMOUNT_MAX_USD), menu.ClaimUnderway(),
                       menu.ClaimCodeWrong(limits.claim_attempts_max - 1),
                       menu.ClaimCodeWrong(0), menu.ClaimClosed("claim_none"),
                       menu.ClaimClosed("claim_locked"), menu.ClaimClosed("claim_gone"),
                       menu.Unavailable()),
}  # fmt: skip


def _entries(screen: str) -> tuple[str, ...]:
    if screen in PIN_SCREENS:
        return (PIN, "12", *ALWAYS)
    return (*ENTRIES.get(screen, ()), *ALWAYS)


def _normal(state: State) -> bytes:
    """A state without its counter and its note (a note changes only the screen it is on,
    which the walk has checked), so that a loop through the menus ends."""
    return msgspec.json.encode(msgspec.structs.replace(state, inputs=0, note="", note_value=""))


def _replies(start: Facts) -> Iterator[Reply]:
    """Every reply the machine can give from a dial with `start`'s facts."""
    first = reply(step(None, Dial(), start, NOW))
    yield first
    queue: deque[State] = deque([first.state])
    seen = {_normal(first.state)}
    while queue:
        state = queue.popleft()
        assert len(seen) < 100_000, "the walk does not end"
        late = step(state, Entry("1"), start, NOW + limits.ussd_input_ms + 1)
        yield reply(late)  # too late, or after the end
        if state.ended:
            continue
        for entry in _entries(state.screen):
            outcome = step(state, Entry(entry), start, NOW)
            found: list[Reply] = (
                [outcome]
                if isinstance(outcome, Reply)
                else [
                    reply(step(outcome.state, result, start, NOW))
                    for result in RESULTS[type(outcome.action)]
                ]
            )
            for answer in found:
                yield answer
                key = _normal(answer.state)
                if key not in seen:
                    seen.add(key)
                    queue.append(answer.state)


STARTS = {
    "unregistered": facts(language=None, registered=False),
    "customer-en": facts("en"),
    "customer-km": facts("km"),
    "frozen": facts("km", frozen=True),
    "frozen-en": facts("en", frozen=True),
}


def test_every_screen_of_every_menu_fits_in_both_languages() -> None:
    reached: dict[str, set[str]] = {"en": set(), "km": set()}
    count = 0
    for start in STARTS.values():
        for answer in _replies(start):
            count += 1
            text = answer.text
            assert texts.screen_fits(text), (answer.state.screen, answer.state.language, text)
            assert answer.end == menu.SCREENS[answer.state.screen]
            if answer.state.note:  # fitted by cutting labels, never by leaving the note out
                note = texts.NOTES[answer.state.language][answer.state.note]
                assert text.startswith(note.format(count=answer.state.note_value) + "\n")
            for secret in (PIN, OTHER_PIN, WEAK_PIN):
                assert secret not in msgspec.json.encode(answer.state).decode()
                assert secret not in text
            reached[answer.state.language].add(answer.state.screen)
    screens = set(menu.SCREENS)
    assert reached == {"en": screens, "km": screens}, {
        language: screens - found for language, found in reached.items()
    }
    assert count > 5_000  # the walk really went everywhere, with every variant


def test_amounts_are_never_cut_to_fit() -> None:
    for language in ("en", "km"):
        start = facts(language)
        answers = {menu.LookupPayee: menu.PayeeFound(LONG_ACCOUNT, KHMER_NAME)}
        shown = walk(start, "2", "012000002", "2", str(AMOUNT_MAX_KHR), results=answers)
        assert shown.state.screen == "send_confirm"
        assert texts.money(language, Asset.USD, AMOUNT_MAX_USD) in shown.text
        assert texts.screen_fits(shown.text)


def test_the_language_screen_is_bilingual_and_first_for_a_new_phone() -> None:
    first = reply(step(None, Dial(), facts(language=None, registered=False), NOW))
    assert first.state.screen == "language" and not first.end
    assert "English" in first.text and "ខ្មែរ" in first.text


# -- registration ---------------------------------------------------------------------------------


def test_registration_asks_a_name_and_the_pin_twice() -> None:
    new = facts(language=None, registered=False)
    state = reply(step(None, Dial(), new, NOW)).state
    chosen = perform(step(state, Entry("2"), new, NOW))
    assert chosen.action == menu.SetLanguage("en")
    welcome = reply(step(chosen.state, menu.LanguageSaved(), new, NOW))
    assert welcome.state.screen == "welcome" and "Open a wallet" in welcome.text
    asked = reply(step(welcome.state, Entry("1"), new, NOW))
    assert asked.state.screen == "reg_handle"
    check = perform(step(asked.state, Entry("5821"), new, NOW))
    assert check.action == menu.CheckHandle("5821")
    first_pin = reply(step(check.state, menu.HandleFree(), new, NOW))
    second = reply(step(first_pin.state, Entry(PIN), new, NOW))
    assert second.state.screen == "reg_pin_again"
    assert PIN not in msgspec.json.encode(second.state).decode()  # only its keyed digest
    register = perform(step(second.state, Entry(PIN), new, NOW))
    assert register.action == menu.Register("5821", PIN)
    assert "pin_check" not in register.state.values  # forgotten once used
    done = reply(step(register.state, menu.Registered("5821@aclb"), new, NOW))
    assert done.end and "5821@aclb" in done.text and "*855*12#" in done.text


def test_registration_refuses_bad_names_weak_and_differing_pins() -> None:
    new = facts(language="en", registered=False)
    short = walk(new, "1", "12")
    assert short.state.screen == "reg_handle" and short.text.startswith("Not a valid name.")
    phone_part = walk(new, "1", "12000001")  # a name may not repeat the phone number
    assert phone_part.state.note == "handle_invalid"
    answers: dict[type, menu.Result] = {menu.CheckHandle: menu.HandleFree()}
    weak = walk(new, "1", "5821", WEAK_PIN, results=answers)
    assert weak.state.screen == "reg_pin" and weak.state.note == "pin_weak"
    differ = walk(new, "1", "5821", PIN, OTHER_PIN, results=answers)
    assert differ.state.screen == "reg_pin" and differ.text.startswith("The PINs differ.")
    taken = walk(new, "1", "5821", results={menu.CheckHandle: menu.HandleTaken()})
    assert taken.state.screen == "reg_handle" and taken.state.note == "handle_taken"
    elsewhere = walk(new, "1", "5821", results={menu.CheckHandle: menu.PhoneElsewhere()})
    assert elsewhere.end and elsewhere.state.screen == "reg_elsewhere"


# -- sending, paying a shop -----------------------------------------------------------------------


def test_send_shows_the_payee_before_the_pin_and_pays_at_the_step_of_the_pin() -> None:
    start = facts("en")
    state = reply(step(None, Dial(), start, NOW)).state
    for entry in ("2",):
        state = reply(step(state, Entry(entry), start, NOW)).state
    lookup = perform(step(state, Entry("012000002"), start, NOW))
    assert lookup.action == menu.LookupPayee("+85512000002")
    asset = reply(step(lookup.state, menu.PayeeFound("dara_sok@wing", "Dara S."), start, NOW))
    assert asset.text.startswith("To Dara S. dara_sok@wing")
    amount = reply(step(asset.state, Entry("2"), start, NOW))
    assert amount.text == "Amount in whole USD"
    confirm = reply(step(amount.state, Entry("12"), start, NOW))
    assert confirm.text.startswith("Send 12.00 USD to Dara S. dara_sok@wing")
    pay = perform(step(confirm.state, Entry(PIN), start, NOW))
    assert pay.action == menu.Pay(PIN, "dara_sok@wing", "USD", 1_200, 5)
    assert pay.action.step == pay.state.inputs == 5
    assert "482913" not in repr(pay.action)  # an action carrying a PIN does not print it
    paid = reply(step(pay.state, menu.Paid("1a2b3c4d"), start, NOW))
    assert (
        paid.end and paid.text.startswith("Sent 12.00 USD to Dara S.") and "1a2b3c4d" in paid.text
    )


def test_send_refuses_ones_own_number_bad_numbers_and_numbers_without_a_wallet() -> None:
    start = facts("en")
    own = walk(start, "2", "012000001")
    assert own.state.screen == "send_phone" and own.state.note == "self"
    bad = walk(start, "2", "0123")
    assert bad.state.note == "phone_invalid"
    nobody = walk(start, "2", "012999999", results={menu.LookupPayee: menu.PayeeMissing()})
    assert nobody.state.screen == "send_phone" and nobody.text.startswith("No wallet has")


def test_phone_numbers_as_a_keypad_types_them() -> None:
    assert menu.normalise_phone("012345678", "855") == "+85512345678"
    assert menu.normalise_phone("0085512345678", "855") == "+85512345678"
    assert menu.normalise_phone("85512345678", "855") == "+85512345678"
    assert menu.normalise_phone("66812345678", "855") == "+66812345678"
    for bad in ("0123", "", "#12345678", "0" * 20, "0012345"):
        assert menu.normalise_phone(bad, "855") is None


def test_pay_a_shop_by_its_short_code() -> None:
    start = facts("km")
    answers: dict[type, menu.Result] = {menu.LookupShop: menu.ShopFound("tea@aclb", "Tea House")}
    confirm = walk(start, "3", "1001", "1", "4500", results=answers)
    assert confirm.state.screen == "shop_confirm"
    assert confirm.text.startswith("បង់ 4,500៛ ឲ្យ Tea House")
    pay = perform(step(confirm.state, Entry(PIN), start, NOW))
    assert pay.action == menu.Pay(PIN, "tea@aclb", "KHR", 4_500, pay.state.inputs)
    missing = walk(start, "3", "9999", results={menu.LookupShop: menu.ShopMissing()})
    assert missing.state.screen == "shop_code" and missing.state.note == "no_shop"


@pytest.mark.parametrize(
    ("result", "screen", "said"),
    [
        (menu.Refused("ussd_cap", 150_000, "KHR"), "refused", "150,000 KHR left"),
        (menu.Refused("daily_limit", 0, "KHR"), "refused", "0 KHR left"),
        (menu.Refused("insufficient_funds"), "refused", "not enough money"),
        (menu.Underway(), "underway", "on its way"),
        (menu.PinLocked(NOW + 14 * 60_000 + 1), "pin_locked", "in 15 min"),
    ],
)
def test_what_a_payment_can_end_with(result: menu.Result, screen: str, said: str) -> None:
    start = facts("en")
    answers = {menu.LookupPayee: menu.PayeeFound("dara@aclb", "Dara S."), menu.Pay: result}
    ended = walk(start, "2", "012000002", "1", "25000", PIN, results=answers)
    assert ended.end and ended.state.screen == screen and said in ended.text


def test_a_wrong_pin_asks_again_with_the_tries_left() -> None:
    start = facts("en")
    answers = {menu.LookupPayee: menu.PayeeFound("dara@aclb", "Dara S."),
               menu.Pay: menu.PinWrong(3)}  # fmt: skip
    again = walk(start, "2", "012000002", "1", "25000", OTHER_PIN, results=answers)
    assert not again.end and again.state.screen == "send_confirm"
    assert again.text.startswith("Wrong PIN: 3 tries left.\nSend 25,000 KHR")
    shaped = walk(start, "2", "012000002", "1", "25000", "12", results=answers)
    assert shaped.state.note == "invalid"  # not a PIN at all: no try counted


# -- back, home, bad entries, timeouts ------------------------------------------------------------


def test_zero_goes_back_and_double_zero_home() -> None:
    start = facts("en")
    answers = {menu.LookupPayee: menu.PayeeFound("dara@aclb", "Dara S.")}
    amount = walk(start, "2", "012000002", "1", results=answers)
    assert amount.state.screen == "send_amount"
    back = reply(step(amount.state, Entry("0"), start, NOW))
    assert back.state.screen == "send_asset" and back.text.startswith("To Dara S.")
    back = reply(step(back.state, Entry("0"), start, NOW))
    assert back.state.screen == "send_phone"
    home = reply(step(amount.state, Entry("00"), start, NOW))
    assert home.state.screen == "main" and home.state.values == {} and home.state.trail == ()
    top = reply(step(home.state, Entry("0"), start, NOW))
    assert top.state.screen == "main" and not top.end  # nothing behind the first menu


def test_a_bad_entry_asks_again() -> None:
    start = facts("km")
    wrong = walk(start, "9")
    assert wrong.state.screen == "main" and wrong.text.startswith("ខុស។\n1 សមតុល្យ")


def test_the_session_times_out_between_inputs_and_overall() -> None:
    start = facts("en")
    state = reply(step(None, Dial(), start, NOW)).state
    late = reply(step(state, Entry("1"), start, NOW + limits.ussd_input_ms + 1))
    assert late.end and late.state.screen == "timeout" and "*855*12#" in late.text
    for entry in ("2", "0", "2"):  # each in time...
        state = reply(step(state, Entry(entry), start, state.last_ms + 50_000)).state
    assert state.screen == "send_phone" and not state.ended
    over = reply(step(state, Entry("0"), start, state.last_ms + 50_000))  # ...but 200 s in all
    assert over.end and over.state.screen == "timeout"


def test_an_ended_session_stays_ended() -> None:
    start = facts("en")
    done = walk(start, "1", PIN, results={menu.Balance: menu.Balances(125_000, 1_250)})
    assert done.end and done.text == f"Balance {LONG_ACCOUNT}\n125,000 KHR\n12.50 USD"
    after = reply(step(done.state, Entry("1"), start, NOW))
    assert after.end and after.state.screen == "ended"


def test_a_frozen_wallet_is_told_at_once() -> None:
    frozen = reply(step(None, Dial(), facts("en", frozen=True), NOW))
    assert frozen.end and frozen.text.startswith("Your wallet is frozen.")


# -- the other menus ------------------------------------------------------------------------------


def test_cash_out_requests_are_listed_approved_with_the_pin_or_declined() -> None:
    start = facts("en")
    items = (Item("Ly Shop", "KHR", 50_000, "7"), Item("Dara S.", "USD", 2_000, "9"))
    listed = walk(start, "4", results={menu.ListApprovals: menu.WaitingApprovals(items)})
    assert listed.text == "Cash-out requests\n1 Ly Shop: 50,000 KHR\n2 Dara S.: 20.00 USD"
    chosen = reply(step(listed.state, Entry("2"), start, NOW))
    assert chosen.text.startswith("Agent Dara S. asks to cash out 20.00 USD")
    asked = reply(step(chosen.state, Entry("1"), start, NOW))
    approve = perform(step(asked.state, Entry(PIN), start, NOW))
    assert approve.action == menu.Approve(9, PIN)
    approved = reply(step(approve.state, menu.Approved("cafe0123"), start, NOW))
    assert approved.end and "Take 20.00 USD in cash" in approved.text
    decline = perform(step(chosen.state, Entry("2"), start, NOW))
    assert decline.action == menu.Decline(9)
    none = walk(start, "4", results={menu.ListApprovals: menu.WaitingApprovals(())})
    assert none.end and none.state.screen == "approvals_none"


def test_mini_statement_and_pin_change() -> None:
    start = facts("en")
    day = NOW + 7 * 86_400_000  # 2026-01-08 in Phnom Penh
    entries = ((day, "KHR", 25_000, ""), (day, "USD", -1_250, ""), (day, "KHR", -9_000, "waiting"))
    shown = walk(start, "5", PIN, results={menu.Statement: menu.StatementShown(entries)})
    assert shown.text == (
        "Last payments\n08/01 +25,000 KHR\n08/01 -12.50 USD\n08/01 -9,000 KHR waiting"
    )
    answers: dict[type, menu.Result] = {
        menu.VerifyPin: menu.PinOk(),
        menu.SetPin: menu.PinChanged(),
    }
    new = walk(start, "6", PIN, results=answers)
    assert new.state.screen == "pin_new"
    changed = perform(step(walk(start, "6", PIN, OTHER_PIN, results=answers).state,
                           Entry(OTHER_PIN), start, NOW))  # fmt: skip
    assert changed.action == menu.SetPin(OTHER_PIN)


def test_a_payment_abroad_in_the_mini_statement() -> None:
    day = NOW + 7 * 86_400_000  # 2026-01-08 in Phnom Penh
    entries = ((day, "KHR", -29_563, ""), (day, "KHR", 25_000, ""))
    abroad = {0: menu.Abroad("Somchai Noodles", "THB", 2, 25_000)}
    for language, title in (("en", "Last payments\n"), ("km", "")):
        shown = walk(facts(language), "5", PIN,
                     results={menu.Statement: menu.StatementShown(entries, abroad)})  # fmt: skip
        plus = "+25,000 KHR" if language == "en" else "+25,000៛"
        paid = "-29,563 KHR" if language == "en" else "-29,563៛"
        assert shown.text == f"{title}08/01 {paid} 250.00 THB Somchai Noodles\n08/01 {plus}"
    # The longest shop, price and riel: the amounts show whole, the shop's name gives way.
    for language in ("en", "km"):
        shown = walk(facts(language), "5", PIN, results={
            menu.Statement: menu.StatementShown(((day, "KHR", -BIGGEST, ""),), {0: ABROAD})})
        assert texts.screen_fits(shown.text)
        priced = f"08/01 {texts.money(language, Asset.KHR, -BIGGEST)} 10,000,000,000,000.00 THB"
        assert shown.text.splitlines()[-1].startswith(priced)  # the shop's name gives way


def test_language_is_chosen_from_the_menu() -> None:
    start = facts("en")
    chosen = perform(step(walk(start, "7").state, Entry("1"), start, NOW))
    assert chosen.action == menu.SetLanguage("km")
    main = reply(step(chosen.state, menu.LanguageSaved(), start, NOW))
    assert main.state.screen == "main" and main.text.startswith("1 សមតុល្យ")


# -- encodings and receipts -----------------------------------------------------------------------


def test_encodings_count_as_the_network_does() -> None:
    assert texts.gsm7_length("Balance: 1,000 KHR") == 18
    assert texts.gsm7_length("a{b}€") == 8  # the extension table costs two septets each
    assert texts.gsm7_length("សមតុល្យ") is None
    assert texts.ucs2_units("សមតុល្យ") == 7
    assert texts.screen_fits("x" * 182) and not texts.screen_fits("x" * 183)
    assert texts.screen_fits("ក" * 80) and not texts.screen_fits("ក" * 81)
    assert texts.sms_segments("x" * 160) == 1 and texts.sms_segments("x" * 161) == 2
    assert texts.sms_segments("ក" * 70) == 1 and texts.sms_segments("ក" * 71) == 2


@pytest.mark.parametrize("language", ["en", "km"])
def test_receipts_fit_one_sms_segment(language: str) -> None:
    for direction in ("in", "out"):
        for party in ("Dara S.", "dara_sok@wing", LONG_ACCOUNT):
            body = texts.receipt(
                language, direction, Asset.KHR, 1_250_000, party, "1a2b3c4d", 3_999_999, "ACLB"
            )
            assert texts.sms_segments(body) == 1, body
            assert texts.money(language, Asset.KHR, 1_250_000) in body and "1a2b3c4d" in body


# -- money for a phone with no wallet, and claiming it ------------------------------------------


def test_a_phone_with_no_wallet_is_offered_the_claimable_send() -> None:
    start = facts("en")
    offered = walk(start, "2", "012999999",
                   results={menu.LookupPayee: menu.PayeeClaimable(MASKED, SEALED)})  # fmt: skip
    assert offered.state.screen == "claim_asset" and not offered.end
    assert offered.text == (
        "+855 *** 999 has no wallet yet. We text them a code to claim the money at any bank.\n"
        "1 KHR\n2 USD"
    )
    assert "012999999" not in msgspec.json.encode(offered.state).decode()  # sealed, never kept
    amount = reply(step(offered.state, Entry("1"), start, NOW))
    confirm = reply(step(amount.state, Entry("30000"), start, NOW))
    assert confirm.text == (
        "Send 30,000 KHR to +855 *** 999 (no wallet yet: claimed by SMS code)\nEnter PIN to confirm"
    )
    pay = perform(step(confirm.state, Entry(PIN), start, NOW))
    assert pay.action == menu.PayClaim(PIN, SEALED, "KHR", 30_000, 5)
    assert PIN not in repr(pay.action)
    placed = reply(step(pay.state, menu.ClaimPlaced("1a2b3c4d"), start, NOW))
    assert placed.end and placed.text.startswith("30,000 KHR waits for +855 *** 999")
    assert "Ref 1a2b3c4d" in placed.text
    back = reply(step(offered.state, Entry("0"), start, NOW))
    assert back.state.screen == "send_phone"  # another number after all


def test_claiming_asks_the_bank_a_page_at_a_time_then_the_code() -> None:
    for language, more in (("en", "9 More"), ("km", "9 ទៀត")):
        start = facts(language)
        banks = walk(start, "8")
        assert banks.state.screen == "claim_bank"
        lines = banks.text.splitlines()
        assert lines[-6:] == [f"{n} {code.upper()}" for n, code in enumerate(BANKS[:5], 1)] + [more]
        turned = reply(step(banks.state, Entry("9"), start, NOW))
        assert turned.text.splitlines()[-4:] == [
            f"{n} {code.upper()}" for n, code in enumerate(BANKS[5:], 1)
        ] + [more]
        again = reply(step(turned.state, Entry("9"), start, NOW))  # the last page turns to 1
        assert again.text == banks.text
    start = facts("en")
    chosen = walk(start, "8", "1")
    assert chosen.text == "Enter the 10-digit code from the SMS of bank aclb"
    short = reply(step(chosen.state, Entry("123"), start, NOW))
    assert short.state.note == "claim_code_invalid" and short.state.screen == "claim_code"
    redeem = perform(step(chosen.state, Entry(CLAIM_CODE), start, NOW))
    assert redeem.action == menu.RedeemClaim("aclb", CLAIM_CODE)
    assert CLAIM_CODE not in repr(redeem.action)
    wrong = reply(step(redeem.state, menu.ClaimCodeWrong(3), start, NOW))
    assert not wrong.end and wrong.text.startswith("Wrong code: 3 tries left.\nEnter the")
    locked = reply(step(redeem.state, menu.ClaimCodeWrong(0), start, NOW))
    assert locked.end and locked.state.screen == "claim_locked"
    received = reply(step(redeem.state, menu.Claimed("KHR", 30_000), start, NOW))
    assert received.end and received.text == (
        f"Received 30,000 KHR into your wallet {LONG_ACCOUNT}. An SMS receipt follows."
    )
    nothing = reply(step(redeem.state, menu.ClaimClosed("claim_none"), start, NOW))
    assert nothing.text == "No money waits for your number at bank aclb."
    two = msgspec.structs.replace(start, banks=("aclb", "wing"))
    few = walk(two, "8")
    assert few.text == "Claim money\nWhich bank texted you the code?\n1 ACLB\n2 WING"  # no page
    assert reply(step(few.state, Entry("9"), two, NOW)).state.note == "invalid"


@pytest.mark.parametrize("language", ["en", "km"])
def test_the_receipt_of_money_sent_to_a_phone_with_no_wallet_fits_one_segment(
    language: str,
) -> None:
    for asset, amount in ((Asset.KHR, 1_250_000), (Asset.USD, 99_999_00)):
        body = texts.claim_receipt(
            language, asset, amount, MASKED, "09/12", "1a2b3c4d",
            "ACLEDA Bank Plc. of the Kingdom of Cambodia",
        )  # fmt: skip
        assert texts.sms_segments(body) == 1, body
        assert texts.money(language, asset, amount) in body and MASKED in body
        assert "09/12" in body and "1a2b3c4d" in body
