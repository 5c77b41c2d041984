"""Calibrate the KYC face distance threshold on the faces packages ship (docs/kyc.md).

    python -m tools.kyc_calibrate [--json]

Genuine pairs: scikit-image's astronaut photo printed as an ID photo on a card the KYC tests
draw (`tests/gateway/kyc_cards.py`), against the same face as a selfie would give it: whole,
scaled down, darker, lighter, blurred, turned 8 degrees, JPEG at quality 40, eyes painted shut.
Impostor pairs: every face dlib finds in scikit-image's LFW subset (25 x 25 grey faces,
enlarged 8 times) against the astronaut's variants, and against each other (LFW has some
people more than once: such pairs count as impostors here, which makes the false-match rate a
ceiling). It prints each side's distances and `faces.calibrate`'s threshold with its rates.
Needs the `kyc` and `test` extras (dlib, scikit-image).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from typing import Any

from PIL import Image, ImageEnhance, ImageFilter

from bakong.gateway.kyc import faces

VARIANTS = ["whole", "half size", "darker", "lighter", "blurred", "turned 8 degrees",
            "JPEG quality 40", "eyes painted shut"]  # fmt: skip


def _variants(photo: Image.Image) -> list[Image.Image]:
    def jpeg(image: Image.Image) -> Image.Image:
        import io

        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=40)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")

    width, height = photo.size
    return [
        photo,
        photo.resize((width // 2, height // 2), Image.Resampling.LANCZOS),
        ImageEnhance.Brightness(photo).enhance(0.6),
        ImageEnhance.Brightness(photo).enhance(1.4),
        photo.filter(ImageFilter.GaussianBlur(2)),
        photo.rotate(8, resample=Image.Resampling.BICUBIC, fillcolor=(128, 128, 128)),
        jpeg(photo),
    ]


def _embeddings(models: faces.FaceModels, images: list[Image.Image]) -> list[tuple[float, ...]]:
    found = [models.find(image) for image in images]
    return [face.embedding for face in found if face is not None]


def measure() -> dict[str, Any]:
    import numpy as np
    from skimage import data

    from tests.gateway import kyc_cards as cards

    models = faces.models()
    if models is None:
        sys.exit("the kyc extra is not installed (pip install '.[kyc]')")
    me = cards.astronaut()
    on_card = models.find(cards.card_front(cards.id_photo(me), cards.Person()))
    assert on_card is not None
    selfies = _embeddings(models, [*_variants(me), cards.blink_frames(me)[2]])
    genuine = [faces.distance(on_card.embedding, selfie) for selfie in selfies]
    lfw: list[Image.Image] = []
    for grey in data.lfw_subset()[:100]:  # type: ignore[no-untyped-call]
        small = Image.fromarray((grey * 255).astype(np.uint8))
        lfw.append(small.resize((200, 200), Image.Resampling.BICUBIC).convert("RGB"))
    strangers = _embeddings(models, lfw)
    against_customer = [
        faces.distance(a, b) for a in strangers for b in [on_card.embedding, *selfies]
    ]
    among = [faces.distance(a, b) for a, b in itertools.combinations(strangers, 2)]
    found = faces.calibrate(genuine, against_customer)

    def spread(values: list[float]) -> dict[str, Any]:
        return {
            "pairs": len(values), "min": round(min(values), 3),
            "median": round(statistics.median(values), 3), "max": round(max(values), 3),
            "at_or_under_0.5": sum(1 for d in values if d <= 0.5),
            "at_or_under_0.6": sum(1 for d in values if d <= 0.6),
        }  # fmt: skip

    return {
        "genuine": [round(d, 3) for d in genuine],
        "genuine_variants": VARIANTS[: len(genuine)],
        "impostor_against_customer": spread(against_customer),
        "impostor_among_lfw": spread(among),
        "lfw_faces": len(strangers),
        "threshold": found.threshold,
        "false_match_rate": found.false_match_rate,
        "false_non_match_rate": found.false_non_match_rate,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    result = measure()
    if parser.parse_args().json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
