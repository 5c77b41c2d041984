"""The checks of one KYC submission and what they decide: the partial tier at once, or an
officer's review.

Rules:
- Images are bounded before they are decoded (`load_image`): at most
  `limits.kyc_image_bytes_max` bytes, a JPEG, PNG or WebP whose sides (read from its header)
  are `limits.kyc_image_side_min` to `limits.kyc_image_side_max` px; the orientation a phone
  wrote in EXIF is applied.
- The checks (`run_checks`, blocking: the API's worker runs it in a thread): the card read
  (`ocr.read_card`), the ID photo's face against the selfie frames' (`faces`), every frame the
  same face as the first, the liveness challenge (`liveness`), and the card against the
  wallet: the zone's name is the name the customer registered (the same words in any order,
  case and accents aside), its birth date the registered one, the card Cambodian and not
  expired.
- Anything short of that is a doubt, named by a stable code (`face_mismatch`,
  `birth_date_flagged`, `liveness_no_blink`, `checks_unavailable`, ...). No doubt: the wallet
  is raised to partial automatically (unless `[kyc] automatic = false`); any doubt: the
  officer's queue, with the images, the fields and the doubts.
- When Tesseract or dlib is not installed, the checks that need it are not guessed at: the
  submission carries `ocr_unavailable` or `faces_unavailable` and goes to an officer.
- The face distance stored is the median over the frames of the ID photo's distance to each.
"""

from __future__ import annotations

import datetime
import functools
import io
import statistics
import unicodedata
import warnings
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageOps

from bakong import limits
from bakong.gateway.kyc import faces, liveness, ocr
from bakong.gateway.kyc.mrz import FieldStatus
from bakong.gateway.kyc.store import Images
from bakong.gateway.problems import GatewayProblem

__all__ = ["Applicant", "Outcome", "load_image", "names_match", "run_checks"]

IMAGE_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})


@dataclass(frozen=True)
class Applicant:
    """What the wallet says about its holder, to compare with the card."""

    name: str
    birth_date: str | None  # ISO 8601, as registered


@dataclass(frozen=True)
class Outcome:
    doubts: tuple[str, ...]
    face_distance: float | None
    liveness: str  # the check's reason: "blink_seen", "no_blink", "unavailable", ...
    reading: dict[str, Any] = field(default_factory=dict)  # sealed before it is stored


def load_image(raw: bytes, name: str) -> Image.Image:
    """An uploaded image, bounded, decoded and upright; 400/413 naming `name` otherwise."""
    if len(raw) > limits.kyc_image_bytes_max:
        message = f"{name} is larger than {limits.kyc_image_bytes_max} bytes"
        raise GatewayProblem(413, "image_too_large", message)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
            if image.format not in IMAGE_FORMATS:
                raise GatewayProblem(400, "image_invalid", f"{name} is not a JPEG, PNG or WebP")
            low, high = limits.kyc_image_side_min, limits.kyc_image_side_max
            if not all(low <= side <= high for side in image.size):
                message = f"{name} must be {low} to {high} pixels a side"
                raise GatewayProblem(400, "image_dimensions", message)
            image.load()
            upright = ImageOps.exif_transpose(image) or image
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):  # fmt: skip
        raise GatewayProblem(400, "image_invalid", f"{name} is not a readable image") from None
    return upright.convert("RGB")


def _folded_words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text.upper())
    letters = "".join(c if "A" <= c <= "Z" else " " for c in plain if not unicodedata.combining(c))
    return sorted(letters.split())


def names_match(registered: str, surname: str, given: str) -> bool:
    """The same words, in any order, case and accents aside."""
    words = _folded_words(f"{surname} {given}")
    return bool(words) and words == _folded_words(registered)


@functools.cache
def _tesseract_installed() -> bool:
    return ocr.tesseract_available()


def _card_doubts(reading: ocr.CardReading, applicant: Applicant, today: datetime.date) -> list[str]:
    doubts: list[str] = []
    if not reading.zone_found:
        doubts.append("zone_missing")
    for name, found in reading.fields.items():
        if found.status is not FieldStatus.checked:
            doubts.append(f"{name}_{found.status.value}")
    if reading.zone_found and not reading.composite_ok:
        doubts.append("zone_composite_failed")
    if reading.zone_found and reading.issuing_state != "KHM":
        doubts.append("card_not_cambodian")
    expiry = reading.fields["expiry_date"]
    if expiry.status is FieldStatus.checked and expiry.value < today.isoformat():
        doubts.append("card_expired")
    surname, given = reading.fields["surname"].value, reading.fields["given_names"].value
    if not names_match(applicant.name, surname, given):
        doubts.append("name_differs_from_wallet")
    birth = reading.fields["birth_date"].value
    if applicant.birth_date is not None and birth != applicant.birth_date:
        doubts.append("birth_date_differs_from_wallet")
    return doubts


def _reading_record(reading: ocr.CardReading) -> dict[str, Any]:
    return {
        "fields": {
            name: {"value": found.value, "status": found.status.value}
            for name, found in reading.fields.items()
        },
        "issuing_state": reading.issuing_state,
        "composite_ok": reading.composite_ok,
        "front_text": reading.front_text,
        "zone_text": reading.zone_text,
    }


def _face_checks(
    front: Image.Image, frames: list[Image.Image], challenge: liveness.Challenge,
    threshold: float,
) -> tuple[list[str], float | None, str]:  # fmt: skip
    """(doubts, the median face distance, the liveness reason)."""
    models = faces.models()
    if models is None:
        return ["faces_unavailable"], None, "unavailable"
    id_face = models.find(front)
    found = [models.find(frame) for frame in frames]
    alive = liveness.check(challenge, [None if f is None else f.landmarks for f in found])
    doubts = [] if alive.passed else [f"liveness_{alive.reason}"]
    selfies = [f for f in found if f is not None]
    if not selfies:
        return [*doubts, "selfie_face_missing"], None, alive.reason
    first = selfies[0].embedding
    if any(faces.distance(first, f.embedding) > limits.kyc_frames_distance_max for f in selfies):
        doubts.append("frames_differ")
    if id_face is None:
        return [*doubts, "id_face_missing"], None, alive.reason
    distance = statistics.median(faces.distance(id_face.embedding, f.embedding) for f in selfies)
    if distance > threshold:
        doubts.append("face_mismatch")
    return doubts, distance, alive.reason


def run_checks(
    images: Images, applicant: Applicant, challenge: liveness.Challenge, threshold: float,
    today: datetime.date,
) -> Outcome:  # fmt: skip
    """Every check of a submission (blocking: seconds of CPU)."""
    front = load_image(images.id_front, "id_front")
    back = load_image(images.id_back, "id_back")
    frames = [load_image(raw, "selfie_frames") for raw in images.selfie_frames]
    doubts: list[str] = []
    record: dict[str, Any] = {}
    if _tesseract_installed():
        reading = ocr.read_card(front, back, today)
        doubts += _card_doubts(reading, applicant, today)
        record = _reading_record(reading)
    else:
        doubts.append("ocr_unavailable")
    face_doubts, distance, alive = _face_checks(front, frames, challenge, threshold)
    return Outcome(tuple(doubts + face_doubts), distance, alive, record)
