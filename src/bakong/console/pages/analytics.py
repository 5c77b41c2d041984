"""The analytics page: the chain's daily volumes and values as charts, from Parquet via DuckDB.

    GET /analytics?days=N     N Phnom Penh days up to the last block's (default 30)

Each view first exports what the store holds beyond the last export (`console.analytics`,
incremental: usually nothing or a few blocks), then reads the figures and draws them with
`console.charts`: payments per day per asset, the value per day of each asset, and payments
by channel, by participant (sent) and by the payer's tier over the window, each chart with its
table. A console without an analytics directory (`ConsoleServices.analytics_dir`) says so.
"""

from __future__ import annotations

import datetime
import functools
from collections import Counter
from collections.abc import Awaitable, Callable

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.console import analytics, charts
from bakong.console.home import ConsoleServices
from bakong.console.pages.render import messages, page
from bakong.console.pages.views import Handler, Signed, page_context, signed_page
from bakong.gateway.pages import i18n
from bakong.ledger.assets import ASSETS, format_amount

__all__ = ["routes"]

Translate = Callable[..., str]


def _days_of(text: str) -> int:
    """`?days=`, or the default when it is absent or not 1 to `analytics_days_max`."""
    if text.isdigit() and 1 <= int(text) <= limits.analytics_days_max:
        return int(text)
    return limits.analytics_days_default


def _calendar(found: analytics.Figures) -> list[str]:
    assert found.first_day is not None and found.last_day is not None
    first = datetime.date.fromisoformat(found.first_day)
    return [(first + datetime.timedelta(days=n)).isoformat() for n in range(found.days)]


def _bars(counts: Counter[str], label: Callable[[str], str], others: str) -> list[tuple[str, int]]:
    """The largest counts first; beyond `analytics_chart_bars_max`, one bar `others`."""
    ranked, most = counts.most_common(), limits.analytics_chart_bars_max
    bars = [(label(key), value) for key, value in ranked[:most]]
    if ranked[most:]:
        bars.append((others, sum(value for _, value in ranked[most:])))
    return bars


def _daily_charts(found: analytics.Figures, t: Translate) -> list[Markup]:
    days = _calendar(found)
    place = {day: index for index, day in enumerate(days)}
    counts = {asset.value: [0] * len(days) for asset in ASSETS}
    values = {asset.value: [0] * len(days) for asset in ASSETS}
    for row in found.daily:
        counts[row.asset][place[row.day]] += row.count
        values[row.asset][place[row.day]] += row.value
    drawn = [
        charts.line_chart(
            ident="chart-daily", title=t("console.analytics.daily"),
            description=t("console.analytics.daily_desc", days=found.days),
            days=days, series=list(counts.items()), value_text=str,
            day_header=t("console.analytics.day"), table_caption=t("console.analytics.table"),
        )
    ]  # fmt: skip
    for asset in ASSETS:
        drawn.append(
            charts.line_chart(
                ident=f"chart-value-{asset.value}",
                title=t("console.analytics.value", asset=asset.value),
                description=t("console.analytics.value_desc", asset=asset.value),
                days=days, series=[(asset.value, values[asset.value])],
                value_text=functools.partial(format_amount, asset),
                day_header=t("console.analytics.day"),
                table_caption=t("console.analytics.table"),
            )
        )  # fmt: skip
    return drawn


def _window_charts(found: analytics.Figures, t: Translate) -> list[Markup]:
    channels, tiers, senders = Counter[str](), Counter[str](), Counter[str]()
    for by_channel in found.by_channel:
        channels[by_channel.channel] += by_channel.count
    for by_tier in found.by_tier:
        tiers[by_tier.tier] += by_tier.count
    for person in found.by_participant:
        senders[person.participant] += person.sent_count
    senders = +senders  # a participant that only received is not a sender's bar
    caption, others = t("console.analytics.table"), t("console.analytics.others")
    return [
        charts.bar_chart(
            ident="chart-channel", title=t("console.analytics.by_channel"),
            description=t("console.analytics.by_channel_desc"),
            bars=_bars(channels, lambda key: t(f"console.analytics.channel.{key}"), others),
            headers=(t("console.analytics.channel"), t("console.analytics.payments")),
            value_text=str, table_caption=caption,
        ),
        charts.bar_chart(
            ident="chart-participant", title=t("console.analytics.by_participant"),
            description=t("console.analytics.by_participant_desc"),
            bars=_bars(senders, str, others),
            headers=(t("console.analytics.participant"), t("console.analytics.payments")),
            value_text=str, table_caption=caption,
        ),
        charts.bar_chart(
            ident="chart-tier", title=t("console.analytics.by_tier"),
            description=t("console.analytics.by_tier_desc"),
            bars=_bars(tiers, lambda key: t(f"console.analytics.tier.{key}"), others),
            headers=(t("console.analytics.tier"), t("console.analytics.payments")),
            value_text=str, table_caption=caption,
        ),
    ]  # fmt: skip


def _totals(found: analytics.Figures) -> list[tuple[str, int, str]]:
    """(asset, payments, value as read) over the window."""
    counts, values = Counter[str](), Counter[str]()
    for row in found.daily:
        counts[row.asset] += row.count
        values[row.asset] += row.value
    return [(a.value, counts[a.value], format_amount(a, values[a.value])) for a in ASSETS]


async def _analytics(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    days = _days_of(request.query_params.get("days", ""))
    directory = services.analytics_dir
    if directory is None:
        return page(request, "analytics.html", page_context(signed, found=None, days=days))
    await services.db(analytics.export, services.engine, directory)
    found = await services.db(analytics.figures, directory, days)
    t = i18n.translator(messages(i18n.language_of(request)))
    drawn = _daily_charts(found, t) + _window_charts(found, t) if found.last_day else []
    context = page_context(signed, found=found, days=days, charts=drawn, totals=_totals(found))
    return page(request, "analytics.html", context)


def routes(services: ConsoleServices) -> list[BaseRoute]:
    def bound(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(services, request)

        return endpoint

    return [Route("/analytics", bound(signed_page(_analytics)), methods=["GET"])]
