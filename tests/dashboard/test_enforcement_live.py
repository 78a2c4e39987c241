"""The Enforcement page over a twin run with ETLE running live (``kota run --dashboard``):
the desk is built from the live module and a case verified there goes on in the run."""

from __future__ import annotations

from datetime import timedelta

from dashboard import enforcement_desk as desk_api
from dashboard.app import create_app
from tests.modules.enforcement.test_live import grid_etle
from twin.modules.enforcement.live import EnforcementLive
from twin.modules.enforcement.repository import CaseStore
from twin.modules.enforcement.states import CaseState
from twin.runner import TwinRun


def test_a_case_arriving_live_is_verified_on_the_desk_and_its_letter_follows(tmp_path):
    base = grid_etle(tmp_path)
    section = {**base.modules["enforcement"], "notice_delay_s": 60.0}
    scenario = base.model_copy(update={"modules": {**base.modules, "enforcement": section}})
    run = TwinRun(scenario, realtime=True, speedup=1e6, view_every_s=600.0,
                  store_url=f"sqlite:///{tmp_path / 'watched.db'}")
    try:
        run.advance(600.0)
        live = run.module("enforcement")
        assert isinstance(live, EnforcementLive)
        app = create_app(run.live, store=run.store, enforcement=live)  # demo mode
        assert app.server.test_client().get("/enforcement").status_code == 200
        with app.server.test_request_context("/enforcement"):
            desk = desk_api.current_desk()
            assert isinstance(desk, desk_api.EnforcementDesk)
            assert desk.registry is live.registry and desk.now() == run.clock.now
            waiting = desk_api.pending(run.store, desk, desk_api.current_officer())
            assert waiting and {c.state for c in waiting} == {CaseState.PENDING_VERIFICATION}
            target = next(c for c in waiting if live.registry.owner_of(c.plate) is not None)
            case = desk_api.verify(run.store, desk, target.case_id)
        owner = live.registry.owner_of(target.plate)
        assert owner is not None
        assert case.verified_by == "demo" and case.state is CaseState.OWNER_RESOLVED
        assert case.owner_id == owner.owner_id
        assert case.notice_due_at == run.clock.now + timedelta(seconds=60)
        run.advance(1200.0)  # the run's workflow picks the decision up and posts the letter
        after = CaseStore.of(run.store).case(target.case_id)
        assert after is not None and after.state is CaseState.NOTICE_SENT
        others = CaseStore.of(run.store).cases(CaseState.PENDING_VERIFICATION)
        assert others and all(c.verified_by is None for c in others)  # no simulated officers
        run.finish()
    finally:
        run.close()
