"""Fingerprints (the hidden column that tells "changed here" from "changed there" and a sorted row from an edited
one) and the records they are made from: worked out for many rows at once, spelled as every earlier release
spelled them."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qaas_excel import resources, sync
from qaas_excel.resources import CHARGEPOINT, OPERATOR, decode_record
from qaas_excel.results import Result
from qaas_excel.sync import _spelled, canonical_value, fingerprint, fingerprints

from .test_plan import cp


def test_fingerprints_are_spelled_as_the_workbooks_out_there_hold_them() -> None:
    """Workbooks pushed by earlier releases hold these in their hidden column: a different spelling would make
    every such row look edited (and a record changed on the service since, a conflict)."""
    assert fingerprint(CHARGEPOINT, cp()) == "1fe1962d8b0e878a0292:9f1e5e.d1528e.16050a"
    row = cp(customer_reference="CP-0", evse_id="DE*ABC*E0000000*1", amount=Decimal(0), chargepointoperator_id=0)
    assert fingerprint(CHARGEPOINT, row) == "c509163e95421557989f:d3f63e.27eef9.16050a"
    operator = {"name": "Stadtwerke X GmbH", "street": "A 1", "zip_code": "01067", "town": "Dresden"}
    assert fingerprint(OPERATOR, operator) == "7104e226771af17c11c7:.2aee60.eec963"
    assert fingerprints(CHARGEPOINT, [cp(), row]) == [fingerprint(CHARGEPOINT, cp()), fingerprint(CHARGEPOINT, row)]
    assert fingerprints(CHARGEPOINT, []) == []


# values of every kind a cell or the service hands over, some equal across kinds (1, True, 1.0, Decimal 1, "1")
_ANY = st.sampled_from([None, "", " ", "1", "True", 1, 0, True, False, 1.0, 0.5, Decimal("1"), Decimal("1.0"),
                        Decimal("0.5"), date(2024, 1, 1), datetime(2024, 1, 1), datetime(2024, 1, 1, tzinfo=UTC),
                        "2024-01-01", "de*abc*e1", "DE*ABC*E1", float("nan"), ["a list"]])
_FIELDS = ["customer_reference", "evse_id", "town", "zip_code", "chargepointoperator_id", "max_power_kw",
           "period_start", "period_end", "amount", "commissioning_date"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.fixed_dictionaries({}, optional={name: _ANY for name in _FIELDS}), max_size=12))
def test_rows_fingerprinted_together_are_each_spelled_as_alone(rows: list[dict[str, object]]) -> None:
    """A value met again is spelled from memory: 1 and True, or a date and midnight of that date, are other
    values than each other and must not share a spelling because they are equal in Python."""
    alone = [fingerprints(CHARGEPOINT, [row])[0] for row in rows]
    assert fingerprints(CHARGEPOINT, rows) == alone
    assert fingerprints(OPERATOR, rows) == [fingerprint(OPERATOR, row) for row in rows]
    with pytest.MonkeyPatch.context() as m:  # a long list is worked out a chunk at a time: the same fingerprints
        m.setattr(sync, "FINGERPRINT_CHUNK", 5)
        assert fingerprints(CHARGEPOINT, rows) == alone


def test_a_long_list_is_fingerprinted_holding_a_chunks_spellings_not_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every field's spelling of 50,000 rows at once held some 50 MiB at a push's peak; a chunk at a time, little
    more than the fingerprints themselves (here 10 chunks of 1,000 rows: some 10 times as much at once)."""
    assert sync.FINGERPRINT_CHUNK <= 10_000  # a real list is worked out in chunks of at most a fifth of 50,000 rows
    monkeypatch.setattr(sync, "FINGERPRINT_CHUNK", 1000)
    rows = [cp(customer_reference=f"CP-{i}", evse_id=f"DE*ABC*E{i:07d}*1", amount=Decimal(i) / 7)
            for i in range(10_000)]
    tracemalloc.start()
    found = fingerprints(CHARGEPOINT, rows)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(set(found)) == len(rows)
    assert peak < 4 * held, f"{peak / held:.1f} times what the fingerprints hold"


