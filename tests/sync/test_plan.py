"""Planning: every row gets exactly one action, decided from the row, the service and the fingerprint."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from qaas_excel.problems import Problem
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.results import Result
from qaas_excel.sync import Action, RowState, canonical_value, fingerprint, plan_rows


def cp(**overrides):
    values = {
        "customer_reference": "CP-1", "chargepointoperator_id": 7, "evse_id": "DE*ABC*E1234567*1",
        "street": "Hauptstraße 1", "zip_code": "01067", "town": "Dresden", "commissioning_date": date(2021, 5, 17),
        "max_power_kw": Decimal("22"), "period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31),
        "amount": Decimal("1234.5"),
    }
    values.update(overrides)
    return values


def service_record(record_id=1, status="created", **overrides):
    rec = {"id": record_id, "status": status, **cp(**overrides)}
    return rec


def test_row_without_id_and_no_match_is_created() -> None:
    [p] = plan_rows(CHARGEPOINT, [RowState(5, cp())], [])
    assert p.action is Action.CREATE and p.row == 5
    assert p.payload["amount"] == Decimal("1234.5")
    assert p.fingerprint == fingerprint(CHARGEPOINT, cp())


def test_row_without_id_matching_a_record_by_reference_is_adopted_not_created() -> None:
    [p] = plan_rows(CHARGEPOINT, [RowState(5, cp())], [service_record(41)])
    assert p.action is Action.NONE and p.result is Result.ADOPTED and p.record_id == 41
    assert "reference" in p.message


def test_rows_adopted_the_same_way_share_one_message_and_the_other_indexes_are_never_built(monkeypatch) -> None:
    """50,000 rows found by their reference held 7 MiB of copies of one text and 12 MiB of indexes by EVSE and
    period that no row asked for: the message is shared, an index is built when first asked."""
    import qaas_excel.sync as sync

    keyed: list[object] = []
    real_key = sync.natural_key

    def natural_key(resource, values):
        keyed.append(values)
        return real_key(resource, values)

    monkeypatch.setattr(sync, "natural_key", natural_key)
    n = 5
    rows = [RowState(5 + i, cp(customer_reference=f"CP-{i}", evse_id=f"DE*ABC*E123456{i}*1")) for i in range(n)]
    service = [service_record(40 + i, customer_reference=f"CP-{i}", evse_id=f"DE*ABC*E123456{i}*1")
               for i in range(n)]
    plans = plan_rows(CHARGEPOINT, rows, service)
    assert [p.result for p in plans] == [Result.ADOPTED] * n and [p.record_id for p in plans] == [40, 41, 42, 43, 44]
    assert all(p.message is plans[0].message for p in plans) and "your reference" in plans[0].message
    assert keyed == []  # no record keyed by EVSE and period: every row was found by its reference
    # a row without a reference asks for the index, once, and is found by it
    service[4]["customer_reference"] = None
    plans = plan_rows(CHARGEPOINT, [*rows[:2], RowState(9, cp(customer_reference=None, evse_id="DE*ABC*E1234564*1"))],
                      service)
    assert [p.result for p in plans] == [Result.ADOPTED] * 3 and [p.record_id for p in plans] == [40, 41, 44]
    assert "EVSE ID and period" in plans[2].message
    assert len(keyed) == 1 + n  # the row's key, and each record no row is linked to by its QaaS ID, once


def test_charge_point_matching_by_evse_and_period_is_adopted() -> None:
    row = cp(customer_reference=None, evse_id="DEABCE1234567*1")
    [p] = plan_rows(CHARGEPOINT, [RowState(5, row)], [service_record(41, customer_reference=None)])
    assert p.result is Result.ADOPTED and p.record_id == 41


def test_match_with_different_values_is_a_conflict_and_sends_nothing() -> None:
    [p] = plan_rows(CHARGEPOINT, [RowState(5, cp(amount=Decimal("99")))], [service_record(41)])
    assert p.action is Action.NONE and p.result is Result.CONFLICT
    assert "41" in p.message and "Amount (kWh)" in p.message
    # nothing that would link the row to record 41: the next push must find the same conflict, not update it
    assert p.record is None and p.record_id is None and p.fingerprint is None


def test_one_service_record_is_adopted_by_one_row_only_and_never_created_again() -> None:
    rows = [RowState(5, cp()), RowState(6, cp(customer_reference=None))]  # the same record, by reference and by key
    plans = plan_rows(CHARGEPOINT, rows, [service_record(41)])
    assert [p.result for p in plans] == [Result.ADOPTED, Result.INVALID]
    assert plans[1].action is Action.NONE
    assert plans[1].problems[0].code == "record-claimed-twice" and "row 5" in plans[1].message


def test_unchanged_row_sends_nothing() -> None:
    fp = fingerprint(CHARGEPOINT, cp())
    [p] = plan_rows(CHARGEPOINT, [RowState(5, cp(), 41, "created", fp)], [service_record(41)])
    assert p.action is Action.NONE and p.result is Result.UNCHANGED


def test_changed_amount_is_patched_with_only_the_change() -> None:
    fp = fingerprint(CHARGEPOINT, cp())
    [p] = plan_rows(CHARGEPOINT, [RowState(5, cp(amount=Decimal("2000")), 41, "created", fp)], [service_record(41)])
    assert p.action is Action.UPDATE and p.payload == {"amount": Decimal("2000")}
    assert "1.234,500 → 2.000,000" in p.message


def test_changed_row_of_a_record_sent_to_uba_is_locked() -> None:
    fp = fingerprint(CHARGEPOINT, cp())
    rows = [RowState(5, cp(amount=Decimal("2000")), 41, "created", fp)]
    [p] = plan_rows(CHARGEPOINT, rows, [service_record(41, status="sent_to_uba")])
    assert p.action is Action.NONE and p.result is Result.LOCKED and "sent_to_uba" in p.message


def test_unknown_status_is_treated_as_locked() -> None:
    fp = fingerprint(CHARGEPOINT, cp())
    rows = [RowState(5, cp(amount=Decimal("2000")), 41, "created", fp)]
    [p] = plan_rows(CHARGEPOINT, rows, [service_record(41, status="archived_by_bafa")])
    assert p.result is Result.LOCKED and "archived_by_bafa" in p.message


def test_change_of_a_field_that_cannot_be_patched_is_locked() -> None:
    fp = fingerprint(CHARGEPOINT, cp())
    rows = [RowState(5, cp(max_power_kw=Decimal("50")), 41, "created", fp)]
    [p] = plan_rows(CHARGEPOINT, rows, [service_record(41)])
    assert p.result is Result.LOCKED and "Max power (kW)" in p.message and p.action is Action.NONE


def test_another_evse_or_period_under_a_records_id_is_a_mismatch_never_an_update() -> None:
    fp = fingerprint(CHARGEPOINT, cp())
    for change in ({"evse_id": "DE*ABC*E7654321*1"}, {"period_start": date(2024, 7, 1)}):
        rows = [RowState(5, cp(**change), 41, "created", fp)]
        [p] = plan_rows(CHARGEPOINT, rows, [service_record(41)])
        assert p.result is Result.MISMATCH and p.action is Action.NONE
        assert p.problems[0].field == "id" and "no longer belongs to record 41" in p.message


def test_changed_here_and_on_the_service_is_a_conflict() -> None:
    fp = fingerprint(CHARGEPOINT, cp())
    rows = [RowState(5, cp(amount=Decimal("2000")), 41, "created", fp)]
    [p] = plan_rows(CHARGEPOINT, rows, [service_record(41, amount=Decimal("1500"))])
    assert p.action is Action.NONE and p.result is Result.CONFLICT


def test_changed_only_on_the_service_is_unchanged_with_a_note() -> None:
    fp = fingerprint(CHARGEPOINT, cp())
    [p] = plan_rows(CHARGEPOINT, [RowState(5, cp(), 41, "created", fp)], [service_record(41, amount=Decimal("1500"))])
    assert p.result is Result.UNCHANGED and "Changed on the service" in p.message


def test_id_unknown_to_the_service_fails() -> None:
    [p] = plan_rows(CHARGEPOINT, [RowState(5, cp(), 99, "created", "x")], [service_record(41)])
    assert p.result is Result.FAILED and "99" in p.message


def test_invalid_rows_are_not_sent() -> None:
    problem = Problem(5, "amount", "not-positive", "Amount (kWh): must be greater than 0")
    [p] = plan_rows(CHARGEPOINT, [RowState(5, cp(), problems=[problem])], [])
    assert p.action is Action.NONE and p.result is Result.INVALID and p.problems == [problem]


def test_hand_entered_id_without_fingerprint_equal_to_service_is_unchanged() -> None:
    [p] = plan_rows(CHARGEPOINT, [RowState(5, cp(), 41)], [service_record(41)])
    assert p.result is Result.UNCHANGED and p.fingerprint == fingerprint(CHARGEPOINT, cp())


def test_operator_without_reference_is_matched_by_identical_values() -> None:
    op = {"organization_name": "Beispiel GmbH", "street": "Baumstraße 1", "zip_code": "85123", "town": "Entenhausen",
          "terms_agreed": "2022-09-28T15:38:21Z", "customer_reference": None}
    [p] = plan_rows(OPERATOR, [RowState(2, op)], [{"id": 335, **op}])
    assert p.result is Result.ADOPTED and p.record_id == 335


def test_canonical_values_ignore_spelling_differences() -> None:
    amount = CHARGEPOINT.field("amount")
    assert canonical_value(amount, Decimal("12.5")) == canonical_value(amount, "12.500") == "12.500"
    assert canonical_value(CHARGEPOINT.field("town"), " Dresden ") == "Dresden"
    assert canonical_value(CHARGEPOINT.field("period_start"), "2024-01-01T00:00:00") == "2024-01-01"
    assert fingerprint(CHARGEPOINT, cp(amount=Decimal("1234.500"))) == fingerprint(CHARGEPOINT, cp())
    assert fingerprint(CHARGEPOINT, cp(amount=Decimal("1234.501"))) != fingerprint(CHARGEPOINT, cp())


def op(**overrides):
    values = {"customer_reference": None, "organization_name": "Alpha GmbH", "street": "Hauptstraße 1",
              "zip_code": "01067", "town": "Dresden", "terms_agreed": date(2024, 1, 1)}
    values.update(overrides)
    return values


def test_operators_sorted_apart_from_their_ids_are_told_by_the_fingerprints_even_at_one_address() -> None:
    """Alpha and Beta share a building and have no references: name differs, address does not (a rename, as far as
    the record can tell). The fingerprints, which stayed where they were, hold exactly the other row's values."""
    alpha, beta = op(), op(organization_name="Beta AG")
    records = [{"id": 1, **alpha}, {"id": 2, **beta}]
    rows = [RowState(2, beta, 1, None, fingerprint(OPERATOR, alpha)),
            RowState(3, alpha, 2, None, fingerprint(OPERATOR, beta))]
    plans = plan_rows(OPERATOR, rows, records)
    assert [p.result for p in plans] == [Result.MISMATCH, Result.MISMATCH]
    assert "record 2" in plans[0].message and all(p.action is Action.NONE for p in plans)


