"""The Prometheus text exposition format (version 0.0.4), for the node's and the gateway's
`/metrics`.

A family is `(name, kind, help, samples)`; a sample is `(rendered labels, value)`, its labels
made by `labels`. Label values and help texts are escaped as the format requires; values are
written as integers where they are whole (below 2**53), else as Python's shortest repr.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["Family", "Sample", "labels", "render"]

Sample = tuple[str, float]  # (rendered labels, value)
Family = tuple[str, str, str, list[Sample]]  # (name, kind, help, samples)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels(**pairs: str) -> str:
    """`{name="value",...}`, or nothing for no labels."""
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs.items())
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def render(families: Iterable[Family]) -> str:
    """The exposition text of `families`, in the order given."""
    lines: list[str] = []
    for name, kind, help_text, samples in families:
        help_escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f"# HELP {name} {help_escaped}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{rendered} {_number(value)}" for rendered, value in samples)
    return "\n".join(lines) + "\n"
