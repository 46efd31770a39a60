"""Turn raw cell values into typed, exact values — never raising, naming what cannot be read.

Each parser takes a pandas Series of raw values (as openpyxl/xlwings give them: int, float,
str, datetime, date, bool, None; formula errors as text such as "#REF!") and returns a
``Parsed``: the typed values and, per element, an error (code, text) or None.

Numbers. Excel numbers are used as shown (binary noise below 1e-9 removed). Text numbers may use
German ("1.234,5") or English ("1,234.5") separators. A lone separator followed by exactly
three digits ("1.234" or "1,234") is AMBIGUOUS — one thousand or one point two — and is reported
rather than guessed: a finance figure must never be silently 1000 times off.

Decimals are returned as ``Decimal`` and, for the vectorised rules, as exact integers in
thousandths (``milli``): 1234.5 kWh -> 1234500.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

from qaas_excel.values import is_blank

Error = tuple[str, str] | None  # (code, text)

MAX_NUMBER = 1e15  # beyond this a float has no exact thousandths left
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 in Excel's 1900 date system
EXCEL_EPOCH_1904 = date(1904, 1, 1)  # serial 0 = 1904-01-01 in Excel's 1904 date system (old Mac workbooks)
FORMULA_ERRORS = ("#REF!", "#VALUE!", "#DIV/0!", "#N/A", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
                  "#GETTING_DATA")
_SPACES = re.compile(r"[\s\u00a0\u202f']+")
_UNIT = re.compile(r"(?i)\s*(kwh|kw)\.?$")
_GERMAN_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass
class Parsed:
    values: pd.Series  # typed values, None where empty or unreadable
    errors: pd.Series  # Error per element
    # ``present`` and ``failed`` as the parser knew them at no cost (a column read a distinct value at a time: each
    # distinct value's, spread as its value is); None: asked of every element when wanted
    known_present: np.ndarray | None = field(default=None, repr=False)
    known_failed: np.ndarray | None = field(default=None, repr=False)
    # (codes, distinct values): each element's value is ``distinct[codes]`` (an object array; code -1 picks the last,
    # None), where the parser made each distinct value once; None where it did not
    known_distinct: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    # each distinct value's ``str``, beside ``known_distinct``'s values, where the parser had them at no cost
    known_texts: np.ndarray | None = field(default=None, repr=False)

    @property
    def failed(self) -> pd.Series:
        """Whether each element has an error."""
        if self.known_failed is None:
            return self.errors.notna()
        return pd.Series(self.known_failed, index=self.errors.index, dtype=bool)

    @property
    def present(self) -> pd.Series:
        """Whether each element has a value (``values.notna()``)."""
        if self.known_present is None:
            return self.values.notna()
        return pd.Series(self.known_present, index=self.values.index, dtype=bool)


def _spread(values: np.ndarray, errors: np.ndarray, codes: np.ndarray, index: pd.Index) -> Parsed:
    """A column's Parsed from the values and errors of its distinct values, ``codes`` picking each element's: what
    ``notna`` says of an element is what it says of its distinct value, so it is asked once per distinct value."""
    return Parsed(pd.Series(values[codes], index=index, dtype=object),
                  pd.Series(errors[codes], index=index, dtype=object),
                  known_present=pd.notna(values)[codes], known_failed=pd.notna(errors)[codes],
                  known_distinct=(codes, values))


def formula_error(value: Any) -> Error:
    if isinstance(value, str) and value.strip().upper() in FORMULA_ERRORS:
        return ("formula-error", f"the formula gives {value.strip().upper()}")
    return None


_PROBE = 64  # cells looked at first, to tell a column of distinct texts


def _map_unique(series: pd.Series, fn: Callable[[Any], tuple[Any, Error]],
                texts: Callable[[list[str]], list[str] | None] | None = None) -> Parsed:
    """Apply ``fn`` once per distinct value (dates, towns, powers repeat a lot), then spread the results.

    ``texts``: where every distinct value is a text, what ``fn`` gives for them all at once, none an error (e.g.
    ``_clean_texts``), or None where it cannot say: ``fn`` then reads each."""
    arr = series.to_numpy(dtype=object)
    probe = arr[:_PROBE].tolist() if texts is not None and len(arr) > _PROBE else []
    if texts is not None and probe and set(map(type, probe)) == {str} and len(set(probe)) == _PROBE:
        # the first cells all differ (references, EVSE IDs): most likely every one does, and finding the distinct
        # ones would cost more than it saves; where every cell is a text and ``texts`` reads them all, that is all
        every = arr.tolist()
        if set(map(type, every)) == {str}:
            clean = texts(every)
            if clean is not None:  # clean texts are not empty: each there, none an error
                return Parsed(pd.Series(np.fromiter(clean, dtype=object, count=len(clean)), index=series.index,
                                        dtype=object),
                              pd.Series(np.full(len(arr), None, dtype=object), index=series.index, dtype=object),
                              known_present=np.ones(len(arr), dtype=bool), known_failed=np.zeros(len(arr), dtype=bool))
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)  # None, NaN and NaT become -1
    kinds = {type(u) for u in uniques}
    if bool in kinds and kinds & {int, float}:
        return _map_each(series, fn)  # True == 1 would share a slot: take the slow, exact path
    if texts is not None and kinds == {str}:
        clean = texts(uniques.tolist())
        if clean is not None:  # no value with an error: every error is None
            values = np.empty(len(clean) + 1, dtype=object)
            values[:-1] = clean  # code -1 (empty) picks the last slot, None
            return _spread(values, np.full(len(values), None, dtype=object), codes, series.index)
    results: list[tuple[Any, Error]] = []
    for raw in uniques:
        if type(raw) is str and not raw.strip():
            results.append((None, None))
            continue
        try:
            results.append(fn(raw))
        except Exception as exc:  # noqa: BLE001 - a parser must never take the run down
            results.append((None, ("unreadable", f"cannot read {raw!r} ({type(exc).__name__})")))
    results.append((None, None))  # code -1 (empty) picks this last slot
    values = np.empty(len(results), dtype=object)
    errors = np.empty(len(results), dtype=object)
    values[:] = [r[0] for r in results]
    errors[:] = [r[1] for r in results]
    return _spread(values, errors, codes, series.index)


def _map_each(series: pd.Series, fn: Callable[[Any], tuple[Any, Error]]) -> Parsed:
    values: list[Any] = []
    errors: list[Error] = []
    for raw in series.to_numpy(dtype=object):
        if is_blank(raw):
            values.append(None)
            errors.append(None)
            continue
        try:
            value, error = fn(raw)
        except Exception as exc:  # noqa: BLE001
            value, error = None, ("unreadable", f"cannot read {raw!r} ({type(exc).__name__})")
        values.append(value)
        errors.append(error)
    n = len(values)  # each element its own "distinct value" (fromiter: an error's tuple stays one object)
    return _spread(np.fromiter(values, dtype=object, count=n), np.fromiter(errors, dtype=object, count=n),
                   np.arange(n), series.index)


# --- numbers ----------------------------------------------------------------------------------------

def _text_to_decimal(text: str) -> tuple[Decimal | None, Error]:
    raw = text
    text = _UNIT.sub("", _SPACES.sub("", text.strip()))
    if not text:
        return None, ("not-a-number", f"{raw!r} is not a number")
    sign = ""
    if text[0] in "+-":
        sign, text = ("-" if text[0] == "-" else ""), text[1:]
    if not text or not re.fullmatch(r"[0-9.,]+", text):
        return None, ("not-a-number", f"{raw!r} is not a number")
    has_dot, has_comma = "." in text, "," in text
    if has_dot and has_comma:
        dec = "," if text.rfind(",") > text.rfind(".") else "."
        thou = "." if dec == "," else ","
        whole, _, frac = text.rpartition(dec)
        if dec in whole or not re.fullmatch(rf"\d{{1,3}}(\{thou}\d{{3}})*", whole):
            return None, ("not-a-number", f"{raw!r} has misplaced separators")
        number = whole.replace(thou, "") + "." + frac
    elif has_dot or has_comma:
        sep = "." if has_dot else ","
        parts = text.split(sep)
        if len(parts) > 2:  # 1.234.567 or 1,234,567: thousands separators
            if not re.fullmatch(rf"\d{{1,3}}(\{sep}\d{{3}})+", text):
                return None, ("not-a-number", f"{raw!r} has misplaced separators")
            number = text.replace(sep, "")
        elif len(parts[1]) == 3 and 1 <= len(parts[0]) <= 3 and parts[0] != "0":
            return None, ("ambiguous-number",
                          f"{raw!r} is ambiguous (thousands separator or decimal point?): write it without "
                          "thousands separators, e.g. 1234 or 1234,5")
        else:
            number = parts[0] + "." + parts[1]
    else:
        number = text
    try:
        return Decimal(sign + number), None
    except InvalidOperation:
        return None, ("not-a-number", f"{raw!r} is not a number")


def _to_decimal(value: Any) -> tuple[Decimal | None, Error]:
    if (err := formula_error(value)) is not None:
        return None, err
    if isinstance(value, bool):
        return None, ("not-a-number", f"{value} is not a number")
    if isinstance(value, int):
        return Decimal(value), None
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= MAX_NUMBER:
            return None, _out_of_range(value)
        return _float_decimal(value), None
    if isinstance(value, Decimal):
        return value, None
    if isinstance(value, str):
        return _text_to_decimal(value)
    if isinstance(value, datetime | date):
        return None, ("not-a-number", f"a date ({value:%d.%m.%Y}) where a number belongs")
    return None, ("not-a-number", f"{value!r} is not a number")


def parse_decimal(series: pd.Series) -> Parsed:
    """Exact decimals; floats (the common case) go through a vectorised path, each distinct one made once."""
    arr = series.to_numpy(dtype=object)
    is_float = np.fromiter((type(v) is float for v in arr), dtype=bool, count=len(arr))
    values = np.full(len(arr), None, dtype=object)
    errors = np.full(len(arr), None, dtype=object)
    present = np.zeros(len(arr), dtype=bool)
    failed = np.zeros(len(arr), dtype=bool)
    distinct = texts = None
    if is_float.any():
        at = np.flatnonzero(is_float)
        floats = arr[at].astype(float)
        finite = np.isfinite(floats) & (np.abs(floats) < MAX_NUMBER)
        codes, uniques = pd.factorize(floats[finite])
        decimals, texts = _float_decimals(uniques)
        values[at[finite]] = decimals[codes]  # finite Decimals, each there
        present[at[finite]] = True
        if len(codes) == len(arr):  # every cell a float, and each in range: the column is its distinct floats'
            distinct = (codes, decimals)
        for i, number in zip(at[~finite].tolist(), floats[~finite].tolist(), strict=True):
            errors[i] = _out_of_range(number)
            failed[i] = errors[i] is not None
    rest = ~is_float
    if rest.any():
        parsed = _map_unique(series[rest], _to_decimal)
        values[rest] = parsed.values.to_numpy(dtype=object)
        errors[rest] = parsed.errors.to_numpy(dtype=object)
        present[rest] = parsed.present.to_numpy(dtype=bool)
        failed[rest] = parsed.failed.to_numpy(dtype=bool)
    return Parsed(pd.Series(values, index=series.index, dtype=object),
                  pd.Series(errors, index=series.index, dtype=object), known_present=present, known_failed=failed,
                  known_distinct=distinct, known_texts=texts if distinct is not None else None)


_TEN_PLACES = re.compile(r"\.\d{10}")  # in floats' texts joined: one with more than 9 decimal places


def _float_decimals(floats: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Finite floats below ``MAX_NUMBER`` as exact Decimals, what Excel shows: a whole number (or one within binary
    noise of it) as its int; otherwise the shortest repr, which is exact for what was typed, or where that has more
    than 9 decimal places (0.1 + 0.2), the value rounded to 9 places.

    And each Decimal's ``str``, where each was made from a text it gives back: an int's, or a repr without an
    exponent (which has no trailing zeros, and at least 0.0001 needs no exponent in a Decimal's text either); None
    where one was made otherwise."""
    rounded = np.round(floats, 9)
    exact = floats == np.trunc(floats)  # np.round of a large whole float may leave it off by a fraction
    whole = exact | (rounded == np.trunc(rounded))
    out = np.empty(len(floats), dtype=object)
    ints = np.where(exact, floats, rounded)[whole].astype(np.int64).tolist()
    out[whole] = np.fromiter(map(Decimal, ints), dtype=object, count=len(ints))  # (from a list: numpy looks into each)
    texts = list(map(repr, floats[~whole].tolist()))  # each with a point: finite and not whole
    joined = UNSEEN.join(texts)
    plain = "e" not in joined and _TEN_PLACES.search(joined) is None
    if not plain:  # one text has an exponent or is too long: each is looked at
        texts = [text if "e" not in text and len(text) - text.index(".") - 1 <= 9 else repr(near)
                 for text, near in zip(texts, rounded[~whole].tolist(), strict=True)]
    out[~whole] = np.fromiter(map(Decimal, texts), dtype=object, count=len(texts))
    if not plain:
        return out, None
    spelled = np.empty(len(floats), dtype=object)
    spelled[whole] = np.fromiter(map(str, ints), dtype=object, count=len(ints))
    spelled[~whole] = np.fromiter(texts, dtype=object, count=len(texts))
    return out, spelled


