"""Reading a Cambodian ID card with Tesseract: the machine-readable zone on the back, the Khmer
and Latin text on the front, and the fields taken from them, each with a status.

Rules:
- Tesseract runs as its command-line program (`tesseract stdin stdout ...`), not through a
  binding: it needs no Python package and no C build (`tesserocr` compiles against
  libtesseract's headers; `pytesseract` is itself a wrapper of this command that writes the
  image to a temporary file). The image goes in on stdin and the text comes out on stdout,
  so a card never touches the disk unencrypted; the process is killed after
  `limits.kyc_ocr_timeout_s` and runs on one thread (`OMP_THREAD_LIMIT=1`), so one check
  cannot take the gateway's cores.
- The back is read with the English model restricted to the zone's alphabet (A-Z, 0-9, `<`)
  and no dictionary (what suits a monospace machine font like OCR-B), on a grey,
  contrast-stretched copy of the card's lower part, at up to three sizes (`_ZONE_PASSES`):
  the first reading whose every check digit holds is kept, else the first found; the whole
  side is read last. No reading is pieced together from others.
- The front is read with `khm+eng`; Khmer digits (០-៩) are mapped to ASCII first. The Khmer
  text is kept whole for the officer to compare with the card (Tesseract's Khmer is noisy:
  reference channels.md 4.3); from it come a second reading of the ID number, birth date,
  expiry, sex and Latin name.
- The fields are those of the zone (`mrz.parse_td1`). A field is `checked` when its check digit
  holds and the front, where it shows the field, agrees; the names and sex have no check digit
  and are `checked` when the front shows the same. A field whose check fails, or that the front
  contradicts, is `flagged`; one nowhere to be read is `missing`. Nothing is corrected.
- Nothing here logs what it read.
"""

from __future__ import annotations

import datetime
import io
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from PIL import Image, ImageOps

from bakong import limits
from bakong.gateway.kyc import mrz
from bakong.gateway.kyc.mrz import FieldStatus, MrzField

__all__ = ["CardReading", "Field", "khmer_digits_to_ascii", "read_card", "tesseract_available"]

TESSERACT = "tesseract"
KHMER_DIGITS = str.maketrans("០១២៣៤៥៦៧៨៩", "0123456789")
_MRZ_CONFIG = [
    "-c", "tessedit_char_whitelist=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<",
    "-c", "load_system_dawg=0", "-c", "load_freq_dawg=0",
]  # fmt: skip
_CARD_WIDTH_PX = 1012  # an ID-1 card (85.6 mm) at 300 dpi: zone characters about 40 px tall
# (scale, lower part only) of each reading of the zone, best first: Tesseract's English model
# reads OCR-B best with characters 20 to 30 px tall, and misreads runs of chevrons differently
# at each size.
_ZONE_PASSES = ((0.75, True), (0.5, True), (1.0, True), (0.75, False))
_DATE = re.compile(r"\b([0-3]?[0-9])[./-]([01]?[0-9])[./-]((?:19|20)[0-9]{2})\b")
FIELDS = ("document_number", "surname", "given_names", "birth_date", "sex", "expiry_date")


@dataclass(frozen=True)
class Field:
    value: str
    status: FieldStatus


@dataclass(frozen=True)
class CardReading:
    """What the card says, field by field, and the raw text for the officer."""

    fields: dict[str, Field]
    issuing_state: str
    composite_ok: bool
    zone_found: bool
    front_text: str  # the front as read (Khmer and Latin, Khmer digits mapped)
    zone_text: str  # the three zone lines as read


