"""The console's report, monitoring and liquidity-position pages.

    GET  /reports/settlement?day=D            each participant's gross and net per asset for
                                              the Phnom Penh day D (default today), the zero-sum
                                              check and the ledger's reconciliation
    GET  /reports/settlement.csv?day=D        the same as CSV, camt.053.001.08 XML (.xml),
    GET  /reports/settlement.xml?day=D        or JSON (.json), as downloads
    GET  /reports/settlement.json?day=D
    GET  /monitoring?status=S                 the alerts (open, escalated, closed or all)
    GET  /monitoring/alerts/{id}              one alert, its evidence and its case
    POST /monitoring/alerts/{id}/escalate     a case step (`aml.case_step`)
    POST /monitoring/alerts/{id}/close        with a note
    GET  /monitoring/alerts/{id}/report.csv   the suspicious transaction report (also .json)
    GET  /monitoring/rules                    the active rule set, the proposed ones, the form
    POST /monitoring/rules                    a supervisor proposes a set
    POST /monitoring/rules/{n}/approve        another supervisor approves or rejects it
    POST /monitoring/rules/{n}/reject
    GET  /positions                           settlement positions over the last days (a chart
                                              per asset, `console.charts`, and the table), the
                                              low-balance thresholds and their alerts
    POST /positions/thresholds                set a threshold on a bank's behalf

The views' rules hold (`console.pages.views`): a session for every page and download, the
anti-forgery token on every form, refusals as `?error=<code>`. A download is an attachment
with the pages' headers (no-store, nosniff) and carries no personal data.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong.console import aml, charts, liquidity, reports
from bakong.console.home import ConsoleServices
from bakong.console.monitoring import CaseAction, CaseStatus, report_csv, report_json
from bakong.console.pages.render import messages, page, redirect
from bakong.console.pages.views import (
    Handler,
    Signed,
    page_context,
    signed_in,
    signed_page,
    staff_form,
)
from bakong.console.proposals import parse_amount
from bakong.console.queries import participant_rows
from bakong.console.settlement import camt053, settlement_csv
from bakong.gateway.pages import i18n
from bakong.gateway.pages.render import PAGE_HEADERS
from bakong.gateway.problems import GatewayProblem
from bakong.ledger.assets import ASSETS, Asset, format_amount

__all__ = ["routes"]

_ALERT_ID = re.compile(r"^[0-9a-f]{32}$")
_STATUSES = tuple(status.value for status in CaseStatus)
_DOWNLOADS = {
    "csv": "text/csv; charset=utf-8",
    "xml": "application/xml",
    "json": "application/json",
}


def _day(services: ConsoleServices, request: Request) -> str:
    return request.query_params.get("day", "").strip()[:10] or reports.today(services.clock_ms())


def _attachment(body: bytes, name: str, kind: str) -> Response:
    headers = {
        **PAGE_HEADERS,
        "content-disposition": f'attachment; filename="{name}"',
    }
    return Response(body, headers=headers, media_type=_DOWNLOADS[kind])


def _download(
    handler: Callable[[ConsoleServices, Request], Awaitable[Response]],
) -> Handler:
    """A file for signed-in staff only; a refusal is its JSON problem."""

    async def guarded(services: ConsoleServices, request: Request) -> Response:
        if await signed_in(services, request) is None:
            return redirect("/signin")
        return await handler(services, request)

    return guarded


# -- the settlement report ---------------------------------------------------------------------


async def _settlement(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    day = _day(services, request)
    try:
        report = await services.db(reports.settlement_report, services.engine, day)
    except GatewayProblem as problem:
        return redirect("/reports/settlement", error=problem.code)
    net_sums: dict[str, int] = {}
    for position in report.day.positions:
        net_sums[position.asset.value] = net_sums.get(position.asset.value, 0) + position.net
    context = page_context(signed, day=day, report=report, net_sums=net_sums)
    return page(request, "settlement.html", context)


def _settlement_file(kind: str) -> Callable[[ConsoleServices, Request], Awaitable[Response]]:
    async def download(services: ConsoleServices, request: Request) -> Response:
        day = _day(services, request)
        report = await services.db(reports.settlement_report, services.engine, day)
        if kind == "csv":
            body = settlement_csv([report.day]).encode()
        elif kind == "xml":
            now_ms = services.clock_ms()
            body = camt053(report.day, message_id=f"stl-{day}-{now_ms}", created_ms=now_ms)
        else:
            body = reports.report_json(report)
        return _attachment(body, f"settlement-{day}.{kind}", kind)

    return download


# -- monitoring --------------------------------------------------------------------------------


async def _alerts(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    status = request.query_params.get("status", "")
    status = status if status in _STATUSES else ""
    cases = await services.db(aml.alert_cases, services.engine, status)
    context = page_context(signed, cases=cases, status=status, statuses=_STATUSES)
    return page(request, "monitoring.html", context)


def _alert_id(text: str) -> str:
    if not _ALERT_ID.match(text):
        raise GatewayProblem(404, "alert_not_found", "no alert has this id")
    return text


async def _alert(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    try:
        alert_id = _alert_id(request.path_params["alert_id"])
        case = await services.db(aml.alert_case, services.engine, alert_id)
    except GatewayProblem as problem:
        return redirect("/monitoring", error=problem.code)
    return page(request, "alert.html", page_context(signed, case=case))


def _str_file(kind: str) -> Callable[[ConsoleServices, Request], Awaitable[Response]]:
    async def download(services: ConsoleServices, request: Request) -> Response:
        alert_id = _alert_id(request.path_params["alert_id"])
        case = await services.db(aml.alert_case, services.engine, alert_id)
        if kind == "csv":
            body = report_csv(case.alert).encode()
        else:
            body = report_json(
                case.alert, reporting_entity=services.central_bank,
                created_ms=services.clock_ms(), note=case.note,
            )  # fmt: skip
        return _attachment(body, f"str-{alert_id}.{kind}", kind)

    return download


def _case_step(action: CaseAction) -> Callable[..., Awaitable[Response]]:
    async def step(services: ConsoleServices, form: dict[str, str], signed: Signed) -> Response:
        alert_id = _alert_id(form.get("path.alert_id", ""))
        await services.db(
            aml.case_step, services.engine, signed.staff, alert_id, action,
            form.get("note", "")[:600], services.clock_ms(),
        )  # fmt: skip
        return redirect(f"/monitoring/alerts/{alert_id}", done=f"case_{action.value}")

    return step


async def _rules(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    sets = await services.db(aml.rule_sets, services.engine)
    active = next((s for s in sets if s.state == "active"), None)
    draft = active.rules if active is not None else aml.rules_json(aml.DEFAULT_RULES)
    context = page_context(
        signed, sets=sets, active=active, draft=draft,
        pending=[s for s in sets if s.state == "pending"],
        decided=[s for s in sets if s.state in ("rejected", "retired")],
    )  # fmt: skip
    return page(request, "rules.html", context)


async def _propose_rules(
    services: ConsoleServices, form: dict[str, str], signed: Signed
) -> Response:
    number = await services.db(
        aml.propose_rules, services.engine, signed.staff, form.get("rules", ""),
        services.clock_ms(),
    )  # fmt: skip
    return redirect("/monitoring/rules", done=f"rules_proposed-{number}")


def _rules_number(form: dict[str, str]) -> int:
    text = form.get("path.number", "")
    if not text.isdigit() or len(text) > 18:
        raise GatewayProblem(404, "proposal_not_found", "no rule set has this number")
    return int(text)


def _decide_rules(approve: bool) -> Callable[..., Awaitable[Response]]:
    async def decide(services: ConsoleServices, form: dict[str, str], signed: Signed) -> Response:
        number = _rules_number(form)
        await services.db(
            aml.decide_rules, services.engine, signed.staff, number, approve,
            form.get("note", "")[:600], services.clock_ms(),
        )  # fmt: skip
        outcome = "rules_approved" if approve else "rules_rejected"
        return redirect("/monitoring/rules", done=f"{outcome}-{number}")

    return decide


# -- liquidity positions -----------------------------------------------------------------------


def _position_charts(
    days: list[str], rows: list[liquidity.PositionRow], request: Request
) -> list[Markup]:
    """One line chart per asset: a line per participant's settlement position."""
    t = i18n.translator(messages(i18n.language_of(request)))
    return [
        charts.line_chart(
            ident=f"chart-positions-{asset.value}",
            title=t("console.positions.chart", asset=asset.value),
            description=t("console.positions.chart_desc", asset=asset.value, days=len(days)),
            days=days,
            series=[(row.participant, row.closing) for row in rows if row.asset == asset.value],
            value_text=functools.partial(format_amount, asset),
            day_header=t("console.positions.day"), table_caption=t("console.positions.figures"),
        )
        for asset in ASSETS
    ]  # fmt: skip


