"""Charts for the console's pages: bars and lines drawn as SVG on the server, with their data.

`bar_chart` draws horizontal bars (one per category, longest first as the caller orders them)
and `line_chart` one line per series over a shared axis of days. Each returns one `<figure>`:
the SVG with a `<title>` and a `<desc>` it is labelled by (`role="img"`: a screen reader reads
those, not the drawing), its axis with ticks at round numbers, and under it the same numbers
as a table in a `<details>` (a data table fallback for a reader who wants figures, not shapes).

Rules:
- Pure: text in, markup out; every text is escaped here. No script and no `style` attribute
  (the pages' Content-Security-Policy forbids inline styles): colours and sizes are SVG
  presentation attributes, which a CSP does not govern, and the SVG scales to its container
  by its `viewBox`.
- Numbers are integers (counts, minor units); `value_text` says how a reader sees one (a
  money amount in major units, say). Positions are computed with floats: a drawing, not money.
- `ident` must be unique on the page: it prefixes the ids the labels point at.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from markupsafe import Markup

__all__ = ["PALETTE", "bar_chart", "line_chart", "ticks"]

#: Series colours, each at least 4.5:1 against white (text) and told apart by more than hue
#: where it matters: a line's points also carry its series' name in the table.
PALETTE = ("#1d4ed8", "#b45309", "#047857", "#7e22ce", "#be123c", "#374151")
INK = "#1f2937"  # labels
GRID = "#d1d5db"  # grid lines
WIDTH = 480  # user units; the drawing scales to its container
FONT = 'font-family="system-ui, sans-serif" font-size="16"'
CHAR_W = 9  # about the widest a character of FONT draws, in user units: room for labels

ValueText = Callable[[int], str]


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def ticks(top: int, count: int = 4) -> list[int]:
    """Round tick values from 0 to at least `top` (about `count` steps of 1, 2 or 5 × 10^k)."""
    if top <= 0:
        return [0, 1]
    rough = max(1, -(-top // count))
    magnitude = 10 ** (len(str(rough)) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    return list(range(0, -(-top // step) * step + 1, step))


def _room(texts: Sequence[str]) -> int:
    """The width the longest of `texts` needs, at most half the drawing."""
    return min(WIDTH // 2, CHAR_W * max((len(text) for text in texts), default=1) + 12)


def _frame(ident: str, title: str, description: str, height: int, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%"'
        f' role="img" aria-labelledby="{ident}-title {ident}-desc" {FONT}>'
        f'<title id="{ident}-title">{_e(title)}</title>'
        f'<desc id="{ident}-desc">{_e(description)}</desc>' + "".join(body) + "</svg>"
    )


def _table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f'<th scope="col">{_e(cell)}</th>' for cell in headers)
    body = "".join(
        "<tr>"
        + f'<th scope="row">{_e(row[0])}</th>'
        + "".join(f'<td class="number">{_e(cell)}</td>' for cell in row[1:])
        + "</tr>"
        for row in rows
    )
    return (
        f'<details><summary>{_e(caption)}</summary><div class="scroll" tabindex="0"'
        f' role="region" aria-label="{_e(caption)}"><table>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></details>"
    )


def _figure(title: str, svg: str, table: str) -> Markup:
    caption = f"<figcaption>{_e(title)}</figcaption>"
    return Markup(f'<figure class="plot">{caption}{svg}{table}</figure>')  # escaped above


def bar_chart(
    *,
    ident: str,
    title: str,
    description: str,
    bars: Sequence[tuple[str, int]],
    value_text: ValueText,
    headers: tuple[str, str],
    table_caption: str,
) -> Markup:
    """Horizontal bars of (label, value), with an axis of `value_text` ticks and the table."""
    scale = ticks(max((value for _, value in bars), default=0))
    label_w, row_h, top = _room([label for label, _ in bars]), 30, 10
    right = _room([value_text(scale[-1])])
    span = WIDTH - label_w - right
    height = top + max(1, len(bars)) * row_h + 30
    body = []
    for tick in scale:
        x = label_w + span * tick / scale[-1]
        body.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 25}" stroke="{GRID}"/>'
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="{INK}">'
            f"{_e(value_text(tick))}</text>"
        )
    for index, (label, value) in enumerate(bars):
        y = top + index * row_h
        length = span * value / scale[-1]
        body.append(
            f'<text x="{label_w - 8}" y="{y + 20}" text-anchor="end" fill="{INK}">'
            f"{_e(label)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{length:.1f}" height="{row_h - 8}"'
            f' fill="{PALETTE[0]}"/>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + 20}" fill="{INK}">'
            f"{_e(value_text(value))}</text>"
        )
    rows = [(label, value_text(value)) for label, value in bars]
    svg = _frame(ident, title, description, height, body)
    return _figure(title, svg, _table(table_caption, headers, rows))


def _legend(names: Sequence[str]) -> list[str]:
    parts = []
    for index, name in enumerate(names):
        x = 8 + index * 120
        parts.append(
            f'<rect x="{x}" y="6" width="14" height="14" fill="{PALETTE[index % len(PALETTE)]}"/>'
            f'<text x="{x + 20}" y="19" fill="{INK}">{_e(name)}</text>'
        )
    return parts


def line_chart(
    *,
    ident: str,
    title: str,
    description: str,
    days: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    value_text: ValueText,
    day_header: str,
    table_caption: str,
) -> Markup:
    """One line per (name, values by day) over `days`, with axes, a legend and the table."""
    scale = ticks(max((max(values, default=0) for _, values in series), default=0))
    left, right, top, bottom, height = _room([value_text(t) for t in scale]), 30, 30, 40, 260
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    gap = plot_w / max(1, len(days) - 1)

    def at(index: int, value: int) -> tuple[float, float]:
        x = left + (gap * index if len(days) > 1 else plot_w / 2)
        return x, top + plot_h - plot_h * value / scale[-1]

    body = _legend([name for name, _ in series])
    for tick in scale:
        y = at(0, tick)[1]
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">'
            f"{_e(value_text(tick))}</text>"
        )
    fits = max(1, plot_w // (CHAR_W * 7))  # day labels ("12-31") that fit, with a gap
    every = max(1, -(-len(days) // fits))
    for index, day in enumerate(days):
        if index % every == 0:
            body.append(
                f'<text x="{at(index, 0)[0]:.1f}" y="{height - 15}" text-anchor="middle"'
                f' fill="{INK}">{_e(day[5:])}</text>'
            )
    for number, (_, values) in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (at(i, v) for i, v in enumerate(values)))
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="3"/>')
        body.extend(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>'
            for x, y in (at(i, v) for i, v in enumerate(values))
        )
    headers = [day_header, *(name for name, _ in series)]
    rows = [[day, *(value_text(values[i]) for _, values in series)] for i, day in enumerate(days)]
    svg = _frame(ident, title, description, height, body)
    return _figure(title, svg, _table(table_caption, headers, rows))
