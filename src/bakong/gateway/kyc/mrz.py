"""The machine-readable zone of an ID card (ICAO 9303 part 5, TD1: 3 lines of 30), parsed
from what OCR read, with every check digit verified.

Layout (positions 0-based, end exclusive):

    line 1  [0:2] document code ("ID")  [2:5] issuing state ("KHM")  [5:14] document number
            [14] its check digit  [15:30] optional data
    line 2  [0:6] birth date YYMMDD  [6] check  [7] sex (M, F, <)  [8:14] expiry YYMMDD
            [14] check  [15:18] nationality  [18:29] optional data  [29] composite check
    line 3  [0:30] SURNAME<<GIVEN<NAMES

The composite check digit covers line 1 [5:30], line 2 [0:7], [8:15] and [18:29].

Rules:
- A check digit is sum(value * weight) mod 10 with weights 7, 3, 1 repeating; digits count as
  themselves, A-Z as 10-35, the filler `<` as 0.
- OCR cleanup is tolerant but never guesses: spaces are removed; in a field that holds only
  digits (dates, check digits, a Cambodian card's number) the letters OCR confuses with
  digits are read as those digits (O Q D -> 0, I L -> 1, Z -> 2, S -> 5, G -> 6, B -> 8), and
  in a field of letters (states, names, sex) the digits as those letters. That is one
  reading per character, fixed in advance; no alternatives are tried to make a check pass.
  A field whose check still fails is `flagged`: its value is reported as read, for a person
  to compare, never corrected.
- Fillers (`<`) carry only position: a K inside a run of fillers (OCR's usual misreading of
  chevrons) is a filler, and a line OCR made too long or too short has its longest filler run
  shortened or lengthened to make it 30. A line still too long, or with a character outside
  A-Z 0-9 `<`, makes every field of that line `flagged`.
- Names have no check digit: they are `flagged` when the name line is malformed (letters after
  the padding that ends the given names) and otherwise `unchecked` here (the OCR step calls
  them `checked` only when the card's front, read on its own, shows the same name).
- Pure: no I/O; dates are interpreted against a `today` the caller gives.
"""

from __future__ import annotations

import datetime
import enum
import re
from dataclasses import dataclass

from bakong.errors import LocalError

__all__ = [
    "FieldStatus",
    "LINE_CHARS",
    "MrzField",
    "MrzReading",
    "check_digit",
    "find_lines",
    "fully_checked",
    "parse_td1",
]

LINE_CHARS = 30  # ICAO 9303 TD1
_WEIGHTS = (7, 3, 1)
_ALPHABET = re.compile(r"^[A-Z0-9<]*$")
_AS_DIGIT = str.maketrans("OQDILZSGB", "001112568")
_AS_LETTER = str.maketrans("0125683", "OIZSGBE")


class FieldStatus(enum.Enum):
    checked = "checked"  # a check digit (or an independent second reading) confirms it
    flagged = "flagged"  # read, but a check failed: a person must compare it with the card
    missing = "missing"  # not found at all
    unchecked = "unchecked"  # read, well-formed, and nothing here can confirm it


@dataclass(frozen=True)
class MrzField:
    value: str
    status: FieldStatus


@dataclass(frozen=True)
class MrzReading:
    """Every field of a TD1 zone, each with its status, and whether the composite held."""

    document_code: MrzField
    issuing_state: MrzField
    document_number: MrzField
    birth_date: MrzField  # ISO 8601 (YYYY-MM-DD) when checked or flagged-but-a-date
    sex: MrzField
    expiry_date: MrzField
    nationality: MrzField
    surname: MrzField
    given_names: MrzField
    composite_ok: bool

    def fields(self) -> dict[str, MrzField]:
        return {
            "document_code": self.document_code, "issuing_state": self.issuing_state,
            "document_number": self.document_number, "birth_date": self.birth_date,
            "sex": self.sex, "expiry_date": self.expiry_date, "nationality": self.nationality,
            "surname": self.surname, "given_names": self.given_names,
        }  # fmt: skip


def _value(char: str) -> int:
    if char.isdigit():
        return ord(char) - ord("0")
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    if char == "<":
        return 0
    raise LocalError(f"{char!r} is not a machine-readable zone character")


def check_digit(text: str) -> str:
    """The ICAO 9303 check digit of `text` (A-Z, 0-9, `<`)."""
    total = sum(_value(char) * _WEIGHTS[index % 3] for index, char in enumerate(text))
    return str(total % 10)


def _filler_run(match: re.Match[str]) -> str:
    run = match.group(0)
    return "<" * len(run) if run.count("<") >= 3 else run


def _clean_line(raw: str) -> tuple[str, bool]:
    """(the line made 30 long, whether it is well-formed)."""
    line = re.sub(r"\s+", "", raw.upper()).replace("«", "<")
    # OCR reads a run of chevrons as K here and there (`<<K<K<KK`): in a run of fillers and K
    # with at least three fillers, the K are fillers too. A wrong reading here cannot pass:
    # the composite check covers the optional data, and names are compared with the front.
    line = re.sub(r"[<K]{4,}", _filler_run, line)
    # Fillers carry nothing but position: a line too long or too short by OCR's count of a run
    # of them gets its longest such run shortened (to one at least) or lengthened.
    excess = len(line) - LINE_CHARS
    runs = list(re.finditer(r"<{2,}", line))
    if excess and runs:
        longest = max(runs, key=lambda found: (found.end() - found.start(), found.start()))
        size = max(1, longest.end() - longest.start() - excess)
        line = line[: longest.start()] + "<" * size + line[longest.end() :]
    well_formed = len(line) <= LINE_CHARS and bool(_ALPHABET.match(line))
    return line[:LINE_CHARS].ljust(LINE_CHARS, "<"), well_formed