def _float_decimal(value: float) -> Decimal:
    """``_float_decimals`` of one float (a cell read alone), without an array: the same rounding, the same Decimal."""
    if value == math.trunc(value):
        return Decimal(int(value))
    rounded = float(np.round(value, 9))
    if rounded == math.trunc(rounded):
        return Decimal(int(rounded))
    text = repr(value)
    return Decimal(text if "e" not in text and len(text) - text.index(".") - 1 <= 9 else repr(rounded))


def _out_of_range(number: float) -> Error:
    """A float cell that is no amount: NaN is an empty cell; infinity or 1e15 and above cannot be exact."""
    return None if math.isnan(number) else ("not-a-number", f"{number:g} is out of range")


def to_milli(values: pd.Series) -> pd.Series:
    """Decimals as exact integers in thousandths (None -> <NA>; more decimals are truncated by the caller's check)."""
    return pd.Series([None if v is None else int((v * 1000).to_integral_value()) for v in values],
                     index=values.index, dtype="Int64")


def plain_decimal_texts(decimals: Any, texts: list[str] | None = None) -> str | None:
    """The texts of ``decimals`` joined by ``UNSEEN``, where each is a plain number ("-12.50": no exponent, not NaN),
    so that a column's signs, and that none has more decimal places than so many, can be seen in its text at once,
    in C; None where any is otherwise. (A text shows at least the places ``decimal_places`` counts: a long number's
    normal form may be rounded, which only takes places away.) ``texts``: each Decimal's ``str``, where known."""
    if texts is None:
        texts = list(map(str, decimals))
    if not texts:
        return None
    joined = UNSEEN.join(texts)
    # a finite Decimal's text is plain unless it has an exponent; NaN, sNaN and Infinity are named
    return None if "E" in joined or "e" in joined or "N" in joined or "I" in joined else joined


