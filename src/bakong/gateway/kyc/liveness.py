"""A simple active liveness check across selfie frames: a blink, or a turn of the head, seen
in dlib's 68 landmarks. Pure: it is given each frame's landmarks (None where no face was
found) and decides.

Rules:
- Blink (Soukupova and Cech, 2016): the eye aspect ratio of an eye is
  (|p2-p6| + |p3-p5|) / (2 |p1-p4|) over its six landmarks (points 36-41 and 42-47); it is
  about 0.3 open and falls under 0.2 when the eye closes. A frame's ratio is the mean of its
  two eyes. A blink is an open frame, then a closed one, then an open one again, in that
  order. Open is at least `EYES_OPEN`; closed is at most `EYES_CLOSED` and at most
  `CLOSED_FRACTION` of the open frame before it (people's open eyes differ).
- Head turn: the nose tip's place between the jaw's ends (points 30, 0 and 16), 0.5 facing
  the camera; a frame facing the camera (within `FACING`) and a later one turned past `TURNED`
  either way, then facing again.
- Every frame must show a face; the caller also checks that every frame is the same face.
- What this stops and what not: a still photo held to the camera shows no blink and no turn.
  A video of the person replayed, a mask, or a photo with the eyes cut out can pass: this is
  a check against the simplest presentation attack, not a PAD claim (ISO/IEC 30107-3 testing
  is a laboratory's; docs/kyc.md).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Challenge",
    "LivenessResult",
    "blink_seen",
    "check",
    "eye_aspect_ratio",
    "head_turn_seen",
    "yaw_ratio",
]

Point = tuple[float, float]
Landmarks = Sequence[Point]

EYES_OPEN = 0.24
EYES_CLOSED = 0.2
CLOSED_FRACTION = 0.75
FACING = 0.1  # |yaw - 0.5| at most this: facing the camera
TURNED = 0.2  # |yaw - 0.5| at least this: turned away
_LEFT_EYE = range(36, 42)
_RIGHT_EYE = range(42, 48)
_JAW_LEFT, _JAW_RIGHT, _NOSE_TIP = 0, 16, 30
_LANDMARKS = 68


class Challenge(enum.Enum):
    blink = "blink"
    turn = "turn"


@dataclass(frozen=True)
class LivenessResult:
    passed: bool
    reason: str  # "blink_seen", "no_blink", "face_missing", ...
    measures: tuple[float | None, ...]  # each frame's eye ratio or yaw (None: no face)


def _distance(a: Point, b: Point) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def eye_aspect_ratio(eye: Sequence[Point]) -> float:
    """The eye aspect ratio of six eye landmarks p1..p6."""
    p1, p2, p3, p4, p5, p6 = eye
    width = _distance(p1, p4)
    if width == 0:
        return 0.0
    return (_distance(p2, p6) + _distance(p3, p5)) / (2 * width)


def _eyes(landmarks: Landmarks) -> float:
    left = eye_aspect_ratio([landmarks[i] for i in _LEFT_EYE])
    right = eye_aspect_ratio([landmarks[i] for i in _RIGHT_EYE])
    return (left + right) / 2


def yaw_ratio(landmarks: Landmarks) -> float:
    """Where the nose tip is between the jaw's ends: 0.5 facing the camera."""
    left, right, nose = landmarks[_JAW_LEFT], landmarks[_JAW_RIGHT], landmarks[_NOSE_TIP]
    span = right[0] - left[0]
    if span == 0:
        return 0.5
    return (nose[0] - left[0]) / span


def _complete(frames: Sequence[Landmarks | None]) -> list[Landmarks] | None:
    if any(frame is None or len(frame) != _LANDMARKS for frame in frames):
        return None
    return [frame for frame in frames if frame is not None]


def blink_seen(frames: Sequence[Landmarks | None]) -> LivenessResult:
    """Open, closed, open again, in that order across the frames."""
    complete = _complete(frames)
    if complete is None:
        measures = tuple(None if f is None else _eyes(f) for f in frames)
        return LivenessResult(False, "face_missing", measures)
    ratios = [_eyes(frame) for frame in complete]
    open_before: float | None = None
    closed = False
    for ratio in ratios:
        if not closed:
            if ratio >= EYES_OPEN:
                open_before = max(open_before or 0.0, ratio)
            elif open_before is not None and ratio <= min(
                EYES_CLOSED, CLOSED_FRACTION * open_before
            ):
                closed = True
        elif ratio >= EYES_OPEN:
            return LivenessResult(True, "blink_seen", tuple(ratios))
    return LivenessResult(False, "no_blink", tuple(ratios))


def head_turn_seen(frames: Sequence[Landmarks | None]) -> LivenessResult:
    """Facing, turned (either way), facing again, in that order across the frames."""
    complete = _complete(frames)
    if complete is None:
        measures = tuple(None if f is None else yaw_ratio(f) for f in frames)
        return LivenessResult(False, "face_missing", measures)
    yaws = [yaw_ratio(frame) for frame in complete]
    stage = 0  # 0: waiting to face, 1: facing, waiting to turn, 2: turned, waiting to face
    for yaw in yaws:
        off = abs(yaw - 0.5)
        if stage == 0 and off <= FACING:
            stage = 1
        elif stage == 1 and off >= TURNED:
            stage = 2
        elif stage == 2 and off <= FACING:
            return LivenessResult(True, "turn_seen", tuple(yaws))
    return LivenessResult(False, "no_turn", tuple(yaws))


def check(challenge: Challenge, frames: Sequence[Landmarks | None]) -> LivenessResult:
    """The challenge's check over the frames' landmarks."""
    if challenge is Challenge.blink:
        return blink_seen(frames)
    return head_turn_seen(frames)
