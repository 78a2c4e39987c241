"""The simulated people around the ETLE module: officers verifying and reviewing
disputes, owners answering the confirmation letter (the bank is :mod:`.bank`)."""

from __future__ import annotations

import random
from collections.abc import Callable

from twin.clock import ProcessGenerator

from .plates import try_parse_plate
from .service import Enforcement
from .settings import OfficerModel, OwnerModel
from .states import Case, CaseState, TransitionError

__all__ = ["officer", "owners"]


def officer(enf: Enforcement, model: OfficerModel, name: str, rng: random.Random) -> ProcessGenerator:
    """An officer working the verification queue as ``name`` (a clock process)."""
    env = enf.clock.env
    while True:
        waiting = enf.queue.list(limit=1, officer=name)
        if not waiting:
            yield env.timeout(model.idle_poll_s)
            continue
        case = enf.queue.claim(waiting[0].case_id, name)
        yield env.timeout(rng.expovariate(1.0 / model.mean_review_s))
        try:
            if rng.random() < model.reject_share:
                enf.queue.reject(case.case_id, name, "capture not valid on review (e.g. emergency "
                                 "vehicle, mis-detection)")
            else:
                # the officer reads a low-confidence plate from the image and confirms it
                theta = enf.settings.detection.tolerances.min_plate_confidence
                reread = case.plate_confidence < theta and try_parse_plate(case.plate) is not None
                enf.queue.verify(case.case_id, name, plate=case.plate if reread else None)
        except TransitionError:
            continue


def owners(enf: Enforcement, model: OwnerModel, officers: OfficerModel,
           rng: random.Random) -> Callable[[Case], None]:
    """A workflow listener: owners answer letters, an officer reviews disputes."""
    env = enf.clock.env

    def answer(case: Case, delay_s: float, what: str) -> ProcessGenerator:
        yield env.timeout(delay_s)
        try:
            if what == "self":
                enf.workflow.confirm(case.case_id)
            elif what == "other":
                owner = enf.registry.owners.get(case.owner_id or "")
                other = f"{owner.driver_id}-2" if owner and owner.driver_id else None
                if other in enf.registry.drivers:
                    enf.workflow.confirm(case.case_id, driver_id=other)
                else:
                    enf.workflow.confirm(case.case_id)
            else:
                enf.workflow.dispute(case.case_id, "sold", "sold without balik nama")
        except TransitionError:
            pass  # answered after the deadline: the case already moved on

    def review(case: Case) -> ProcessGenerator:
        yield env.timeout(officers.dispute_review_days * 86400.0)
        upheld = rng.random() < officers.dispute_upheld_share
        try:
            enf.workflow.review_dispute(case.case_id, "kasubdit-gakkum", upheld=upheld,
                                        reason="sale documents checked" if upheld
                                        else "no proof of sale")
        except TransitionError:
            pass

    def on_case(case: Case) -> None:
        if case.state is CaseState.NOTICE_SENT:
            r = rng.random()
            delay = rng.expovariate(1.0 / model.mean_response_days) * 86400.0
            if r < model.confirm_self_share:
                env.process(answer(case, delay, "self"))
            elif r < model.confirm_self_share + model.confirm_other_share:
                env.process(answer(case, delay, "other"))
            elif r < model.confirm_self_share + model.confirm_other_share + model.dispute_share:
                env.process(answer(case, delay, "dispute"))
        elif case.state is CaseState.DISPUTED:
            env.process(review(case))
    return on_case
