"""Dashboard accounts: users with one role each, hashed passwords, a permission table
(:mod:`.roles`) and a hash-chained access log of every personal-data view (:mod:`.access_log`).

The first admin is created with ``kota user add NAME --role admin``; there is no
default account and no default password.
"""

from twin.accounts.access_log import AccessEntry
from twin.accounts.passwords import MIN_PASSWORD_LENGTH, WeakPassword, hash_password, verify_password
from twin.accounts.roles import PERMISSIONS, PERSONAL_DATA, ROLES, allows, page_permission
from twin.accounts.store import AccountError, AccountStore, User

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "PERMISSIONS",
    "PERSONAL_DATA",
    "ROLES",
    "AccessEntry",
    "AccountError",
    "AccountStore",
    "User",
    "WeakPassword",
    "allows",
    "hash_password",
    "page_permission",
    "verify_password",
]
