"""The console's staff: argon2 passwords, sessions, lockout, the audit of every sign-in, and
`bakong console init` / `staff add`; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.cli import main
from bakong.console import audit_log, staff, store
from bakong.console.home import load_home
from bakong.gateway.problems import GatewayProblem
from bakong.keystore import write_key_file
from bakong.ledger.genesis import encode_genesis
from bakong.sandbox import Sandbox, sandbox_key
from tests.console.console_harness import PASSWORD, console_engine, database_url, postgres_server

__all__ = ["console_engine", "database_url", "postgres_server"]


def _code(error: pytest.ExceptionInfo[GatewayProblem]) -> str:
    return error.value.code


def test_a_password_is_stored_as_an_argon2_hash(console_engine: Engine) -> None:
    staff.add_staff(console_engine, "dara.s", "operator", PASSWORD, 1)
    with console_engine.connect() as connection:
        stored = connection.execute(sa.select(store.staff.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize(
    ("name", "role", "password", "code"),
    [
        ("Dara S", "operator", PASSWORD, "staff_invalid"),
        ("dara", "governor", PASSWORD, "staff_invalid"),
        ("dara", "operator", "short", "staff_invalid"),
        ("dara", "operator", "aaaaaaaaaaaaaaaa", "staff_invalid"),
    ],
)
def test_bad_staff_are_refused(
    console_engine: Engine, name: str, role: str, password: str, code: str
) -> None:
    with pytest.raises(GatewayProblem) as refused:
        staff.add_staff(console_engine, name, role, password, 1)
    assert _code(refused) == code


def test_a_name_is_taken_once(console_engine: Engine) -> None:
    staff.add_staff(console_engine, "dara", "operator", PASSWORD, 1)
    with pytest.raises(GatewayProblem) as taken:
        staff.add_staff(console_engine, "dara", "auditor", PASSWORD, 1)
    assert _code(taken) == "staff_exists"


def test_sign_in_opens_a_session_and_sign_out_ends_it(console_engine: Engine) -> None:
    staff.add_staff(console_engine, "dara", "supervisor", PASSWORD, 1)
    token, member = staff.sign_in(console_engine, "dara", PASSWORD, 1_000, os.urandom)
    assert (member.name, member.role) == ("dara", "supervisor")
    found = staff.session_staff(console_engine, token, 2_000)
    assert found is not None and found[0] == member and len(found[1]) >= 20
    with console_engine.connect() as connection:
        digests = connection.execute(sa.select(store.staff_sessions.c.token_hash)).scalars().all()
    assert digests == [staff.token_digest(token)]  # the token itself is stored nowhere
    expiry = 1_000 + limits.console_session_lifetime_ms
    assert staff.session_staff(console_engine, token, expiry) is None
    staff.sign_out(console_engine, token, member, 3_000)
    assert staff.session_staff(console_engine, token, 4_000) is None
    actions = [entry.action for entry in audit_log.entries(console_engine, 10)]
    assert actions == ["sign_out", "sign_in", "staff_added"]


def test_wrong_passwords_lock_the_login(console_engine: Engine) -> None:
    staff.add_staff(console_engine, "dara", "operator", PASSWORD, 1)
    for _ in range(limits.pin_failures_max):
        with pytest.raises(GatewayProblem) as wrong:
            staff.sign_in(console_engine, "dara", "not-the-password", 10, os.urandom)
        assert _code(wrong) == "login_failed"
    with pytest.raises(GatewayProblem) as locked:
        staff.sign_in(console_engine, "dara", PASSWORD, 20, os.urandom)
    assert _code(locked) == "login_locked" and locked.value.http_status == 423
    later = 20 + limits.pin_lockout_ms
    assert staff.sign_in(console_engine, "dara", PASSWORD, later, os.urandom)[1].name == "dara"
    failures = [e for e in audit_log.entries(console_engine, 50) if e.action == "sign_in_failed"]
    assert len(failures) == limits.pin_failures_max


def test_an_unknown_name_gets_the_same_answer(console_engine: Engine) -> None:
    with pytest.raises(GatewayProblem) as unknown:
        staff.sign_in(console_engine, "nobody", PASSWORD, 1, os.urandom)
    assert _code(unknown) == "login_failed"


def _genesis_and_key(tmp_path: Path) -> tuple[Path, Path]:
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(encode_genesis(Sandbox().genesis))
    key = tmp_path / "nbc-admin.json"
    write_key_file(key, sandbox_key("nbc/admin"))
    return genesis, key


def test_the_command_line_writes_a_home_and_adds_staff(tmp_path: Path) -> None:
    genesis, key = _genesis_and_key(tmp_path)
    home = tmp_path / "console"
    runner = CliRunner()
    made = runner.invoke(
        main, ["console", "init", "--home", str(home), "--node", "http://127.0.0.1:1",
               "--genesis", str(genesis), "--key", str(key), "--json"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert load_home(home).genesis.central_bank.code == "nbc"
    added = runner.invoke(
        main, ["console", "staff", "add", "--home", str(home), "--user", "sam",
               "--role", "supervisor", "--password-stdin"], input=PASSWORD + "\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "supervisor sam added" in added.output and PASSWORD not in added.output
    generated = runner.invoke(
        main, ["console", "staff", "add", "--home", str(home), "--user", "ada",
               "--role", "auditor", "--json"],
    )  # fmt: skip
    assert generated.exit_code == 0, generated.output
    engine = store.engine_for(load_home(home).database_url)
    password = json.loads(generated.output)["password"]
    assert staff.sign_in(engine, "ada", password, 1, os.urandom)[1].role == "auditor"
    engine.dispose()


def test_a_key_that_is_not_the_central_banks_is_refused(tmp_path: Path) -> None:
    genesis, _ = _genesis_and_key(tmp_path)
    other = tmp_path / "aclb-admin.json"
    write_key_file(other, sandbox_key("aclb/admin"))
    refused = CliRunner().invoke(
        main, ["console", "init", "--home", str(tmp_path / "c"), "--node", "http://127.0.0.1:1",
               "--genesis", str(genesis), "--key", str(other)],
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "not an admin key of the genesis' central bank" in refused.output
