"""ID cards and selfies for the KYC tests, made here: nothing is downloaded, no real card is used.

- `card_front(photo, person)` and `card_back(person)` draw a Cambodian national ID card's two
  sides with Pillow at 300 dpi (ID-1, 1012 x 638 px): the photo, Khmer text in Khmer OS (Debian
  `fonts-khmeros`, Khmer digits for the dates), the Latin name, and on the back a TD1
  machine-readable zone in OCR-B (Debian `fonts-ocr-b`; DejaVu Sans Mono where it is missing)
  whose check digits are computed by ICAO's rule (`mrz.check_digit`, itself tested against
  ICAO's published specimen).
- The faces are photos that scikit-image ships: `data.astronaut()` (Eileen Collins, NASA) is
  the customer; one face of `data.lfw_subset()` (25 x 25 grey faces from Labeled Faces in the
  Wild) is somebody else, enlarged to an ID photo's size.
- `blink_frames(photo)` makes a selfie challenge from a still photo: open eyes, the eyes
  painted shut (skin-coloured ellipses and a lash line where dlib's landmarks put them), open
  again. It is what the check is meant to see, not an attack it must stop (docs/kyc.md says
  what the check does not stop).
"""

from __future__ import annotations

import base64
import datetime
import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from bakong.gateway.kyc.mrz import check_digit

CARD_SIZE = (1012, 638)
KHMER_FONT = Path("/usr/share/fonts/truetype/khmeros/KhmerOS.ttf")
LATIN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
OCR_B = Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf")
MONOSPACE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
KHMER_DIGITS = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")
OTHER_FACE = 22  # the index in `lfw_subset()` of a face dlib finds once enlarged


@dataclass(frozen=True)
class Person:
    number: str = "012345678"
    surname: str = "CHAN"
    given: str = "SOKHA"
    khmer_name: str = "ចាន់ សុខា"
    birth: datetime.date = datetime.date(1990, 4, 17)
    sex: str = "F"
    expiry: datetime.date = datetime.date(2031, 12, 31)

    def changed(self, **fields: object) -> Person:
        return replace(self, **fields)  # type: ignore[arg-type]


def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())  # type: ignore[no-untyped-call]


def id_photo(face: Image.Image) -> Image.Image:
    """The astronaut's head and shoulders, cropped as an ID photo."""
    return face.crop((120, 20, 330, 280)).resize((240, 300), Image.Resampling.LANCZOS)


def other_person() -> Image.Image:
    """A different person: one face of LFW's subset, enlarged to an ID photo's size."""
    faces = data.lfw_subset()  # type: ignore[no-untyped-call]
    grey = (faces[OTHER_FACE] * 255).astype(np.uint8)
    face = Image.fromarray(grey).resize((200, 200), Image.Resampling.BICUBIC).convert("RGB")
    photo = Image.new("RGB", (240, 300), (200, 205, 210))
    photo.paste(face, (20, 50))
    return photo


def _yymmdd(day: datetime.date) -> str:
    return day.strftime("%y%m%d")


def mrz_lines(person: Person) -> tuple[str, str, str]:
    """A valid TD1 zone for `person` (check digits by ICAO's rule)."""
    number = person.number.ljust(9, "<")
    optional1 = "<" * 15
    one = f"IDKHM{number}{check_digit(number)}{optional1}"
    birth, expiry = _yymmdd(person.birth), _yymmdd(person.expiry)
    optional2 = "<" * 11
    two = f"{birth}{check_digit(birth)}{person.sex}{expiry}{check_digit(expiry)}KHM{optional2}"
    composite = one[5:30] + two[0:7] + two[8:15] + two[18:29]
    two += check_digit(composite)
    three = f"{person.surname}<<{person.given.replace(' ', '<')}".ljust(30, "<")[:30]
    return one, two, three


def _khmer_date(day: datetime.date) -> str:
    return day.strftime("%d.%m.%Y").translate(KHMER_DIGITS)


