"""The pages' own QR reader in headless Chromium: `qr-decode.js` (the decoder) and `scanner.js`
(the camera and the photo fallback). Every decoded string is compared to the encoded one exactly.

The two modules are served as the gateway serves them (the `pages.assets` routes) by a small
Starlette app on loopback, next to a blank page with the pages' CSP and the test pictures; the
page imports the modules and decodes what it fetches, the way the wallet's scan page does.

- KHQR strings: the published vectors (`bakong/vectors`) and codes made with `bakong.khqr`
  (Khmer names among them), drawn by segno at every version 1-20 and level L/M/Q/H and at
  several scales, then turned (15, 45, 90, 180 degrees...), seen in perspective, blurred,
  noisy, speckled, damaged within what error correction repairs, inverted, mirrored, and all of
  it at once in a JPEG;
- codes written by another encoder (zxing-cpp, which writes with Zint);
- the bit stream's modes: numeric, alphanumeric, byte as UTF-8 and as ISO-8859-1, ECI, kanji,
  structured append;
- pictures without a code (noise, blank, busy patterns, two finders without a third) give null,
  each in bounded time;
- the camera: Chromium's fake camera plays a video of a KHQR (`camera.py`) and `scanCamera`
  resolves with it, asking for the back camera and releasing it; an abort rejects with
  AbortError; a denied, a missing and an unsupported camera reject with their ScanError codes;
- photos: `scanFile` on a large JPEG of a code on a table, on a KHQR card PNG, and null on a
  file that is no image or shows no code.
"""

from __future__ import annotations

