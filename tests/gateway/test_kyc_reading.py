"""Reading cards and faces for real: Tesseract on cards the tests draw (`kyc_cards`), dlib on
photos scikit-image ships, and the checks of a submission end to end (`pipeline.run_checks`)."""

from __future__ import annotations

import datetime

import pytest

from bakong.gateway.kyc import faces, liveness, ocr, pipeline, store
from bakong.gateway.kyc.mrz import FieldStatus
from bakong.gateway.problems import GatewayProblem
from tests.gateway import kyc_cards as cards

TODAY = datetime.date(2025, 6, 1)
SOKHA = cards.Person()
APPLICANT = pipeline.Applicant("Sokha Chan", "1990-04-17")


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    return [cards.jpeg(frame) for frame in cards.blink_frames(cards.astronaut())]


def _images(photo: object, frames: list[bytes], person: cards.Person = SOKHA) -> store.Images:
    assert hasattr(photo, "size")
    front = cards.card_front(photo, person)  # type: ignore[arg-type]
    return store.Images(cards.jpeg(front), cards.jpeg(cards.card_back(person)), frames)


def test_the_card_is_read_field_by_field_with_every_check() -> None:
    male = SOKHA.changed(
        number="100234567", surname="SOK", given="DARA VISAL", khmer_name="សុខ ដារ៉ា",
        birth=datetime.date(2001, 11, 3), sex="M", expiry=datetime.date(2030, 2, 28),
    )  # fmt: skip
    front = cards.card_front(cards.id_photo(cards.astronaut()), male)
    reading = ocr.read_card(front, cards.card_back(male), TODAY)
    values = {name: (found.value, found.status) for name, found in reading.fields.items()}
    checked = FieldStatus.checked
    assert values == {
        "document_number": ("100234567", checked),
        "surname": ("SOK", checked),
        "given_names": ("DARA VISAL", checked),
        "birth_date": ("2001-11-03", checked),
        "sex": ("M", checked),
        "expiry_date": ("2030-02-28", checked),
    }
    assert reading.issuing_state == "KHM" and reading.composite_ok
    # The Khmer front, Khmer digits in ASCII, for the officer to compare.
    assert "ភេទ" in reading.front_text and "03.11.2001" in reading.front_text
    assert "DARA VISAL" in reading.front_text
    assert ocr.khmer_digits_to_ascii("១៩៩០") == "1990"


def test_a_card_with_a_broken_check_digit_is_flagged_not_corrected() -> None:
    lines = cards.mrz_lines(SOKHA)
    wrong = lines[1][:6] + ("3" if lines[1][6] != "3" else "4") + lines[1][7:]  # birth check
    back = cards.card_back(SOKHA, (lines[0], wrong, lines[2]))
    reading = ocr.read_card(cards.card_front(cards.id_photo(cards.astronaut()), SOKHA), back, TODAY)
    assert reading.fields["birth_date"] == ocr.Field("1990-04-17", FieldStatus.flagged)
    assert reading.fields["document_number"].status is FieldStatus.checked
    assert not reading.composite_ok


def test_faces_match_the_same_person_and_not_another() -> None:
    models = faces.models()
    assert models is not None, "make test installs the kyc extra"
    me = models.find(cards.astronaut())
    card_me = models.find(cards.card_front(cards.id_photo(cards.astronaut()), SOKHA))
    other = models.find(cards.card_front(cards.other_person(), SOKHA))
    assert me is not None and card_me is not None and other is not None
    assert len(me.embedding) == 128 and len(me.landmarks) == 68
    assert faces.distance(me.embedding, card_me.embedding) < 0.3
    assert faces.distance(me.embedding, other.embedding) > 0.6


def test_calibration_picks_the_threshold_with_no_false_match() -> None:
    genuine, impostor = [0.1, 0.2, 0.3, 0.45], [0.5, 0.62, 0.7, 0.9]
    found = faces.calibrate(genuine, impostor)
    assert found.threshold == pytest.approx(0.45) and found.false_match_rate == 0
    assert found.false_non_match_rate == 0
    strict = faces.calibrate([0.1, 0.55], [0.5, 0.9])
    assert strict.threshold == pytest.approx(0.1) and strict.false_non_match_rate == 0.5


def test_a_matching_submission_has_no_doubt(frames: list[bytes]) -> None:
    images = _images(cards.id_photo(cards.astronaut()), frames)
    outcome = pipeline.run_checks(images, APPLICANT, liveness.Challenge.blink, 0.5, TODAY)
    assert outcome.doubts == ()
    assert outcome.liveness == "blink_seen"
    assert outcome.face_distance is not None and outcome.face_distance < 0.3


def test_doubts_name_what_is_wrong(frames: list[bytes]) -> None:
    stranger = _images(cards.other_person(), frames)
    outcome = pipeline.run_checks(stranger, APPLICANT, liveness.Challenge.blink, 0.5, TODAY)
    assert outcome.doubts == ("face_mismatch",)
    assert outcome.face_distance is not None and outcome.face_distance > 0.6
    still = _images(cards.id_photo(cards.astronaut()), [frames[0]] * 3)
    someone_else = pipeline.Applicant("Dara Sok", "1990-04-17")
    later = datetime.date(2032, 1, 1)
    outcome = pipeline.run_checks(still, someone_else, liveness.Challenge.blink, 0.5, later)
    assert outcome.doubts == ("card_expired", "name_differs_from_wallet", "liveness_no_blink")


def test_images_are_bounded_before_they_are_decoded() -> None:
    with pytest.raises(GatewayProblem) as large:
        pipeline.load_image(b"\xff" * (1_500_001), "id_front")
    assert large.value.code == "image_too_large" and large.value.http_status == 413
    with pytest.raises(GatewayProblem) as junk:
        pipeline.load_image(b"not an image", "id_back")
    assert junk.value.code == "image_invalid"
    tiny = cards.jpeg(cards.astronaut().resize((120, 120)))
    with pytest.raises(GatewayProblem) as small:
        pipeline.load_image(tiny, "selfie_frames")
    assert small.value.code == "image_dimensions"
    assert pipeline.names_match("sokha  CHAN", "CHAN", "SOKHA")
    assert pipeline.names_match("Sôkha Chan", "CHAN", "SOKHA")
    assert not pipeline.names_match("Sokha Chan Dara", "CHAN", "SOKHA")