def card_front(photo: Image.Image, person: Person) -> Image.Image:
    card = Image.new("RGB", CARD_SIZE, (232, 240, 246))
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, CARD_SIZE[0], 90), fill=(206, 222, 236))
    title, body, latin = _font(KHMER_FONT, 34), _font(KHMER_FONT, 30), _font(LATIN_FONT, 32)
    draw.text((300, 18), "ព្រះរាជាណាចក្រកម្ពុជា", font=title, fill=(20, 40, 90))
    card.paste(photo, (40, 150))
    x, y = 320, 120
    rows = [
        (f"លេខ {person.number.translate(KHMER_DIGITS)}", body),
        (f"គោត្តនាមនិងនាម {person.khmer_name}", body),
        (f"{person.surname} {person.given}", latin),
        (f"ថ្ងៃខែឆ្នាំកំណើត {_khmer_date(person.birth)}", body),
        ("ភេទ " + ("ស្រី" if person.sex == "F" else "ប្រុស"), body),
        (f"សុពលភាព {_khmer_date(person.expiry)}", body),
    ]
    for text, font in rows:
        draw.text((x, y), text, font=font, fill=(10, 10, 10))
        y += 72
    return card


def card_back(person: Person, lines: tuple[str, str, str] | None = None) -> Image.Image:
    card = Image.new("RGB", CARD_SIZE, (236, 242, 236))
    draw = ImageDraw.Draw(card)
    draw.text((40, 40), "អាសយដ្ឋាន ភូមិ ១ ឃុំ ២ ភ្នំពេញ", font=_font(KHMER_FONT, 30), fill=(0, 0, 0))
    draw.rectangle((0, 400, CARD_SIZE[0], CARD_SIZE[1]), fill=(250, 250, 250))
    zone = _font(OCR_B if OCR_B.exists() else MONOSPACE, 44)
    for index, line in enumerate(lines or mrz_lines(person)):
        draw.text((40, 420 + index * 68), line, font=zone, fill=(0, 0, 0))
    return card


def _eyes_closed(photo: Image.Image) -> Image.Image:
    from bakong.gateway.kyc import faces

    models = faces.models()
    assert models is not None, "the kyc extra is not installed"
    found = models.find(photo)
    assert found is not None, "the photo shows no face"
    shut = photo.copy()
    draw = ImageDraw.Draw(shut)
    pixels = np.asarray(photo)
    for eye in (found.landmarks[36:42], found.landmarks[42:48]):
        xs, ys = [x for x, _ in eye], [y for _, y in eye]
        width, middle = max(xs) - min(xs), sum(ys) / len(ys)
        height = max(max(ys) - min(ys), width * 0.35)
        below = pixels[int(middle + height * 2.2), int(sum(xs) / len(xs))]
        skin = tuple(int(v) for v in below)
        box = (min(xs) - width * 0.15, middle - height * 1.1, max(xs) + width * 0.15,
               middle + height * 1.1)  # fmt: skip
        draw.ellipse(box, fill=skin)
        lash = [(min(xs), middle + height * 0.3), (max(xs), middle + height * 0.3)]
        draw.line(lash, fill=(40, 30, 30), width=max(2, int(height * 0.25)))
    return shut


def blink_frames(photo: Image.Image) -> list[Image.Image]:
    """Open, open, shut, open: a blink as a camera would catch it."""
    shut = _eyes_closed(photo)
    return [photo, photo, shut, photo]


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def submission(
    front: Image.Image, back: Image.Image, frames: list[Image.Image]
) -> dict[str, object]:
    """The JSON body of `POST /v1/kyc/submissions`."""
    return {
        "id_front": b64(jpeg(front)),
        "id_back": b64(jpeg(back)),
        "selfie_frames": [b64(jpeg(frame)) for frame in frames],
        "challenge": "blink",
    }
