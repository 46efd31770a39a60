"""`validate`, `push`, `pull` on a workbook file (headless, openpyxl), and the `demo`."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from qaas_excel.cli._app import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_ROWS,
    EXIT_STATE,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    AccountOption,
    EnvOption,
    JsonOption,
    app,
    console,
    err_console,
    handle_errors,
    open_client,
    print_error_json,
    report_error,
)
from qaas_excel.cli._render import dump, plain, text
from qaas_excel.interrupt import EXIT_INTERRUPTED, Stop, ctrl_c_stops
from qaas_excel.outcomes import Outcome
from qaas_excel.pipeline import RunReport, SaveFailed, pull_file, push_file, validate_file
from qaas_excel.results import ATTENTION, Result
from qaas_excel.runlock import LOCK_WAIT_S

BookArg = typer.Argument(..., help="The workbook (.xlsx or .xlsm).", exists=False)
SheetOption = typer.Option(None, "--sheet", "-s", help="Only this sheet (default: Operators, then ChargePoints).")
OutputOption = typer.Option(None, "--output", "-o", help="Save the result to this file instead of BOOK.")
WaitOption = typer.Option(LOCK_WAIT_S, "--wait", min=0,
                          help="Seconds to wait while another run works on the same workbook (then exit 5).")

RESULT_STYLE: dict[str, str] = {  # str keys: a Result is its name, and counts are keyed by names
    Result.CREATED: "green", Result.UPDATED: "green", Result.ADOPTED: "green", Result.UNCHANGED: "dim",
    Result.VALID: "cyan", Result.PULLED: "cyan", Result.LOCKED: "yellow", Result.CONFLICT: "yellow",
    Result.MISMATCH: "red", Result.DUPLICATE: "red", Result.INVALID: "red", Result.FAILED: "red"}


def print_summary(report: RunReport) -> None:
    table = Table(title=text("{}{}: {}", report.command, " (dry run)" if report.dry_run else "", report.book),
                  header_style="bold")
    table.add_column("Sheet")
    results = sorted({k for s in report.sheets for k in s.counts}, key=list(RESULT_STYLE).index)
    for r in results:
        table.add_column(r, justify="right", style=RESULT_STYLE.get(r))
    table.add_column("rows", justify="right")
    for s in report.sheets:
        table.add_row(plain(s.sheet), *(str(s.counts.get(r, 0)) for r in results), str(len(s.outcomes)))
    console.print(table)
    for s in report.sheets:
        for p in s.file_problems:
            err_console.print(text("[red]{}:[/] {}", s.sheet, p.message))
        shown = 0
        for o in s.outcomes:
            if o.result in ATTENTION and shown < 10:
                console.print(Text.assemble("  ", (f"{s.sheet} row {o.row} {o.result.value}:",
                                                   RESULT_STYLE[o.result.value]), " ", _located(o)))
                shown += 1
        rest = sum(1 for o in s.outcomes if o.result in ATTENTION) - shown
        if rest > 0:
            console.print(text("  ... and {} more in {}: see the Result and Message columns.", rest, s.sheet))
    for skipped in report.skipped:
        err_console.print(text("[red]Skipped sheet {}:[/] {}", skipped["sheet"], skipped["reason"]))
    for note in report.notes:
        console.print(plain(note))
    stats = report.stats
    if stats.get("total_requests"):
        console.print(f"{stats['total_requests']} requests, {stats.get('retries', 0)} retries, "
                      f"{stats.get('token_refreshes', 0)} token refreshes.")
    if report.saved_to:
        console.print(text("Saved: [bold]{}[/]", report.saved_to))


def _located(outcome: Outcome) -> str:
    """A row's message with the cell of each problem found in one: "Amount (kWh): ... (cell K5)"."""
    if not any(p.cell for p in outcome.problems):
        return outcome.message
    return " | ".join(f"{p.message} (cell {p.cell})" if p.cell else p.message for p in outcome.problems)


def exit_code(report: RunReport) -> int:
    """A push that stopped sending (7: its state folder, 130: Ctrl-C) says so first; then 4 when rows failed only
    for want of the service (run again later) wins over 6 (a list could not be read whole: nothing was created) and
    over 1 (look at the rows)."""
    if report.stopped:
        return EXIT_STATE if report.state_error else EXIT_INTERRUPTED
    if report.service_unreachable or any(e.transient for e in report.incomplete):
        return EXIT_UNREACHABLE
    if report.incomplete:
        return EXIT_INCOMPLETE
    return EXIT_ROWS if report.needs_attention else EXIT_OK


