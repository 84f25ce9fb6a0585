"""Dashboard accounts: Argon2id hashes, roles, sessions that end, lockout; the users CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakecrew.core.errors import NotFound, UsageError
from lakecrew.faces.cli.main import app
from lakecrew.faces.web.accounts import MAX_FAILURES, Accounts, accounts_path

PASSWORD = "a long enough passphrase"


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    from argon2 import PasswordHasher

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # behaviour, not cost
    return Accounts(accounts_path(tmp_path), hasher=cheap)


def test_add_checks_name_role_and_password(accounts: Accounts) -> None:
    with pytest.raises(UsageError, match="invalid user name"):
        accounts.add("<b>", PASSWORD, "viewer")
    with pytest.raises(UsageError, match="unknown role"):
        accounts.add("amina", PASSWORD, "admin")
    with pytest.raises(UsageError, match="shorter than"):
        accounts.add("amina", "short", "viewer")
    accounts.add("amina", PASSWORD, "viewer")
    with pytest.raises(UsageError, match="exists"):
        accounts.add("amina", PASSWORD, "operator")
    assert accounts.add("amina", PASSWORD, "operator", replace=True).operator


def test_sessions_end_on_logout_removal_and_role_change(accounts: Accounts) -> None:
    user = accounts.add("amina", PASSWORD, "operator")
    token, session = accounts.open_session(user)
    assert accounts.session(token) == session and session.user.operator
    accounts.close_session(token)
    assert accounts.session(token) is None
    token, _ = accounts.open_session(user)
    accounts.add("amina", PASSWORD, "viewer", replace=True)  # a reset ends its sessions
    assert accounts.session(token) is None
    token, _ = accounts.open_session(accounts.users()[0])
    accounts.remove("amina")
    assert accounts.session(token) is None
    with pytest.raises(NotFound):
        accounts.remove("amina")
    assert accounts.session(None) is None and accounts.session("forged") is None


def test_wrong_passwords_lock_the_name_out_for_a_while(accounts: Accounts) -> None:
    accounts.add("amina", PASSWORD, "viewer")
    t0 = datetime(2026, 12, 4, 10, tzinfo=UTC)
    for i in range(MAX_FAILURES):
        assert accounts.verify("amina", "wrong guess", t0 + timedelta(seconds=i)) is None
    assert accounts.locked_out("amina", t0 + timedelta(minutes=1))
    assert accounts.verify("amina", PASSWORD, t0 + timedelta(minutes=1)) is None  # even right
    assert accounts.verify("amina", PASSWORD, t0 + timedelta(minutes=20)) is not None
    assert accounts.verify("nobody", PASSWORD) is None


def test_users_cli_adds_lists_and_removes(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--project", str(tmp_path), "--output", "json"]
    added = runner.invoke(
        app, ["users", "add", "amina", "--role", "operator", "--password-stdin", *base],
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    short = runner.invoke(app, ["users", "add", "bo", "--password-stdin", *base], input="x\n")
    assert short.exit_code == 2 and "shorter than" in short.output
    # an unknown role is refused before the password is asked for (no input given: a prompt
    # would abort with exit 1)
    admin = runner.invoke(app, ["users", "add", "zed", "--role", "admin", *base])
    assert admin.exit_code == 2 and "'admin' is not one of 'viewer', 'operator'" in (
        " ".join(admin.output.replace("│", " ").split())
    )
    listed = json.loads(runner.invoke(app, ["users", "list", *base]).stdout)
    assert listed["items"] == [{"name": "amina", "role": "operator"}]
    assert runner.invoke(app, ["users", "remove", "amina", *base]).exit_code == 0
    assert json.loads(runner.invoke(app, ["users", "list", *base]).stdout)["items"] == []
    assert PASSWORD.encode() not in accounts_path(tmp_path).read_bytes()
