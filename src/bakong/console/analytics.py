"""Analytics: the console's chain data exported to Parquet and the daily figures DuckDB reads.

`export(engine, directory)` copies the store's `movements` (each with its source's and target's
participant, account kind and KYC tier, and the channel below) to Parquet files partitioned by
the Phnom Penh day (`directory/day=YYYY-MM-DD/hFROM-TO_N.parquet`), incrementally: `export.json`
records the last height exported, and a rerun writes only the blocks the follower applied
since. `figures(directory, days)` reads the files with DuckDB and sums them per day.

Rules:
- The files are written by DuckDB's `COPY ... (FORMAT parquet, PARTITION_BY (day))` from a
  CSV the store's rows stream into (no pyarrow, nothing held in memory but one row). A batch
  is written into a scratch directory, its files moved into place, and only then is
  `export.json` replaced (atomically): an export that stops half way left files of heights
  above the recorded one, which the next export deletes before it writes them again. So a
  height is in the files once, or not yet. A lock file keeps exports one at a time (the
  console's page and `bakong stats` may share a home) and figures from reading during one.
- Only heights the follower has applied (`meta.last_height`) are exported: the store holds
  each block whole, so an exported height is never revisited.
- Every movement row is exported, failed ones and holds included (with `kind` and `result`);
  the figures count the rows that moved money (`result` ok and a `MONEY_MOVING_KINDS` kind:
  transfers, posted holds, issues and redemptions), so a hold is counted once, when posted.
- A row's channel is what the chain shows of it (`channel_of`): `cross_border` when either
  account is a link's, `agent` when either is an agent's, `merchant` when the target is a
  merchant's, `liquidity` for an issue or a redemption, `interbank` between settlement
  accounts, else `wallet`. The chain does not say whether a customer paid from the app or by
  USSD (a gateway signs both alike), so both are `wallet`.
- A row's tier is its source account's (the payer's, whose limits applied): `basic`, `partial`,
  `full`, `institutional`, or `unknown` for an account followed before the store kept tiers.
  It is the tier the store knew when the row was exported: a later `set_kyc_tier` does not
  rewrite rows already written.
- The figures cover the `days` Phnom Penh days up to the day of the last exported block (the
  chain's own clock, not the reader's), and are integers: counts, and values in minor units.
"""

from __future__ import annotations

import csv
import datetime
import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.console import store
from bakong.console.follower import stored_height
from bakong.console.movements import MONEY_MOVING_KINDS
from bakong.errors import ConfigError, LocalError
from bakong.ledger.policy import phnom_penh_day

__all__ = [
    "CHANNELS",
    "ByChannel",
    "ByParticipant",
    "ByTier",
    "Daily",
    "ExportResult",
    "Figures",
    "channel_of",
    "export",
    "exported_height",
    "figures",
]

STATE_FILE = "export.json"
LOCK_FILE = ".lock"
SCRATCH = ".scratch"
CHANNELS = ("wallet", "agent", "merchant", "cross_border", "interbank", "liquidity")
TIERS = ("basic", "partial", "full", "institutional", "unknown")
_EPOCH = datetime.date(1970, 1, 1)

# The exported columns and their DuckDB types, in order.
COLUMNS = {
    "height": "BIGINT",
    "time_ms": "BIGINT",
    "day": "DATE",
    "tx_index": "INTEGER",
    "command_index": "INTEGER",
    "tx_hash": "VARCHAR",  # hex; empty for a hold the block's sweep expired
    "kind": "VARCHAR",
    "result": "VARCHAR",
    "asset": "VARCHAR",
    "amount": "BIGINT",
    "source": "VARCHAR",
    "target": "VARCHAR",
    "source_participant": "VARCHAR",
    "target_participant": "VARCHAR",
    "source_kind": "VARCHAR",
    "target_kind": "VARCHAR",
    "source_tier": "VARCHAR",
    "target_tier": "VARCHAR",
    "channel": "VARCHAR",
}


