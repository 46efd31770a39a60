"""`reconcile` (workbook vs. service, to the kWh) and `audit` (every write the tool sent)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer
from rich.table import Table

from qaas_excel.cli._app import (
    EXIT_OK,
    EXIT_ROWS,
    AccountOption,
    EnvOption,
    JsonOption,
    app,
    console,
    handle_errors,
    open_client,
)
from qaas_excel.cli._render import dumps, plain, text
from qaas_excel.cli.pipeline_cmds import BookArg, OutputOption, SheetOption, WaitOption, reporting_save_failure
from qaas_excel.formatting import german_number

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import JustifyMethod


def _summary_table(title: str, frame: pd.DataFrame, key: str) -> Table:
    table = Table(title=title, header_style="bold")
    for name, justify in ((key.capitalize(), "left"), ("Records", "right"), ("Workbook kWh", "right"),
                          ("Service kWh", "right"), ("Difference kWh", "right"), ("Service MWh", "right")):
        table.add_column(name, justify=cast("JustifyMethod", justify))
    for row in frame.to_dict("records"):
        table.add_row(plain(row[key]), str(row["records"]), german_number(row["workbook_kwh"]),
                      german_number(row["service_kwh"]), german_number(row["difference_kwh"]),
                      german_number(row["service_mwh"], 6))
    return table


@app.command()
@handle_errors
def reconcile(book_path: Path = BookArg, sheet: str = SheetOption, env: str = EnvOption, account: str = AccountOption,
              as_json: bool = JsonOption, csv: Path = typer.Option(None, "--csv", help="Also write the detail as CSV."),
              output: Path = OutputOption, wait: float = WaitOption) -> None:
    """Compare the charge point rows with the service: differences and totals (exit 1 when not in sync)."""
    from qaas_excel.reconcile import reconcile_file

    with open_client(env, account) as client, reporting_save_failure(as_json):
        report = reconcile_file(book_path, client, sheet=sheet, output=output, wait=wait)
    if csv:
        csv.write_text(report.to_csv(), encoding="utf-8-sig", newline="")  # the BOM: Excel then reads UTF-8
    if as_json:
        print(dumps(report.to_dict()))
    else:
        totals = report.totals
        console.print(_summary_table("By status", report.by_status, "status"))
        console.print(_summary_table("By operator", report.by_operator, "operator"))
        console.print(_summary_table("By year", report.by_year, "year"))
        console.print(text("Verdicts: {}", ", ".join(f"{v} {k}" for k, v in report.counts.items())))
        console.print(f"Workbook {german_number(totals['workbook_kwh'])} kWh, service "
                      f"{german_number(totals['service_kwh'])} kWh, difference "
                      f"{german_number(totals['difference_kwh'])} kWh.")
        console.print("[green]In sync.[/]" if report.in_sync else "[yellow]Differences: see the Reconciliation "
                      "sheet.[/]")
        if report.saved_to:
            console.print(text("Saved: [bold]{}[/]", report.saved_to))
    raise typer.Exit(EXIT_OK if report.in_sync else EXIT_ROWS)


@app.command()
@handle_errors
def audit(since: datetime = typer.Option(None, help="Only entries from this date/time (UTC) on."),
          as_json: bool = JsonOption, csv: Path = typer.Option(None, "--csv", help="Write them as CSV."),
          prune_before: datetime = typer.Option(
              None, "--prune-before", metavar="DATE",
              help="Remove the writes sent before this date/time (UTC) from the trail (export them with --csv "
                   "first if you must keep them); the trail grows by about 1.6 KB per write.")) -> None:
    """Every write (POST/PATCH) the tool sent, before and after, with old and new values."""
    from qaas_excel.audit import AuditLog, prune, to_csv

    if prune_before is not None:
        pruned = prune(prune_before)
        result = {"removed": pruned.removed, "kept": pruned.kept, "freed_bytes": pruned.freed_bytes}
        if as_json:
            print(dumps(result))
        else:
            console.print(text("Removed {} entries from before {} ({:,.1f} MB freed); {} kept.", pruned.removed,
                               prune_before.isoformat(sep=" "), pruned.freed_bytes / 2**20, pruned.kept))
        return
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    entries = AuditLog().entries(since)
    if csv:
        csv.write_text(to_csv(entries), encoding="utf-8-sig", newline="")  # own CRLF line ends; BOM for Excel
        console.print(text("Wrote {} entries to {}", len(entries), csv))
        return
    if as_json:
        print(dumps([e.__dict__ for e in entries]))
        return
    table = Table(header_style="bold")
    for name in ("At (UTC)", "Phase", "Env", "Account", "Write", "ID", "Reference", "Changes", "Outcome"):
        table.add_column(name, overflow="fold")
    for e in entries:
        changes = "; ".join(f"{k}: {v.get('old')} → {v.get('new')}" for k, v in e.changes.items())
        table.add_row(*map(plain, (e.at[:19], e.phase, e.environment, e.account, f"{e.method} {e.resource}",
                                   e.record_id or "", e.customer_reference, changes, e.outcome)))
    console.print(table if entries else "No writes recorded yet.")