def test_an_identity_groups_text_met_again_is_hashed_once_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """The period of every row of a year's sheet is one text: its digest is worked out once, not for each row;
    past ``GROUP_DIGESTS_HELD`` different texts each is worked out on its own. Either way as one row alone."""
    hashed: list[bytes] = []
    sha256 = sync.hashlib.sha256

    def counted(data: bytes = b"") -> object:
        hashed.append(data)
        return sha256(data)

    rows = [cp(customer_reference=f"CP-{i}", evse_id=f"DE*ABC*E{i:07d}*1",
               period_start=date(2024 + i % 3, 1, 1), period_end=date(2024 + i % 3, 12, 31)) for i in range(300)]
    alone = [fingerprint(CHARGEPOINT, row) for row in rows]
    monkeypatch.setattr(sync.hashlib, "sha256", counted)
    assert fingerprints(CHARGEPOINT, rows) == alone
    periods = [h for h in hashed if h.startswith(b"period_start=")]
    assert len(periods) == 3 and len(hashed) == 3 * 300 + 3  # each row's values, reference, EVSE; 3 periods
    hashed.clear()
    monkeypatch.setattr(sync, "GROUP_DIGESTS_HELD", 2)
    assert fingerprints(CHARGEPOINT, rows) == alone
    assert len([h for h in hashed if h.startswith(b"period_start=")]) == 2 + 100  # the third period: each time


def test_a_record_from_the_service_is_typed_and_what_cannot_be_read_is_kept_as_it_came() -> None:
    body = {"id": 41, "status": "created", "amount": Decimal("1234.50"), "max_power_kw": "22",
            "chargepointoperator_id": "7", "period_start": "2024-01-01", "period_end": "not a date",
            "commissioning_date": None, "evse_id": "DE*ABC*E1", "extra": {"kept": 1}}
    record = decode_record(CHARGEPOINT, body)
    assert record == {"id": 41, "status": "created", "amount": Decimal("1234.50"), "max_power_kw": Decimal("22"),
                      "chargepointoperator_id": 7, "period_start": date(2024, 1, 1), "period_end": "not a date",
                      "commissioning_date": None, "evse_id": "DE*ABC*E1", "extra": {"kept": 1}}
    assert str(record["amount"]) == "1234.50"  # the service's own digits
    assert body["period_start"] == "2024-01-01"  # the body as it came is not changed
    assert list(record) == list(body)


_TEXTS = st.lists(st.sampled_from(["a", "B", "ß", "*", "1", " ", "\t", "\u00a0", "\x00", "É", "DE*ABC*E1", "de abc"]),
                  max_size=6).map("".join)


@settings(max_examples=80, deadline=None)
@given(st.lists(_TEXTS, max_size=12), st.sampled_from(["customer_reference", "evse_id", "town", "zip_code"]))
@example([" de*abc*e1", "B"], "evse_id")  # white space where no separator is: at the start of the first
@example(["B", "de*abc*e1 "], "evse_id")  # and at the end of the last
def test_a_column_of_texts_is_spelled_at_once_as_each_text_alone(texts: list[str], name: str) -> None:
    """A column of texts is spelled in one go (joined, in C) where none has white space at its ends: each must be
    what ``canonical_value`` spells for it alone (DE*ABC*E1 and de*abc*e1 are one EVSE; ' A' is 'A')."""
    f = CHARGEPOINT.field(name)
    for column in (texts, texts + texts[::2]):  # as drawn (its first and last texts are the ends), with repeats
        assert _spelled(f, column) == [f"{name}={canonical_value(f, text)}" for text in column]


def test_equal_values_spelled_otherwise_never_share_a_spelling() -> None:
    """Equal values of some types are spelled otherwise (Decimal 1.0 and 1.00 as text, 0.0 and -0.0, one instant in
    two time zones): a column of them must not be spelled once per distinct value (from memory)."""
    cet = timezone(timedelta(hours=1))
    twins: list[list[object]] = [[Decimal("1.0"), Decimal("1.00"), None], [0.0, -0.0], [1, 1, None], [True, True],
                                 [datetime(2024, 1, 1, 12, tzinfo=UTC), datetime(2024, 1, 1, 13, tzinfo=cet)],
                                 [date(2024, 1, 1), date(2024, 1, 1)], ["a", "a ", " A"], [None, None],
                                 [Decimal("0"), Decimal("-0"), Decimal("0.0"), Decimal("-0.000"), Decimal("0E+30")],
                                 [Decimal("22"), Decimal("22.0"), Decimal("22.0000"), Decimal("2.2E+1"), 22, 22.0],
                                 [Decimal("NaN"), Decimal("NaN")],
                                 [Decimal("0.0005"), Decimal("0.00050"), Decimal("-0.0005"), Decimal("0.0015")]]
    unrounded = replace(CHARGEPOINT.field("amount"), decimals=None)  # a decimal field not rounded: 1.0 is not 1.00
    for f in (*CHARGEPOINT.client_fields, *OPERATOR.client_fields, unrounded):
        for column in twins:
            assert _spelled(f, column) == [f"{f.name}={canonical_value(f, v)}" for v in column], (f.name, column)


