"""The console's governance pages: register a participant, rotate its keys, edit the limits
policy, each a proposal (`console.proposals`), and a proposal shown against what the ledger
holds now.

    GET  /governance                   the forms, the participants' keys, the policy in force
    POST /governance/register          propose a bank, MFI or payment provider
    POST /governance/rotate            propose new admin and gateway keys for a participant
    POST /governance/limits            propose a limits policy
    GET  /governance/proposals/{n}     proposal n beside the current record or policy (a diff
                                       table for limits), with approve and reject for a
                                       supervisor (they post to `/proposals/{n}/...`)

The views' rules hold (`console.pages.views`): a session for every page, the anti-forgery
token on every form, refusals as `?error=<code>`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.console import governance, proposals, queries
from bakong.console.home import ConsoleServices
from bakong.console.pages.render import page, redirect
from bakong.console.pages.views import Handler, Signed, page_context, signed_page, staff_form
from bakong.gateway.problems import GatewayProblem
from bakong.ledger.assets import ASSETS, Asset
from bakong.ledger.policy import LimitsPolicy

__all__ = ["routes"]

_TIERS = ("tier0", "tier1", "tier2")


def _reason(form: dict[str, str]) -> str:
    return form.get("reference", "")[: limits.console_reason_chars_max + 1]


def _quorum(form: dict[str, str]) -> int:
    text = form.get("admin_quorum", "1").strip() or "1"
    if not text.isdigit() or len(text) > 3:
        raise GatewayProblem(400, "quorum_invalid", "a quorum is a small number")
    return int(text)


def _keys(form: dict[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    bound = (limits.keys_per_participant_max + 1) * 66
    admin = governance.parse_keys(form.get("admin_keys", "")[:bound], "admin_keys", at_least=1)
    gateway = governance.parse_keys(
        form.get("gateway_keys", "")[:bound], "gateway_keys", at_least=0
    )
    return admin, gateway


async def _overview(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    rows = await services.db(queries.participant_rows, services.engine)
    records = await services.db(governance.participant_records, services.engine)
    policy = await services.db(governance.current_policy, services.engine, services.genesis)
    context = page_context(
        signed, rows=rows, records=records, policy=governance.policy_fields(policy),
        types=governance.PARTICIPANT_TYPES, tiers=_TIERS, assets=ASSETS,
    )  # fmt: skip
    return page(request, "governance.html", context)


async def _register(services: ConsoleServices, form: dict[str, str], signed: Signed) -> Response:
    admin, gateway = _keys(form)
    draft = proposals.Registration(
        code=form.get("code", "").strip()[:16], name=form.get("name", "")[:200],
        kind=form.get("participant_kind", "")[:8], admin_keys=admin,
        admin_quorum=_quorum(form), gateway_keys=gateway,
        gateway_url=form.get("gateway_url", "").strip()[: limits.gateway_url_chars_max + 1],
    )  # fmt: skip
    number = await services.db(
        proposals.propose_register, services.engine, signed.staff, draft, _reason(form),
        services.clock_ms(),
    )  # fmt: skip
    return redirect(f"/governance/proposals/{number}", done=f"proposed-{number}")


async def _rotate(services: ConsoleServices, form: dict[str, str], signed: Signed) -> Response:
    admin, gateway = _keys(form)
    draft = proposals.Rotation(
        code=form.get("participant", "").strip()[:16], admin_keys=admin,
        admin_quorum=_quorum(form), gateway_keys=gateway,
    )  # fmt: skip
    number = await services.db(
        proposals.propose_rotation, services.engine, signed.staff, draft, _reason(form),
        services.clock_ms(),
    )  # fmt: skip
    return redirect(f"/governance/proposals/{number}", done=f"proposed-{number}")


async def _limits(services: ConsoleServices, form: dict[str, str], signed: Signed) -> Response:
    def pair(name: str) -> tuple[int, int]:
        khr, usd = (
            governance.parse_limit(asset, form.get(f"{name}_{asset.value}", "")[:32])
            for asset in (Asset.KHR, Asset.USD)
        )
        return khr, usd

    codes = {row.code for row in await services.db(queries.participant_rows, services.engine)}
    caps_bound = limits.participants_max * 3 * 64
    policy = LimitsPolicy(
        per_day_by_tier=(pair("tier0"), pair("tier1"), pair("tier2")),
        institutional_per_transfer=pair("institutional"),
        basic_balance_max=pair("basic_balance"),
        participant_caps=governance.parse_caps(form.get("caps", "")[:caps_bound], codes),
    )  # fmt: skip
    number = await services.db(
        proposals.propose_limits, services.engine, signed.staff, policy, _reason(form),
        services.clock_ms(), central_bank=services.central_bank,
    )  # fmt: skip
    return redirect(f"/governance/proposals/{number}", done=f"proposed-{number}")


def _comparison(services: ConsoleServices, found: proposals.Proposal) -> dict[str, Any]:
    """What the detail page shows beside the proposal: the current record or policy."""
    if found.kind == "set_limits":
        current = governance.current_policy(services.engine, services.genesis)
        return {"diff": governance.policy_diff(current, proposals.proposed_policy(found))}
    if found.kind == "register":
        return {"registration": proposals.registration(found)}
    if found.kind == "rotate_keys":
        record = governance.participant_records(services.engine).get(found.account_id)
        return {"rotation": proposals.rotation(found), "current": record}
    return {}


async def _detail(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    text = request.path_params["number"]
    if not text.isdigit() or len(text) > 18:
        raise GatewayProblem(404, "proposal_not_found", "no proposal has this number")
    found = await services.db(proposals.proposal, services.engine, int(text))
    shown = await services.db(_comparison, services, found)
    blank: dict[str, Any] = {"diff": None, "registration": None, "rotation": None, "current": None}
    context = page_context(signed, p=found, **{**blank, **shown})
    return page(request, "governance_proposal.html", context)


def routes(services: ConsoleServices) -> list[BaseRoute]:
    def bound(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(services, request)

        return endpoint

    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, bound(handler), methods=[method], include_in_schema=False)

    return [
        route("/governance", signed_page(_overview), "GET"),
        route("/governance/register", staff_form(_register, "/governance"), "POST"),
        route("/governance/rotate", staff_form(_rotate, "/governance"), "POST"),
        route("/governance/limits", staff_form(_limits, "/governance"), "POST"),
        route("/governance/proposals/{number}", signed_page(_detail), "GET"),
    ]
