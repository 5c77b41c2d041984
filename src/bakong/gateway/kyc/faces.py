"""Faces with dlib: detection, the 68 landmarks and the 128-d embedding, the distance between
two faces, and the calibration of the distance threshold.

Rules:
- The models are dlib's own, as the PyPI package `face-recognition-models` ships them: the
  HOG frontal face detector (built into dlib), `shape_predictor_68_face_landmarks.dat` and
  `dlib_face_recognition_resnet_model_v1.dat`. Nothing is downloaded: the files are found
  inside the installed package (without importing it: its `__init__` imports
  `pkg_resources`, which newer setuptools no longer has). They load once per process, on
  first use, under a lock; `models()` is None when dlib, numpy or the files are missing (the
  `kyc` extra is not installed), and KYC then sends every submission to an officer.
- A face is looked for in a copy at most `limits.kyc_face_side_max` on its long side, first at
  that size and, when none is found, upsampled once (a small ID photo). The detection the
  detector is surest of wins (not the largest: a badge on a jacket can look like a bigger
  face); landmarks are given in the original image's pixels.
- The distance of two faces is the Euclidean distance of their embeddings; dlib's authors give
  0.6 as the same-person threshold on LFW (99.38 %). The gateway's threshold is configured
  (`[kyc] face_distance_max`, `limits.kyc_face_distance_default`); `calibrate` picks one from
  genuine and impostor distances (docs/kyc.md says on which faces, with the numbers).
"""

from __future__ import annotations

import importlib.util
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bakong import limits
from bakong.errors import LocalError

__all__ = [
    "Calibration",
    "Face",
    "FaceModels",
    "calibrate",
    "distance",
    "model_directory",
    "models",
]

MODELS_PACKAGE = "face_recognition_models"
LANDMARKS_FILE = "shape_predictor_68_face_landmarks.dat"
EMBEDDING_FILE = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS = 68

Point = tuple[float, float]


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # left, top, right, bottom, in the original image
    landmarks: tuple[Point, ...]  # dlib's 68 points (iBUG 300-W order)
    embedding: tuple[float, ...]  # 128 floats


def model_directory() -> Path | None:
    """Where `face-recognition-models` put its files, or None when it is not installed."""
    spec = importlib.util.find_spec(MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class FaceModels:
    """dlib's detector, landmark predictor and embedding network, loaded once."""

    def __init__(self, directory: Path) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(directory / LANDMARKS_FILE))
        self._encoder = dlib.face_recognition_model_v1(str(directory / EMBEDDING_FILE))
        self._lock = threading.Lock()  # dlib's objects are not documented as thread-safe

    def find(self, image: Image.Image) -> Face | None:
        """The face in an image the detector is surest of, or None."""
        import numpy as np

        rgb = image.convert("RGB")
        width, height = rgb.size
        scale = min(1.0, limits.kyc_face_side_max / max(height, width))
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            rgb = rgb.resize(size, Image.Resampling.LANCZOS)
        small = np.ascontiguousarray(np.asarray(rgb), dtype=np.uint8)
        with self._lock:
            rectangles, scores, _ = self._detector.run(small, 0, 0.0)
            if not rectangles:  # a small face: look again at twice the size
                rectangles, scores, _ = self._detector.run(small, 1, 0.0)
            if not rectangles:
                return None
            rectangle = rectangles[max(range(len(scores)), key=lambda index: scores[index])]
            shape = self._predictor(small, rectangle)
            embedding = self._encoder.compute_face_descriptor(small, shape)
        points = tuple((shape.part(i).x / scale, shape.part(i).y / scale) for i in range(LANDMARKS))
        box = (
            int(rectangle.left() / scale), int(rectangle.top() / scale),
            int(rectangle.right() / scale), int(rectangle.bottom() / scale),
        )  # fmt: skip
        return Face(box, points, tuple(float(value) for value in embedding))


_loaded: list[FaceModels | None] = []
_loading = threading.Lock()


def models() -> FaceModels | None:
    """The process's face models, loaded on first use; None when they are not installed."""
    with _loading:
        if not _loaded:
            _loaded.append(_load())
        return _loaded[0]


def _load() -> FaceModels | None:
    directory = model_directory()
    if directory is None or importlib.util.find_spec("dlib") is None:
        return None
    if importlib.util.find_spec("numpy") is None:
        return None
    if not (directory / LANDMARKS_FILE).is_file() or not (directory / EMBEDDING_FILE).is_file():
        return None
    return FaceModels(directory)


def distance(first: Sequence[float], second: Sequence[float]) -> float:
    """The Euclidean distance of two embeddings."""
    return math.sqrt(sum((a - b) ** 2 for a, b in zip(first, second, strict=True)))


@dataclass(frozen=True)
class Calibration:
    """A threshold and its error rates on the pairs it was chosen from."""

    threshold: float
    false_match_rate: float  # impostor pairs at or under the threshold
    false_non_match_rate: float  # genuine pairs over it
    genuine: int
    impostor: int


def _rates(threshold: float, genuine: Sequence[float], impostor: Sequence[float]) -> Calibration:
    false_matches = sum(1 for value in impostor if value <= threshold)
    false_non_matches = sum(1 for value in genuine if value > threshold)
    return Calibration(
        threshold=threshold,
        false_match_rate=false_matches / len(impostor),
        false_non_match_rate=false_non_matches / len(genuine),
        genuine=len(genuine),
        impostor=len(impostor),
    )


def calibrate(
    genuine: Sequence[float], impostor: Sequence[float], *, false_match_rate_max: float = 0.0
) -> Calibration:
    """The threshold (on a 0.01 grid) with the fewest false non-matches among those whose
    false-match rate is at most `false_match_rate_max` (a false match raises a stranger's
    wallet; a false non-match costs an officer's look); the lower of equals."""
    if not genuine or not impostor:
        raise LocalError("calibration needs genuine and impostor distances")
    grid = [step / 100 for step in range(1, 100)]
    allowed = [
        _rates(threshold, genuine, impostor)
        for threshold in grid
        if _rates(threshold, genuine, impostor).false_match_rate <= false_match_rate_max
    ]
    if not allowed:
        return _rates(grid[0], genuine, impostor)
    return min(allowed, key=lambda found: (found.false_non_match_rate, found.threshold))