def decimal_places(value: Decimal | None) -> int:
    """Decimal places once trailing zeros are dropped: 1.500 has one."""
    if value is None:
        return 0
    text = str(value)
    if len(text) < 26 and "E" not in text and "e" not in text:  # plain notation, too short to be rounded below
        point = text.find(".")
        return 0 if point < 0 else len(text[point + 1:].rstrip("0"))
    exp = value.as_tuple().exponent
    if isinstance(exp, int) and exp < 0:
        exp = value.normalize().as_tuple().exponent  # 1.500 has one decimal place, not three
    return max(0, -exp) if isinstance(exp, int) else 0


# --- dates ------------------------------------------------------------------------------------------

def _epoch(date1904: bool) -> date:
    return EXCEL_EPOCH_1904 if date1904 else EXCEL_EPOCH


def _serial_to_date(value: float, date1904: bool = False) -> date | None:
    """A date serial as the workbook's date system counts it (up to 9999-12-31)."""
    epoch = _epoch(date1904)
    if (0 if date1904 else 1) <= value <= (date(9999, 12, 31) - epoch).days:
        return epoch + timedelta(days=int(value))
    return None


def _to_date(value: Any, date1904: bool = False) -> tuple[date | None, Error]:
    if (err := formula_error(value)) is not None:
        return None, err
    if isinstance(value, datetime):
        return value.date(), None
    if isinstance(value, date):
        return value, None
    if isinstance(value, bool):
        return None, ("not-a-date", f"{value} is not a date")
    if isinstance(value, int | float):
        d = _serial_to_date(float(value), date1904)
        return (d, None) if d else (None, ("not-a-date", f"{value!r} is not a date"))
    text = str(value).strip()
    m = _GERMAN_DATE.match(text)
    try:
        if m:
            day, month, year = int(m[1]), int(m[2]), int(m[3])
            if len(m[3]) == 2:
                year += 2000
            return date(year, month, day), None
        if _ISO_DATE.match(text):
            return date.fromisoformat(text[:10]), None
    except ValueError:
        return None, ("not-a-date", f"{text!r} is not a valid date")
    return None, ("not-a-date", f"{text!r} is not a date: write it as 31.12.2024 or 2024-12-31")


