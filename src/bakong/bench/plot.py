"""PNG charts of `bakong bench network`, drawn with Pillow (no plotting library).

`draw_network(path, phases)` draws the phases one after another on a common time axis, in two
panels: committed transfers per second (result `ok`, per one-second bucket from each phase's
start), and the finality latency of the transfers committed in each second (p50 and p99, ms).
A phase's warm-up is shaded; a vertical rule separates phases, each labelled with its name
and measured throughput.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bakong.bench.loadgen import PhaseFigures

__all__ = ["draw_network"]

WIDTH, HEIGHT = 1200, 760
LEFT, RIGHT, TOP, GAP, BOTTOM = 80, 30, 50, 60, 50
INK = (30, 30, 30)
GRID = (225, 225, 225)
WARMUP = (245, 240, 225)
COLOURS = [(31, 119, 180), (44, 160, 44), (214, 39, 40), (148, 103, 189)]
P99 = (255, 127, 14)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value`."""
    if value <= 0:
        return 1.0
    step: float = 10.0 ** len(str(int(value))) / 10
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= factor * step:
            return factor * step
    return 10 * step


def _x(box: tuple[int, int, int, int], seconds: int, second: float) -> float:
    left, _, right, _ = box
    return left + (right - left) * second / max(seconds, 1)


class _Panel:
    def __init__(self, draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int],
                 seconds: int, y_max: float, label: str) -> None:
        self.draw, self.box, self.seconds, self.y_max = draw, box, max(seconds, 1), y_max
        left, top, right, bottom = box
        font = ImageFont.load_default()
        for tick in range(5):
            value = y_max * tick / 4
            y = bottom - (bottom - top) * tick / 4
            draw.line([(left, y), (right, y)], fill=GRID)
            draw.text((left - 8, y), f"{value:,.0f}", fill=INK, anchor="rm", font=font)
        step = max(1, round(self.seconds / 12))
        for second in range(0, self.seconds + 1, step):
            x = self.x(second)
            draw.line([(x, bottom), (x, bottom + 4)], fill=INK)
            draw.text((x, bottom + 6), f"{second}", fill=INK, anchor="mt", font=font)
        draw.rectangle(box, outline=INK)
        draw.text((left, top - 6), label, fill=INK, anchor="lb", font=font)

    def x(self, second: float) -> float:
        return _x(self.box, self.seconds, second)

    def y(self, value: float) -> float:
        _, top, _, bottom = self.box
        return bottom - (bottom - top) * min(value, self.y_max) / self.y_max

    def series(self, start: int, values: Sequence[float], colour: tuple[int, int, int],
               *, zeros: bool = True) -> None:
        """A line through one point per second; without `zeros`, a 0 means no value."""
        points = [
            (self.x(start + i + 0.5), self.y(v))
            for i, v in enumerate(values)
            if zeros or v > 0
        ]
        if len(points) > 1:
            self.draw.line(points, fill=colour, width=2)
        for x, y in points:
            self.draw.ellipse([(x - 2, y - 2), (x + 2, y + 2)], fill=colour)


def draw_network(path: Path, phases: Sequence[PhaseFigures], *, title: str) -> None:
    """Write the two-panel PNG of `phases` (module docstring) to `path`."""
    seconds = sum(len(p.per_second_ok) for p in phases)
    tps_max = _nice_max(max((max(p.per_second_ok, default=0) for p in phases), default=0))
    ms_max = _nice_max(max((max(p.per_second_p99_ms, default=0) for p in phases), default=0))
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.text((WIDTH // 2, 12), title, fill=INK, anchor="mt", font=font)
    panel_h = (HEIGHT - TOP - GAP - BOTTOM) // 2
    upper = (LEFT, TOP, WIDTH - RIGHT, TOP + panel_h)
    lower = (LEFT, TOP + panel_h + GAP, WIDTH - RIGHT, TOP + 2 * panel_h + GAP)
    for box in (upper, lower):  # warm-ups shaded under the grid
        start = 0
        for phase in phases:
            warm = [(_x(box, seconds, start), box[1]),
                    (_x(box, seconds, start + phase.warmup_s), box[3])]  # fmt: skip
            draw.rectangle(warm, fill=WARMUP)
            start += len(phase.per_second_ok)
    throughput = _Panel(draw, upper, seconds, tps_max, "committed transfers per second (ok)")
    latency = _Panel(draw, lower, seconds, ms_max,
                     "finality of transfers committed that second, ms (p50 solid, p99 orange)")
    start = 0
    for index, phase in enumerate(phases):
        colour = COLOURS[index % len(COLOURS)]
        throughput.series(start, phase.per_second_ok, colour)
        latency.series(start, phase.per_second_p50_ms, colour, zeros=False)
        latency.series(start, phase.per_second_p99_ms, P99, zeros=False)
        x = throughput.x(start)
        for box in (upper, lower):
            draw.line([(x, box[1]), (x, box[3])], fill=INK)
        draw.text((x + 6, upper[1] + 6), f"{phase.name}: {phase.tps:,.0f} tps", fill=colour,
                  anchor="lt", font=font)  # fmt: skip
        start += len(phase.per_second_ok)
    draw.text((WIDTH // 2, HEIGHT - 14), "seconds since the first phase started", fill=INK,
              anchor="mb", font=font)  # fmt: skip
    image.save(path, format="PNG")
