"""Audit chain (verifier, append-only triggers), TAR and the SIM renewal check, the data
tables, the registry and the plate pseudonyms."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from twin.cli import main
from twin.modules.enforcement import (
    PlateTokenizer,
    Registry,
    ViolationCode,
    load_registry_csv,
    load_tariff,
    load_timers,
    synthetic_registry,
)
from twin.modules.enforcement.registry import Driver, Owner, RegistryError, Vehicle
from twin.modules.enforcement.tariff import TariffError

from .conftest import KEY, T0, speeding


def test_audit_rows_cannot_be_updated_or_deleted(make_enforcement, registry, store) -> None:
    enf = make_enforcement()
    enf.ingest([speeding(registry, 1)])
    for sql in ("UPDATE etle_audit SET reason = 'x'", "DELETE FROM etle_audit"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    assert enf.cases.verify_audit().ok


def _drop_triggers(store) -> None:
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.execute(text("DROP TRIGGER etle_audit_no_update ON etle_audit"))
        else:
            conn.execute(text("DROP TRIGGER etle_audit_no_update"))
            conn.execute(text("DROP TRIGGER etle_audit_no_delete"))


@pytest.mark.parametrize(("tamper", "problem"), [
    ("UPDATE etle_audit SET reason = 'nothing happened' WHERE seq = 2", "altered"),
    ("DELETE FROM etle_audit WHERE seq = 2", "missing"),
    ("UPDATE etle_audit SET actor = 'officer:nobody' WHERE seq = 3", "altered"),
])
def test_verifier_finds_tampering(make_enforcement, registry, store, tamper, problem, capsys) -> None:
    """Someone with DDL rights drops the triggers and edits the log: the verifier says where,
    and ``kota enforce --verify-audit`` exits 1."""
    enf = make_enforcement()
    enf.ingest([speeding(registry, 1), speeding(registry, 2, index=1)])
    url = store.engine.url.render_as_string(hide_password=False)
    assert main(["enforce", "--verify-audit", "--store", url]) == 0
    assert "intact: 6 entries" in capsys.readouterr().out
    _drop_triggers(store)
    with store.engine.begin() as conn:
        conn.execute(text(tamper))
    report = enf.cases.verify_audit()
    assert not report.ok and problem in report.problem
    assert report.first_bad_seq in (2, 3)
    assert main(["enforce", "--verify-audit", "--store", url]) == 1
    assert "BROKEN" in capsys.readouterr().out


def test_tar_thresholds_window_and_renewal(make_enforcement, registry) -> None:
    """Points accumulate to Penalti 1 at 12 and Penalti 2 at 18, count only inside the
    window, and decide the renewal check with reasons."""
    enf = make_enforcement()
    tar = enf.tar
    driver = next(d for d in registry.drivers.values()
                  if d.sim_valid_until > date(2027, 1, 1) and not d.driver_id.endswith("-2"))
    at = T0
    assert tar.renewal_check(driver.driver_id, at).eligible
    assert tar.record_accident(driver.driver_id, "light_injury_or_damage", "LP-1", at, "officer:a")
    assert not tar.record_accident(driver.driver_id, "light_injury_or_damage", "LP-1", at, "officer:a")
    rec = tar.record(driver.driver_id, at)
    assert (rec.accumulated_points, rec.balance, rec.penalty) == (10, 2, "none")
    tar.record_accident(driver.driver_id, "dangerous_driving", "LP-2", at, "officer:a")
    decision = tar.renewal_check(driver.driver_id, at)
    assert not decision.eligible and "Penalti 1" in decision.reasons[0]
    assert decision.record is not None and decision.record.balance == 0
    tar.record_accident(driver.driver_id, "dangerous_driving", "LP-3", at, "officer:a")
    assert tar.record(driver.driver_id, at).penalty == "penalty_2"
    assert "Penalti 2" in tar.renewal_check(driver.driver_id, at).reasons[0]
    later = at + timedelta(days=enf.tariff.points_window_days + 1)
    assert tar.record(driver.driver_id, later).accumulated_points == 0
    assert len(tar.record(driver.driver_id, later).entries) == 3
    with pytest.raises(ValueError, match="unknown accident class"):
        tar.record_accident(driver.driver_id, "meteor", "LP-9", at, "officer:a")


def test_renewal_refused_for_expired_sim_and_unknown_driver(make_enforcement, registry) -> None:
    enf = make_enforcement()
    expired = next(d for d in registry.drivers.values() if d.sim_valid_until < T0.date())
    decision = enf.tar.renewal_check(expired.driver_id, T0)
    assert not decision.eligible and "expired" in decision.reasons[0]
    assert not enf.tar.renewal_check("nobody", T0).eligible


def test_shipped_tables_are_versioned_and_complete() -> None:
    tariff = load_tariff()
    assert tariff.fines_version == "uu22-2009/v1" and tariff.points_version == "perpol-5-2021/v1"
    assert tariff.fine_idr(ViolationCode.SPEEDING) == 500_000
    assert tariff.fines[ViolationCode.SPEEDING].article == "287(5)"
    assert tariff.points(ViolationCode.NO_PLATE_OR_INVALID_PLATE) == 3
    assert (tariff.penalty_1_points, tariff.penalty_2_points) == (12, 18)
    assert tariff.accident_points["fatal_or_serious_injury"] == 12
    timers = load_timers()
    assert (timers.confirmation_days, timers.payment_days) == (8, 15)
    receipt = load_timers("receipt_based")
    notice = T0 + timedelta(days=3)
    assert receipt.confirmation_due(T0, notice) == notice + timedelta(days=7)
    with pytest.raises(TariffError, match="known: metro_jaya"):
        load_timers("atlantis")


def test_a_fines_file_missing_a_code_is_refused(tmp_path) -> None:
    bad = tmp_path / "fines.toml"
    bad.write_text('version = "x"\n[violations.SPEEDING]\nmax_fine_idr = 1\n')
    with pytest.raises(TariffError, match=r"no \[violations.RED_LIGHT\]"):
        load_tariff(bad)


def test_synthetic_registry_is_deterministic_and_consistent() -> None:
    a, b = synthetic_registry(500, seed=3), synthetic_registry(500, seed=3)
    assert a.vehicles == b.vehicles and a.drivers == b.drivers
    assert a.vehicles != synthetic_registry(500, seed=4).vehicles
    a.check()
    plates = list(a.vehicles)
    assert len(plates) == 500 and sum(p.startswith("B ") for p in plates) > 350
    odd = sum(int(p.split()[1][-1]) % 2 for p in plates)
    assert 180 < odd < 320
    assert any(d.sim_valid_until < date(2026, 3, 2) for d in a.drivers.values())


def test_registry_csv_import(tmp_path) -> None:
    (tmp_path / "o.csv").write_text("owner_id,name,address,phone,driver_id\n"
                                    "O1,Siti,Jl. Bekasi Timur 1,0812,D1\n")
    (tmp_path / "v.csv").write_text("plate,vehicle_class,owner_id\nb1234xyz,car,O1\n")
    (tmp_path / "d.csv").write_text("driver_id,name,sim_number,sim_class,sim_valid_until\n"
                                    "D1,Siti,123,A,2028-01-31\n")
    reg = load_registry_csv(tmp_path / "o.csv", tmp_path / "v.csv", tmp_path / "d.csv")
    assert reg.owner_of("B 1234 XYZ") == Owner("O1", "Siti", "Jl. Bekasi Timur 1", "0812", "D1")
    assert reg.driver("D1") == Driver("D1", "Siti", "123", "A", date(2028, 1, 31))
    (tmp_path / "v.csv").write_text("plate,vehicle_class,owner_id\nb1234xyz,car,O9\n")
    with pytest.raises(RegistryError, match="unknown owner 'O9'"):
        load_registry_csv(tmp_path / "o.csv", tmp_path / "v.csv", tmp_path / "d.csv")
    (tmp_path / "v.csv").write_text("plate,vehicle_class,owner_id\n12345,car,O1\n")
    with pytest.raises(RegistryError, match=r"v.csv:2"):
        load_registry_csv(tmp_path / "o.csv", tmp_path / "v.csv", tmp_path / "d.csv")


def test_registry_lookup_normalises() -> None:
    reg = Registry()
    reg.add(Owner("O1", "A", "addr"), Vehicle("b 1 a", "car", "O1"))
    assert reg.owner_of("B1A") is not None and reg.owner_of("B 2 A") is None
    assert reg.owner_of(None) is None and reg.owner_of("junk!!") is None


def test_plate_tokens_are_keyed_normalised_and_rotate() -> None:
    tok = PlateTokenizer(KEY, period_days=30)
    t = tok.token("B 1234 XYZ", T0)
    assert t == tok.token("b1234xyz", T0) and t is not None and "1234" not in t
    assert tok.token("B 1234 XYZ", T0 + timedelta(days=31)) != t
    assert PlateTokenizer(b"another-key-0123456789").token("B 1234 XYZ", T0) != t
    assert tok.token(None, T0) is None and tok.token("???", T0) is None
    with pytest.raises(ValueError):
        PlateTokenizer(b"short")