def _digits(text: str) -> str:
    return text.translate(_AS_DIGIT)


def _letters(text: str) -> str:
    return text.translate(_AS_LETTER)


def _checked(value: str, digit: str, ok_line: bool) -> FieldStatus:
    if not ok_line or not re.match(r"^[A-Z0-9<]+$", value) or not digit.isdigit():
        return FieldStatus.flagged
    return FieldStatus.checked if check_digit(value) == digit else FieldStatus.flagged


def _date(yymmdd: str, today: datetime.date, *, future: bool) -> str | None:
    """YYMMDD as ISO 8601: a birth date is in the past century window, an expiry may be up to
    50 years ahead. None when it is not a calendar date."""
    if not re.match(r"^[0-9]{6}$", yymmdd):
        return None
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    century = today.year // 100 * 100
    year = century + yy
    if not future and year > today.year:
        year -= 100
    if future and year < today.year - 50:
        year += 100
    try:
        return datetime.date(year, mm, dd).isoformat()
    except ValueError:
        return None


def _date_field(
    raw: str, digit: str, ok_line: bool, today: datetime.date, *, future: bool
) -> MrzField:
    status = _checked(raw, digit, ok_line)
    iso = _date(raw, today, future=future)
    if iso is None:
        return MrzField(raw, FieldStatus.flagged)
    return MrzField(iso, status)


def _names(line: str, ok_line: bool) -> tuple[MrzField, MrzField]:
    text = _letters(line)
    surname, separator, rest = text.partition("<<")
    given, _, after = rest.partition("<<")  # the given names end at the padding
    malformed = not ok_line or not separator or not re.match(r"^[A-Z<]+$", text)
    malformed = malformed or not surname or bool(after.strip("<"))
    status = FieldStatus.flagged if malformed else FieldStatus.unchecked
    return (
        MrzField(surname.replace("<", " ").strip(), status),
        MrzField(given.replace("<", " ").strip(), status),
    )


def _plain(value: str, ok_line: bool, pattern: str) -> MrzField:
    if not value.strip("<"):
        return MrzField("", FieldStatus.missing)
    good = ok_line and re.match(pattern, value) is not None
    return MrzField(value, FieldStatus.unchecked if good else FieldStatus.flagged)


def parse_td1(lines: tuple[str, str, str], today: datetime.date) -> MrzReading:
    """Every field of a TD1 zone read by OCR, each checked where ICAO gives a check digit."""
    (one, ok1), (two, ok2), (three, ok3) = (_clean_line(line) for line in lines)
    state = _letters(one[2:5])
    # A Cambodian card's number is digits (`IDKHM([0-9]{9})`), so it is read as digits there;
    # elsewhere ICAO allows letters in it.
    number = _digits(one[5:14]) if state == "KHM" else one[5:14]
    number_digit = _digits(one[14])
    birth, birth_digit = _digits(two[0:6]), _digits(two[6])
    expiry, expiry_digit = _digits(two[8:14]), _digits(two[14])
    composite_text = number + number_digit + one[15:30] + birth + birth_digit
    composite_text += expiry + expiry_digit + two[18:29]
    composite_digit = _digits(two[29])
    composite_ok = ok1 and ok2 and composite_digit.isdigit()
    composite_ok = composite_ok and bool(_ALPHABET.match(composite_text))
    composite_ok = composite_ok and check_digit(composite_text) == composite_digit
    sex = _letters(two[7])
    surname, given = _names(three, ok3)
    return MrzReading(
        document_code=_plain(_letters(one[0:2]).rstrip("<"), ok1, r"^[A-Z]{1,2}$"),
        issuing_state=_plain(state, ok1, r"^[A-Z<]{3}$"),
        document_number=MrzField(number.rstrip("<"), _checked(number, number_digit, ok1)),
        birth_date=_date_field(birth, birth_digit, ok2, today, future=False),
        sex=MrzField(sex, FieldStatus.unchecked if ok2 and sex in "MF<" else FieldStatus.flagged),
        expiry_date=_date_field(expiry, expiry_digit, ok2, today, future=True),
        nationality=_plain(_letters(two[15:18]), ok2, r"^[A-Z<]{3}$"),
        surname=surname,
        given_names=given,
        composite_ok=composite_ok,
    )


def fully_checked(reading: MrzReading) -> bool:
    """Whether every check digit held and the names are well-formed: a reading to keep."""
    checked = (reading.document_number, reading.birth_date, reading.expiry_date)
    names = (reading.surname, reading.given_names)
    return (
        reading.composite_ok
        and all(field.status is FieldStatus.checked for field in checked)
        and all(field.status is FieldStatus.unchecked for field in names)
    )


def find_lines(text: str) -> tuple[str, str, str] | None:
    """The three zone lines in OCR output: the first line that starts like a TD1 document
    ("I" and a letter or `<`) with two more non-empty lines after it; None when there is none."""
    candidates = [re.sub(r"\s+", "", line) for line in text.upper().splitlines()]
    candidates = [line for line in candidates if len(line) >= LINE_CHARS // 2]
    for index, line in enumerate(candidates[:-2]):
        if re.match(r"^[I1][A-Z<]", line) and "<" in line:
            return line, candidates[index + 1], candidates[index + 2]
    return None
