"""The PNG summary of `bakong bench scale`, drawn with Pillow (no plotting library).

Six panels, two per row: committed transfers per second by number of validators; finality
(p50 and p99, at saturation and at half load) by number of validators; transfers per second
by number of accounts in state; memory per validator by number of accounts (peak RSS with
verifier workers, RSS of the main process, USS, anonymous memory); the catching-up
validator's height against seconds since its start; and the restore figures as text. The
per-run time series are drawn by `bakong.bench.plot.draw_network`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from bakong.bench.plot import COLOURS, GRID, INK, P99

__all__ = ["draw_scale"]

WIDTH, HEIGHT = 1200, 1080
MARGIN, TOP, GAP = 70, 50, 70
_Box = tuple[int, int, int, int]


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value`."""
    if value <= 0:
        return 1.0
    step = 10.0 ** (len(str(int(value))) - 1)
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= factor * step:
            return factor * step
    return 10 * step


def _axes(draw: ImageDraw.ImageDraw, box: _Box, y_max: float, title: str) -> None:
    left, top, right, bottom = box
    font = ImageFont.load_default()
    for tick in range(5):
        y = bottom - (bottom - top) * tick / 4
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.text((left - 6, y), f"{y_max * tick / 4:,.0f}", fill=INK, anchor="rm", font=font)
    draw.rectangle(box, outline=INK)
    draw.text((left, top - 8), title, fill=INK, anchor="lb", font=font)


def _bars(
    draw: ImageDraw.ImageDraw,
    box: _Box,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    title: str,
) -> None:
    """Grouped bars: one group per label, one bar per series (None: no bar)."""
    values = [v for _, vs in series for v in vs if v is not None]
    y_max = _nice_max(max(values, default=0.0))
    _axes(draw, box, y_max, title)
    left, top, right, bottom = box
    font = ImageFont.load_default()
    group_w = (right - left) / max(len(labels), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for g, label in enumerate(labels):
        x0 = left + g * group_w + group_w * 0.1
        draw.text((x0 + group_w * 0.4, bottom + 6), label, fill=INK, anchor="mt", font=font)
        for s, (_, vs) in enumerate(series):
            value = vs[g]
            if value is None:
                continue
            height = (bottom - top) * min(value, y_max) / y_max
            colour = COLOURS[s % len(COLOURS)]
            x = x0 + s * bar_w
            draw.rectangle([(x, bottom - height), (x + bar_w - 2, bottom)], fill=colour)
            draw.text(
                (x + bar_w / 2, bottom - height - 2),
                f"{value:,.0f}",
                fill=INK,
                anchor="mb",
                font=font,
            )
    for s, (name, _) in enumerate(series):  # legend
        y = top + 8 + 14 * s
        draw.rectangle([(right - 150, y), (right - 140, y + 10)], fill=COLOURS[s % len(COLOURS)])
        draw.text((right - 135, y + 5), name, fill=INK, anchor="lm", font=font)


def _curve(
    draw: ImageDraw.ImageDraw, box: _Box, points: Sequence[Sequence[float]], title: str
) -> None:
    y_max = _nice_max(max((p[1] for p in points), default=0.0))
    x_max = max((p[0] for p in points), default=1.0) or 1.0
    _axes(draw, box, y_max, title)
    left, top, right, bottom = box
    font = ImageFont.load_default()
    for tick in range(5):
        x = left + (right - left) * tick / 4
        draw.text((x, bottom + 6), f"{x_max * tick / 4:.1f} s", fill=INK, anchor="mt", font=font)
    xy = [
        (left + (right - left) * p[0] / x_max, bottom - (bottom - top) * p[1] / y_max)
        for p in points
    ]
    if len(xy) > 1:
        draw.line(xy, fill=P99, width=2)


def _text(draw: ImageDraw.ImageDraw, box: _Box, lines: Sequence[str], title: str) -> None:
    left, top, _, _ = box
    font = ImageFont.load_default()
    draw.text((left, top - 8), title, fill=INK, anchor="lb", font=font)
    for index, line in enumerate(lines):
        draw.text((left + 6, top + 8 + 16 * index), line, fill=INK, anchor="lt", font=font)


def _boxes() -> list[_Box]:
    panel_w = (WIDTH - 3 * MARGIN) // 2
    panel_h = (HEIGHT - TOP - 3 * GAP) // 3
    boxes = []
    for row in range(3):
        for column in range(2):
            left = MARGIN + column * (panel_w + MARGIN)
            top = TOP + row * (panel_h + GAP)
            boxes.append((left, top, left + panel_w, top + panel_h))
    return boxes


def _restore_lines(figures: dict[str, Any]) -> list[str]:
    r = figures.get("restore")
    c = figures.get("catchup")
    lines = []
    if c:
        lines.append(
            f"catch-up: {c['blocks']:,} blocks in {c['catchup_s']} s = "
            f"{c['blocks_per_s']} blocks/s ({c['blocks_per_s_after_up']} after start-up)"
        )
    if r:
        lines += [
            f"restore: {r['accounts']:,} accounts, {r['entries']:,} entries, {r['chunks']} chunks",
            f"  {r['bytes'] / 2**20:,.1f} MB in {r['seconds']} s: {r['entries_per_s']:,.0f} "
            f"entries/s, {r['mb_per_s']} MB/s",
            f"  with process start-up {r['wall_s']} s; rejoined the network in {r['rejoin_s']} s",
        ]
    return lines


def draw_scale(path: Path, figures: dict[str, Any]) -> None:
    """Write the six-panel PNG (module docstring) of `figures` to `path`."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    machine = figures["machine"]
    draw.text(
        (WIDTH // 2, 12),
        f"bakong bench scale: {machine['cores']} cores, "
        f"{machine['cpu']}; verify {figures['verify_per_s']:,}/s",
        fill=INK,
        anchor="mt",
        font=ImageFont.load_default(),
    )
    boxes = _boxes()
    sizes, steps = figures["sizes"], figures["accounts"]
    size_labels = [f"{r['validators']} validators" for r in sizes]
    _bars(
        draw,
        boxes[0],
        size_labels,
        [("tps", [r["tps"] for r in sizes])],
        "committed transfers per second, by validators",
    )
    half = [r.get("finality_half_load_ms", {}) for r in sizes]
    _bars(
        draw,
        boxes[1],
        size_labels,
        [
            ("p50 saturation", [r["finality_ms"]["p50"] for r in sizes]),
            ("p99 saturation", [r["finality_ms"]["p99"] for r in sizes]),
            ("p50 half load", [h.get("p50") for h in half]),
            ("p99 half load", [h.get("p99") for h in half]),
        ],
        "finality, ms",
    )
    step_labels = [f"{r['accounts']:.0e} accounts" for r in steps]
    _bars(
        draw,
        boxes[2],
        step_labels,
        [("tps", [r["tps"] for r in steps])],
        "committed transfers per second, by accounts in state",
    )
    _bars(
        draw,
        boxes[3],
        step_labels,
        [
            ("RSS + workers", [r["rss_mb_with_workers_max"] for r in steps]),
            ("RSS main", [r["rss_mb_max"] for r in steps]),
            ("USS main", [r["uss_mb_max"] for r in steps]),
            ("anon main", [r["anon_mb_max"] for r in steps]),
        ],
        "memory per validator, MB",
    )
    _curve(
        draw,
        boxes[4],
        figures.get("catchup_trace", []),
        "catch-up: height of the validator started on an empty store",
    )
    _text(draw, boxes[5], _restore_lines(figures), "catch-up and snapshot restore")
    image.save(path, format="PNG")
