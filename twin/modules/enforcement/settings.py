"""A scenario's ``[modules.enforcement]`` section: the module's settings plus the simulation's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError

from twin.scenario import Scenario, ScenarioError, format_validation_error

from .bank import BankBehaviour
from .config import StrictModel
from .service import EnforcementSettings
from .simfeed import FeedSpec

__all__ = ["OfficerModel", "OwnerModel", "ScenarioEnforcement", "enforcement_settings"]


class OfficerModel(StrictModel):
    """Officers verifying captures: how many, how long a review takes, how many they reject."""

    count: int = Field(default=2, ge=1)
    mean_review_s: float = Field(default=90.0, gt=0)
    idle_poll_s: float = Field(default=900.0, gt=0)
    reject_share: float = Field(default=0.05, ge=0, le=1)
    dispute_review_days: float = Field(default=2.0, gt=0)
    dispute_upheld_share: float = Field(default=0.5, ge=0, le=1)


class OwnerModel(StrictModel):
    """How owners answer the confirmation letter (shares of letters; the rest never answer)."""

    confirm_self_share: float = Field(default=0.6, ge=0, le=1)
    confirm_other_share: float = Field(default=0.05, ge=0, le=1)
    dispute_share: float = Field(default=0.05, ge=0, le=1)
    mean_response_days: float = Field(default=3.0, gt=0)


class ScenarioEnforcement(EnforcementSettings):
    """``[modules.enforcement]`` of a scenario: the module settings plus the simulation."""

    registry_vehicles: int = Field(default=20_000, ge=1)
    batch_s: float = Field(default=60.0, gt=0)
    follow_up_days: float = Field(default=25.0, ge=0)
    callback: Literal["http", "direct"] = "http"
    feed: FeedSpec = Field(default_factory=FeedSpec)
    officers: OfficerModel = Field(default_factory=OfficerModel)
    owners: OwnerModel = Field(default_factory=OwnerModel)
    bank: BankBehaviour = Field(default_factory=BankBehaviour)


def enforcement_settings(scenario: Scenario) -> ScenarioEnforcement:
    """The scenario's ``[modules.enforcement]``, validated.

    Raises
    ------
    ScenarioError
        If the section is missing or invalid (naming the key), or a detection camera is
        not one of the scenario's ``[[cameras]]``.
    """
    raw = scenario.modules.get("enforcement")
    where = scenario.path or "scenario"
    if raw is None:
        raise ScenarioError(f"{where}: has no [modules.enforcement] section")
    try:
        settings = ScenarioEnforcement.model_validate(raw)
    except ValidationError as exc:
        text = "\n".join(line.replace("  ", "  modules.enforcement.", 1)
                         for line in format_validation_error(exc).splitlines())
        raise ScenarioError(f"{where}: invalid [modules.enforcement]\n{text}") from None
    placed = {c.id: c for c in scenario.cameras}
    for cam in settings.detection.cameras:
        if cam.id not in placed:
            raise ScenarioError(f"{where}: modules.enforcement.detection camera {cam.id!r} is not "
                                "placed in [[cameras]]")
        if placed[cam.id].type != cam.kind:
            raise ScenarioError(f"{where}: camera {cam.id!r} is type {placed[cam.id].type!r} in "
                                f"[[cameras]] but kind {cam.kind!r} in modules.enforcement")
    return settings
