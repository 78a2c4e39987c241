"""The officer's acts on the Enforcement page: claim, verify, reject, TAR lookup.

Every act goes through the ETLE module's own API on the dashboard's store
(:class:`~twin.modules.enforcement.verification.VerificationQueue`,
:class:`~twin.modules.enforcement.tar.Tar`,
:class:`~twin.modules.enforcement.repository.CaseStore`), so a decision made here is
the same transaction, state check and hash-chained audit entry as one made anywhere
else. The functions check the server-side permission themselves
(:func:`dashboard.auth.require`), act as the logged-in user (``demo`` in demo mode), and
need a Flask request context.

Verifying resolves the owner from the registration data (ERI), so it needs the
:class:`EnforcementDesk` the app was built with (``create_app(enforcement=...)``);
without one the page shows the queue read-only. The letter of a verified case is
posted by the module's workflow (``kota enforce`` or a service running
:class:`~twin.modules.enforcement.workflow.CaseWorkflow`), which schedules every
waiting case when it starts; the dashboard never runs timers. In a watched run
(``kota run --dashboard``) the ETLE module runs inside the run
(:class:`~twin.modules.enforcement.live.EnforcementLive`): the app gets the module, builds
the desk from it (:func:`desk_from_live`, the run's clock) and the module picks up the
cases verified here at its next batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import flask

from dashboard import auth
from dashboard.enforcement_view import ImageSource
from twin.accounts.roles import PAGE_ENFORCEMENT, PERSONAL_DATA
from twin.modules.enforcement.live import DeskData, EnforcementLive
from twin.modules.enforcement.plates import try_parse_plate
from twin.modules.enforcement.pseudonym import PlateTokenizer
from twin.modules.enforcement.registry import Driver, Registry
from twin.modules.enforcement.repository import CaseStore
from twin.modules.enforcement.states import Case, CaseState
from twin.modules.enforcement.tar import RenewalDecision, Tar, TrafficAttitudeRecord
from twin.modules.enforcement.tariff import Tariff, load_tariff
from twin.modules.enforcement.verification import DEFAULT_CLAIM_S, VerificationQueue
from twin.store import Store

ENFORCEMENT_CONFIG_KEY = "KOTA_ENFORCEMENT"
PAGE = PAGE_ENFORCEMENT
VERIFY = "action:violation.verify"
DEMO_OFFICER = "demo"
"""The officer's name in demo mode (no accounts)."""


class NoDesk(RuntimeError):
    """The app has no :class:`EnforcementDesk`: verification is not possible here."""


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EnforcementDesk:
    """What verification needs besides the store.

    Attributes
    ----------
    registry : Registry, the registration data (ERI) the owner is resolved from
    tokenizer : PlateTokenizer, re-tokens a plate an officer corrects
    tariff : Tariff, for the article and the TAR points window (default: shipped tables)
    now : callable, the time stamped on the officer's acts (default: the wall clock, UTC)
    notice_delay_s : seconds from verification until the letter is due
    images : callable or None, evidence image bytes by SHA-256 (e.g. the bridge's
        ``EvidenceStore.get``); None: the page shows the plate as read
    claim_s : seconds a case opened by an officer stays reserved for them
    """

    registry: Registry
    tokenizer: PlateTokenizer
    tariff: Tariff = field(default_factory=load_tariff)
    now: Callable[[], datetime] = _wall_clock
    notice_delay_s: float = 86400.0
    images: ImageSource | None = None
    claim_s: float = DEFAULT_CLAIM_S

    def queue(self, store: Store) -> VerificationQueue:
        """The module's verification queue over ``store``."""
        return VerificationQueue(CaseStore.of(store), self.registry, self.tokenizer, self.now,
                                 notice_delay_s=self.notice_delay_s)


def desk_from_live(module: EnforcementLive | DeskData) -> EnforcementDesk:
    """The desk of the ETLE module running inside a twin run (``kota run --dashboard``,
    ``kota serve``): its registration data, pseudonymiser and tariff, the run's clock."""
    data = module if isinstance(module, DeskData) else module.desk()
    return EnforcementDesk(registry=data.registry, tokenizer=data.tokenizer, tariff=data.tariff,
                           now=data.now, notice_delay_s=data.notice_delay_s)


def as_desk(source: EnforcementDesk | EnforcementLive | DeskData | None) -> EnforcementDesk | None:
    """``source`` as a desk: a desk as it is, a live module's built with :func:`desk_from_live`."""
    if source is None or isinstance(source, EnforcementDesk):
        return source
    return desk_from_live(source)


def current_desk() -> EnforcementDesk | None:
    """The desk of the app serving this request, or None."""
    desk = flask.current_app.config.get(ENFORCEMENT_CONFIG_KEY)
    return desk if isinstance(desk, EnforcementDesk) else None


