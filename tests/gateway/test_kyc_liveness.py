"""The liveness check, pure over landmarks made by hand: a blink is open, closed, open in that
order; a head turn is facing, turned, facing; a missing face or a still face fails."""

from __future__ import annotations

import pytest

from bakong.gateway.kyc import liveness
from bakong.gateway.kyc.liveness import Challenge

Point = tuple[float, float]


def _eye(left: float, top: float, openness: float) -> list[Point]:
    """Six eye landmarks 30 px wide, lids `openness` * 30 px apart (ratio = openness)."""
    half = openness * 30 / 2
    return [(left, top), (left + 10, top - half), (left + 20, top - half),
            (left + 30, top), (left + 20, top + half), (left + 10, top + half)]  # fmt: skip


def face(openness: float = 0.3, nose_x: float = 100.0) -> list[Point]:
    """68 landmarks: a jaw from x=40 to x=160, the nose tip at `nose_x`, two eyes."""
    points: list[Point] = [(100.0, 100.0)] * 68
    points[0], points[16], points[30] = (40.0, 100.0), (160.0, 100.0), (nose_x, 110.0)
    points[36:42] = _eye(55, 80, openness)
    points[42:48] = _eye(115, 80, openness)
    return points


def test_the_eye_aspect_ratio() -> None:
    assert liveness.eye_aspect_ratio(_eye(0, 0, 0.3)) == pytest.approx(0.3)
    assert liveness.eye_aspect_ratio(_eye(0, 0, 0.05)) == pytest.approx(0.05)


def test_a_blink_is_open_closed_open() -> None:
    frames = [face(0.3), face(0.31), face(0.08), face(0.29)]
    result = liveness.check(Challenge.blink, frames)
    assert result.passed and result.reason == "blink_seen"
    assert result.measures[2] == pytest.approx(0.08)


@pytest.mark.parametrize(
    "openness",
    [
        [0.3, 0.3, 0.3, 0.3],  # a still photo
        [0.08, 0.3, 0.3],  # closed first: no open eye before it
        [0.3, 0.3, 0.08],  # closed last: never open again
        [0.3, 0.22, 0.3],  # half closed is not closed
        [0.18, 0.12, 0.18],  # never open (narrow eyes do not make a blink of noise)
    ],
)
def test_no_blink(openness: list[float]) -> None:
    result = liveness.check(Challenge.blink, [face(value) for value in openness])
    assert not result.passed and result.reason == "no_blink"


def test_closing_must_be_relative_to_the_open_eye() -> None:
    # Wide eyes (0.4) dropping to 0.19 is a blink; 0.26 dropping to 0.199 is less than a
    # quarter: not one.
    assert liveness.blink_seen([face(0.4), face(0.19), face(0.4)]).passed
    assert not liveness.blink_seen([face(0.26), face(0.199), face(0.26)]).passed


def test_every_frame_must_show_a_face() -> None:
    result = liveness.check(Challenge.blink, [face(0.3), None, face(0.08), face(0.3)])
    assert not result.passed and result.reason == "face_missing"
    assert result.measures[1] is None


def test_a_head_turn_is_facing_turned_facing_either_way() -> None:
    right = [face(nose_x=100), face(nose_x=135), face(nose_x=102)]
    left = [face(nose_x=98), face(nose_x=62), face(nose_x=100)]
    assert liveness.check(Challenge.turn, right).reason == "turn_seen"
    assert liveness.check(Challenge.turn, left).passed
    assert liveness.yaw_ratio(face(nose_x=100)) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "noses",
    [[100, 100, 100], [100, 115, 100], [135, 100, 135], [100, 135, 135]],
)
def test_no_head_turn(noses: list[float]) -> None:
    result = liveness.check(Challenge.turn, [face(nose_x=x) for x in noses])
    assert not result.passed and result.reason == "no_turn"
