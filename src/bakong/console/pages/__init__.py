"""The console's server-rendered pages (`views`), their rendering (`render`), templates,
messages (`messages/console.<en|km>.json`) and stylesheet (`static/css/console.css`)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from bakong.console.home import ConsoleServices
from bakong.console.pages import analytics, governance, links, render, reports, supervision, views

__all__ = ["routes"]


def routes(services: ConsoleServices) -> list[BaseRoute]:
    return render.routes(
        [
            *views.routes(services),
            *reports.routes(services),  # settlement report, monitoring, liquidity positions
            *governance.routes(services),  # register, rotate keys, limits
            *supervision.routes(services),  # payment rate, approval rate, declines
            *analytics.routes(services),  # daily volumes and values, charts (Parquet, DuckDB)
            *links.routes(services),  # cross-border links: liquidity, positions, failures
        ]
    )
