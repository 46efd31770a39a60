"""`sandbox serve | stats | set-status | reset`: the local stand-in of the service."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from qaas_excel.cli._app import EXIT_USAGE, JsonOption, app, console, err_console, handle_errors
from qaas_excel.cli._render import dumps, text
from qaas_excel.config import sandbox_environment, state_dir
from qaas_excel.config_files import ConfigError

if TYPE_CHECKING:
    from qaas_excel.sandbox.admin import SandboxAdmin

sandbox_app = typer.Typer(help="The local sandbox of the QaaS service (for demos and tests).", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")


def require_sandbox() -> None:
    """Stop with one line that says how to install the sandbox when its extra is missing (exit code 2)."""
    from qaas_excel.sandbox import INSTALL_HINT, missing_modules

    missing = missing_modules()
    if missing:
        # no markup: rich would take "[sandbox]" for a style tag
        err_console.print(f"The sandbox is not installed (missing: {', '.join(missing)}); install it with: "
                          f"{INSTALL_HINT}", markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE)


@sandbox_app.callback()
def _sandbox_installed() -> None:
    require_sandbox()


def _admin() -> SandboxAdmin:
    from qaas_excel.sandbox.admin import SandboxAdmin

    env = sandbox_environment()
    if not env.admin_token or not env.ca_bundle:
        raise ConfigError("The sandbox record in the state directory has no admin token.")
    return SandboxAdmin(env.base_url, env.admin_token, env.ca_bundle)


@sandbox_app.command("serve")
@handle_errors
def serve(
    port: int = typer.Option(8765, help="Port on 127.0.0.1; 0 picks a free one."),
    db: Path = typer.Option(None, help="SQLite file (default: sandbox.sqlite3 in the state directory)."),
    auto_approve: bool = typer.Option(False, "--auto-approve", help="Approve every sign-in code at once."),
    token_lifetime: int = typer.Option(3600, help="Access token lifetime in seconds."),
    latency_ms: int = typer.Option(0, help="Delay every API answer by this much."),
    fail_rate: float = typer.Option(0.0, min=0.0, max=1.0, help="Fraction of API requests answered with a fault."),
    retry_after: float = typer.Option(1.0, help="Retry-After seconds of injected 429 answers."),
    seed: int = typer.Option(None, help="Seed for the fault dice."),
    seed_demo_data: bool = typer.Option(False, "--seed-demo-data", help="Start with sample records."),
    contract: Path = typer.Option(None, "--contract", help="TOML file with a [contract] block: serve a service "
                                  "whose paths, field names and statuses differ from the tool's assumptions."),
    page_size: int = typer.Option(None, "--page-size", min=1, help="Page the lists: at most this many records per "
                                  "answer (default: one answer holds the whole list)."),
    paging: str = typer.Option("drf", "--paging", help="How lists are paged with --page-size: drf (count/next/"
                               "results), link (Link header), odata (@odata.nextLink), offset (?limit=&offset= "
                               "declared in the OpenAPI document only)."),
) -> None:
    """Run the sandbox in the foreground until Ctrl-C."""
    from qaas_excel.contract import NO_CONTRACT, load_file
    from qaas_excel.sandbox.paging import STYLES, SandboxPaging
    from qaas_excel.sandbox.server import SandboxServer

    if paging not in STYLES:
        raise typer.BadParameter(f"{paging!r} is not one of {', '.join(STYLES)}", param_hint="--paging")
    home = state_dir()
    variant = load_file(contract) if contract else NO_CONTRACT
    pages = SandboxPaging(paging, page_size) if page_size else None
    server = SandboxServer(home, port=port, db_path=db, auto_approve=auto_approve, token_lifetime=token_lifetime,
                           latency_ms=latency_ms, fail_rate=fail_rate, retry_after=retry_after, seed=seed,
                           seed_demo_data=seed_demo_data, contract=variant, paging=pages)

    def ready(s: SandboxServer) -> None:
        print(f"QaaS sandbox ready at {s.base_url} (sign-in {s.authority}, CA {s.ca_file}); "
              f"use --env sandbox with QAAS_HOME={home}"
              + (f"; it plays a service whose contract differs as {contract} says" if contract else "")
              + (f"; its lists come in {pages.describe()}" if pages else ""), flush=True)

    try:
        server.serve_forever(on_ready=ready)
    except OSError as exc:
        raise ConfigError(f"Cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None


@sandbox_app.command("stats")
@handle_errors
def stats(as_json: bool = JsonOption) -> None:
    """Requests per method and route, and injected faults, since the last reset."""
    data = _admin().stats()
    if as_json:
        print(dumps(data))
        return
    for key, count in sorted(data["requests"].items()):
        console.print(text("{}  {}", f"{count:6d}", key))
    if data["faults"]:
        console.print(text("faults: {}", ", ".join(f"{k} {v}" for k, v in sorted(data["faults"].items()))))


@sandbox_app.command("set-status")
@handle_errors
def set_status(record_id: int, status: str,
               resource: str = typer.Option("chargepoint", help="chargepoint or operator")) -> None:
    """Set a record's status, e.g. to sent_to_uba to see the record lock."""
    record = _admin().set_status(resource, record_id, status)
    console.print(text("{} {} now has status {}.", resource, record_id, record.get("status")))


@sandbox_app.command("reset")
@handle_errors
def reset() -> None:
    """Forget every record and request count."""
    _admin().reset()
    console.print("Sandbox data reset.")
