"""Ribbon macros: thin callers of the same library functions the CLI uses.

Each macro takes an optional ``book`` so tests can run it on xlwings' remote-engine Book;
from the ribbon it works on ``xw.Book.caller()``. Errors reach the user as a message box
(and row messages), never as a Python traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import xlwings as xw

from qaas_excel.api import errors
from qaas_excel.config import state_dir
from qaas_excel.config_files import ConfigError
from qaas_excel.excel import session
from qaas_excel.journal import Journal, journal_path
from qaas_excel.pipeline import RunReport, pull_book, push_book, save_results, validate_book
from qaas_excel.runlock import BookBusyError, book_lock
from qaas_excel.workbook.table import WorkbookError

log = logging.getLogger(__name__)
TITLE = "QaaS"
SIGNIN_FLOW_FILE = "excel-signin-flow.json"
SIGNIN_RESULT_FILE = "excel-signin-result.json"

F = TypeVar("F", bound=Callable[..., Any])


def _book(book: xw.Book | None) -> xw.Book:
    return book if book is not None else xw.Book.caller()


def _alert(book: xw.Book, text: str, *, mode: str = "info", buttons: str = "ok") -> Any:
    return book.app.alert(text, title=TITLE, mode=mode, buttons=buttons)


def _status(book: xw.Book, text: str | None) -> None:
    """The status bar (desktop Excel); the remote engine has none, which is fine."""
    try:
        book.app.status_bar = text if text else False
    except Exception:  # noqa: BLE001 - not every engine has a status bar
        log.debug("no status bar on this engine")


def excel_macro(func: F) -> F:
    """Run a macro: status bar while it works, a message box for anything that goes wrong."""

    @functools.wraps(func)
    def wrapper(book: xw.Book | None = None, *args: Any, **kwargs: Any) -> Any:
        wb = _book(book)
        _status(wb, f"QaaS: {func.__name__.replace('_', ' ')} ...")
        try:
            return func(wb, *args, **kwargs)
        except errors.SignInRequired as exc:
            _alert(wb, f"{exc}\n\nUse 'Sign in' on the QaaS tab.", mode="critical")
        except (errors.QaasError, WorkbookError, ConfigError, BookBusyError) as exc:
            _alert(wb, str(exc), mode="critical")
        except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback window
            log.exception("macro %s failed", func.__name__)
            _alert(wb, f"Unexpected error in {func.__name__}: {type(exc).__name__}: {exc}\n"
                       f"Details are in {state_dir() / 'excel.log'}.", mode="critical")
        finally:
            _status(wb, None)
        return None

    return cast(F, wrapper)  # func's arguments, the book optional


def _xlbook(book: xw.Book) -> Any:
    from qaas_excel.workbook.xlwings_book import XlwingsBook

    return XlwingsBook(book)


def _journal(book: xw.Book) -> Journal:
    return Journal(journal_path(book.fullname))


def summary_text(report: RunReport) -> str:
    lines = [f"{report.command.capitalize()}{' (dry run)' if report.dry_run else ''} finished."]
    for s in report.sheets:
        counts = ", ".join(f"{n} {k}" for k, v in sorted(s.counts.items()) for n in [v])
        lines.append(f"{s.sheet}: {counts or 'no rows'}")
        lines.extend(p.message for p in s.file_problems)
    if report.needs_attention:
        lines.append("See the Result and Message columns of the rows marked in colour.")
    return "\n".join(lines)


# --- account --------------------------------------------------------------------------------------

@excel_macro
def sign_in(book: xw.Book) -> str:
    """Start the device-code sign-in; a background process waits for the approval, Excel stays usable."""
    signin = session.sign_in_for()
    flow = signin.start_login()
    code = signin.device_code(flow)
    flow_file = state_dir() / SIGNIN_FLOW_FILE
    result_file = state_dir() / SIGNIN_RESULT_FILE
    result_file.unlink(missing_ok=True)
    fd = os.open(flow_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"env": signin.env.name, "account": session.account(), "flow": flow}, f)
    _start_background(["-m", "qaas_excel.excel.signin_worker", str(flow_file), str(result_file)])
    _status(book, f"QaaS sign-in: open {code.verification_uri} and enter {code.user_code}")
    _alert(book, f"To sign in to QaaS ({signin.env.name}):\n\n1. Open {code.verification_uri}\n"
                 f"2. Enter the code {code.user_code}\n\nYou can keep working in Excel meanwhile.")
    return code.user_code


def _start_background(args: list[str]) -> subprocess.Popen[bytes]:
    """A detached Python process, so Excel never waits on it."""
    kwargs: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                              "stderr": subprocess.DEVNULL, "close_fds": True}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True
    return subprocess.Popen([sys.executable, *args], env=os.environ.copy(), **kwargs)


@excel_macro
def sign_out(book: xw.Book) -> list[str]:
    removed = session.sign_in_for().logout()
    session.reset_clients()
    from qaas_excel.excel.udfs import cache

    cache.clear()
    _alert(book, f"Signed out: {', '.join(removed)}." if removed else "Nobody was signed in.")
    return removed


@excel_macro
def choose_environment(book: xw.Book, env: str | None = None, account: str | None = None) -> str:
    """Switch between production and the sandbox (or set both from code/tests)."""
    if env is None:
        current = session.settings().get("env") or "production"
        other = "sandbox" if current == "production" else "production"
        answer = _alert(book, f"QaaS environment is {current}. Switch to {other}?", buttons="yes_no")
        if str(answer).lower() != "yes":
            return current
        env = other
    session.save_settings(env=env, account=account)
    from qaas_excel.excel.udfs import cache

    cache.clear()
    who = session.sign_in_for().username or "nobody signed in yet"
    _alert(book, f"QaaS environment: {env} ({who}).")
    return env


# --- rows -----------------------------------------------------------------------------------------

def _locked(book: xw.Book, command: str) -> Any:
    """The same run lock as the command line's: a scheduled push of this file waits for the ribbon's, and back."""
    return book_lock(book.fullname, command=f"{command} (Excel)")


@excel_macro
def validate(book: xw.Book) -> RunReport:
    with _locked(book, "validate"):
        report = validate_book(_xlbook(book))
    _alert(book, summary_text(report), mode="critical" if report.needs_attention else "info")
    return report


def _push(book: xw.Book, *, sheet: str | None = None, only_rows: set[int] | None = None,
          overwrite: set[int] | None = None) -> RunReport:
    with _locked(book, "push"):
        xb = _xlbook(book)
        journal = _journal(book)
        report = push_book(xb, session.client(), sheet=sheet, journal=journal, only_rows=only_rows,
                           overwrite=overwrite or ())
        save_results(xb, report, journal=journal)  # the journal is cleared once the file holds every result
    _alert(book, summary_text(report), mode="critical" if report.needs_attention else "info")
    return report


@excel_macro
def push(book: xw.Book) -> RunReport:
    return _push(book)


@excel_macro
def push_selected(book: xw.Book, rows: set[int] | None = None, sheet: str | None = None) -> RunReport | None:
    """Push only the rows of the current selection on the active sheet."""
    sheet, rows = _selection(book, rows, sheet)
    if not rows:
        _alert(book, "Select the rows to push first.")
        return None
    return _push(book, sheet=sheet, only_rows=rows)


@excel_macro
def overwrite_selected(book: xw.Book, rows: set[int] | None = None, sheet: str | None = None) -> RunReport | None:
    """Push the selected rows, their values replacing the service's where both changed (the user's decision over a
    conflict, as ``push --overwrite ROWS`` on the command line); asks first."""
    sheet, rows = _selection(book, rows, sheet)
    if not rows:
        _alert(book, "Select the rows whose values should replace the service's first.")
        return None
    answer = _alert(book, f"Send the values of the {len(rows)} selected row(s) of '{sheet}' over the service's where "
                          "both changed since the last push? A record sent to the UBA is never changed.",
                    buttons="yes_no")
    if str(answer).lower() != "yes":
        return None
    return _push(book, sheet=sheet, only_rows=rows, overwrite=rows)


def _selection(book: xw.Book, rows: set[int] | None, sheet: str | None) -> tuple[str, set[int]]:
    """(the sheet, its selected rows): given, or the active selection's."""
    if rows is None or sheet is None:
        # None when a chart or shape is selected: then an "Unexpected error" box (AttributeError), kept as it was
        selection: xw.Range = book.app.selection  # type: ignore[assignment]  # see above
        sheet = selection.sheet.name
        rows = {cell_row for area in selection.api.Areas for cell_row in _rows_of_area(area)} \
            if sys.platform == "win32" else set(range(selection.row, selection.row + selection.rows.count))
    return sheet, rows


