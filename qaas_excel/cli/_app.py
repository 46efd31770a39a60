"""The Typer app, exit codes, and the one place where errors become messages (never tracebacks)."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import typer
from rich.console import Console
from rich.text import Text

from qaas_excel.cli._render import text
from qaas_excel.interrupt import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from qaas_excel.api.client import QaasClient

EXIT_OK = 0  # all rows fine
EXIT_ROWS = 1  # some rows invalid / failed / conflict / locked-but-changed; reconcile found differences
EXIT_USAGE = 2  # usage error, unreadable or unwritable file, bad configuration
EXIT_SIGNIN = 3  # sign-in needed or failed, access denied
EXIT_UNREACHABLE = 4  # the service could not be reached or kept failing
EXIT_BUSY = 5  # another run is working on the same workbook (or its lock cannot be taken)
EXIT_INCOMPLETE = 6  # a list of the service could not be read whole (not for want of the service): nothing created
EXIT_STATE = 7  # the state folder (journal, audit trail) cannot be written: full or read-only; sending stopped
# EXIT_INTERRUPTED = 130: Ctrl-C (qaas_excel.interrupt)
EXIT_BUG = 70  # EX_SOFTWARE: an error we did not foresee, please report it

app = typer.Typer(
    name="qaas-excel",
    help="Excel add-in and batch tool for the QaaS charging-points service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # one line per message: greppable logs
log = logging.getLogger("qaas_excel")

F = TypeVar("F", bound=Callable[..., Any])


def exit_code_for(exc: BaseException) -> int | None:
    """Map a library error to the documented exit code; None if it is not one of ours."""
    from qaas_excel.api import errors
    from qaas_excel.config_files import ConfigError
    from qaas_excel.jsonl import StateWriteError
    from qaas_excel.runlock import BookBusyError
    from qaas_excel.workbook.table import WorkbookError

    if isinstance(exc, errors.SignInRequired | errors.ForbiddenError | errors.UnauthorizedError):
        return EXIT_SIGNIN
    if isinstance(exc, errors.IncompleteListError):
        return EXIT_UNREACHABLE if exc.transient else EXIT_INCOMPLETE
    if isinstance(exc, errors.TransientError):
        return EXIT_UNREACHABLE
    if isinstance(exc, BookBusyError):
        return EXIT_BUSY
    if isinstance(exc, StateWriteError):
        return EXIT_STATE
    if isinstance(exc, ConfigError | WorkbookError):
        return EXIT_USAGE
    if isinstance(exc, errors.QaasError):
        return EXIT_ROWS
    return None


def error_code(exc: BaseException) -> str:
    """A stable name for what went wrong, for scripts reading ``--json`` (the exit code says how bad)."""
    from qaas_excel.api import errors
    from qaas_excel.config_files import ConfigError
    from qaas_excel.jsonl import StateWriteError
    from qaas_excel.pipeline import SaveFailed
    from qaas_excel.runlock import BookBusyError
    from qaas_excel.workbook.table import WorkbookError

    kinds: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
        (KeyboardInterrupt, "interrupted"), (typer.TyperException, "usage"),
        (SaveFailed, "save-failed"), (WorkbookError, "workbook"), (ConfigError, "config"), (BookBusyError, "busy"),
        (StateWriteError, "state-not-writable"), (errors.IncompleteListError, "incomplete-list"),
        (errors.SignInRequired, "sign-in-required"), (errors.UnauthorizedError, "sign-in-rejected"),
        (errors.ForbiddenError, "access-denied"), (errors.ProxyFailedError, "proxy-failed"),
        (errors.UnreachableError, "unreachable"), (errors.RateLimitedError, "rate-limited"),
        (errors.ServerError, "service-failed"), (errors.OutcomeUnknownError, "outcome-unknown"),
        (errors.NotFoundError, "not-found"), (errors.RejectedError, "rejected"), (errors.QaasError, "service-error"),
    )
    return next((name for kind, name in kinds if isinstance(exc, kind)), "unexpected")


def error_document(exc: BaseException, exit_code: int, message: str | None = None) -> dict[str, Any]:
    """``{"error": {"code", "exit_code", "message", ...}}``: what ``--json`` prints instead of a result."""
    error: dict[str, Any] = {"code": error_code(exc), "exit_code": exit_code,
                             "message": message if message is not None else _message(exc)}
    for name in ("path", "sheet", "row", "column", "status", "method", "url", "holder"):
        value = getattr(exc, name, None)
        if value not in (None, {}, ""):
            error[name] = value
    to_dict = getattr(getattr(exc, "report", None), "to_dict", None)
    if callable(to_dict):  # a run that did its work but could not save it: what it did
        error["report"] = to_dict()
    return {"error": error}


def print_error_json(exc: BaseException, exit_code: int, message: str | None = None) -> None:
    """The one JSON document on stdout for a command that failed (the human line still goes to stderr)."""
    from qaas_excel.cli._render import dumps

    print(dumps(error_document(exc, exit_code, message)), flush=True)


def _message(exc: BaseException) -> str:
    if isinstance(exc, typer.TyperException) and hasattr(exc, "format_message"):
        return str(exc.format_message())
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not hide the error itself
        return repr(exc)


def report_error(label: str, exc: BaseException | str) -> None:
    """One line on stderr: ``label`` is our markup, the message is printed as literal text, never parsed."""
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not hide the error itself
        message = repr(exc)
    try:
        err_console.print(text(label + " {}", message))
    except Exception:  # e.g. a console that cannot encode the text: still say what went wrong
        sys.stderr.write(f"{Text.from_markup(label).plain} {message}\n")


def handle_errors(func: F) -> F:
    """Turn our errors into one clear line on stderr and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))  # every command's --json is this parameter
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except typer.TyperException as exc:  # usage errors: typer prints them and exits 2
            if as_json:
                print_error_json(exc, getattr(exc, "exit_code", EXIT_USAGE))
            raise
        except KeyboardInterrupt as exc:
            if as_json:
                print_error_json(exc, EXIT_INTERRUPTED, "Interrupted.")
            err_console.print("[yellow]Interrupted.[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            code = exit_code_for(exc)
            if code is None:
                log.exception("unexpected error")
                if as_json:
                    print_error_json(exc, EXIT_BUG, f"{type(exc).__name__}: {_message(exc)}")
                report_error(f"[red]Unexpected error:[/] {type(exc).__name__}:", exc)
                if os.environ.get("QAAS_DEBUG"):
                    raise
                raise typer.Exit(EXIT_BUG) from None
            if as_json:
                print_error_json(exc, code)
            report_error("[red]Error:[/]", exc)
            raise typer.Exit(code) from None

    return cast(F, wrapper)  # the same arguments as func


def run_app(argv: list[str] | None = None) -> None:
    """Run the command line; with ``--json``, a usage error found before any command ran is a JSON document too."""
    args = sys.argv[1:] if argv is None else argv
    if "--json" not in args:
        app(args)
        return
    try:
        code = app(args, standalone_mode=False)
    except typer.TyperException as exc:  # e.g. an unknown option or a value out of range
        exit_code = getattr(exc, "exit_code", EXIT_USAGE)
        print_error_json(exc, exit_code)
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        sys.exit(exit_code)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# --- options shared by the commands that talk to the service ------------------------------------------

EnvOption = typer.Option(None, "--env", "-e", envvar="QAAS_ENV",
                         help="Environment: production, sandbox, or one defined in config.toml.")
AccountOption = typer.Option(None, "--account", "-a", help="Signed-in account (e-mail) to use.")
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")


def open_client(env_name: str | None, account: str | None, **kwargs: Any) -> QaasClient:
    from qaas_excel.api.client import connect
    from qaas_excel.config import get_environment

    return connect(get_environment(env_name), account=account, **kwargs)
