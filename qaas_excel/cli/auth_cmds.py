"""`login`, `logout`, `whoami`: device-code sign-in per environment and account."""

from __future__ import annotations

import json
import time
from typing import Any

import typer

from qaas_excel.api.auth import DeviceCode, MsalSignIn, token_claims
from qaas_excel.cli._app import AccountOption, EnvOption, JsonOption, app, console, err_console, handle_errors
from qaas_excel.cli._render import text
from qaas_excel.config import get_environment


def show_device_code(code: DeviceCode) -> None:
    """Shown on stderr so --json output stays clean; nothing is copied to the clipboard."""
    err_console.print(text("To sign in, open [bold]{}[/] and enter the code [bold cyan]{}[/] (valid for {} minutes). "
                           "Waiting ...", code.verification_uri, code.user_code, code.expires_in // 60))


@app.command()
@handle_errors
def login(env: str = EnvOption, account: str = AccountOption,
          timeout: float = typer.Option(None, help="Give up after this many seconds.")) -> None:
    """Sign in with a device code (one human login; later runs refresh silently)."""
    environment = get_environment(env)
    signin = MsalSignIn(environment, account=account)
    username = signin.login(show_device_code, timeout=timeout)
    if account and username.casefold() != account.casefold():
        err_console.print(text("[yellow]Note:[/] you signed in as {}, not {}.", username, account))
    console.print(text("Signed in to [bold]{}[/] as [bold]{}[/].", environment.name, username))


@app.command()
@handle_errors
def logout(env: str = EnvOption, account: str = AccountOption,
           all_accounts: bool = typer.Option(False, "--all", help="Sign out every account.")) -> None:
    """Forget the cached sign-in of an account (or all accounts) of an environment."""
    environment = get_environment(env)
    removed = MsalSignIn(environment, account=account).logout(all_accounts=all_accounts)
    if removed:
        console.print(text("Signed out of {}: {}.", environment.name, ", ".join(removed)))
    else:
        console.print(text("Nobody was signed in to {}.", environment.name))


@app.command()
@handle_errors
def whoami(env: str = EnvOption, account: str = AccountOption, as_json: bool = JsonOption) -> None:
    """Show who is signed in and until when the current access token is valid (refreshing silently)."""
    from qaas_excel.api.auth import token_provider

    environment = get_environment(env)
    provider = token_provider(environment, account=account)
    claims = token_claims(provider.token())
    others = provider.accounts() if isinstance(provider, MsalSignIn) else []
    info: dict[str, Any] = {
        "environment": environment.name,
        "base_url": environment.base_url,
        "account": claims.get("preferred_username") or provider.username,
        "tenant": claims.get("tid"),
        "token_expires_in_s": int(claims["exp"] - time.time()) if "exp" in claims else None,
        "signed_in_accounts": others,
    }
    if as_json:
        console.print_json(json.dumps(info))
        return
    console.print(text("[bold]{}[/] on [bold]{}[/] ({})", info["account"], environment.name, environment.base_url))
    if info["token_expires_in_s"] is not None:
        console.print(f"Access token valid for {info['token_expires_in_s'] // 60} more minutes; refreshed silently.")
    if len(others) > 1:
        console.print(text("Other signed-in accounts: {}", ", ".join(a for a in others if a != info["account"])))