async def _positions(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    days, rows = await services.db(liquidity.positions, services.engine, services.clock_ms())
    people = await services.db(participant_rows, services.engine)
    limits_set = await services.db(liquidity.thresholds, services.engine)
    alerts = await services.db(liquidity.low_balance_alerts, services.engine)
    context = page_context(
        signed, days=days, rows=rows, participants=[p for p in people if not p.central_bank],
        thresholds=limits_set, alerts=alerts, assets=ASSETS,
        charts=_position_charts(days, rows, request),
    )  # fmt: skip
    return page(request, "positions.html", context)


async def _set_threshold(
    services: ConsoleServices, form: dict[str, str], signed: Signed
) -> Response:
    asset_text = form.get("asset", "")
    if asset_text not in {asset.value for asset in ASSETS}:
        raise GatewayProblem(400, "asset_invalid", "choose KHR or USD")
    asset = Asset(asset_text)
    amount = parse_amount(asset, form.get("amount", "")[:40])
    participant = form.get("participant", "").strip()[:16]
    await services.db(
        liquidity.set_threshold, services.engine, signed.staff, participant, asset, amount,
        services.clock_ms(),
    )  # fmt: skip
    return redirect("/positions", done="threshold_set")


def routes(services: ConsoleServices) -> list[BaseRoute]:
    def bound(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(services, request)

        return endpoint

    def get(path: str, handler: Handler) -> Route:
        return Route(path, bound(handler), methods=["GET"], include_in_schema=False)

    def post(path: str, handler: Handler) -> Route:
        return Route(path, bound(handler), methods=["POST"], include_in_schema=False)

    alert = "/monitoring/alerts/{alert_id}"
    return [
        get("/reports/settlement", signed_page(_settlement)),
        *(
            get(f"/reports/settlement.{kind}", _download(_settlement_file(kind)))
            for kind in _DOWNLOADS
        ),
        get("/monitoring", signed_page(_alerts)),
        get(alert, signed_page(_alert)),
        post(f"{alert}/escalate", staff_form(_case_step(CaseAction.escalate), "/monitoring")),
        post(f"{alert}/close", staff_form(_case_step(CaseAction.close), "/monitoring")),
        get(f"{alert}/report.csv", _download(_str_file("csv"))),
        get(f"{alert}/report.json", _download(_str_file("json"))),
        get("/monitoring/rules", signed_page(_rules)),
        post("/monitoring/rules", staff_form(_propose_rules, "/monitoring/rules")),
        post(
            "/monitoring/rules/{number}/approve",
            staff_form(_decide_rules(True), "/monitoring/rules"),
        ),
        post(
            "/monitoring/rules/{number}/reject",
            staff_form(_decide_rules(False), "/monitoring/rules"),
        ),
        get("/positions", signed_page(_positions)),
        post("/positions/thresholds", staff_form(_set_threshold, "/positions")),
    ]