def test_an_operator_renamed_or_moved_is_an_update_but_renamed_and_moved_is_another_operator() -> None:
    stored = fingerprint(OPERATOR, op())
    for change, result in (({"organization_name": "Alpha Energie GmbH"}, Result.UPDATED),
                           ({"street": "Neue Straße 2", "town": "Leipzig", "zip_code": "04109"}, Result.UPDATED),
                           ({"organization_name": "Gamma KG", "street": "Ring 5"}, Result.MISMATCH)):
        [p] = plan_rows(OPERATOR, [RowState(2, op(**change), 1, None, stored)], [{"id": 1, **op()}])
        assert (p.result or Result.UPDATED) is result, change


def test_a_missing_fingerprint_is_a_conflict_unless_the_user_overwrites_that_row() -> None:
    rows = [RowState(5, cp(amount=Decimal("1200")), 41, "created", None)]
    [p] = plan_rows(CHARGEPOINT, rows, [service_record(41, amount=Decimal("1800"))])
    assert p.result is Result.CONFLICT and "service 1.800,000, this row 1.200,000" in p.message
    assert "--overwrite 5" in p.message
    [p] = plan_rows(CHARGEPOINT, rows, [service_record(41, amount=Decimal("1800"))], overwrite={5})
    assert p.action is Action.UPDATE and p.payload == {"amount": Decimal("1200")}
    frozen = [service_record(41, status="sent_to_uba", amount=Decimal("1800"))]
    [p] = plan_rows(CHARGEPOINT, rows, frozen, overwrite={5})
    assert p.result is Result.LOCKED  # never over a frozen record