import io
import json
import random
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import segno
import zxingcpp
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps
from playwright.sync_api import Browser, Page, Playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakong.gateway.pages import assets
from bakong.gateway.pages.render import CSP
from bakong.khqr.generate import Options, generate_individual, generate_merchant
from bakong.qrimage import render_png
from tests.browser import harness
from tests.browser.camera import camera_frame, qr_picture, qr_video, write_y4m
from tests.gateway.loopback import serve

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>QR reader</title>
<link rel="icon" href="data:,"></head>
<body><main><h1>QR reader</h1><video id="camera" muted playsinline aria-label="Camera"></video>
</main></body></html>"""
#: One decode of a picture without a code must end within this (the decoder's work is bounded;
#: the machine is shared, so the bound is loose: a hang, not a slow run, is what it catches).
NO_CODE_DECODE_MS_MAX = 10_000
NOW_MS = 1_700_000_000_000
KHMER_SHOP = "ហាងកាហ្វេសុខា"
#: Where a picture's corners go when a camera sees it at an angle (fractions of the canvas:
#: top-left, top-right, bottom-right, bottom-left).
SKEWS = [
    [(0.1, 0.0), (1.0, 0.05), (0.95, 1.0), (0.0, 0.9)],
    [(0.0, 0.0), (0.9, 0.1), (0.9, 0.9), (0.0, 1.0)],
    [(0.05, 0.1), (0.95, 0.1), (1.0, 1.0), (0.0, 1.0)],
]
SIDEWAYS = [(0.08, 0.0), (1.0, 0.06), (0.94, 1.0), (0.0, 0.93)]
LEVELS = "LMQH"

DECODE = """async (cases) => {
    const { decodeQr } = await import("/static/js/qr-decode.js");
    const results = [];
    for (const { name, url } of cases) {
        const bitmap = await createImageBitmap(await (await fetch(url)).blob());
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const context = canvas.getContext("2d", { willReadFrequently: true });
        context.drawImage(bitmap, 0, 0);
        bitmap.close();
        const image = context.getImageData(0, 0, canvas.width, canvas.height);
        const started = performance.now();
        const text = decodeQr(image);
        results.push({ name, text, ms: performance.now() - started });
    }
    return results;
}"""
SCAN_FILE = """async ([url, type]) => {
    const { scanFile } = await import("/static/js/scanner.js");
    const blob = await (await fetch(url)).blob();
    return await scanFile(new File([blob], "picture", { type }));
}"""
#: scanCamera with the real camera, watching the streams it opens (to see them released).
SCAN_CAMERA = """async (abortAfterMs) => {
    const { scanCamera } = await import("/static/js/scanner.js");
    const streams = [];
    const constraints = [];
    const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (asked) => {
        constraints.push(asked);
        const stream = await open(asked);
        streams.push(stream);
        return stream;
    };
    const video = document.getElementById("camera");
    const controller = new AbortController();
    if (abortAfterMs !== null) setTimeout(() => controller.abort(), abortAfterMs);
    let text = null;
    let error = null;
    try {
        text = await scanCamera(video, controller.signal);
    } catch (problem) {
        error = {
            name: problem.name,
            code: typeof problem.code === "string" ? problem.code : null,
        };
    }
    return {
        text, error, constraints,
        released: streams.every((s) => s.getTracks().every((t) => t.readyState === "ended")),
        opened: streams.length,
        detached: video.srcObject === null,
    };
}"""


@dataclass
class Site:
    """The test site on loopback and the pictures it serves (added by each test)."""

    url: str
    pictures: dict[str, tuple[bytes, str]]

    def add(self, name: str, body: bytes, media_type: str = "image/png") -> str:
        self.pictures[name] = (body, media_type)
        return f"/pictures/{name}"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    pictures: dict[str, tuple[bytes, str]] = {}

    def page(request: Request) -> Response:
        return Response(PAGE, media_type="text/html", headers={"content-security-policy": CSP})

    def picture(request: Request) -> Response:
        found = pictures.get(request.path_params["name"])
        if found is None:
            return Response(b"not found", 404, media_type="text/plain")
        return Response(found[0], media_type=found[1])

    app = Starlette(routes=[
        Route("/qr", page),
        Route("/pictures/{name}", picture),
        *assets.routes(),
    ])  # fmt: skip
    with serve(app) as url:
        yield Site(url, pictures)


@pytest.fixture
def reader(page: Page, site: Site) -> Page:
    page.goto(f"{site.url}/qr")
    return page


# Pictures ------------------------------------------------------------------------------------


def symbol(text: str, *, error: str = "m", version: int | None = None, **options: Any) -> Any:
    """A segno QR code (never Micro QR; the level as asked, not raised)."""
    return segno.make(text, error=error, version=version, boost_error=False, micro=False, **options)


def drawn(
    code: Any,
    *,
    scale: int = 4,
    border: int = 4,
    flips: frozenset[tuple[int, int]] = frozenset(),
) -> Image.Image:
    """The code's modules, black on white, `scale` pixels each, with `border` modules of quiet
    zone; the modules in `flips` (row, column) drawn in the other colour."""
    rows = [bytes(row) for row in code.matrix]
    size = len(rows)
    pixels = bytes(
        0 if bool(rows[r][c]) != ((r, c) in flips) else 255
        for r in range(size)
        for c in range(size)
    )
    modules = ImageOps.expand(Image.frombytes("L", (size, size), pixels), border=border, fill=255)
    return modules.resize((modules.width * scale, modules.height * scale), Image.Resampling.NEAREST)


def turned(picture: Image.Image, degrees: float, fill: int = 255) -> Image.Image:
    return picture.convert("L").rotate(
        degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=fill
    )


def _solve(rows: list[list[float]], values: list[float]) -> list[float]:
    """The linear system rows x = values, by Gauss-Jordan with partial pivoting."""
    size = len(rows)
    matrix = [row[:] + [values[i]] for i, row in enumerate(rows)]
    for column in range(size):
        pivot = max(range(column, size), key=lambda r: abs(matrix[r][column]))
        matrix[column], matrix[pivot] = matrix[pivot], matrix[column]
        for r in range(size):
            if r != column:
                factor = matrix[r][column] / matrix[column][column]
                for k in range(column, size + 1):
                    matrix[r][k] -= factor * matrix[column][k]
    return [matrix[i][size] / matrix[i][i] for i in range(size)]


def skewed(
    picture: Image.Image, corners: list[tuple[float, float]], fill: int = 255
) -> Image.Image:
    """`picture` on a canvas half again as large, its corners moved to `corners` (fractions of
    the canvas: top-left, top-right, bottom-right, bottom-left), as a camera held at an angle
    sees it."""
    width, height = picture.width * 3 // 2, picture.height * 3 // 2
    canvas = Image.new("L", (width, height), fill)
    canvas.paste(picture.convert("L"), (picture.width // 4, picture.height // 4))
    source = [(0.0, 0.0), (width, 0.0), (width, height), (0.0, height)]
    target = [(x * width, y * height) for x, y in corners]
    rows: list[list[float]] = []
    values: list[float] = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        values.append(u)
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values.append(v)
    return canvas.transform(
        canvas.size,
        Image.Transform.PERSPECTIVE,
        _solve(rows, values),
        Image.Resampling.BICUBIC,
        fillcolor=fill,
    )


def noisy(picture: Image.Image, rng: random.Random, amplitude: int) -> Image.Image:
    """Uniform noise of +-`amplitude` grey levels on every pixel."""
    grey = picture.convert("L")
    noise = Image.frombytes("L", grey.size, rng.randbytes(grey.width * grey.height))
    noise = noise.point(lambda v: 128 + (v - 128) * amplitude // 128)
    return ImageChops.add(grey, noise, scale=1.0, offset=-128)


def speckled(picture: Image.Image, rng: random.Random, fraction: float) -> Image.Image:
    """`fraction` of the pixels replaced by random grey levels (sensor speckle, dust)."""
    grey = picture.convert("L")
    pixels = grey.load()
    assert pixels is not None
    for _ in range(int(grey.width * grey.height * fraction)):
        pixels[rng.randrange(grey.width), rng.randrange(grey.height)] = rng.randrange(256)
    return grey


def photographed(picture: Image.Image, rng: random.Random, *, degrees: float) -> Image.Image:
    """All at once: seen from the side, turned, slightly out of focus, with sensor noise."""
    seen = turned(skewed(picture, SIDEWAYS), degrees).filter(ImageFilter.GaussianBlur(1.0))
    return noisy(seen, rng, 40)


def data_modules(code: Any) -> list[tuple[int, int]]:
    """Modules away from the finders, separators, format areas and timing patterns."""
    size = len(code.matrix)
    return [
        (r, c)
        for r in range(size)
        for c in range(size)
        if not (r < 9 and c < 9)
        and not (r < 9 and c >= size - 8)
        and not (r >= size - 8 and c < 9)
        and r != 6
        and c != 6
    ]


def as_png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def as_jpeg(picture: Image.Image, quality: int = 75) -> bytes:
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def on_a_table(picture: Image.Image, rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A phone photo of a printed code: a brown table lit from one side, the card turned and
    seen a little from the side, sensor noise."""
    width, height = size
    table = Image.linear_gradient("L").resize(size).rotate(35, fillcolor=128)
    photo = Image.merge("RGB", [
        table.point(lambda v: 70 + v // 3),
        table.point(lambda v: 50 + v // 4),
        table.point(lambda v: 30 + v // 6),
    ])  # fmt: skip
    side = width * 2 // 5
    card = picture.convert("L").resize((side, side), Image.Resampling.LANCZOS)
    corners = [(0.02, 0.05), (0.97, 0.0), (0.93, 0.98), (0.0, 0.92)]
    seen = turned(skewed(card, corners), 17)
    outline = turned(skewed(Image.new("L", card.size, 255), corners, fill=0), 17, fill=0)
    photo.paste(
        seen.convert("RGB"), ((width - seen.width) // 2, (height - seen.height) // 3), outline
    )
    light = Image.linear_gradient("L").resize(size).point(lambda v: 150 + v * 105 // 255)
    photo = ImageChops.multiply(photo, Image.merge("RGB", [light] * 3))
    return Image.merge("RGB", [noisy(band, rng, 24) for band in photo.split()])


# KHQR strings --------------------------------------------------------------------------------


def published_khqr() -> list[str]:
    """The KHQR strings of the published vectors (the SDK's tests and NBC's documents)."""
    text = resources.files("bakong.vectors").joinpath("khqr-published.json").read_text("utf-8")
    return list(dict.fromkeys(vector["qr"] for vector in json.loads(text) if vector["qr"]))


def made_khqr() -> list[str]:
    """KHQR strings made with bakong.khqr: Khmer merchant names, KHR and USD, dynamic."""
    dynamic = Options(
        currency=116,
        amount=25_000,
        bill_number="INV-1",
        language_preference="km",
        merchant_name_alternate_language=KHMER_SHOP,
        merchant_city_alternate_language="ភ្នំពេញ",
        expiration_timestamp=NOW_MS + 300_000,
    )
    usd = Options(
        currency=840,
        amount=12.5,
        store_label="Riverside",
        terminal_label="T2",
        expiration_timestamp=NOW_MS + 600_000,
    )
    return [
        generate_merchant(
            "shop_sokha@bkrt",
            "Sokha Coffee",
            "Phnom Penh",
            "M123",
            "Bakong Bank",
            dynamic,
            now_ms=NOW_MS,
        ).qr,
        generate_individual("dara@bkrt", "ដារា សុខ", "សៀមរាប", now_ms=NOW_MS).qr,
        generate_merchant(
            "market_42@abaa",
            "Psar Thmei Stall 42",
            "Phnom Penh",
            "42",
            "ABA Bank",
            usd,
            now_ms=NOW_MS,
        ).qr,
    ]


def khmer_khqr() -> str:
    return made_khqr()[0]


def longest_khqr() -> str:
    return max(published_khqr(), key=len)


def fitting(texts: list[str], version: int, level: str) -> str:
    """The longest of `texts` that fits `version` at `level` in byte mode: the symbol's data
    bits (ISO/IEC 18004 Table 7, as segno tabulates it) less the mode and count indicators."""
    data_bits = segno.consts.SYMBOL_CAPACITY[version][segno.consts.ERROR_MAPPING[level]]
    count_bits = 8 if version <= 9 else 16
    capacity = (data_bits - 4 - count_bits) // 8
    fit = [text for text in texts if len(text.encode()) <= capacity]
    assert fit, f"no KHQR string fits version {version}-{level}"
    return max(fit, key=lambda text: len(text.encode()))


# Decoding in the page ------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    picture: bytes
    expected: str | None
    media_type: str = "image/png"


def case(name: str, picture: Image.Image, expected: str | None) -> Case:
    return Case(name, as_png(picture), expected)


def decode_all(page: Page, site: Site, cases: list[Case]) -> list[dict[str, Any]]:
    """Each case's picture decoded in the page: [{name, text, ms}]."""
    batch = [
        {"name": c.name, "url": site.add(f"{c.name}.img", c.picture, c.media_type)} for c in cases
    ]
    results: list[dict[str, Any]] = page.evaluate(DECODE, batch)
    return results


def assert_decoded(page: Page, site: Site, cases: list[Case]) -> list[dict[str, Any]]:
    """Every case decodes to exactly its expected text (null where none is expected)."""
    assert len({c.name for c in cases}) == len(cases), "case names must be unique"
    results = decode_all(page, site, cases)
    wrong = [
        f"{c.name}: expected {c.expected!r:.80}, got {r['text']!r:.80}"
        for c, r in zip(cases, results, strict=True)
        if r["text"] != c.expected
    ]
    assert not wrong, f"{len(wrong)} of {len(cases)} wrong:\n  " + "\n  ".join(wrong)
    return results


# The decoder ---------------------------------------------------------------------------------


def test_every_published_and_made_khqr_decodes_exactly(reader: Page, site: Site) -> None:
    texts = published_khqr() + made_khqr()
    assert len(texts) > 90 and any(KHMER_SHOP in text for text in texts)
    cases = [
        case(
            f"khqr-{i}", drawn(symbol(text, error=LEVELS[i % 4], mask=i % 8), scale=2 + i % 5), text
        )
        for i, text in enumerate(texts)
    ]
    assert_decoded(reader, site, cases)


def test_every_version_1_to_20_level_and_mask(reader: Page, site: Site) -> None:
    texts = published_khqr() + made_khqr()
    cases = []
    for version in range(1, 21):
        for level in LEVELS:
            text = fitting(texts, version, level)
            mask = (version + LEVELS.index(level)) % 8  # every mask pattern, and no search
            code = symbol(text, error=level, version=version, mode="byte", mask=mask)
            assert (code.version, code.error, code.mask) == (version, level, mask)
            cases.append(case(f"v{version}-{level}", drawn(code, scale=3), text))
    assert_decoded(reader, site, cases)


def _variants(text: str, rng: random.Random) -> list[tuple[str, Image.Image]]:
    """`text` drawn, then seen the ways a camera or a scanner sees codes."""
    code = symbol(text, error="q")
    plain = drawn(code, scale=4)
    robust = symbol(text, error="h")
    modules = data_modules(robust)
    repairable = frozenset(rng.sample(modules, len(modules) // 60))
    blot_row, blot_column = len(robust.matrix) // 2, len(robust.matrix) // 2
    blot = frozenset(
        (r, c)
        for r in range(blot_row, blot_row + 5)
        for c in range(blot_column, blot_column + 5)
        if robust.matrix[r][c]
    )
    damaged = [drawn(robust, scale=4, flips=repairable), drawn(robust, scale=4, flips=blot)]
    # Within what error correction repairs: the reference reader (zxing-cpp) reads them too.
    for picture in damaged:
        assert [found.text for found in zxingcpp.read_barcodes(picture)] == [text]
    variants = [
        ("scale-2", drawn(code, scale=2)),
        ("scale-3", drawn(code, scale=3)),
        ("scale-7", drawn(code, scale=7)),
        ("scale-16", drawn(code, scale=16)),
        ("no-quiet-zone", drawn(code, scale=4, border=0)),
        ("quiet-zone-1", drawn(code, scale=4, border=1)),
        ("damaged-modules", damaged[0]),
        ("damaged-blot", damaged[1]),
        ("inverted", ImageOps.invert(plain)),
        ("mirrored", ImageOps.mirror(plain)),
        ("blurred", drawn(code, scale=5).filter(ImageFilter.GaussianBlur(1.5))),
        ("noisy", noisy(plain, rng, 90)),
        ("speckled", speckled(plain, rng, 0.05)),
    ]
    for degrees in (15, 45, 90, 180, 333):
        variants.append((f"turned-{degrees}", turned(plain, degrees)))
    for i, corners in enumerate(SKEWS):
        variants.append((f"skewed-{i}", skewed(plain, corners)))
    variants += [
        ("inverted-turned-90", ImageOps.invert(turned(plain, 90))),
        ("mirrored-skewed", ImageOps.mirror(skewed(plain, SIDEWAYS))),
        ("photographed", photographed(drawn(code, scale=5), rng, degrees=20)),
    ]
    return variants


def test_turned_skewed_blurred_noisy_damaged_inverted_mirrored(reader: Page, site: Site) -> None:
    rng = random.Random(16)
    texts = {"published": published_khqr()[0], "khmer": khmer_khqr(), "longest": longest_khqr()}
    cases = [
        case(f"{label}-{name}", picture, text)
        for label, text in texts.items()
        for name, picture in _variants(text, rng)
    ]
    upside_down = photographed(drawn(symbol(khmer_khqr()), scale=6), rng, degrees=200)
    cases.append(Case("khmer-jpeg", as_jpeg(upside_down, quality=60), khmer_khqr(), "image/jpeg"))
    assert_decoded(reader, site, cases)


def _zint(text: str, level: str, scale: int) -> Image.Image:
    """`text` as written by zxing-cpp (Zint's encoder, its own segmenting and masking)."""
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=level)
    image = code.to_image(scale=scale, add_quiet_zones=True)
    height, width = image.shape[:2]
    return Image.frombytes("L", (width, height), bytes(memoryview(image)))


def test_codes_from_another_encoder(reader: Page, site: Site) -> None:
    texts = [*made_khqr(), published_khqr()[5], longest_khqr(), "KHQR 0002010102 ABC xyz 123"]
    cases = [
        case(f"zint-{i}-{level}", _zint(text, level, 3 + i % 3), text)
        for i, text in enumerate(texts)
        for level in LEVELS
    ]
    cases.append(case("zint-turned", turned(_zint(khmer_khqr(), "M", 4), 30), khmer_khqr()))
    assert_decoded(reader, site, cases)


def test_every_mode_of_the_bit_stream(reader: Page, site: Site) -> None:
    structured = "Structured append splits one text over several symbols. " * 4
    latin_1 = "Café Phnom Penh: crème, ñ"
    sequence = segno.make_sequence(structured, symbol_count=3, error="m", boost_error=False)
    cases = [
        case("numeric", drawn(symbol("0123456789" * 5, mode="numeric")), "0123456789" * 5),
        case(
            "alphanumeric",
            drawn(symbol("KHQR PAY $12.50 +855-12/34:56", mode="alphanumeric")),
            "KHQR PAY $12.50 +855-12/34:56",
        ),
        case("byte-latin-1", drawn(symbol(latin_1)), latin_1),
        case("byte-utf-8", drawn(symbol(KHMER_SHOP)), KHMER_SHOP),
        case("eci-utf-8", drawn(symbol(KHMER_SHOP, eci=True)), KHMER_SHOP),
        case("eci-latin-1", drawn(symbol("Crème brûlée", eci=True)), "Crème brûlée"),
        case("kanji", drawn(symbol("点茗漢字", mode="kanji")), "点茗漢字"),
        *[case(f"structured-{i}", drawn(part), None) for i, part in enumerate(sequence)],
    ]
    parts = decode_all(reader, site, cases[-len(sequence) :])
    assert "".join(part["text"] for part in parts) == structured
    assert_decoded(reader, site, cases[: -len(sequence)])


def _no_code_pictures(rng: random.Random) -> list[tuple[str, Image.Image]]:
    checkers = Image.new("L", (800, 600), 255)
    draw = ImageDraw.Draw(checkers)
    for y in range(0, 600, 8):
        for x in range(0, 800, 8):
            if (x + y) // 8 % 2:
                draw.rectangle([x, y, x + 7, y + 7], fill=0)
    two_finders = Image.new("L", (640, 480), 255)
    draw = ImageDraw.Draw(two_finders)
    for left, top in [(100, 100), (400, 100)]:  # the third corner's finder is missing
        draw.rectangle([left, top, left + 69, top + 69], fill=0)
        draw.rectangle([left + 10, top + 10, left + 59, top + 59], fill=255)
        draw.rectangle([left + 20, top + 20, left + 49, top + 49], fill=0)
    shapes = Image.new("L", (1024, 768), 200)
    draw = ImageDraw.Draw(shapes)
    for _ in range(400):
        x, y = rng.randrange(1024), rng.randrange(768)
        w, h = rng.randrange(4, 60), rng.randrange(4, 60)
        draw.rectangle([x, y, x + w, y + h], fill=rng.choice([0, 60, 255]))
    text = Image.new("L", (800, 600), 255)
    draw = ImageDraw.Draw(text)
    for line in range(40):
        draw.text((10, 10 + line * 14), "Pay 25,000 KHR to Sokha Coffee " * 4, fill=0)
    return [
        ("noise-640", Image.frombytes("L", (640, 480), rng.randbytes(640 * 480))),
        ("noise-1600", Image.frombytes("L", (1600, 1200), rng.randbytes(1600 * 1200))),
        ("blank-white", Image.new("L", (1600, 1200), 255)),
        ("blank-black", Image.new("L", (800, 600), 0)),
        ("gradient", Image.linear_gradient("L").resize((800, 600))),
        ("checkers", checkers),
        ("two-finders", two_finders),
        ("shapes", shapes),
        ("text", text),
        ("tiny", Image.new("L", (20, 20), 0)),
    ]


def test_pictures_without_a_code_give_null_in_bounded_time(reader: Page, site: Site) -> None:
    rng = random.Random(7)
    cases = [case(name, picture, None) for name, picture in _no_code_pictures(rng)]
    results = assert_decoded(reader, site, cases)
    slow = [f"{r['name']}: {r['ms']:.0f} ms" for r in results if r["ms"] > NO_CODE_DECODE_MS_MAX]
    assert not slow, slow


def test_malformed_input_is_refused(reader: Page) -> None:
    outcomes = reader.evaluate("""async () => {
        const { decodeQr } = await import("/static/js/qr-decode.js");
        const attempt = (image) => {
            try { return decodeQr(image); } catch (error) { return error.name; }
        };
        return [
            attempt(null),
            attempt({ data: new Uint8ClampedArray(4), width: 2, height: 2.5 }),
            attempt({ data: new Uint8ClampedArray(16), width: 4, height: 4 * 2 }),
            attempt({ data: new Uint8ClampedArray(4), width: 5000, height: 5000 }),
            attempt({ data: new Uint8ClampedArray(4 * 10 * 10), width: 10, height: 10 }),
        ];
    }""")
    assert outcomes == ["RangeError", "RangeError", "RangeError", "RangeError", None]


# The scanner ---------------------------------------------------------------------------------


def test_the_camera_reads_a_khqr_and_is_released(
    camera_browser: Callable[[Path], Browser],
    pages: Callable[..., Page],
    site: Site,
    tmp_path: Path,
) -> None:
    text = khmer_khqr()
    video = qr_video(tmp_path / "khqr.y4m", qr_picture(text, scale=6), angle=8, fill=0.75)
    page = pages(on=camera_browser(video))
    page.goto(f"{site.url}/qr")
    outcome = page.evaluate(SCAN_CAMERA, None)
    assert outcome["error"] is None
    assert outcome["text"] == text
    assert outcome["constraints"][0]["video"]["facingMode"] == {"ideal": "environment"}
    assert outcome["opened"] == 1 and outcome["released"] and outcome["detached"]


@pytest.fixture(scope="module")
def blank_camera(
    camera_browser: Callable[[Path], Browser], tmp_path_factory: pytest.TempPathFactory
) -> Browser:
    """A Chromium whose camera sees a blank card: no code ever shows."""
    card = camera_frame(Image.new("RGB", (200, 200), "white"))
    return camera_browser(write_y4m(tmp_path_factory.mktemp("camera") / "blank.y4m", [card]))


def test_stopping_the_camera_rejects_with_abort_and_releases_it(
    blank_camera: Browser, pages: Callable[..., Page], site: Site
) -> None:
    page = pages(on=blank_camera)
    page.goto(f"{site.url}/qr")
    outcome = page.evaluate(SCAN_CAMERA, 1500)
    assert outcome["text"] is None
    assert outcome["error"] == {"name": "AbortError", "code": None}
    assert outcome["opened"] == 1 and outcome["released"] and outcome["detached"]


def test_the_browsers_own_detector_reads_frames_where_there_is_one(
    blank_camera: Browser, pages: Callable[..., Page], site: Site
) -> None:
    # Chromium on Linux has no BarcodeDetector; Android Chrome's is stood in for by one that
    # answers every frame, to see the scanner hand it the video and take its answer.
    page = pages(on=blank_camera)
    page.goto(f"{site.url}/qr")
    page.evaluate("""() => {
        globalThis.BarcodeDetector = class {
            static async getSupportedFormats() { return ["qr_code", "ean_13"]; }
            constructor(options) { window.askedFormats = options.formats; }
            async detect(source) {
                window.detectedFrom = source.tagName;
                return [{ rawValue: "read by the browser" }];
            }
        };
    }""")
    outcome = page.evaluate(SCAN_CAMERA, None)
    assert outcome["text"] == "read by the browser"
    assert page.evaluate("[window.askedFormats, window.detectedFrom]") == [["qr_code"], "VIDEO"]
    assert outcome["released"] and outcome["detached"]


def test_a_missing_or_unsupported_camera_is_a_scan_error(reader: Page) -> None:
    # This browser has no camera at all (no fake device): getUserMedia finds none.
    missing = reader.evaluate(SCAN_CAMERA, None)
    assert missing["error"] == {"name": "ScanError", "code": "camera_missing"}
    unsupported = reader.evaluate("""async () => {
        Object.defineProperty(navigator, "mediaDevices", { value: undefined });
        const { scanCamera } = await import("/static/js/scanner.js");
        try {
            await scanCamera(document.getElementById("camera"), new AbortController().signal);
        } catch (problem) {
            return { name: problem.name, code: problem.code };
        }
        return null;
    }""")
    assert unsupported == {"name": "ScanError", "code": "camera_unsupported"}


@pytest.fixture
def prompting_browser(playwright: Playwright) -> Iterator[Browser]:
    """A Chromium with a camera whose permission prompt nobody answers: headless, it refuses
    (the harness's camera browsers accept every prompt). Offline the harness's way: a proxy
    port that refuses, loopback bypassing it."""
    refusing = socket.socket()
    refusing.bind(("127.0.0.1", 0))
    flags = [
        *harness.CHROMIUM_FLAGS,
        "--use-fake-device-for-media-stream",
        f"--proxy-server=http://127.0.0.1:{refusing.getsockname()[1]}",
    ]
    chromium = playwright.chromium.launch(executable_path=str(harness.CHROMIUM), args=flags)
    yield chromium
    chromium.close()
    refusing.close()


def test_a_refused_camera_is_a_scan_error(
    prompting_browser: Browser, pages: Callable[..., Page], site: Site
) -> None:
    page = pages(on=prompting_browser)
    page.goto(f"{site.url}/qr")
    outcome = page.evaluate(SCAN_CAMERA, None)
    assert outcome["error"] == {"name": "ScanError", "code": "camera_denied"}


def test_a_photo_of_a_code_is_read(reader: Page, site: Site) -> None:
    rng = random.Random(5)
    text = khmer_khqr()
    photo = on_a_table(drawn(symbol(text), scale=8), rng, (3000, 2250))
    url = site.add("photo.jpg", as_jpeg(photo, quality=80), "image/jpeg")
    assert reader.evaluate(SCAN_FILE, [url, "image/jpeg"]) == text
    card_text = made_khqr()[2]
    card = site.add("card.png", render_png(card_text, width=600))
    assert reader.evaluate(SCAN_FILE, [card, "image/png"]) == card_text


def test_a_file_without_a_code_gives_null(reader: Page, site: Site) -> None:
    not_an_image = site.add("notes.txt", b"not a picture at all", "text/plain")
    assert reader.evaluate(SCAN_FILE, [not_an_image, "text/plain"]) is None
    rng = random.Random(9)
    table = site.add(
        "table.jpg",
        as_jpeg(on_a_table(Image.new("L", (400, 400), 255), rng, (2000, 1500))),
        "image/jpeg",
    )
    assert reader.evaluate(SCAN_FILE, [table, "image/jpeg"]) is None