def tesseract_available() -> bool:
    """Whether the `tesseract` program is installed (with its `khm` and `eng` models)."""
    if shutil.which(TESSERACT) is None:
        return False
    try:
        listed = subprocess.run(
            [TESSERACT, "--list-langs"], capture_output=True, timeout=limits.kyc_ocr_timeout_s,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    languages = set(listed.stdout.decode(errors="replace").split())
    return {"eng", "khm"} <= languages


def khmer_digits_to_ascii(text: str) -> str:
    return text.translate(KHMER_DIGITS)


def _tesseract(image: Image.Image, language: str, psm: int, config: list[str]) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    environment = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run(
        [TESSERACT, "stdin", "stdout", "-l", language, "--psm", str(psm), *config],
        input=buffer.getvalue(), capture_output=True, timeout=limits.kyc_ocr_timeout_s,
        env=environment, check=False,
    )  # fmt: skip
    return done.stdout.decode("utf-8", errors="replace")[: limits.kyc_ocr_text_chars_max]


def _zone_image(back: Image.Image, scale: float, lower_part: bool) -> Image.Image:
    """The side in grey, stretched to full contrast, as wide as a card at 300 dpi times
    `scale`; only its lower part (where the zone is) when `lower_part`."""
    grey = ImageOps.autocontrast(back.convert("L"), cutoff=1)
    width, height = grey.size
    if lower_part:
        grey = grey.crop((0, height * 55 // 100, width, height))
    factor = _CARD_WIDTH_PX * scale / width
    size = (max(1, round(grey.size[0] * factor)), max(1, round(grey.size[1] * factor)))
    return grey.resize(size, Image.Resampling.LANCZOS)


def _read_zone(back: Image.Image, today: datetime.date) -> tuple[mrz.MrzReading | None, str]:
    """The zone read at a few sizes: the first reading whose every check holds (a wrong one
    must get past each check digit and the composite), else the first one found at all."""
    first: tuple[mrz.MrzReading | None, str] = (None, "")
    for scale, lower_part in _ZONE_PASSES:
        text = _tesseract(_zone_image(back, scale, lower_part), "eng", 6, _MRZ_CONFIG)
        lines = mrz.find_lines(text)
        if lines is None:
            continue
        reading = mrz.parse_td1(lines, today)
        if mrz.fully_checked(reading):
            return reading, "\n".join(lines)
        if first[0] is None:
            first = (reading, "\n".join(lines))
    return first


@dataclass(frozen=True)
class _Front:
    text: str
    number: str | None
    dates: list[str]  # ISO dates in the order they appear
    latin_name: str | None
    sex: str | None


def _iso(day: str, month: str, year: str) -> str | None:
    try:
        return datetime.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def _latin_name(lines: list[str]) -> str | None:
    """The first line of two or more capitalised Latin words (the card's romanised name)."""
    for line in lines:
        words = re.findall(r"[A-Z][A-Z'-]+", line)
        if len(words) >= 2 and not re.search(r"[0-9<]", line):
            labels = {"NAME", "SEX", "DATE", "BIRTH", "EXPIRY", "ID", "KINGDOM", "CAMBODIA"}
            if not labels & set(words):
                return " ".join(words)
    return None


def _read_front(front: Image.Image) -> _Front:
    grey = ImageOps.autocontrast(front.convert("L"), cutoff=1)
    text = khmer_digits_to_ascii(_tesseract(grey, "khm+eng", 3, []))
    number = re.search(r"(?<![0-9])([0-9]{9})(?![0-9])", text.replace(" ", ""))
    dates = [iso for match in _DATE.finditer(text) if (iso := _iso(*match.groups()))]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    sex = None
    # Male is ប្រុស, which Tesseract often reads without its vowel sign (ប្រស); female ស្រី.
    if re.search("ប្រុ?ស", text) or re.search(r"\bSex\b\W*M\b", text, re.IGNORECASE):
        sex = "M"
    elif "ស្រី" in text or re.search(r"\bSex\b\W*F\b", text, re.IGNORECASE):
        sex = "F"
    return _Front(text, number.group(1) if number else None, dates, _latin_name(lines), sex)


def _agreed(field: MrzField, front_value: str | None) -> Field:
    """A zone field against the front's reading of it (None: the front does not show it)."""
    if field.status is FieldStatus.missing:
        return Field("", FieldStatus.missing)
    if field.status is FieldStatus.flagged:
        return Field(field.value, FieldStatus.flagged)
    if front_value is not None and front_value != field.value:
        return Field(field.value, FieldStatus.flagged)
    if field.status is FieldStatus.unchecked and front_value is None:
        return Field(field.value, FieldStatus.flagged)  # no check digit, no second reading
    return Field(field.value, FieldStatus.checked)


def _fields(zone: mrz.MrzReading, front: _Front) -> dict[str, Field]:
    surname, given = zone.surname.value, zone.given_names.value
    name = front.latin_name
    front_surname = front_given = None
    if name is not None:  # the front prints "SURNAME GIVEN NAMES" or "GIVEN NAMES SURNAME"
        same = sorted(name.split()) == sorted(f"{surname} {given}".split())
        front_surname, front_given = (surname, given) if same else (name, name)
    birth = zone.birth_date.value
    expiry = zone.expiry_date.value
    line_two_ok = (
        zone.birth_date.status is FieldStatus.checked
        and zone.expiry_date.status is FieldStatus.checked and zone.composite_ok
    )  # fmt: skip
    sex = zone.sex
    if sex.status is FieldStatus.unchecked and line_two_ok and front.sex is None:
        sex = MrzField(sex.value, FieldStatus.checked)  # its line read cleanly, every check held
    return {
        "document_number": _agreed(zone.document_number, front.number),
        "surname": _agreed(zone.surname, front_surname),
        "given_names": _agreed(zone.given_names, front_given),
        "birth_date": _agreed(zone.birth_date, birth if birth in front.dates else None),
        "sex": _agreed(sex, front.sex),
        "expiry_date": _agreed(zone.expiry_date, expiry if expiry in front.dates else None),
    }


def _front_only(front: _Front) -> dict[str, Field]:
    """Without a zone nothing can be checked: what the front shows, flagged."""

    def flagged(value: str | None) -> Field:
        return (
            Field("", FieldStatus.missing) if value is None else Field(value, FieldStatus.flagged)
        )

    return {
        "document_number": flagged(front.number),
        "surname": flagged(front.latin_name),
        "given_names": Field("", FieldStatus.missing),
        "birth_date": flagged(front.dates[0] if front.dates else None),
        "sex": flagged(front.sex),
        "expiry_date": flagged(front.dates[-1] if len(front.dates) > 1 else None),
    }


def read_card(front: Image.Image, back: Image.Image, today: datetime.date) -> CardReading:
    """Both sides of a card, read and cross-checked (Tesseract must be installed)."""
    zone, zone_text = _read_zone(back, today)
    front_reading = _read_front(front)
    if zone is None:
        return CardReading(
            _front_only(front_reading), "", False, False, front_reading.text, zone_text
        )
    return CardReading(
        fields=_fields(zone, front_reading),
        issuing_state=zone.issuing_state.value,
        composite_ok=zone.composite_ok,
        zone_found=True,
        front_text=front_reading.text,
        zone_text=zone_text,
    )
