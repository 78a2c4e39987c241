"""Accounts: password hashing, users and roles in the store, the access log, ``kota user``."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from twin.accounts import (
    MIN_PASSWORD_LENGTH,
    AccessEntry,
    AccountError,
    AccountStore,
    WeakPassword,
    allows,
    hash_password,
    page_permission,
    verify_password,
)
from twin.accounts.roles import PERMISSIONS, ROLES
from twin.cli import main

GOOD = "correct horse battery staple"


def test_hash_verifies_only_the_right_password():
    """A salted scrypt hash: the password matches, a wrong one does not, salts differ."""
    first, second = hash_password(GOOD), hash_password(GOOD)
    assert first.startswith("scrypt$") and GOOD not in first
    assert first != second  # a fresh salt each time
    assert verify_password(GOOD, first) and verify_password(GOOD, second)
    assert not verify_password(GOOD + "!", first)
    assert not verify_password("", first)
    assert not verify_password(GOOD, "not-a-hash")  # malformed: refused, no exception
    assert not verify_password(GOOD, first.replace("scrypt$", "md5$"))


@pytest.mark.parametrize("weak", ["", "   ", "short", "x" * (MIN_PASSWORD_LENGTH - 1)])
def test_weak_passwords_are_refused(weak):
    with pytest.raises(WeakPassword):
        hash_password(weak)


def test_permission_table_covers_every_role_and_only_admin_manages_users():
    assert set(PERMISSIONS) == set(ROLES) and len(ROLES) == 8
    assert [r for r in ROLES if allows(r, "action:users.manage")] == ["admin"]
    assert not allows("planner", page_permission("/"))
    assert allows("dispatcher", page_permission("/"))
    assert page_permission("/enforcement/case/7") == "page:/enforcement"
    assert not allows("nobody", "page:/")


def test_users_in_the_store(store):
    """Add, authenticate, refuse, disable; every attempt lands in the chained access log."""
    accounts = AccountStore.of(store)
    accounts.add_user("ana", "admin", GOOD)
    with pytest.raises(AccountError, match="exists"):
        accounts.add_user("ana", "planner", GOOD)
    with pytest.raises(ValueError, match="unknown role"):
        accounts.add_user("bo", "janitor", GOOD)
    assert accounts.authenticate("ana", GOOD).role == "admin"
    assert accounts.authenticate("ana", "wrong password!!") is None
    assert accounts.authenticate("nobody", GOOD) is None
    accounts.disable("ana")
    assert accounts.authenticate("ana", GOOD) is None
    assert accounts.user("ana").disabled
    actions = [(r.actor, r.action, r.reason) for r in accounts.access_entries()]
    assert actions == [("cli", "user.add", "role admin"), ("ana", "login", "ok"),
                       ("ana", "login.refused", "wrong name or password"),
                       ("nobody", "login.refused", "wrong name or password"),
                       ("cli", "user.disable", "disabled"), ("ana", "login.refused", "disabled")]
    assert accounts.verify_access_log() == (True, 6, "")


def test_access_log_is_append_only(store):
    accounts = AccountStore.of(store)
    accounts.record(AccessEntry("ana", "auditor", "personal_data.view", "driver:1", "appeal 12"))
    for sql in ("UPDATE access_audit SET reason = 'x'", "DELETE FROM access_audit"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    assert [r.reason for r in accounts.access_entries()] == ["appeal 12"]


def _user_cli(tmp_path, *argv: str) -> int:
    return main(["user", *argv, "--store", f"sqlite:///{tmp_path / 'kota.db'}"])


def test_kota_user_add_list_disable(tmp_path, capsys):
    pw = tmp_path / "pw"
    pw.write_text(GOOD + "\n")
    assert _user_cli(tmp_path, "add", "ana", "--role", "admin", "--password-file", str(pw)) == 0
    assert _user_cli(tmp_path, "list") == 0
    assert "ana" in capsys.readouterr().out
    assert _user_cli(tmp_path, "disable", "ana") == 0
    assert _user_cli(tmp_path, "disable", "ghost") == 1
    assert _user_cli(tmp_path, "list", "--json") == 0
    assert '"disabled": true' in capsys.readouterr().out


@pytest.mark.parametrize("content", ["", "\n", "abc\n", "   \n"])
def test_kota_user_add_refuses_empty_or_short_passwords(tmp_path, capsys, content):
    pw = tmp_path / "pw"
    pw.write_text(content)
    assert _user_cli(tmp_path, "add", "ana", "--role", "admin", "--password-file", str(pw)) == 1
    assert "password" in capsys.readouterr().err
    assert _user_cli(tmp_path, "list", "--json") == 0
    assert capsys.readouterr().out.strip() == "[]"


def test_no_default_admin_and_no_prompt_without_terminal(tmp_path, capsys, monkeypatch):
    """A fresh store has no account; add without a terminal or file refuses; serve refuses."""
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert _user_cli(tmp_path, "add", "ana", "--role", "admin") == 1
    assert "--password-file" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # --role is required: no implicit admin
        _user_cli(tmp_path, "add", "ana")
    assert main(["serve", "--store", f"sqlite:///{tmp_path / 'kota.db'}"]) == 1
    assert "kota user add" in capsys.readouterr().err
