"""`operators` and `chargepoints`: the service's records, straight from the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer

from qaas_excel.cli._app import (
    AccountOption,
    EnvOption,
    JsonOption,
    app,
    console,
    err_console,
    handle_errors,
    open_client,
)
from qaas_excel.cli._render import dumps, record_to_json, records_table, text
from qaas_excel.resources import CHARGEPOINT, OPERATOR, Resource

operators_app = typer.Typer(help="Charge point operators of your account.", no_args_is_help=True)
chargepoints_app = typer.Typer(help="Charge point records (kWh per period) of your account.", no_args_is_help=True)
app.add_typer(operators_app, name="operators")
app.add_typer(chargepoints_app, name="chargepoints")


def _print(resource: Resource, records: list[dict[str, Any]], as_json: bool, title: str) -> None:
    if as_json:
        console.print_json(dumps([record_to_json(resource, r) for r in records]))
    elif not records:
        console.print(f"No {resource.title}s.")
    else:
        console.print(records_table(resource, records, title=title, width=console.width))


def _print_one(resource: Resource, record: dict[str, Any], as_json: bool, title: str) -> None:
    """One record: with --json the object itself, as every command about one record prints it."""
    if as_json:
        console.print_json(dumps(record_to_json(resource, record)))
    else:
        console.print(records_table(resource, [record], title=title, width=console.width))


@operators_app.command("list")
@handle_errors
def operators_list(env: str = EnvOption, account: str = AccountOption, as_json: bool = JsonOption) -> None:
    """List the operators of your account."""
    with open_client(env, account) as client:
        _print(OPERATOR, client.list(OPERATOR), as_json, "Operators")


@operators_app.command("show")
@handle_errors
def operators_show(operator_id: int, env: str = EnvOption, account: str = AccountOption,
                   as_json: bool = JsonOption) -> None:
    """Show one operator."""
    with open_client(env, account) as client:
        _print_one(OPERATOR, client.get(OPERATOR, operator_id), as_json, "Operator")


def _operator_values(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@operators_app.command("create")
@handle_errors
def operators_create(
    organization_name: str = typer.Option(..., "--name", help="Legal name of the operator."),
    street: str = typer.Option(..., help="Street and house number."),
    zip_code: str = typer.Option(..., "--zip", help="German postal code, five digits."),
    town: str = typer.Option(...),
    reference: str = typer.Option(None, help="Your own unique reference, e.g. AB-123."),
    terms_agreed: datetime = typer.Option(None, help="When the terms were agreed (UTC); default now."),
    env: str = EnvOption, account: str = AccountOption, as_json: bool = JsonOption,
) -> None:
    """Create an operator (with --reference, an existing one with that reference is reused, never duplicated)."""
    values = _operator_values(organization_name=organization_name, street=street, zip_code=zip_code, town=town,
                              customer_reference=reference,
                              terms_agreed=terms_agreed or datetime.now(UTC).replace(microsecond=0))
    with open_client(env, account) as client:
        created = client.find_or_create(OPERATOR, values)
    if created.adopted:
        record = created.record
        differ = [f.header for f in OPERATOR.fields if f.name in ("organization_name", "street", "zip_code", "town")
                  and str(record.get(f.name) or "").strip() != str(values.get(f.name) or "").strip()]
        err_console.print(text("Reused operator record {} (reference {}); nothing was created.", record.get("id"),
                               reference) + (text(" Its {} differ from the ones given: change them with "
                                                  "`qaas-excel operators update {}`.", ", ".join(differ),
                                                  record.get("id")) if differ else text("")))
    _print_one(OPERATOR, created.record, as_json, "Operator found by reference" if created.adopted else "Created")


@operators_app.command("update")
@handle_errors
def operators_update(
    operator_id: int,
    organization_name: str = typer.Option(None, "--name"),
    street: str = typer.Option(None),
    zip_code: str = typer.Option(None, "--zip"),
    town: str = typer.Option(None),
    env: str = EnvOption, account: str = AccountOption, as_json: bool = JsonOption,
) -> None:
    """Change the name or address of an operator (its reference is its key and stays)."""
    changes = _operator_values(organization_name=organization_name, street=street, zip_code=zip_code, town=town)
    if not changes:
        raise typer.BadParameter("nothing to change: give at least one of --name, --street, --zip, --town")
    with open_client(env, account) as client:
        _print_one(OPERATOR, client.update(OPERATOR, operator_id, changes), as_json, "Updated")


@chargepoints_app.command("list")
@handle_errors
def chargepoints_list(
    operator: int = typer.Option(None, "--operator", help="Only this operator's (QaaS ID)."),
    status: str = typer.Option(None, help="Only records in this status, e.g. created, sent_to_uba."),
    env: str = EnvOption, account: str = AccountOption, as_json: bool = JsonOption,
) -> None:
    """List charge point records."""
    with open_client(env, account) as client:
        records = client.list(CHARGEPOINT, chargepointoperator_id=operator, status=status)
    _print(CHARGEPOINT, records, as_json, "Charge point records")


@chargepoints_app.command("show")
@handle_errors
def chargepoints_show(record_id: int, env: str = EnvOption, account: str = AccountOption,
                      as_json: bool = JsonOption) -> None:
    """Show one charge point record."""
    with open_client(env, account) as client:
        _print_one(CHARGEPOINT, client.get(CHARGEPOINT, record_id), as_json, "Charge point record")