def parse_date(series: pd.Series, *, date1904: bool = False) -> Parsed:
    """Dates; a number is a date serial of the workbook's date system (``date1904``: counted from 1904-01-01)."""
    return _map_unique(series, (lambda v: _to_date(v, True)) if date1904 else _to_date)


def _to_datetime(value: Any, date1904: bool = False) -> tuple[datetime | None, Error]:
    """A point in time in UTC; a naive value is taken as UTC (the column says UTC)."""
    if (err := formula_error(value)) is not None:
        return None, err
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC), None
    if isinstance(value, str):
        text = value.strip()
        m = _GERMAN_DATE.match(text)
        if m and m[4]:
            try:
                year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
                return datetime(year, int(m[2]), int(m[1]), int(m[4]), int(m[5]), int(m[6] or 0), tzinfo=UTC), None
            except ValueError:
                return None, ("not-a-date", f"{text!r} is not a valid date and time")
        if _ISO_DATE.match(text) and len(text) > 10:
            try:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None, ("not-a-date", f"{text!r} is not a valid date and time")
            return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC), None
    if isinstance(value, float) and not value.is_integer() and _serial_to_date(value, date1904) is not None:
        e = _epoch(date1904)
        return datetime(e.year, e.month, e.day, tzinfo=UTC) + timedelta(days=value), None
    d, err = _to_date(value, date1904)
    if err or d is None:  # a date, or why not
        return None, err
    return datetime(d.year, d.month, d.day, tzinfo=UTC), None


