"""The console's pages and the forms they post (docs/console.md lists them).

    GET  /signin, POST /signin, POST /signout
    GET  /                     overview: height, participants, issued per asset, live rate
    GET  /participants         every participant with its settlement balances; pause, resume,
                               make send-only or receive-only
    GET  /liquidity            issue and redeem: the operator's form, the latest proposals
    GET  /proposals            the queue: a supervisor approves or rejects
    POST /proposals            staff propose (issue, redeem, freeze, unfreeze, pause, resume,
                               send_only, receive_only)
    POST /proposals/{id}/approve, POST /proposals/{id}/reject
    GET  /account?id=A         one account: status, balances, transactions, freeze/unfreeze
    GET  /transactions?...     search by hash, account, participant, day, amount, result
    GET  /audit                the audit log

Rules: a page without a live session sends the browser to `/signin`; every POST but the
sign-in checks the session's anti-forgery token; what a role may not do is refused by
`proposals` (and its form is not shown). A refusal comes back as `?error=<code>`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.console import audit_log, proposals, queries, staff
from bakong.console.home import ConsoleServices
from bakong.console.pages.render import COOKIE, page, read_form, redirect
from bakong.gateway.pages.render import safe_next
from bakong.gateway.problems import GatewayProblem
from bakong.ledger.assets import ASSETS, Asset
from bakong.ledger.identifiers import is_account_id, is_participant_code, settlement_account

__all__ = [
    "PHNOM_PENH",
    "Handler",
    "Signed",
    "page_context",
    "routes",
    "signed_in",
    "signed_page",
    "staff_form",
]

PHNOM_PENH = timezone(timedelta(hours=7))  # Cambodia keeps no daylight saving
_HASH = re.compile(r"^[0-9a-f]{64}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
Handler = Callable[[ConsoleServices, Request], Awaitable[Response]]


def when(time_ms: int) -> str:
    """A time as Phnom Penh reads it."""
    moment = datetime.fromtimestamp(time_ms / 1000, PHNOM_PENH)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class Signed:
    """The signed-in staff member of a request and the session's tokens."""

    def __init__(self, member: staff.Staff, csrf: str, token: str) -> None:
        self.staff, self.csrf, self.token = member, csrf, token


async def signed_in(services: ConsoleServices, request: Request) -> Signed | None:
    token = request.cookies.get(COOKIE, "")
    if not token or len(token) > 128:
        return None
    found = await services.db(staff.session_staff, services.engine, token, services.clock_ms())
    return None if found is None else Signed(found[0], found[1], token)


def page_context(signed: Signed, **values: Any) -> dict[str, Any]:
    return {"me": signed.staff, "csrf": signed.csrf, "when": when, **values}


def signed_page(
    handler: Callable[[ConsoleServices, Request, Signed], Awaitable[Response]],
) -> Handler:
    """A page for signed-in staff only."""

    async def guarded(services: ConsoleServices, request: Request) -> Response:
        signed = await signed_in(services, request)
        if signed is None:
            return redirect("/signin")
        return await handler(services, request, signed)

    return guarded


def staff_form(
    handler: Callable[[ConsoleServices, dict[str, str], Signed], Awaitable[Response]],
    back: str,
) -> Handler:
    """A POST of signed-in staff: session, anti-forgery token, refusals as `?error=`."""

    async def guarded(services: ConsoleServices, request: Request) -> Response:
        signed = await signed_in(services, request)
        if signed is None:
            return redirect("/signin")
        form = await read_form(request)
        if form.get("csrf") != signed.csrf:
            return redirect(back, error="csrf")
        form.update({f"path.{k}": str(v) for k, v in request.path_params.items()})
        try:
            return await handler(services, form, signed)
        except GatewayProblem as problem:
            return redirect(safe_next(form.get("back") or back), error=problem.code)

    return guarded


# -- signing in --------------------------------------------------------------------------------


async def signin_page(services: ConsoleServices, request: Request) -> Response:
    return page(request, "signin.html")


async def signin(services: ConsoleServices, request: Request) -> Response:
    form = await read_form(request)
    name, password = form.get("name", "")[:64], form.get("password", "")[:256]
    try:
        token, _ = await services.db(
            staff.sign_in, services.engine, name, password, services.clock_ms(),
            services.random_bytes,
        )  # fmt: skip
    except GatewayProblem as problem:
        return redirect("/signin", error=problem.code)
    answer = redirect("/")
    answer.set_cookie(
        COOKIE, token, max_age=limits.console_session_lifetime_ms // 1000, path="/",
        httponly=True, samesite="strict", secure=services.secure_cookies,
    )  # fmt: skip
    return answer


async def _signout(services: ConsoleServices, form: dict[str, str], signed: Signed) -> Response:
    now_ms = services.clock_ms()
    await services.db(staff.sign_out, services.engine, signed.token, signed.staff, now_ms)
    answer = redirect("/signin")
    answer.delete_cookie(COOKIE, path="/")
    return answer


# -- reading pages -----------------------------------------------------------------------------


