"""`doctor`: checks what stands between this machine and a working push, one line per check."""

from __future__ import annotations

import typer

from qaas_excel.cli._app import AccountOption, EnvOption, JsonOption, app, console, handle_errors
from qaas_excel.cli._render import dumps, text

MARKS = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]"}


def _line(template: str, *values: object) -> None:
    console.print(text(template, *values), soft_wrap=True)  # one line per finding, however narrow the terminal


def _show(result, verbose: bool) -> None:  # result: doctor.CheckResult
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
           timeout: float = typer.Option(4.0, min=0.1, help="Seconds each network step may take.")) -> None:
    """Check installation, network, clock, sign-in, access and the API contract (exit 0: a push can work)."""
    from qaas_excel import doctor as checks
    from qaas_excel.config import get_environment

    environment = get_environment(env)
    if not as_json:
        _line("Checking [bold]{}[/] ({})", environment.name, environment.base_url)
    report = checks.run(environment, account=account, timeout=timeout,
                        on_result=None if as_json else lambda r: _show(r, verbose))
    if as_json:
        print(dumps(report.to_dict()))
    elif report.problems:
        count = len(report.problems)
        _line(f"[red]{count} problem{'s' if count != 1 else ''}[/]: a push will not work until they are fixed.")
    else:
        warnings = sum(r.status == "warn" for r in report.results)
        console.print("[green]All checks passed[/]" + (f" ({warnings} warnings)." if warnings else "."))
    raise typer.Exit(report.exit_code)
