"""Accounts in the store: add, list, disable, authenticate, and the access log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select, text, update

from twin.accounts import access_log
from twin.accounts.access_log import AccessEntry
from twin.accounts.passwords import hash_password, verify_password
from twin.accounts.roles import check_role
from twin.store import Store
from twin.store.schema import UserRow

USERS = cast(Table, UserRow.__table__)
_PG_LOCK = 0x41434354  # "ACCT": serialises writers of the access log on PostgreSQL
_DUMMY_HASH = hash_password("timing-equaliser-not-a-password")
"""Checked against when the name is unknown, so a wrong name costs as long as a wrong password."""


class AccountError(ValueError):
    """An account operation that cannot be done (duplicate name, unknown user)."""


@dataclass(frozen=True, slots=True)
class User:
    """An account as the dashboard sees it (no hash)."""

    name: str
    role: str
    disabled: bool
    created_at: datetime


def _user(row: Any) -> User:
    return User(row.name, row.role, bool(row.disabled), row.created_at)


class AccountStore(Store):
    """The ``users`` and ``access_audit`` tables of a store migrated to revision 0006."""

    @classmethod
    def of(cls, store: Store) -> AccountStore:
        """The account tables of an open :class:`twin.store.Store` (sharing its engine)."""
        return cls(store.engine)

    def _locked(self, conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})

    def add_user(self, name: str, role: str, password: str, *, by: str = "cli") -> User:
        """Create an account; raises :class:`AccountError` if ``name`` exists and
        :class:`~twin.accounts.passwords.WeakPassword` for a weak password."""
        name = name.strip()
        if not name:
            raise AccountError("the user name is empty")
        check_role(role)
        digest = hash_password(password)
        now = datetime.now(UTC)

        def work(conn: Connection, _maybe: bool) -> User:
            self._locked(conn)
            if conn.execute(select(USERS.c.name).where(USERS.c.name == name)).first():
                raise AccountError(f"user {name!r} exists already")
            conn.execute(insert(USERS), [{"name": name, "role": role, "password_hash": digest,
                                          "disabled": 0, "created_at": now, "updated_at": now}])
            access_log.append(conn, AccessEntry(by, "", "user.add", name, f"role {role}"))
            return User(name, role, False, now)
        return self._write(work)

    def users(self) -> list[User]:
        """Every account, by name."""
        return self._read(lambda conn: [_user(r) for r in conn.execute(
            select(USERS).order_by(USERS.c.name))])

    def user(self, name: str) -> User | None:
        """The account ``name``, or None."""
        def work(conn: Connection) -> User | None:
            row = conn.execute(select(USERS).where(USERS.c.name == name)).first()
            return None if row is None else _user(row)
        return self._read(work)

    def disable(self, name: str, *, by: str = "cli") -> None:
        """Stop ``name`` from logging in (its sessions end at their next request)."""
        def work(conn: Connection, _maybe: bool) -> None:
            self._locked(conn)
            done = conn.execute(update(USERS).where(USERS.c.name == name)
                                .values(disabled=1, updated_at=datetime.now(UTC)))
            if done.rowcount == 0:
                raise AccountError(f"no user {name!r}")
            access_log.append(conn, AccessEntry(by, "", "user.disable", name, "disabled"))
        self._write(work)

    def authenticate(self, name: str, password: str) -> User | None:
        """The enabled account matching ``name`` and ``password``, else None.

        Every attempt, accepted or refused, is written to the access log.
        """
        def read(conn: Connection) -> Any:
            return conn.execute(select(USERS).where(USERS.c.name == name)).first()
        row = self._read(read)
        ok = verify_password(password, row.password_hash if row else _DUMMY_HASH)
        user = _user(row) if row is not None and ok and not row.disabled else None
        why = "ok" if user else ("disabled" if row is not None and ok else "wrong name or password")
        self.record(AccessEntry(name, user.role if user else "", "login" if user else "login.refused",
                                None, why))
        return user

    def record(self, entry: AccessEntry) -> int:
        """Append one entry to the access log; its sequence number."""
        def work(conn: Connection, _maybe: bool) -> int:
            self._locked(conn)
            return access_log.append(conn, entry)
        return self._write(work)

    def access_entries(self, actor: str | None = None) -> list[Any]:
        """The access log's rows in order (only ``actor``'s when given)."""
        table = access_log.ACCESS_AUDIT
        query = select(table).order_by(table.c.seq)
        if actor is not None:
            query = query.where(table.c.actor == actor)
        return self._read(lambda conn: list(conn.execute(query)))

    def verify_access_log(self) -> tuple[bool, int, str]:
        """Recompute the access log's hash chain: ``(ok, entries, problem)``."""
        return self._read(access_log.verify)