class ExportState(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    last_height: int = 0


class ExportResult(msgspec.Struct, frozen=True):
    """What one `export` wrote: heights `from_height..to_height` (none when from > to)."""

    from_height: int
    to_height: int
    rows: int
    files: int


class Daily(msgspec.Struct, frozen=True):
    day: str
    asset: str
    count: int
    value: int


class ByChannel(msgspec.Struct, frozen=True):
    day: str
    channel: str
    asset: str
    count: int
    value: int


class ByTier(msgspec.Struct, frozen=True):
    day: str
    tier: str
    asset: str
    count: int
    value: int


class ByParticipant(msgspec.Struct, frozen=True):
    day: str
    participant: str
    asset: str
    sent_count: int
    sent_value: int
    received_count: int
    received_value: int


class Figures(msgspec.Struct, frozen=True):
    """The daily figures of `days` days ending on `last_day` (module rules)."""

    exported_height: int
    days: int
    first_day: str | None
    last_day: str | None
    daily: list[Daily]
    by_channel: list[ByChannel]
    by_tier: list[ByTier]
    by_participant: list[ByParticipant]


def channel_of(kind: str, source_kind: str, target_kind: str) -> str:
    """The channel of a movement, from what the chain shows (module rules)."""
    sides = (source_kind, target_kind)
    if "link" in sides:
        return "cross_border"
    if "agent" in sides:
        return "agent"
    if target_kind == "merchant":
        return "merchant"
    if kind in ("issue", "redeem"):
        return "liquidity"
    if source_kind == target_kind == "settlement":
        return "interbank"
    return "wallet"


# -- export -------------------------------------------------------------------------------------


def exported_height(directory: Path) -> int:
    """The last height `directory`'s files hold (0: none)."""
    try:
        raw = (directory / STATE_FILE).read_bytes()
    except FileNotFoundError:
        return 0
    try:
        return msgspec.json.decode(raw, type=ExportState).last_height
    except msgspec.ValidationError as error:
        raise ConfigError(f"{directory / STATE_FILE} is not an export state: {error}") from None


def _record(directory: Path, height: int) -> None:
    scratch = directory / f"{STATE_FILE}.new"
    scratch.write_bytes(msgspec.json.encode(ExportState(height)))
    os.replace(scratch, directory / STATE_FILE)


def _from_height(name: str) -> int | None:
    """The first height in a file name `hFROM-TO_N.parquet`; None for another name."""
    head, _, rest = name.partition("-")
    if not (head.startswith("h") and head[1:].isdigit() and rest.endswith(".parquet")):
        return None
    return int(head[1:])


def _remove_unfinished(directory: Path, height: int) -> None:
    """Delete what an export that stopped half way left: files above `height`, its scratch."""
    shutil.rmtree(directory / SCRATCH, ignore_errors=True)
    for path in directory.glob("day=*/*.parquet"):
        first = _from_height(path.name)
        if first is not None and first > height:
            path.unlink()


def _rows(engine: Engine, first: int, last: int) -> Iterator[list[object]]:
    """The movements of heights `first..last` with their accounts, in `COLUMNS` order."""
    moves = store.movements
    source, target = store.accounts.alias("source"), store.accounts.alias("target")
    query = (
        sa.select(
            moves,
            source.c.kind.label("s_kind"),
            target.c.kind.label("t_kind"),
            source.c.tier.label("s_tier"),
            target.c.tier.label("t_tier"),
        )
        .select_from(
            moves.outerjoin(source, source.c.account_id == moves.c.source).outerjoin(
                target, target.c.account_id == moves.c.target
            )
        )
        .where(moves.c.height.between(first, last))
        .order_by(moves.c.height, moves.c.tx_index, moves.c.command_index)
    )
    with engine.connect() as connection:
        for row in connection.execution_options(yield_per=1000).execute(query):
            day = _EPOCH + datetime.timedelta(days=phnom_penh_day(row.time_ms))
            source_kind, target_kind = row.s_kind or "", row.t_kind or ""
            yield [
                row.height, row.time_ms, day.isoformat(), row.tx_index, row.command_index,
                bytes(row.tx_hash).hex(), row.kind, row.result, row.asset, row.amount,
                row.source, row.target, row.source_participant, row.target_participant,
                source_kind, target_kind, row.s_tier or "unknown", row.t_tier or "unknown",
                channel_of(row.kind, source_kind, target_kind),
            ]  # fmt: skip


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _write_batch(engine: Engine, directory: Path, first: int, last: int) -> tuple[int, int]:
    """Heights `first..last` into `directory`'s partitions; (rows, files)."""
    scratch = directory / SCRATCH
    scratch.mkdir()
    table = scratch / "rows.csv"
    rows = 0
    with table.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for row in _rows(engine, first, last):
            writer.writerow(row)
            rows += 1
    if rows == 0:
        shutil.rmtree(scratch)
        return 0, 0
    columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS.items()) + "}"
    with duckdb.connect() as duck:
        duck.execute(
            f"COPY (SELECT * FROM read_csv({_quoted(table)}, header = true, columns = {columns}))"
            f" TO {_quoted(scratch / 'parquet')} (FORMAT parquet, PARTITION_BY (day),"
            f" FILENAME_PATTERN 'h{first}-{last}_{{i}}')"
        )
    files = 0
    for written in sorted((scratch / "parquet").glob("day=*/*.parquet")):
        place = directory / written.parent.name
        place.mkdir(exist_ok=True)
        os.replace(written, place / written.name)
        files += 1
    shutil.rmtree(scratch)
    return rows, files