def test_a_rounded_decimals_spelling_is_kept_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A power met again is spelled from memory (once per value); past ``DECIMALS_HELD`` values none is kept (each
    amount is its own), and every spelling stays what ``canonical_value`` says."""
    f = CHARGEPOINT.field("max_power_kw")
    spelled: list[object] = []
    monkeypatch.setattr(sync, "canonical_value", lambda f, v: spelled.append(v) or canonical_value(f, v))
    column = [Decimal("22"), Decimal("11.0"), Decimal("22.0"), Decimal("22.00"), Decimal("11")] * 20
    assert _spelled(f, column) == [f"max_power_kw={canonical_value(f, v)}" for v in column]
    assert spelled == [Decimal("22"), Decimal("11.0")]
    monkeypatch.setattr(sync, "DECIMALS_HELD", 3)
    spelled.clear()
    column = [Decimal(n) for n in (1, 2, 1, 3, 1, 4, 1)]
    assert _spelled(f, column) == [f"max_power_kw={canonical_value(f, v)}" for v in column]
    assert spelled == [Decimal(n) for n in (1, 2, 3, 1, 4, 1)]  # kept: 1, 2, 3; then none kept nor looked up


# what the service may send in a typed field: the same texts in fields of other types, numbers, nothing
_RAW = st.sampled_from(["2024-01-01", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00+01:00", "22", "22.0", "22.00",
                        "7", " 7", "not a date", "", None, 7, 1, True, Decimal("1.50"), Decimal("1.5")])
_TYPED = ["id", "chargepointoperator_id", "commissioning_date", "max_power_kw", "period_start", "amount", "created",
          "last_updated", "town", "zip_code", "status"]  # and text fields: their texts are shared, never decoded


@settings(max_examples=80, deadline=None)
@given(st.lists(st.fixed_dictionaries({}, optional={name: _RAW for name in _TYPED}), max_size=10),
       st.integers(0, 3))
def test_records_of_one_list_decoded_with_what_was_seen_are_each_as_decoded_alone(bodies: list[dict[str, object]],
                                                                                  remembered: int) -> None:
    """A list's records share what a field's text decodes to (a date, a power, a time): each must be what decoding
    that record alone gives, of the same type and digits ("22.0" is not "22.00"), even where one text is in fields
    of several types, and where the memory is full (``remembered``)."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(resources, "_SEEN_TEXTS", remembered)
        seen: dict[str, dict[str, object]] = {}
        together = [decode_record(CHARGEPOINT, body, seen) for body in bodies + bodies]
    alone = [decode_record(CHARGEPOINT, body) for body in bodies + bodies]
    assert [repr(r) for r in together] == [repr(r) for r in alone]


def test_a_lists_records_share_their_equal_texts_as_far_as_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    """A town, a postcode, a status met again in a list is held once (12 MiB of 50,000 records), never decoded, and
    a field's texts are remembered only up to ``_SEEN_TEXTS`` (a reference is each its own)."""
    monkeypatch.setattr(resources, "_SEEN_TEXTS", 2)
    bodies = [{"id": i, "town": "".join(["Dres", "den"]), "status": "sent_to_uba"[:4] + "_to_uba",
               "customer_reference": f"R-{i}", "zip_code": str(1067 + i % 3).zfill(5)} for i in range(6)]
    assert bodies[0]["town"] is not bodies[1]["town"]  # as json gives them: each its own
    seen: dict[str, dict[str, object]] = {}
    records = [decode_record(CHARGEPOINT, body, seen) for body in bodies]
    assert records == [decode_record(CHARGEPOINT, body) for body in bodies]
    assert len({id(r["town"]) for r in records}) == 1 and len({id(r["status"]) for r in records}) == 1
    # two postcodes remembered, the third never is: it stays each record's own
    assert [len({id(r["zip_code"]) for r in records if r["zip_code"] == z}) for z in ("01067", "01068", "01069")] \
        == [1, 1, 2]
    assert len(seen["customer_reference"]) == 2


# values a row and its record may hold, some equal in value and spelled otherwise: 22 and 22.0 in a field rounded to
# its places (alike), -0 and 0, 1E+30 and 1.000E+30 (too large to round: spelled as written), NaN, a signalling NaN
_DECIMALS = st.sampled_from([Decimal("22"), Decimal("22.0"), Decimal("22.000"), Decimal("-0"), Decimal("0"),
                             Decimal("0.000"), Decimal("-0.0"), Decimal("1E+30"), Decimal("1.000E+30"),
                             Decimal("1E+14"), Decimal("100000000000000.0"), Decimal("NaN"), Decimal("sNaN"),
                             Decimal("Infinity"), Decimal("1234.5"), Decimal("1234.50"), Decimal("0.0005"),
                             Decimal("0.0004")])
