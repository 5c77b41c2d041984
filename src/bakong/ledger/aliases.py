"""Phone aliases: `HMAC-SHA256(alias_key, E.164 number)` -> account (design section 3).

The ledger never sees a phone number, only its HMAC under a key shared among participants
out of band. A participant registers and removes aliases for its own accounts only; one alias
points at one account.
"""

from __future__ import annotations

from bakong.ledger.commands import RegisterAlias, RemoveAlias
from bakong.ledger.context import Context, Creator
from bakong.ledger.identifiers import is_account_id
from bakong.ledger.money import permitted
from bakong.ledger.records import AccountStatus, Alias
from bakong.ledger.result import ResultCode
from bakong.ledger.state import alias_key

__all__ = ["register_alias", "remove_alias"]


def register_alias(context: Context, command: RegisterAlias, creator: Creator) -> ResultCode:
    if not is_account_id(command.account):
        return ResultCode.account_id_invalid
    if not permitted(context, creator, RegisterAlias, command.account):
        return ResultCode.permission_denied
    account = context.account(command.account)
    if account is None:
        return ResultCode.account_not_found
    if account.status is AccountStatus.closed:
        return ResultCode.account_closed
    if context.view.read(alias_key(command.alias)) is not None:
        return ResultCode.alias_exists
    context.view.write(alias_key(command.alias), Alias(account_id=command.account))
    return ResultCode.ok


def remove_alias(context: Context, command: RemoveAlias, creator: Creator) -> ResultCode:
    alias: Alias | None = context.view.read(alias_key(command.alias))
    if alias is None:
        return ResultCode.alias_not_found
    if not permitted(context, creator, RemoveAlias, alias.account_id):
        return ResultCode.permission_denied
    context.view.write(alias_key(command.alias), None)
    return ResultCode.ok