def _exit(report: RunReport, as_json: bool) -> None:
    if as_json:
        dump(report.to_dict(), sys.stdout)
    else:
        print_summary(report)
    say_stopped(report)
    raise typer.Exit(exit_code(report))


def say_stopped(report: RunReport) -> None:
    """A push that stopped sending: why, how many records it created, and where its results are."""
    if not report.stopped:
        return
    counts = report.counts
    not_sent = sum(1 for s in report.sheets for o in s.outcomes if o.message.startswith("Not sent: the push"))
    where = (f"saved in {report.saved_to}" if report.saved_to else
             "kept in the journal: the next push writes them into the workbook")
    report_error("[red]Stopped:[/]" if report.state_error else "[yellow]Interrupted:[/]",
                 f"{report.stopped[0].upper()}{report.stopped[1:]}. {counts.get('created', 0)} record(s) created, "
                 f"{counts.get('updated', 0)} updated before it stopped, their results {where}; {not_sent} row(s) not "
                 "sent: push again to send them (nothing is created twice).")


def parse_rows(text: str) -> set[int]:
    """ "5,7-9" -> {5, 7, 8, 9}: Excel row numbers as the user reads them."""
    rows: set[int] = set()
    for part in text.replace(";", ",").split(","):
        first, _, last = part.strip().partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            raise typer.BadParameter(f"{part.strip()!r} is not a row number or a range such as 7-9.",
                                     param_hint="--overwrite") from None
        if lo < 2 or hi < lo or hi - lo > 1_048_576:
            raise typer.BadParameter(f"{part.strip()!r} is not a range of data rows.", param_hint="--overwrite")
        rows.update(range(lo, hi + 1))
    return rows


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar on a terminal; nothing when piped or in CI logs."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err_console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(phase: str, advance: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(f"Pushing {phase}", total=total)
            bar.update(tasks[phase], advance=advance)

        yield update


@contextmanager
def reporting_save_failure(as_json: bool = False) -> Iterator[None]:
    """A run whose results could not be saved: say why, show what it did (a push's rows were sent), exit 2 (or a
    stopped push's code). With ``--json`` the error document carries the run's report instead of the table."""
    try:
        yield
    except SaveFailed as exc:
        report = exc.report
        pushed = isinstance(report, RunReport) and report.command == "push" and not report.dry_run
        code = exit_code(report) if pushed and report.stopped else EXIT_USAGE
        if as_json:
            print_error_json(exc, code)
        report_error("[red]Error:[/]", exc)  # the message says "Could not save ..." and why
        if pushed:
            if not as_json:
                print_summary(report)
            say_stopped(report)
        raise typer.Exit(code) from None


@app.command("validate")
@handle_errors
def validate_cmd(book_path: Path = BookArg, sheet: str = SheetOption, output: Path = OutputOption,
                 as_json: bool = JsonOption, wait: float = WaitOption) -> None:
    """Check every row locally (no sign-in needed); problems go into the Result/Message columns and notes."""
    with reporting_save_failure(as_json):
        report = validate_file(book_path, sheet=sheet, output=output, wait=wait)
    _exit(report, as_json)


@app.command("push")
@handle_errors
def push_cmd(book_path: Path = BookArg, sheet: str = SheetOption, env: str = EnvOption, account: str = AccountOption,
             dry_run: bool = typer.Option(False, "--dry-run", help="Plan only: nothing is sent; the plan is written."),
             workers: int = typer.Option(4, min=1, max=32, help="Requests in flight at once."),
             output: Path = OutputOption, as_json: bool = JsonOption, wait: float = WaitOption,
             overwrite: str = typer.Option(
                 None, "--overwrite", metavar="ROWS",
                 help="Rows (of --sheet) whose values replace the service's where both changed, e.g. 5,7-9: your "
                      "decision over a conflict. Never over a frozen record, never onto another record.")) -> None:
    """Create new rows, update changed ones, skip unchanged ones; write the outcome into every row."""
    rows = parse_rows(overwrite) if overwrite else ()
    with open_client(env, account, pool_size=workers) as client, progress_bar(not as_json) as progress, \
            reporting_save_failure(as_json), ctrl_c_stops(Stop()) as stop:
        report = push_file(book_path, client, sheet=sheet, workers=workers, dry_run=dry_run, output=output,
                           progress=progress, wait=wait, overwrite=rows, stop=stop)
    _exit(report, as_json)