def officer(permission: str = VERIFY) -> str:
    """Check ``permission`` on the server and return the acting officer's name: the
    logged-in user, or ``demo`` in demo mode. Raises 403 for a role without it."""
    session = auth.require(permission)
    return DEMO_OFFICER if session is None else session.user


def current_officer() -> str:
    """The name this request acts under, without a permission check: the logged-in
    user, ``demo`` in demo mode, empty outside a session (for drawing only)."""
    if auth.current_auth() is None:
        return DEMO_OFFICER
    session = auth.current_session()
    return "" if session is None else session.user


def pending(store: Store, desk: EnforcementDesk | None, who: str,
            limit: int = 50) -> list[Case]:
    """Cases awaiting verification, oldest first: with a desk, those officer ``who`` may
    take (unclaimed, theirs, or an expired claim); without, all of them."""
    if desk is None:
        return CaseStore.of(store).cases(CaseState.PENDING_VERIFICATION, limit=limit)
    return desk.queue(store).list(limit=limit, officer=who)


def _desk(desk: EnforcementDesk | None) -> EnforcementDesk:
    if desk is None:
        raise NoDesk("no registration data (ERI) is attached to this dashboard, so cases "
                     "cannot be verified here")
    return desk


def claim(store: Store, desk: EnforcementDesk | None, case_id: str) -> Case:
    """Reserve ``case_id`` for the acting officer while they look at it."""
    who = officer()
    d = _desk(desk)
    return d.queue(store).claim(case_id, who, for_s=d.claim_s)


def verify(store: Store, desk: EnforcementDesk | None, case_id: str) -> Case:
    """Confirm the violation as the acting officer; the case afterwards (owner resolved
    or unknown). Raises ``TransitionError``/``CaseNotFound`` from the module."""
    who = officer()
    return _desk(desk).queue(store).verify(case_id, who, reason="evidence checked: valid")


def reject(store: Store, desk: EnforcementDesk | None, case_id: str, reason: str | None) -> Case:
    """Reject the capture as the acting officer, saying why.

    Raises
    ------
    ValueError
        If ``reason`` is empty (nothing is written).
    """
    who = officer()
    if not (reason or "").strip():
        raise ValueError("a rejection needs a reason")
    return _desk(desk).queue(store).reject(case_id, who, (reason or "").strip())


@dataclass(frozen=True)
class DriverView:
    """One driver's record as the lookup shows it (personal data).

    Attributes
    ----------
    driver_id : str
    driver : Driver or None, name and SIM from the registration data, when attached
    record : TrafficAttitudeRecord
    renewal : RenewalDecision or None, when the registration data is attached
    """

    driver_id: str
    driver: Driver | None
    record: TrafficAttitudeRecord
    renewal: RenewalDecision | None


@dataclass(frozen=True)
class TarLookup:
    """The answer to a lookup by plate or driver id (personal data).

    Attributes
    ----------
    query : str, as normalised (plate in normal form)
    kind : ``plate`` or ``driver``
    cases : tuple of Case, newest first
    drivers : tuple of DriverView, the queried driver or the drivers confirmed on the plate
    """

    query: str
    kind: str
    cases: tuple[Case, ...]
    drivers: tuple[DriverView, ...]


def tar_lookup(store: Store, desk: EnforcementDesk | None, query: str, reason: str,
               at: datetime | None = None) -> TarLookup:
    """Look up a plate's cases and owner, or a driver's Traffic Attitude Record.

    The view is checked and written to the access log first
    (:func:`dashboard.auth.view_personal_data`): 403 for a role without personal data,
    without a reason, or in demo mode.
    """
    query = query.strip()
    parsed = try_parse_plate(query)
    kind, subject = ("plate", parsed.text) if parsed is not None else ("driver", query)
    auth.require(PAGE)
    auth.view_personal_data(f"{kind}:{subject}", reason, {"page": "/enforcement"})
    cases = CaseStore.of(store)
    if not subject:
        return TarLookup(subject, kind, (), ())
    found = tuple(cases.cases_of(plate=subject) if kind == "plate"
                  else cases.cases_of(driver_id=subject))
    driver_ids = ([subject] if kind == "driver" else
                  sorted({c.driver_id for c in found if c.driver_id is not None}))
    registry = desk.registry if desk is not None else Registry()
    tar = Tar(cases, registry, desk.tariff if desk is not None else load_tariff())
    when = at or (desk.now() if desk is not None else _wall_clock())
    drivers = tuple(DriverView(d, registry.driver(d), tar.record(d, when),
                               tar.renewal_check(d, when) if desk is not None else None)
                    for d in driver_ids)
    return TarLookup(subject, kind, found, drivers)


def can_see_personal_data() -> bool:
    """Whether this request may use the TAR lookup (never in demo mode)."""
    return auth.current_auth() is not None and auth.visible(PERSONAL_DATA)
