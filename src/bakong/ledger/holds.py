"""Pending (two-phase) transfers: place a hold, post it, void it, or let it expire.

A hold moves money from the source's available balance into its `held` balance. Posting
credits the target with up to the held amount and returns the rest to the source; voiding or
expiry returns it all. Only the hold's poster may post or void it. Daily limits are counted
when the hold is placed. Completed holds stay in state with their status, so a late post gets
a precise code (`hold_already_posted`, `hold_expired`) rather than `hold_not_found`.

Direction (`money.transfer_direction`): placing a hold from a receive-only participant's
account, or toward a send-only one's, is refused (`source_participant_receive_only`,
`target_participant_send_only`, after `target_account_not_active`). Posting and voiding are
not: a post completes a transfer the ledger already accepted, whose money already left the
source, so a status set after the hold was placed does not strand it; a void or an expiry
only returns money to its source.

Expiry: a hold expires at the first block whose time is past `expires_ms`. Holds are indexed
in per-minute buckets (`x/<minute>`); each block sweeps the buckets from the head's cursor up to
its own minute, so the work per block is bounded by the minutes elapsed and the holds due.
"""

from __future__ import annotations

from msgspec.structs import replace

from bakong import limits
from bakong.ledger.assets import pair_add
from bakong.ledger.commands import PlaceHold, PostHold, VoidHold
from bakong.ledger.context import Context, Creator
from bakong.ledger.money import credit, debit, permitted, transfer_direction
from bakong.ledger.records import Account, Head, Hold, HoldExpiryBucket, HoldStatus
from bakong.ledger.result import ResultCode
from bakong.ledger.state import HEAD_KEY, account_key, hold_expiry_key, hold_key

__all__ = ["place_hold", "post_hold", "sweep_expired_holds", "void_hold"]

_ms_per_minute = 60_000
_status_codes = {
    HoldStatus.posted: ResultCode.hold_already_posted,
    HoldStatus.voided: ResultCode.hold_already_voided,
    HoldStatus.expired: ResultCode.hold_expired,
}


def _head(context: Context) -> Head:
    head: Head = context.view.read(HEAD_KEY)
    assert head is not None
    return head


def _count_pending(context: Context, delta: int) -> None:
    head = _head(context)
    assert head.holds_pending + delta >= 0
    context.view.write(HEAD_KEY, replace(head, holds_pending=head.holds_pending + delta))