def parse_datetime(series: pd.Series, *, date1904: bool = False) -> Parsed:
    """Points in time in UTC; a number is a date serial of the workbook's date system."""
    return _map_unique(series, (lambda v: _to_datetime(v, True)) if date1904 else _to_datetime)


# --- text and ids -----------------------------------------------------------------------------------

def _to_text(value: Any) -> tuple[str | None, Error]:
    if type(value) is str:  # the common case, kept cheap
        text = value.strip()
        if text.startswith("#") and (err := formula_error(text)) is not None:
            return None, err
        if "  " in text or "\n" in text or "\t" in text or "\u00a0" in text:
            text = " ".join(text.split())
        return (text or None), None
    if (err := formula_error(value)) is not None:
        return None, err
    if isinstance(value, bool):
        return None, ("not-text", f"{value} (TRUE/FALSE) where text belongs")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S"), None
    if isinstance(value, date):
        return value.isoformat(), None
    text = " ".join(str(value).split())
    return (text or None), None


def parse_text(series: pd.Series) -> Parsed:
    return _map_unique(series, _to_text, _clean_texts)


UNSEEN = "\x00"  # joins a column's distinct texts; never in a cell's text (XML 1.0 cannot hold it), checked
# white space at the start or the end of one of the texts joined (which ``strip`` takes): after a separator, or at
# the start, of the text and of the text reversed. A search that begins with what it looks for (the separator) is
# fast; one for white space before it tries every position (3.6 ms over 100,000 references, against 1.3 ms for
# reversing the text and looking after the separator again)
_SPACE_AFTER = re.compile(r"\x00\s")


def _edge_space(joined: str) -> bool:
    if joined[:1].isspace() or _SPACE_AFTER.search(joined) is not None:
        return True
    backwards = joined[::-1]
    return backwards[:1].isspace() or _SPACE_AFTER.search(backwards) is not None