def test_a_row_overlapping_a_record_linked_to_another_row_is_not_created() -> None:
    linked = RowState(2, cp(), 41, "created", fingerprint(CHARGEPOINT, cp()))
    new = RowState(3, cp(customer_reference="CP-2", period_start=date(2024, 6, 1), period_end=date(2024, 8, 31)))
    plans = plan_rows(CHARGEPOINT, [linked, new], [service_record(41)])
    assert plans[1].result is Result.INVALID and plans[1].problems[0].code == "overlap-on-service"
    assert "linked to row 2" in plans[1].message


def test_two_rows_with_one_qaas_id_are_both_refused_each_naming_the_other() -> None:
    """A row copied with its QaaS ID: neither is sent nor linked (which of them is the record is the user's call);
    the rows with an ID of their own are planned as ever."""
    fp = fingerprint(CHARGEPOINT, cp())
    rows = [RowState(4, cp(), 41, "created", fp), RowState(5, cp(amount=Decimal("99")), 42, "created", None),
            RowState(9, cp(), 41, "created", fp)]
    plans = plan_rows(CHARGEPOINT, rows, [service_record(41), service_record(42, amount=Decimal("98"))])
    assert [p.result for p in plans] == [Result.INVALID, Result.CONFLICT, Result.INVALID]
    assert [p.problems[0].code for p in (plans[0], plans[2])] == ["record-claimed-twice"] * 2
    assert "QaaS ID 41 is also the QaaS ID of row 9" in plans[0].message
    assert "QaaS ID 41 is also the QaaS ID of row 4" in plans[2].message
    assert all(p.action is Action.NONE for p in plans)


def test_a_record_claimed_by_a_row_of_another_sheet_is_neither_adopted_nor_linked_twice() -> None:
    rows = [RowState(2, cp(customer_reference=None)), RowState(3, cp(evse_id="DE*ABC*E9*1"), 41, "created", None)]
    plans = plan_rows(CHARGEPOINT, rows, [service_record(41)], claimed={41: "'ChargePoints 2025' row 7"})
    assert [p.result for p in plans] == [Result.INVALID, Result.INVALID]
    assert "'ChargePoints 2025' row 7" in plans[1].message