def _rows_of_area(area: Any) -> Iterator[int]:
    first = area.Row
    yield from range(first, first + area.Rows.Count)


@excel_macro
def pull(book: xw.Book) -> RunReport:
    with _locked(book, "pull"):
        report = pull_book(_xlbook(book), session.client())
    from qaas_excel.excel.udfs import cache

    cache.clear()
    _alert(book, summary_text(report))
    return report


@excel_macro
def reconcile(book: xw.Book) -> Any:
    from qaas_excel.reconcile import reconcile_book

    with _locked(book, "reconcile"):
        xb = _xlbook(book)
        report = reconcile_book(xb, session.client())
        xb.write_reconciliation(report)
    totals = report.totals
    _alert(book, ("In sync with the service." if report.in_sync else "Differences found: see the Reconciliation "
                  "sheet.") + f"\nWorkbook {totals['workbook_kwh']:,} kWh, service {totals['service_kwh']:,} kWh.")
    return report


# --- workbook -------------------------------------------------------------------------------------

def template_path() -> Path:
    repo_copy = Path(__file__).resolve().parents[2] / "workbook_templates" / "qaas_template.xlsx"
    if repo_copy.exists():
        return repo_copy
    from qaas_excel.templates import write_template

    out = state_dir() / "qaas_template.xlsx"
    write_template(out)
    return out


def new_workbook_path(folder: Path | None = None) -> Path:
    """A fresh copy of the template in the user's documents, named by date and time."""
    import shutil

    import platformdirs

    folder = folder or Path(platformdirs.user_documents_dir()) / "QaaS"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"qaas-{datetime.now():%Y-%m-%d-%H%M%S}.xlsx"
    shutil.copyfile(template_path(), target)
    return target


@excel_macro
def new_workbook(book: xw.Book) -> Path:
    target = new_workbook_path()
    book.app.books.open(str(target))
    return target


def help_text() -> str:
    """What the QaaS tab's buttons do (the VBA ribbon's and the Office add-in's)."""
    env = session.settings().get("env") or "production"
    return ("QaaS tab:\n- Sign in once; later sessions refresh silently for 90 days.\n"
            "- Validate checks every row and marks problems.\n- Push creates new rows, updates changed amounts, "
            "skips unchanged ones and never creates duplicates.\n- Pull refreshes statuses.\n- Reconcile compares "
            f"the workbook with the service.\n\nEnvironment: {env}. Data and logs: {state_dir()}")


@excel_macro
def show_help(book: xw.Book) -> None:
    _alert(book, help_text())
