"""The console's server-rendered pages (`views`), their rendering (`render`), templates,
messages (`messages/console.<en|km>.json`) and stylesheet (`static/css/console.css`)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from bakong.console.home import ConsoleServices
from bakong.console.pages import render, views

__all__ = ["routes"]


def routes(services: ConsoleServices) -> list[BaseRoute]:
    return render.routes(views.routes(services))