@app.command("pull")
@handle_errors
def pull_cmd(book_path: Path = BookArg, sheet: str = SheetOption, env: str = EnvOption, account: str = AccountOption,
             add_missing: bool = typer.Option(False, "--add-missing",
                                              help="Append records that are on the service but not in the sheet."),
             output: Path = OutputOption, as_json: bool = JsonOption, wait: float = WaitOption) -> None:
    """Refresh status and last update of every row with a QaaS ID (the service has no webhooks)."""
    with open_client(env, account) as client, reporting_save_failure(as_json):
        report = pull_file(book_path, client, sheet=sheet, add_missing=add_missing, output=output, wait=wait)
    _exit(report, as_json)


# --- demo -----------------------------------------------------------------------------------------

def _demo_source() -> Path | None:
    repo_copy = Path(__file__).resolve().parents[2] / "workbook_templates" / "demo.xlsx"
    return repo_copy if repo_copy.exists() else None


@app.command()
@handle_errors
def demo(workdir: Path = typer.Option(Path("."), "--dir", help="Where to put qaas-demo.xlsx."),
         fresh: bool = typer.Option(False, help="Start over: new sandbox data, new copy of the workbook.")) -> None:
    """The whole job on the embedded sandbox: sign in, validate and push the demo workbook, show the result."""
    from qaas_excel.cli.sandbox_cmds import require_sandbox

    require_sandbox()
    from qaas_excel.api.auth import MsalSignIn
    from qaas_excel.api.client import QaasClient
    from qaas_excel.api.errors import SignInRequired
    from qaas_excel.cli._render import records_table
    from qaas_excel.config import state_dir
    from qaas_excel.config_files import private_dir
    from qaas_excel.resources import CHARGEPOINT, OPERATOR
    from qaas_excel.sandbox.server import SandboxServer

    home = Path(os.environ.get("QAAS_DEMO_HOME") or state_dir() / "demo")
    target = workdir / "qaas-demo.xlsx"
    if fresh:
        shutil.rmtree(home, ignore_errors=True)
        target.unlink(missing_ok=True)
    private_dir(home)
    os.environ["QAAS_HOME"] = str(home)  # keep the demo's sign-in and journal away from real ones

    with SandboxServer(home, port=0, auto_approve=True, db_path=home / "sandbox.sqlite3") as sandbox:
        env = sandbox.environment
        console.rule("[bold]1. The sandbox")
        console.print(text("Local stand-in of the QaaS service at {} (HTTPS, own CA), data in {}.", env.base_url, home))

        console.rule("[bold]2. Sign in (device code, auto-approved in the sandbox)")
        signin = MsalSignIn(env, home=home)
        from qaas_excel.cli.auth_cmds import show_device_code

        try:
            user = signin.username and signin.token() and signin.username
        except SignInRequired:
            user = None
        if user:
            console.print(text("Already signed in as [bold]{}[/]: the token was refreshed silently.", user))
        else:
            user = signin.login(show_device_code, timeout=60)
            console.print(text("Signed in as [bold]{}[/].", user))

        console.rule("[bold]3. The workbook")
        if not target.exists():
            source = _demo_source()
            if source is not None:
                shutil.copyfile(source, target)
            else:
                from qaas_excel.templates import write_demo_workbook

                write_demo_workbook(target)
            console.print(text("Copied the demo workbook to [bold]{}[/].", target))
        else:
            console.print(text("Using [bold]{}[/] from an earlier run (its rows carry their QaaS IDs).", target))

        console.rule("[bold]4. Validate")
        with reporting_save_failure():
            print_summary(validate_file(target))

        console.rule("[bold]5. Push")
        with QaasClient(env, signin) as client, progress_bar(True) as progress:
            with reporting_save_failure():
                report = push_file(target, client, progress=progress)
            print_summary(report)
            console.rule("[bold]6. What the service now holds")
            console.print(records_table(OPERATOR, client.list(OPERATOR), title="Operators", width=console.width))
            charge_points = client.list(CHARGEPOINT)
            console.print(text("{} charge point records; `qaas-excel chargepoints list --env sandbox` while a sandbox "
                               "runs shows them all.", len(charge_points)))
    console.print(text(
        "\nOpen [bold]{}[/] in Excel: every row has its QaaS ID, status, result and message; invalid cells "
        "are marked red with a note. Run the demo again: pushed rows come back 'unchanged', never duplicated.", target))
