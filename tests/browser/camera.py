"""A fake camera for the browser tests: a picture of a QR code as a YUV4MPEG2 (`.y4m`) video.

Chromium started with `--use-fake-device-for-media-stream
--use-file-for-fake-video-capture=FILE.y4m` (`harness.launch(fake_camera=FILE)`) gives pages a
camera that plays FILE in a loop. `qr_video(path, picture)` writes such a file: `picture` (a QR
code, or a screenshot of a till showing one) is placed on a grey, unevenly lit background, as a
phone held in front of a screen or a card would see it, optionally turned by a few degrees and
scaled; each frame moves it by a pixel or two, as a hand would. The frames are 4:2:0 (`C420jpeg`:
full-range BT.601 YCbCr, chroma averaged over 2 x 2 pixels), the format Chromium reads.

`qr_picture(text)` renders a code with segno (byte mode, the error level asked, a 4-module
quiet zone) for tests that start from a string.
"""

from __future__ import annotations

import io
from pathlib import Path

import segno
from PIL import Image, ImageDraw

__all__ = ["camera_frame", "qr_picture", "qr_video", "write_y4m"]

#: The frame Chromium's fake camera delivers: 640 x 480 is what a phone's preview often is.
FRAME_SIZE = (640, 480)
FRAME_RATE = 15
FRAMES = 6
BACKGROUND = (96, 100, 104)


def qr_picture(text: str, *, error: str = "m", scale: int = 8) -> Image.Image:
    """`text` as a QR code picture, black on white with a 4-module quiet zone."""
    code = segno.make(text, error=error, boost_error=False, micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=4)
    buffer.seek(0)
    with Image.open(buffer) as opened:
        return opened.convert("RGB")


def camera_frame(
    picture: Image.Image,
    *,
    size: tuple[int, int] = FRAME_SIZE,
    fill: float = 0.7,
    angle: float = 0.0,
    offset: tuple[int, int] = (0, 0),
) -> Image.Image:
    """One camera frame: `picture` scaled so its longer side is `fill` of the frame's shorter
    side, turned by `angle` degrees, centred (moved by `offset` pixels) on a background that
    is lighter at the top, as under a ceiling lamp."""
    width, height = size
    frame = Image.new("RGB", size, BACKGROUND)
    shade = ImageDraw.Draw(frame)
    for row in range(height):
        light = 40 - 40 * row // height
        shade.line([(0, row), (width, row)], fill=tuple(c + light for c in BACKGROUND))
    side = max(1, round(fill * min(size)))
    ratio = side / max(picture.size)
    placed = picture.convert("RGB").resize(
        (max(1, round(picture.width * ratio)), max(1, round(picture.height * ratio))),
        Image.Resampling.LANCZOS,
    )
    if angle:
        mask = Image.new("L", placed.size, 255).rotate(angle, Image.Resampling.BICUBIC, expand=True)
        placed = placed.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    else:
        mask = Image.new("L", placed.size, 255)
    left = (width - placed.width) // 2 + offset[0]
    top = (height - placed.height) // 2 + offset[1]
    frame.paste(placed, (left, top), mask)
    return frame


def write_y4m(path: Path, frames: list[Image.Image], *, rate: int = FRAME_RATE) -> Path:
    """`frames` (all the same even size) as a YUV4MPEG2 4:2:0 file at `path`."""
    if not frames:
        raise ValueError("a video needs at least one frame")
    width, height = frames[0].size
    if width % 2 or height % 2:
        raise ValueError("4:2:0 needs an even width and height")
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{rate}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for frame in frames:
            if frame.size != (width, height):
                raise ValueError("every frame must have the same size")
            luma, blue, red = frame.convert("RGB").convert("YCbCr").split()
            half = (width // 2, height // 2)
            out.write(b"FRAME\n")
            out.write(luma.tobytes())
            out.write(blue.resize(half, Image.Resampling.BOX).tobytes())
            out.write(red.resize(half, Image.Resampling.BOX).tobytes())
    return path


def qr_video(
    path: Path,
    picture: Image.Image,
    *,
    size: tuple[int, int] = FRAME_SIZE,
    fill: float = 0.7,
    angle: float = 0.0,
    frames: int = FRAMES,
) -> Path:
    """A short looping video of `picture` held in front of the camera (module docstring)."""
    shakes = [(0, 0), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0)]
    return write_y4m(
        path,
        [
            camera_frame(picture, size=size, fill=fill, angle=angle, offset=shakes[i % 6])
            for i in range(frames)
        ],
    )
