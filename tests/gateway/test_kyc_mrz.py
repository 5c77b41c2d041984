"""The machine-readable zone (ICAO 9303 TD1): check digits against ICAO's own specimens, hand
made Cambodian zones, OCR's usual confusions cleaned up, and every broken check flagged, never
corrected."""

from __future__ import annotations

import datetime

import pytest

from bakong.gateway.kyc import mrz
from bakong.gateway.kyc.mrz import FieldStatus

TODAY = datetime.date(2025, 6, 1)
# ICAO Doc 9303 part 5, appendix A: the TD1 specimen of Utopia (Anna Maria Eriksson).
SPECIMEN = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)
# A Cambodian card by hand: number 012345678 (check 4), born 1990-04-17 (check 1), female,
# expires 2031-12-31 (check 9), composite 2.
KHM = (
    "IDKHM0123456784<<<<<<<<<<<<<<<",
    "9004171F3112319KHM<<<<<<<<<<<2",
    "CHAN<<SOKHA<<<<<<<<<<<<<<<<<<<",
)


def test_check_digits_are_icaos() -> None:
    assert mrz.check_digit("D23145890") == "7"
    assert mrz.check_digit("740812") == "2"
    assert mrz.check_digit("120415") == "9"
    assert mrz.check_digit("L898902C3") == "6"  # ICAO's TD3 specimen passport number
    assert mrz.check_digit("<<<<") == "0"
    # By hand: 0*7+1*3+2*1+3*7+4*3+5*1+6*7+7*3+8*1 = 114 -> 4
    assert mrz.check_digit("012345678") == "4"


def test_the_icao_specimen_parses_with_every_check_held() -> None:
    reading = mrz.parse_td1(SPECIMEN, TODAY)
    assert reading.document_number == mrz.MrzField("D23145890", FieldStatus.checked)
    assert reading.birth_date == mrz.MrzField("1974-08-12", FieldStatus.checked)
    assert reading.expiry_date == mrz.MrzField("2012-04-15", FieldStatus.checked)
    assert reading.sex.value == "F" and reading.issuing_state.value == "UTO"
    assert (reading.surname.value, reading.given_names.value) == ("ERIKSSON", "ANNA MARIA")
    assert reading.composite_ok and mrz.fully_checked(reading)


def test_a_cambodian_zone_by_hand() -> None:
    reading = mrz.parse_td1(KHM, TODAY)
    assert mrz.fully_checked(reading)
    assert reading.document_code.value == "ID" and reading.issuing_state.value == "KHM"
    assert reading.document_number.value == "012345678"
    assert reading.birth_date.value == "1990-04-17"
    assert reading.expiry_date.value == "2031-12-31"
    assert reading.nationality.value == "KHM"


@pytest.mark.parametrize(
    ("line", "index", "wrong", "field"),
    [
        (0, 14, "5", "document_number"),  # the number's check digit
        (0, 7, "3", "document_number"),  # a digit of the number
        (1, 6, "2", "birth_date"),
        (1, 3, "5", "birth_date"),
        (1, 14, "8", "expiry_date"),
    ],
)
def test_a_broken_check_digit_flags_the_field_and_keeps_what_was_read(
    line: int, index: int, wrong: str, field: str
) -> None:
    lines = list(KHM)
    lines[line] = lines[line][:index] + wrong + lines[line][index + 1 :]
    reading = mrz.parse_td1((lines[0], lines[1], lines[2]), TODAY)
    found = reading.fields()[field]
    assert found.status is FieldStatus.flagged
    assert not mrz.fully_checked(reading)
    if field == "document_number":  # reported as read: never corrected to what would pass
        assert found.value == lines[0][5:14]
    assert not reading.composite_ok  # the composite covers every one of them too


def test_a_broken_composite_alone_is_seen() -> None:
    lines = (KHM[0], KHM[1][:29] + "7", KHM[2])
    reading = mrz.parse_td1(lines, TODAY)
    assert reading.document_number.status is FieldStatus.checked
    assert not reading.composite_ok and not mrz.fully_checked(reading)


def test_ocr_confusions_are_read_one_way_only() -> None:
    # O for 0 and I for 1 in digit fields, spaces anywhere, K for chevrons in the padding.
    noisy = (
        "IDKHM O12345678 4<<<<<K<K<<<K<<<",
        "9OO4I7IF3112319KHM<<<<<K<<<<<K<2",
        "CHAN<<SOKHA<<<<K<<<<",
    )
    reading = mrz.parse_td1(noisy, TODAY)
    assert reading.document_number.value == "012345678"
    assert reading.birth_date.value == "1990-04-17"
    assert mrz.fully_checked(reading)
    # A digit in a name is read as the letter it resembles: 0 -> O.
    assert mrz.parse_td1((KHM[0], KHM[1], "CHAN<<S0KHA<<<<<"), TODAY).given_names.value == "SOKHA"


def test_a_misread_that_breaks_a_check_is_flagged_not_guessed() -> None:
    # "8" read as "3" in the birth date: a digit, so no confusion rule applies; the check fails.
    lines = (KHM[0], "9004131F3112319KHM<<<<<<<<<<<2", KHM[2])
    reading = mrz.parse_td1(lines, TODAY)
    assert reading.birth_date == mrz.MrzField("1990-04-13", FieldStatus.flagged)


def test_malformed_lines_and_names_are_flagged() -> None:
    too_long = (KHM[0][:15] + "1" * 18, KHM[1], KHM[2])  # no padding to take the excess from
    assert mrz.parse_td1(too_long, TODAY).document_number.status is FieldStatus.flagged
    # Excess the padding absorbs moves the optional data: the composite sees it.
    shifted = mrz.parse_td1((KHM[0] + "123", KHM[1], KHM[2]), TODAY)
    assert not shifted.composite_ok and not mrz.fully_checked(shifted)
    stray = (KHM[0], KHM[1], "CHAN<<SOKHA<<<<<<<<<<S<<SS<<<<")  # letters after the padding
    reading = mrz.parse_td1(stray, TODAY)
    assert reading.surname.status is FieldStatus.flagged
    odd = (KHM[0], KHM[1], "CHAN<<SO#HA<<<<<<<<<<<<<<<<<<<")  # outside the zone's alphabet
    assert mrz.parse_td1(odd, TODAY).given_names.status is FieldStatus.flagged
    # One name and no given names is a name ICAO allows: read, and left to be confirmed.
    alone = mrz.parse_td1((KHM[0], KHM[1], "CHAN<SOKHA<<<<<<<<<<<<<<<<<<<<"), TODAY)
    assert (alone.surname.value, alone.given_names.value) == ("CHAN SOKHA", "")
    bad_date = (KHM[0], "9013401F3112319KHM<<<<<<<<<<<2", KHM[2])  # month 13
    assert mrz.parse_td1(bad_date, TODAY).birth_date.status is FieldStatus.flagged


def test_dates_take_their_century_from_today() -> None:
    born_2008 = "0801015M3001015KHM<<<<<<<<<<<0"
    reading = mrz.parse_td1((KHM[0], born_2008, KHM[2]), TODAY)
    assert reading.birth_date.value == "2008-01-01"
    assert reading.expiry_date.value == "2030-01-01"
    born_1930 = "3001017M3001015KHM<<<<<<<<<<<0"
    assert mrz.parse_td1((KHM[0], born_1930, KHM[2]), TODAY).birth_date.value == "1930-01-01"


def test_find_lines_in_ocr_output() -> None:
    text = "some noise\n\n" + "\n".join(KHM) + "\n"
    assert mrz.find_lines(text) == KHM
    assert mrz.find_lines("nothing here\n") is None
