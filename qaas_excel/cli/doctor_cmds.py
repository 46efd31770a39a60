"""`doctor`: checks what stands between this machine and a working push, one line per check."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import typer

from qaas_excel.cli._app import (
    EXIT_ROWS,
    AccountOption,
    EnvOption,
    JsonOption,
    app,
    console,
    handle_errors,
    report_error,
)
from qaas_excel.cli._render import dumps, text

if TYPE_CHECKING:
    from qaas_excel.config import Environment
    from qaas_excel.doctor import CheckResult, Report, Suggestion

MARKS = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]"}


def _line(template: str, *values: object) -> None:
    console.print(text(template, *values), soft_wrap=True)  # one line per finding, however narrow the terminal


def _show(result: CheckResult, verbose: bool) -> None:
    _line(MARKS[result.status] + " [bold]{}[/]: {}", result.title, result.summary)
    if result.status != "ok":
        if result.cause:
            _line("    why: {}", result.cause)
        if result.fix:
            _line("    fix: {}", result.fix)
    for difference in result.details.get("differences", []):
        mark = MARKS["fail" if difference["severity"] == "fail" else "warn"]
        _line("    " + mark + " {}", difference["message"])
    if verbose:
        for key, value in result.details.items():
            if key != "differences":
                _line("    [dim]{}: {}[/]", key, value)


@app.command()
@handle_errors
def doctor(env: str = EnvOption, account: str = AccountOption, as_json: bool = JsonOption,
           verbose: bool = typer.Option(False, "--verbose", "-v", help="Show the details of every check."),
           timeout: float = typer.Option(4.0, min=0.1, help="Seconds each network step may take."),
           suggest: bool = typer.Option(False, "--suggest", help="Print the config.toml contract block that makes "
                                        "the tool's assumptions match the service's OpenAPI document."),
           apply: bool = typer.Option(False, "--apply", help="Write that block into config.toml (keeping a "
                                      "backup), then check again.")) -> None:
    """Check installation, network, clock, sign-in, access and the API contract (exit 0: a push can work)."""
    from qaas_excel import doctor as checks
    from qaas_excel.config import get_environment

    environment = get_environment(env)
    report = _run(checks, environment, account, timeout, as_json, verbose)
    if not (suggest or apply):
        _finish(report, as_json)
    if report.document is None:
        report_error("[red]Error:[/]", "The service's OpenAPI document was not found, so there is nothing to "
                     "suggest (see the contract check above).")
        raise typer.Exit(report.exit_code or EXIT_ROWS)
    suggestion = checks.suggest(environment, report.document)
    if suggest and not apply:
        _show_suggestion(suggestion, environment.name, as_json, report)
        raise typer.Exit(report.exit_code)
    from qaas_excel.config import config_path
    from qaas_excel.contract import write_to_config

    path = config_path()
    backup = write_to_config(path, environment.name, suggestion.contract)
    if not as_json:
        _line("Wrote the contract of [bold]{}[/] into {}" + (" (previous file: {})." if backup else "."),
              environment.name, path, *([backup] if backup else []))
        for difference in suggestion.unfixable:
            _line("    " + MARKS["fail" if difference.severity == "fail" else "warn"] + " not fixable by the "
                  "contract: {}", difference.message)
        _line("Checking again:")
    report = _run(checks, get_environment(env), account, timeout, as_json, verbose)
    _finish(report, as_json, extra={"applied": suggestion.to_dict(environment.name), "config": str(path),
                                    "backup": str(backup) if backup else None})


def _run(checks: ModuleType, environment: Environment, account: str | None, timeout: float, as_json: bool,
         verbose: bool) -> Report:  # checks: the doctor module
    if not as_json:
        _line("Checking [bold]{}[/] ({})", environment.name, environment.base_url)
    report: Report = checks.run(environment, account=account, timeout=timeout,
                                on_result=None if as_json else lambda r: _show(r, verbose))
    return report


def _finish(report: Report, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    if as_json:
        print(dumps({**report.to_dict(), **(extra or {})}))
    elif report.problems:
        count = len(report.problems)
        _line(f"[red]{count} problem{'s' if count != 1 else ''}[/]: a push will not work until they are fixed.")
    else:
        warnings = sum(r.status == "warn" for r in report.results)
        console.print("[green]All checks passed[/]" + (f" ({warnings} warnings)." if warnings else "."))
    raise typer.Exit(report.exit_code)


def _show_suggestion(suggestion: Suggestion, env_name: str, as_json: bool, report: Report) -> None:
    if as_json:
        print(dumps({**report.to_dict(), "suggestion": suggestion.to_dict(env_name)}))
        return
    block = suggestion.contract.to_toml(f"environments.{env_name}.contract")
    if block:
        _line("The contract block for config.toml (`--apply` writes it):")
        console.print(block, markup=False, highlight=False, soft_wrap=True)
    else:
        _line("No contract block is needed: nothing a rename can correct.")
    for difference in suggestion.unfixable:
        _line(MARKS["fail" if difference.severity == "fail" else "warn"] + " not fixable by the contract: {}",
              difference.message)