def place_hold(context: Context, command: PlaceHold, creator: Creator) -> ResultCode:
    if not permitted(context, creator, PlaceHold, command.source):
        return ResultCode.permission_denied
    if command.amount <= 0:
        return ResultCode.amount_must_be_positive
    if command.source == command.target:
        return ResultCode.accounts_must_be_different
    if context.view.read(hold_key(command.hold_id)) is not None:
        return ResultCode.hold_exists
    lifetime_ms = command.expires_ms - context.time_ms
    if not limits.hold_expiry_ms_min <= lifetime_ms <= limits.hold_expiry_ms_max:
        return ResultCode.hold_expiry_invalid
    source = context.account(command.source)
    if source is None:
        return ResultCode.source_account_not_found
    target = context.account(command.target)
    if target is None:
        return ResultCode.target_account_not_found
    if context.account(command.poster) is None:
        return ResultCode.poster_not_found
    if not context.account_is_active(source):
        return ResultCode.source_account_not_active
    if not context.account_is_active(target):
        return ResultCode.target_account_not_active
    code = transfer_direction(context, command.source, command.target)
    if code is not ResultCode.ok:
        return code
    if source.holds_pending >= limits.holds_per_account_max:
        return ResultCode.holds_limit_reached
    index = command.asset.index
    code, source = debit(context, source, index, command.amount)
    if code is not ResultCode.ok:
        return code
    source = replace(
        source,
        held=pair_add(source.held, index, command.amount),
        holds_pending=source.holds_pending + 1,
    )
    context.view.write(account_key(command.source), source)
    hold = Hold(
        hold_id=command.hold_id,
        source=command.source,
        target=command.target,
        poster=command.poster,
        asset=command.asset,
        amount=command.amount,
        expires_ms=command.expires_ms,
        status=HoldStatus.pending,
        posted_amount=0,
    )
    context.view.write(hold_key(command.hold_id), hold)
    _add_to_bucket(context, command.hold_id, command.expires_ms // _ms_per_minute)
    _count_pending(context, +1)
    return ResultCode.ok


def _add_to_bucket(context: Context, hold_id: bytes, minute: int) -> None:
    key = hold_expiry_key(minute)
    bucket: HoldExpiryBucket | None = context.view.read(key)
    hold_ids = tuple(sorted((*(bucket.hold_ids if bucket else ()), hold_id)))
    context.view.write(key, HoldExpiryBucket(hold_ids=hold_ids))


def _pending_hold(
    context: Context, hold_id: bytes, creator: Creator, command_type: type
) -> tuple[ResultCode, Hold | None]:
    """The hold lookup, permission and status rungs shared by post and void."""
    hold: Hold | None = context.view.read(hold_key(hold_id))
    if hold is None:
        return ResultCode.hold_not_found, None
    if not permitted(context, creator, command_type, hold.poster):
        return ResultCode.permission_denied, None
    if hold.status is not HoldStatus.pending:
        return _status_codes[hold.status], None
    if hold.expires_ms < context.time_ms:
        return ResultCode.hold_expired, None
    return ResultCode.ok, hold


def _release(context: Context, hold: Hold, returned: int) -> Account:
    """Take the hold off its source's held balance, returning `returned` to available."""
    source = context.account(hold.source)
    assert source is not None, "a pending hold's source is never deleted"
    index = hold.asset.index
    assert source.held[index] >= hold.amount
    return replace(
        source,
        held=pair_add(source.held, index, -hold.amount),
        balances=pair_add(source.balances, index, returned),
        holds_pending=source.holds_pending - 1,
    )


def post_hold(context: Context, command: PostHold, creator: Creator) -> ResultCode:
    code, hold = _pending_hold(context, command.hold_id, creator, PostHold)
    if hold is None:
        return code
    if command.amount <= 0:
        return ResultCode.amount_must_be_positive
    if command.amount > hold.amount:
        return ResultCode.post_amount_exceeds_hold
    target = context.account(hold.target)
    assert target is not None, "accounts are never deleted"
    if not context.account_is_active(target):
        return ResultCode.target_account_not_active
    index = hold.asset.index
    code, target = credit(context, target, index, command.amount)
    if code is not ResultCode.ok:
        return code
    source = _release(context, hold, hold.amount - command.amount)
    context.view.write(account_key(hold.source), source)
    context.view.write(account_key(hold.target), target)
    posted = replace(hold, status=HoldStatus.posted, posted_amount=command.amount)
    context.view.write(hold_key(hold.hold_id), posted)
    _count_pending(context, -1)
    return ResultCode.ok


def void_hold(context: Context, command: VoidHold, creator: Creator) -> ResultCode:
    code, hold = _pending_hold(context, command.hold_id, creator, VoidHold)
    if hold is None:
        return code
    _finish_unposted(context, hold, HoldStatus.voided)
    return ResultCode.ok


def _finish_unposted(context: Context, hold: Hold, status: HoldStatus) -> None:
    context.view.write(account_key(hold.source), _release(context, hold, hold.amount))
    context.view.write(hold_key(hold.hold_id), replace(hold, status=status))
    _count_pending(context, -1)


def sweep_expired_holds(context: Context) -> None:
    """Expire every pending hold whose `expires_ms` is before this block's time.

    Runs before the block's transactions, as its own atomic step.
    """
    head = _head(context)
    now_minute = context.time_ms // _ms_per_minute
    minute = head.hold_expiry_minute
    if head.holds_pending == 0:
        minute = now_minute
    # No pending hold can expire later than the longest lifetime after the previous block.
    last = min(now_minute, minute + limits.hold_expiry_ms_max // _ms_per_minute + 1)
    while minute <= last:
        _sweep_bucket(context, minute)
        if minute == now_minute:
            break
        minute += 1
    head = _head(context)
    context.view.write(HEAD_KEY, replace(head, hold_expiry_minute=max(minute, now_minute)))
    context.view.commit_transaction()


def _sweep_bucket(context: Context, minute: int) -> None:
    key = hold_expiry_key(minute)
    bucket: HoldExpiryBucket | None = context.view.read(key)
    if bucket is None:
        return
    remaining: list[bytes] = []
    for hold_id in bucket.hold_ids:
        hold: Hold | None = context.view.read(hold_key(hold_id))
        assert hold is not None, "a bucket only names holds that exist"
        if hold.status is not HoldStatus.pending:
            continue
        if hold.expires_ms < context.time_ms:
            _finish_unposted(context, hold, HoldStatus.expired)
        else:
            remaining.append(hold_id)
    context.view.write(key, HoldExpiryBucket(hold_ids=tuple(remaining)) if remaining else None)
