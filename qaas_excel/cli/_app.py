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
    from qaas_excel.config import ConfigError
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
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.TyperException):  # usage errors: typer prints them and exits 2
            raise
        except KeyboardInterrupt:
            err_console.print("[yellow]Interrupted.[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            code = exit_code_for(exc)
            if code is None:
                log.exception("unexpected error")
                report_error(f"[red]Unexpected error:[/] {type(exc).__name__}:", exc)
                if os.environ.get("QAAS_DEBUG"):
                    raise
                raise typer.Exit(EXIT_USAGE + 68) from None  # 70 = EX_SOFTWARE: a bug, please report
            report_error("[red]Error:[/]", exc)
            raise typer.Exit(code) from None

    return cast(F, wrapper)  # the same arguments as func


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
