"""Cell values as people type them: read exactly, or named as a problem; never an exception."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qaas_excel import parsing


def one(parser, value):
    parsed = parser(pd.Series([value], dtype=object))
    return parsed.values.iloc[0], parsed.errors.iloc[0]


@pytest.mark.parametrize(("raw", "expected"), [
    (1234.567, Decimal("1234.567")), (0.1 + 0.2, Decimal("0.3")), (22, Decimal("22")), ("1234,5", Decimal("1234.5")),
    ("1.234,5", Decimal("1234.5")), ("1,234.5", Decimal("1234.5")), ("1.234.567", Decimal("1234567")),
    ("1,234,567", Decimal("1234567")), (" 12 345,75 ", Decimal("12345.75")), ("\u00a012,5 kWh", Decimal("12.5")),
    ("0,125", Decimal("0.125")), ("-5", Decimal("-5")), ("1234.567", Decimal("1234.567")), ("22 kW", Decimal("22")),
])
def test_numbers_are_read_exactly(raw, expected) -> None:
    value, error = one(parsing.parse_decimal, raw)
    assert error is None and value == expected


@pytest.mark.parametrize(("raw", "code"), [
    ("1.234", "ambiguous-number"), ("1,234", "ambiguous-number"), ("abc", "not-a-number"), (True, "not-a-number"),
    ("#REF!", "formula-error"), ("#DIV/0!", "formula-error"), ("1.2.3,4,5", "not-a-number"),
    (datetime(2024, 1, 1), "not-a-number"), (float("inf"), "not-a-number"),
])
def test_unreadable_numbers_are_named(raw, code) -> None:
    value, error = one(parsing.parse_decimal, raw)
    assert value is None and error[0] == code


@pytest.mark.parametrize(("raw", "expected"), [
    (datetime(2024, 12, 31, 0, 0), date(2024, 12, 31)), (date(2024, 1, 1), date(2024, 1, 1)),
    ("31.12.2024", date(2024, 12, 31)), ("1.2.2024", date(2024, 2, 1)), ("31.12.24", date(2024, 12, 31)),
    ("2024-12-31", date(2024, 12, 31)), ("2024-12-31T00:00:00", date(2024, 12, 31)), (45657, date(2024, 12, 31)),
])
def test_dates(raw, expected) -> None:
    assert one(parsing.parse_date, raw) == (expected, None)


@pytest.mark.parametrize("raw", ["31.02.2024", "12/31/2024", "morgen", True, -3])
def test_bad_dates_are_named(raw) -> None:
    value, error = one(parsing.parse_date, raw)
    assert value is None and error[0] == "not-a-date"


def test_datetimes_are_utc() -> None:
    assert one(parsing.parse_datetime, "2022-09-28T15:38:21Z")[0] == datetime(2022, 9, 28, 15, 38, 21, tzinfo=UTC)
    assert one(parsing.parse_datetime, datetime(2024, 1, 1, 9, 30))[0] == datetime(2024, 1, 1, 9, 30, tzinfo=UTC)
    assert one(parsing.parse_datetime, "28.09.2022 15:38")[0] == datetime(2022, 9, 28, 15, 38, tzinfo=UTC)
    assert one(parsing.parse_datetime, date(2024, 1, 1))[0] == datetime(2024, 1, 1, tzinfo=UTC)


def test_zip_codes_get_their_leading_zero_back_and_text_is_trimmed() -> None:
    assert one(parsing.parse_zip, 1067)[0] == "01067"
    assert one(parsing.parse_zip, "1067")[0] == "01067"
    assert one(parsing.parse_zip, 80331.0)[0] == "80331"
    assert one(parsing.parse_text, "  Baum   straße 1 ")[0] == "Baum straße 1"
    assert one(parsing.parse_evse, " de*abc*e1234567*1 ")[0] == "DE*ABC*E1234567*1"


def test_operator_column_takes_an_id_or_a_reference() -> None:
    assert one(parsing.parse_id_or_reference, 335.0)[0] == 335
    assert one(parsing.parse_id_or_reference, "335")[0] == 335
    assert one(parsing.parse_id_or_reference, " SW-DD ")[0] == "SW-DD"
    assert one(parsing.parse_id_or_reference, 3.5)[1][0] == "not-an-id"


def german(d: Decimal) -> str:
    text = f"{d:,.3f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal("999999999"), places=3))
def test_german_and_english_formatting_round_trips_or_is_called_ambiguous(d: Decimal) -> None:
    # "1,000" is one (German) or one thousand (English): such forms must be reported, never guessed.
    ambiguous = 1 <= d < 1000
    for text in (german(d), f"{d:,.3f}"):
        value, error = one(parsing.parse_decimal, text)
        if ambiguous:
            assert value is None and error[0] == "ambiguous-number"
        else:
            assert value == d and error is None
    assert one(parsing.parse_decimal, float(d))[0] == d


anything = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                     st.text(max_size=30), st.dates(), st.datetimes(), st.decimals(allow_nan=False))


@given(st.lists(anything, min_size=1, max_size=20))
def test_any_input_gives_a_value_or_a_named_problem(values) -> None:
    series = pd.Series(values, dtype=object)
    for parser in (parsing.parse_decimal, parsing.parse_date, parsing.parse_datetime, parsing.parse_text,
                   parsing.parse_zip, parsing.parse_evse, parsing.parse_id_or_reference, parsing.parse_int):
        parsed = parser(series)
        assert len(parsed.values) == len(values)
        for value, error in zip(parsed.values, parsed.errors, strict=True):
            assert error is None or (isinstance(error, tuple) and error[0] and error[1])
            assert error is None or value is None


@given(st.lists(anything | st.sampled_from([float("nan"), pd.NaT, Decimal("NaN"), "", "  ", "#REF!", " x ",
                                            "DE*ABC*E1*1", "12,5", True, 0]), min_size=1, max_size=30))
def test_what_a_parser_knows_of_its_column_is_what_notna_says(values) -> None:
    # validation takes a column's "has a value" and "has an error" from its parser instead of asking every cell
    # again: each must be exactly what notna() says of the values and of the errors
    series = pd.Series(values, index=range(2, len(values) + 2), dtype=object)
    for parser in (parsing.parse_decimal, parsing.parse_date, parsing.parse_datetime, parsing.parse_text,
                   parsing.parse_zip, parsing.parse_evse, parsing.parse_id_or_reference, parsing.parse_int):
        parsed = parser(series)
        assert parsed.known_present is not None and parsed.known_failed is not None, parser
        assert parsed.present.equals(parsed.values.notna()), parser
        assert parsed.failed.equals(parsed.errors.notna()), parser
        assert parsed.present.index.equals(series.index)


floats = st.floats(allow_nan=True, allow_infinity=True) | st.floats(min_value=-1e6, max_value=1e6).map(
    lambda x: round(x, 3)) | st.sampled_from([0.0, -0.0, 1e15, -1e15, 1e16, 0.1 + 0.2, 1 / 3, 1e-5, 2.0**53, 1.5e-10,
                                              124999999999999.0, 149.99999999999997, 1234.5, 1.23456789e-05,
                                              -4.5678901234e-06])


@given(st.lists(floats, min_size=1, max_size=40))
def test_a_column_of_floats_reads_as_each_float_alone(values) -> None:
    # parse_decimal makes each distinct float once, in bulk: every cell must come out as that float does alone,
    # the same Decimal to its last digit, and that is the number as typed, without binary noise.
    column = values + values[::2]
    parsed = parsing.parse_decimal(pd.Series(column, dtype=object))
    for raw, value, error in zip(column, parsed.values, parsed.errors, strict=True):
        assert (value, error) == parsing._to_decimal(raw) or raw != raw  # NaN: an empty cell, not an error
        if raw != raw:
            assert value is None and error is None
        elif value is None:
            assert error[0] == "not-a-number" and abs(raw) >= parsing.MAX_NUMBER
        else:
            assert str(value) == str(parsing._to_decimal(raw)[0])
            # the float as typed (its shortest spelling reads back as the same float), or it less binary noise
            # below 1e-9 (0.1 + 0.2 is 0.3); Decimal(raw) is the float's exact binary value
            assert float(value) == raw or abs(value - Decimal(raw)) <= Decimal("1e-9")
            assert value.as_tuple().exponent >= -9  # no binary noise below the ninth place
            assert raw != int(raw) or value.as_tuple().exponent == 0  # a whole number has no decimal places


@given(st.lists(floats.filter(lambda x: x == x and abs(x) < parsing.MAX_NUMBER) | st.floats(1e-4, 1e-3)
                | st.sampled_from([0.0001, 0.00012, -0.5, 100.25, 99999999999999.9, 0.1 + 0.7]), min_size=1,
                max_size=40))
def test_a_column_of_floats_knows_each_decimals_text(values) -> None:
    # the texts a column of floats was read from are kept, where each is its Decimal's own str: the checks of
    # signs and places read them instead of spelling each Decimal again
    parsed = parsing.parse_decimal(pd.Series(values + values[::3], dtype=object))
    if parsed.known_texts is not None:
        codes, _ = parsed.known_distinct
        assert parsed.known_texts[codes].tolist() == [str(v) for v in parsed.values]
    if all("e" not in repr(x) and (x == int(x) or len(repr(x).partition(".")[2]) <= 9) for x in values):
        assert parsed.known_texts is not None  # what the texts are known for


@given(st.decimals() | st.sampled_from([Decimal("1.500"), Decimal("-0.000"), Decimal("0E-7"), Decimal("1E+2"),
                                        Decimal("12.3456789012345678901234567890"), Decimal("NaN")]))
def test_decimal_places_drop_trailing_zeros(value: Decimal) -> None:
    # the places a number was typed with, as the exponent of its normal form says (read from its text when short)
    exp = value.as_tuple().exponent
    if isinstance(exp, int) and exp < 0:
        exp = value.normalize().as_tuple().exponent
    assert parsing.decimal_places(value) == (max(0, -exp) if isinstance(exp, int) else 0)


# texts as cells hold them: mostly clean, some with the white space, "#" errors and odd characters each reader minds
cell_texts = st.lists(st.sampled_from(["a", "B", "ß", "ŉ", "*", "1", " ", "  ", "\t", "\n", "\r", "\u00a0", "\u2003",
                                        "#", "#REF!", "\x00", "É", "ﬁ"]), max_size=8).map("".join)


@given(st.lists(cell_texts | st.from_regex(r"DE\*[A-Z]{3}\*E[0-9]{1,7}\*1", fullmatch=True), min_size=1,
                max_size=30))
def test_a_column_of_texts_reads_as_each_text_alone(values) -> None:
    # parse_text and parse_evse read a column whose texts are all clean in one go (joined, in C): every cell must
    # come out as it does alone, the same text or the same error; a text that is not clean sends the column the
    # slow way
    column = values + values[::2]
    for parser, one in ((parsing.parse_text, parsing._to_text), (parsing.parse_evse, parsing._to_evse),
                        (parsing.parse_zip, parsing._to_zip)):
        parsed = parser(pd.Series(column, dtype=object))
        for raw, value, error in zip(column, parsed.values, parsed.errors, strict=True):
            assert (value, error) == (one(raw) if raw.strip() else (None, None)), (parser, raw)


@given(st.lists(cell_texts | st.from_regex(r"[Dd][Ee] ?\*[A-Z]{3}\*E[0-9]{1,7}\*1", fullmatch=True),
                min_size=parsing._PROBE + 1, max_size=parsing._PROBE + 30), st.lists(cell_texts, max_size=5))
def test_a_column_of_distinct_texts_reads_as_each_text_alone(values, after) -> None:
    # a column whose first cells all differ is read without finding its distinct values first (every text at once
    # where all are clean): each cell must still come out as it does alone, and say what notna() says
    column = [v + str(i) if i % 2 else str(i) + v for i, v in enumerate(values)] + after + [None] * (len(after) % 2)
    for parser, one in ((parsing.parse_text, parsing._to_text), (parsing.parse_evse, parsing._to_evse)):
        parsed = parser(pd.Series(column, dtype=object))
        for raw, value, error in zip(column, parsed.values, parsed.errors, strict=True):
            assert (value, error) == (one(raw) if raw is not None and raw.strip() else (None, None)), (parser, raw)
        assert parsed.present.equals(parsed.values.notna()) and parsed.failed.equals(parsed.errors.notna())


def test_a_clean_column_of_texts_is_read_at_once_and_an_unclean_one_each_alone() -> None:
    clean = ["B-1", "de*swe*e1*1", "Straße 4"]
    assert parsing._clean_texts(clean) is clean
    assert parsing._clean_texts(clean, parsing._evse_form) == ["B-1", "DE*SWE*E1*1", "STRASSE4"]
    for unclean in (" B-1", "B-1 ", "B  1", "B\t1", "B\n1", "B\u00a01", "#REF!", "", "B\x001", "\u2003B"):
        assert parsing._clean_texts([*clean, unclean]) is None, repr(unclean)
        assert parsing._clean_texts([unclean, *clean]) is None, repr(unclean)  # first and last: no separator there