_VALUE = st.one_of(_ANY, _DECIMALS)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={name: _VALUE for name in _FIELDS}),
       st.fixed_dictionaries({}, optional={name: _VALUE for name in _FIELDS}))
def test_a_record_alike_its_row_has_the_rows_fingerprint(row: dict[str, object], other: dict[str, object]) -> None:
    """A record whose fields are alike its linked row's takes the row's fingerprint without working it out: that
    must be exactly the fingerprint worked out, for any values; the others are worked out."""
    for resource in (CHARGEPOINT, OPERATOR):
        record = {**row, **other}
        try:  # (a decimal too large to round to its places, an infinite id: cannot be spelled, and never come)
            fp, expected = fingerprint(resource, row), fingerprint(resource, record)
        except ArithmeticError:
            continue
        got = sync.service_fingerprints(resource, [record], [(record, row, fp)])
        assert got == {id(record): expected}
        twin = dict(row)  # the same values as other objects: always alike unless spelled by more than the value
        got = sync.service_fingerprints(resource, [twin], [(twin, row, fp)])
        assert got == {id(twin): fp}


def test_unchanged_records_are_not_fingerprinted_again_and_a_changed_one_is(monkeypatch: pytest.MonkeyPatch) -> None:
    from qaas_excel.sync import RowState, plan_rows

    from .test_plan import service_record

    worked: list[int] = []
    real = sync.fingerprints

    def counted(resource, many):  # type: ignore[no-untyped-def]
        worked.append(len(many))
        return real(resource, many)

    values = [cp(customer_reference=f"CP-{i}", evse_id=f"DE*ABC*E123456{i}*1", max_power_kw=Decimal(22))
              for i in range(6)]
    rows = [RowState(5 + i, v, record_id=40 + i, stored_fingerprint=fingerprint(CHARGEPOINT, v))
            for i, v in enumerate(values)]
    service = [service_record(40 + i, customer_reference=f"CP-{i}", evse_id=f"DE*ABC*E123456{i}*1",
                              max_power_kw=Decimal("22.000"), amount=Decimal("1234.5") if i != 3 else Decimal("99"))
               for i in range(6)]
    monkeypatch.setattr(sync, "fingerprints", counted)
    plans = plan_rows(CHARGEPOINT, rows, service)
    assert worked == [6, 1]  # the rows; then only record 43, which differs
    assert [p.result for p in plans] == [Result.UNCHANGED] * 6 and "run reconcile" in plans[3].message
    assert [p.fingerprint for p in plans] == [r.stored_fingerprint for r in rows]


_CET = timezone(timedelta(hours=1))
# one field's value in a row and in its record: equal in Python, some spelled alike and some not
_TWINS = [(Decimal("22"), Decimal("22.0")), (Decimal("-0"), Decimal("0")), (Decimal("0.0"), Decimal("-0.000")),
          (Decimal("1234.5"), Decimal("1234.50")), (Decimal("1E+14"), Decimal("100000000000000.0")),
          (1, True), (0, False), (1, Decimal(1)), (1, 1.0), (0.0, -0.0), (Decimal("0.5"), 0.5),
          (date(2024, 1, 1), datetime(2024, 1, 1)), (datetime(2024, 1, 1, 12, tzinfo=UTC),
                                                     datetime(2024, 1, 1, 13, tzinfo=_CET)),
          ("DE*ABC*E1", "DE*ABC*E1"), ("22", "22.0"), (None, None), (None, ""), ("x", "x ")]


@pytest.mark.parametrize(("mine", "theirs"), _TWINS)
def test_a_record_differing_from_its_row_in_one_fields_spelling_only_is_worked_out(mine: object,
                                                                                  theirs: object) -> None:
    for resource in (CHARGEPOINT, OPERATOR):
        for name in [f.name for f in resource.client_fields]:
            row = {**cp(), "organization_name": "X GmbH", name: mine}
            for record in ({**row, name: theirs}, {**row, name: mine}):
                fp = fingerprint(resource, row)
                got = sync.service_fingerprints(resource, [record], [(record, row, fp)])
                assert got == {id(record): fingerprint(resource, record)}, (resource.name, name, record[name])