def _clean_texts(uniques: list[str], finish: Callable[[str], str] | None = None) -> list[str] | None:
    """``_to_text`` (then ``finish``) of every text at once, where each is already as ``_to_text`` leaves it: not
    empty, no white space at its ends, none of the runs or kinds of white space it joins into one space, and not
    beginning with "#" (a formula's error). None where any is otherwise: each is then read alone.

    The texts are joined into one and looked at, and finished, by ``str``'s own methods in C: a column of 100,000
    distinct references or EVSE IDs, each clean, is read without a Python step per text."""
    if not uniques:
        return None
    joined = UNSEEN.join(uniques)
    if joined.count(UNSEEN) != len(uniques) - 1:  # one holds the separator
        return None
    # an empty text (two separators together, or one at an end), or one that begins with "#"
    if not joined or joined[0] in (UNSEEN, "#") or joined[-1] == UNSEEN or UNSEEN + UNSEEN in joined \
            or UNSEEN + "#" in joined:
        return None
    if "  " in joined or "\n" in joined or "\t" in joined or "\u00a0" in joined or _edge_space(joined):
        return None
    return uniques if finish is None else _formed(joined, len(uniques), finish)


def _to_zip(value: Any) -> tuple[str | None, Error]:
    text, err = _to_text(value)
    if err or text is None:
        return text, err
    # A PLZ stored as a number loses its leading zero (01067 -> 1067): put it back.
    if text.isdigit() and len(text) == 4:
        text = "0" + text
    return text, None


def parse_zip(series: pd.Series) -> Parsed:
    return _map_unique(series, _to_zip)


def _to_evse(value: Any) -> tuple[str | None, Error]:
    text, err = _to_text(value)
    if err or text is None:
        return text, err
    return _evse_form(text), None


def each_text(texts: list[str], form: Callable[[str], str]) -> list[str]:
    """``form`` of each text, where ``form`` changes a text character by character (replaces, case folds): done once to
    them all joined by ``UNSEEN``, in C, unless one holds it or ``form`` would not keep the texts apart."""
    done = _at_once(texts, form)
    return done if done is not None else [form(text) for text in texts]


def each_stripped_text(texts: list[str], form: Callable[[str], str]) -> list[str] | None:
    """``form(text.strip())`` of each text, at once as ``each_text`` does it, where no text has white space at its
    ends (most: a column of IDs and references); None where one has, or holds ``UNSEEN``."""
    return _at_once(texts, form, stripped=True)


def _at_once(texts: list[str], form: Callable[[str], str], *, stripped: bool = False) -> list[str] | None:
    if not texts:
        return None
    joined = UNSEEN.join(texts)
    if joined.count(UNSEEN) != len(texts) - 1 or (stripped and _edge_space(joined)):
        return None
    return _formed(joined, len(texts), form)


def _formed(joined: str, count: int, form: Callable[[str], str]) -> list[str] | None:
    """``form`` of ``count`` texts joined by ``UNSEEN`` (none holding it), split again; None where ``form`` did not
    keep them apart."""
    done = form(joined).split(UNSEEN)
    return done if len(done) == count else None


def _evse_form(text: str) -> str:
    """What ``_to_evse`` does to a clean text; over texts joined by ``UNSEEN``, to each of them."""
    return text.replace(" ", "").upper()


def parse_evse(series: pd.Series) -> Parsed:
    return _map_unique(series, _to_evse, lambda uniques: _clean_texts(uniques, _evse_form))


def _to_id_or_reference(value: Any) -> tuple[int | str | None, Error]:
    """An operator given by QaaS ID (a whole number) or by its reference (text)."""
    if (err := formula_error(value)) is not None:
        return None, err
    if isinstance(value, bool):
        return None, ("not-an-id", f"{value} is neither an operator ID nor a reference")
    if isinstance(value, int):
        return value, None
    if isinstance(value, float):
        if value.is_integer() and value > 0:
            return int(value), None
        return None, ("not-an-id", f"{value!r} is not a whole number")
    text = " ".join(str(value).split())
    if text.isdigit():
        return int(text), None
    return (text or None), None


def parse_id_or_reference(series: pd.Series) -> Parsed:
    return _map_unique(series, _to_id_or_reference)


def _to_int(value: Any) -> tuple[int | None, Error]:
    parsed, err = _to_id_or_reference(value)
    if err or parsed is None or isinstance(parsed, int):
        return parsed, err  # type: ignore[return-value]  # with an error, parsed is None
    return None, ("not-an-id", f"{parsed!r} is not a whole number")


def parse_int(series: pd.Series) -> Parsed:
    return _map_unique(series, _to_int)