async def _overview(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    figures = await services.db(queries.overview, services.engine, services.clock_ms())
    return page(request, "overview.html", page_context(signed, figures=figures, assets=ASSETS))


async def _participants(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    rows = await services.db(queries.participant_rows, services.engine)
    return page(request, "participants.html", page_context(signed, rows=rows, assets=ASSETS))


async def _liquidity(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    rows = await services.db(queries.participant_rows, services.engine)
    latest = await services.db(proposals.proposals, services.engine)
    money = [p for p in latest if p.kind in proposals.MONEY_KINDS]
    context = page_context(signed, rows=rows, assets=ASSETS, latest=money)
    return page(request, "liquidity.html", context)


async def _queue(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    latest = await services.db(proposals.proposals, services.engine)
    pending = [p for p in latest if p.state == "pending"]
    decided = [p for p in latest if p.state != "pending"]
    context = page_context(signed, pending=pending, decided=decided)
    return page(request, "proposals.html", context)


async def _account(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    account_id = request.query_params.get("id", "").strip()[:128]
    view = None
    if is_account_id(account_id):
        view = await services.db(queries.account_view, services.engine, account_id)
    context = page_context(signed, account_id=account_id, view=view)
    return page(request, "account.html", context)


async def _audit(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    before_text = request.query_params.get("before", "")
    before = int(before_text) if before_text.isdigit() and len(before_text) < 19 else None
    rows_max = limits.console_page_rows_max
    entries = await services.db(audit_log.entries, services.engine, rows_max, before)
    older = entries[-1].id if len(entries) == rows_max else None
    return page(request, "audit.html", page_context(signed, entries=entries, older=older))


def _day_ms(text: str, days_after: int = 0) -> int | None:
    """The start of a Phnom Penh day (`YYYY-MM-DD`), plus `days_after`; None if not a day."""
    if not _DAY.match(text):
        return None
    try:
        start = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=PHNOM_PENH)
    except ValueError:
        return None
    return int((start + timedelta(days=days_after)).astimezone(UTC).timestamp() * 1000)


def _minor(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _search_of(params: dict[str, str]) -> queries.Search:
    tx_hash = params.get("hash", "").strip().lower()
    account = params.get("account", "").strip()
    participant = params.get("participant", "").strip()
    result = params.get("result", "").strip()
    return queries.Search(
        tx_hash=bytes.fromhex(tx_hash) if _HASH.match(tx_hash) else None,
        account=account if is_account_id(account) else "",
        participant=participant if is_participant_code(participant) else "",
        since_ms=_day_ms(params.get("from", "").strip()),
        until_ms=_day_ms(params.get("to", "").strip(), days_after=1),
        amount_min=_minor(params.get("min", "").strip()),
        amount_max=_minor(params.get("max", "").strip()),
        result=result if re.fullmatch(r"[a-z_0-9]{1,40}", result) else "",
    )


async def _transactions(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    params = {key: value[:128] for key, value in request.query_params.items()}
    asked = any(value.strip() for value in params.values())
    rows = []
    if asked:
        rows = await services.db(queries.search, services.engine, _search_of(params))
    context = page_context(signed, params=params, rows=rows, asked=asked)
    return page(request, "transactions.html", context)


# -- acts: propose, approve, reject ------------------------------------------------------------


async def _propose(services: ConsoleServices, form: dict[str, str], signed: Signed) -> Response:
    kind = form.get("kind", "")
    money: tuple[Asset, int] | None = None
    if kind in proposals.MONEY_KINDS:
        code = form.get("participant", "")
        if not is_participant_code(code):
            raise GatewayProblem(400, "participant_invalid", "choose a participant")
        account_id: str = settlement_account(code)
        asset_text = form.get("asset", "")
        if asset_text not in {a.value for a in ASSETS}:
            raise GatewayProblem(400, "asset_invalid", "choose KHR or USD")
        asset = Asset(asset_text)
        money = (asset, proposals.parse_amount(asset, form.get("amount", "")[:40]))
    elif kind in proposals.PARTICIPANT_KINDS:
        account_id = form.get("participant", "").strip()[:16]
    else:
        account_id = form.get("account", "").strip()[:128]
    reference = form.get("reference", "")[: limits.console_reason_chars_max + 1]
    number = await services.db(
        proposals.propose, services.engine, signed.staff, kind, account_id, reference,
        services.clock_ms(), money, central_bank=services.central_bank,
    )  # fmt: skip
    return redirect(safe_next(form.get("back", "/proposals")), done=f"proposed-{number}")


def _number(form: dict[str, str]) -> int:
    text = form.get("path.number", "")
    if not text.isdigit() or len(text) > 18:
        raise GatewayProblem(404, "proposal_not_found", "no proposal has this number")
    return int(text)


async def _approve(services: ConsoleServices, form: dict[str, str], signed: Signed) -> Response:
    number = _number(form)
    found = await proposals.approve(services, signed.staff, number)
    return redirect("/proposals", done=f"{found.state}-{number}")


async def _reject(services: ConsoleServices, form: dict[str, str], signed: Signed) -> Response:
    number = _number(form)
    await services.db(
        proposals.reject, services.engine, signed.staff, number, form.get("note", "")[:600],
        services.clock_ms(),
    )  # fmt: skip
    return redirect("/proposals", done=f"rejected-{number}")


def routes(services: ConsoleServices) -> list[BaseRoute]:
    def bound(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(services, request)

        return endpoint

    def get(path: str, handler: Handler) -> Route:
        return Route(path, bound(handler), methods=["GET"], include_in_schema=False)

    def post(path: str, handler: Handler) -> Route:
        return Route(path, bound(handler), methods=["POST"], include_in_schema=False)

    return [
        get("/signin", signin_page),
        post("/signin", signin),
        post("/signout", staff_form(_signout, "/")),
        get("/", signed_page(_overview)),
        get("/participants", signed_page(_participants)),
        get("/liquidity", signed_page(_liquidity)),
        get("/proposals", signed_page(_queue)),
        post("/proposals", staff_form(_propose, "/proposals")),
        post("/proposals/{number}/approve", staff_form(_approve, "/proposals")),
        post("/proposals/{number}/reject", staff_form(_reject, "/proposals")),
        get("/account", signed_page(_account)),
        get("/transactions", signed_page(_transactions)),
        get("/audit", signed_page(_audit)),
    ]