@contextmanager
def _locked(directory: Path, mode: int) -> Iterator[None]:
    """`directory`'s lock: one export at a time (LOCK_EX), none while figures read (LOCK_SH)."""
    with (directory / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def export(engine: Engine, directory: Path) -> ExportResult:
    """Export the heights the store holds beyond `directory`'s last (module rules)."""
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory, fcntl.LOCK_EX):
        return _export(engine, directory)


def _export(engine: Engine, directory: Path) -> ExportResult:
    done = exported_height(directory)
    _remove_unfinished(directory, done)
    top = stored_height(engine)
    rows = files = 0
    first = done + 1
    while first <= top:
        last = min(top, first + limits.analytics_export_heights_batch - 1)
        batch_rows, batch_files = _write_batch(engine, directory, first, last)
        _record(directory, last)
        rows, files, first = rows + batch_rows, files + batch_files, last + 1
    return ExportResult(done + 1, top, rows, files)


# -- figures ------------------------------------------------------------------------------------

_COUNTED = "result = 'ok' AND kind IN ({})".format(
    ", ".join(sorted(f"'{kind.value}'" for kind in MONEY_MOVING_KINDS))
)
Window = tuple[datetime.date, datetime.date]


def _select(duck: duckdb.DuckDBPyConnection, sql: str, window: Window) -> list[tuple[Any, ...]]:
    """`sql`'s rows over `window` (its two `?`), with a day as its ISO text."""
    found = duck.execute(sql, list(window)).fetchall()
    return [tuple(str(v) if isinstance(v, datetime.date) else v for v in row) for row in found]


def _by_dimension(
    duck: duckdb.DuckDBPyConnection, column: str, window: Window
) -> list[tuple[Any, ...]]:
    """(day, `column`, asset, count, value) of the counted rows, per day."""
    return _select(
        duck,
        f"SELECT day, {column}, asset, count(*), sum(amount) FROM moves"
        f" WHERE day BETWEEN ? AND ? AND {_COUNTED}"
        f" GROUP BY day, {column}, asset ORDER BY day, {column}, asset",
        window,
    )


def _by_participant(duck: duckdb.DuckDBPyConnection, window: Window) -> list[ByParticipant]:
    sides = (
        "SELECT day, source_participant AS participant, asset, 1 AS sent, amount AS sent_value,"
        f" 0 AS received, 0 AS received_value FROM moves WHERE {_COUNTED}"
        " UNION ALL SELECT day, target_participant, asset, 0, 0, 1, amount"
        f" FROM moves WHERE {_COUNTED}"
    )
    found = _select(
        duck,
        "SELECT day, participant, asset, sum(sent), sum(sent_value), sum(received),"
        f" sum(received_value) FROM ({sides}) WHERE day BETWEEN ? AND ?"
        " GROUP BY day, participant, asset ORDER BY day, participant, asset",
        window,
    )
    return [ByParticipant(*row) for row in found]


def _read(duck: duckdb.DuckDBPyConnection, height: int, days: int) -> Figures:
    last_day = duck.execute("SELECT max(day) FROM moves").fetchone()
    assert last_day is not None and isinstance(last_day[0], datetime.date)
    window = (last_day[0] - datetime.timedelta(days=days - 1), last_day[0])
    daily = _select(
        duck,
        "SELECT day, asset, count(*), sum(amount) FROM moves"
        f" WHERE day BETWEEN ? AND ? AND {_COUNTED} GROUP BY day, asset ORDER BY day, asset",
        window,
    )
    return Figures(
        exported_height=height, days=days,
        first_day=window[0].isoformat(), last_day=window[1].isoformat(),
        daily=[Daily(*row) for row in daily],
        by_channel=[ByChannel(*row) for row in _by_dimension(duck, "channel", window)],
        by_tier=[ByTier(*row) for row in _by_dimension(duck, "source_tier", window)],
        by_participant=_by_participant(duck, window),
    )  # fmt: skip


def figures(directory: Path, days: int = limits.analytics_days_default) -> Figures:
    """The figures of the `days` days up to the last exported block's day (module rules)."""
    if not 1 <= days <= limits.analytics_days_max:
        raise LocalError(f"days is 1 to {limits.analytics_days_max}")
    if not directory.is_dir():
        return Figures(0, days, None, None, [], [], [], [])
    with _locked(directory, fcntl.LOCK_SH):
        return _figures(directory, days)


def _figures(directory: Path, days: int) -> Figures:
    height = exported_height(directory)
    if not any(directory.glob("day=*/*.parquet")):
        return Figures(height, days, None, None, [], [], [], [])
    files = _quoted(directory / "day=*" / "*.parquet")
    with duckdb.connect() as duck:
        duck.execute(
            f"CREATE VIEW moves AS SELECT * FROM read_parquet({files},"
            " hive_partitioning = true, hive_types = {'day': DATE})"
        )
        return _read(duck, height, days)
