"""``kota user``: create, list and disable dashboard accounts.

    kota user add NAME --role ROLE [--password-file FILE] [--store URL]
    kota user list [--store URL] [--json]
    kota user disable NAME [--store URL]

The password comes from a prompt (typed twice, not echoed) or from the first line of
``--password-file``; there is never a default. The first admin is made this way.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from twin.accounts.roles import ROLES

_STORE_HELP = "database URL (default: $KOTA_DB_URL or sqlite:///var/kota.db)"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``user`` on the ``kota`` sub-command parser."""
    p = sub.add_parser("user", help="dashboard accounts: add, list, disable",
                       description="Manage the dashboard's accounts in the store. The first admin "
                       "is created with 'kota user add NAME --role admin'; no account or "
                       "password exists by default.")
    acts = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = acts.add_parser("add", help="create an account (password from a prompt or a file)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-file", type=Path, default=None,
                     help="read the password from the first line of this file instead of a prompt")
    add.add_argument("--store", metavar="URL", default=None, help=_STORE_HELP)
    lst = acts.add_parser("list", help="list the accounts")
    lst.add_argument("--store", metavar="URL", default=None, help=_STORE_HELP)
    lst.add_argument("--json", action="store_true", help="print JSON")
    dis = acts.add_parser("disable", help="stop an account from logging in")
    dis.add_argument("name")
    dis.add_argument("--store", metavar="URL", default=None, help=_STORE_HELP)


def _password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        lines = args.password_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    if not sys.stdin.isatty():
        raise ValueError("no terminal to prompt for the password; use --password-file")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    """Run ``kota user ...``; 0 on success, 1 on a refused request."""
    from twin.accounts.passwords import check_strength
    from twin.accounts.store import AccountError, AccountStore
    from twin.store import open_store

    try:
        password = _password(args) if args.user_command == "add" else ""
        if args.user_command == "add":
            check_strength(password)
    except (OSError, ValueError) as exc:
        print(f"kota user: error: {exc}", file=sys.stderr)
        return 1
    with open_store(args.store) as store:
        accounts = AccountStore.of(store)
        try:
            if args.user_command == "add":
                user = accounts.add_user(args.name, args.role, password)
                print(f"added {user.name} ({user.role})")
            elif args.user_command == "disable":
                accounts.disable(args.name)
                print(f"disabled {args.name}")
            else:
                users = accounts.users()
                if args.json:
                    print(json.dumps([{"name": u.name, "role": u.role, "disabled": u.disabled,
                                       "created_at": u.created_at.isoformat()} for u in users]))
                for u in [] if args.json else users:
                    print(f"{u.name:<20} {u.role:<12} {'disabled' if u.disabled else 'active'}")
        except (AccountError, ValueError) as exc:
            print(f"kota user: error: {exc}", file=sys.stderr)
            return 1
    return 0
