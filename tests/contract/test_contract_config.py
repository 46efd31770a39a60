"""The contract block in config.toml: checked at start with an error naming the line, written back by --apply."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.config import get_environment
from qaas_excel.config_files import ConfigError
from qaas_excel.contract import Contract, ContractError, StatusRule, apply_to_document, parse, write_to_config
from qaas_excel.resources import CHARGEPOINT, is_editable_status

runner = CliRunner()

GOOD = """default_env = "staging"

[environments.staging]
base_url = "https://qaas.example"
authority = "https://login.example/tenant"

[environments.staging.contract.paths]
"/chargepoints" = "/v2/chargepoints"

[environments.staging.contract.fields.chargepoint]
amount = "amount_kwh"

[environments.staging.contract.statuses]
draft = { patch = true }
in_review = { patch = false, help = "QaaS checks it" }
"""


def write(home: Path, text: str) -> None:
    (home / "config.toml").write_text(text, encoding="utf-8")


def test_a_contract_is_loaded_with_the_environment_and_its_statuses_apply(qaas_home: Path) -> None:
    write(qaas_home, GOOD)
    env = get_environment()
    assert env.contract.path("/chargepoints") == "/v2/chargepoints" and env.contract.path("/chargepoint") == \
        "/chargepoint"
    assert env.contract.to_wire(CHARGEPOINT, {"amount": "1.000", "evse_id": "X"}) == {"amount_kwh": "1.000",
                                                                                      "evse_id": "X"}
    assert env.contract.from_wire(CHARGEPOINT, {"amount_kwh": "1.000"}) == {"amount": "1.000"}
    assert is_editable_status("draft") and not is_editable_status("in_review")
    get_environment("production")  # another environment: its (empty) contract replaces the statuses
    assert not is_editable_status("draft") and is_editable_status("created")


@pytest.mark.parametrize(("replace", "by", "line", "words"), [
    ('amount = "amount_kwh"', 'amout = "amount_kwh"', 11, "chargepoint has no field 'amout'"),
    ('"/chargepoints" = "/v2/chargepoints"', '"/chargepoints" = "v2/chargepoints"', 8, "must be text starting with /"),
    ('"/chargepoints" = "/v2/chargepoints"', '"/cp/{id}" = "/v2/cp/{id}"', 8, "is not a path the tool uses"),
    ("draft = { patch = true }", 'draft = { patch = "yes" }', 14, "needs { patch = true }"),
    ("draft = { patch = true }", "created = { patch = true }", 14, "already known to the tool"),
    ('amount = "amount_kwh"', 'amount = "evse_id"', 10, "would both be called 'evse_id'"),
    ("[environments.staging.contract.statuses]", "[environments.staging.contract.status]", 13, "unknown key 'status'"),
])
def test_a_wrong_contract_stops_every_command_with_the_line(qaas_home: Path, replace: str, by: str, line: int,
                                                            words: str) -> None:
    assert replace in GOOD
    write(qaas_home, GOOD.replace(replace, by))
    with pytest.raises(ConfigError) as caught:
        get_environment()
    assert f"config.toml line {line}: " in str(caught.value) and words in str(caught.value)
    result = runner.invoke(app, ["operators", "list"], catch_exceptions=False)
    assert result.exit_code == 2
    assert f"line {line}" in result.stderr and words in result.stderr and len(result.stderr.splitlines()) == 1


def test_sandbox_serve_refuses_a_wrong_contract_file_with_its_line(qaas_home: Path, tmp_path: Path) -> None:
    variant = tmp_path / "variant.toml"
    variant.write_text('[contract.fields.operator]\nname = "organization"\n', encoding="utf-8")
    result = runner.invoke(app, ["sandbox", "serve", "--port", "0", "--contract", str(variant)])
    assert result.exit_code == 2
    assert f"{variant} line 2: operator has no field 'name'" in result.stderr


def test_apply_replaces_only_the_contract_tables_and_keeps_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(GOOD + '\n[environments.other]\nbase_url = "https://other.example"\n'
                    'authority = "https://login.example/t"\n', encoding="utf-8")
    new = Contract(paths={"/chargepoint": "/v3/chargepoint"}, fields={"operator": {"zip_code": "postal_code"}},
                   statuses={"in_review": StatusRule(False)})
    backup = write_to_config(path, "staging", new)
    assert backup is not None and backup.read_text(encoding="utf-8").startswith(GOOD)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["environments"]["staging"]["base_url"] == "https://qaas.example"
    assert data["environments"]["other"]["base_url"] == "https://other.example"
    assert parse(data["environments"]["staging"]["contract"]) == new


def test_the_document_a_variant_serves_carries_its_paths_names_and_statuses() -> None:
    from qaas_excel import openapi

    contract = parse(tomllib.loads(GOOD)["environments"]["staging"]["contract"])
    doc = apply_to_document(openapi.document(), contract)
    assert "/v2/chargepoints" in doc["paths"] and "/chargepoints" not in doc["paths"]
    props = doc["components"]["schemas"]["ChargePoint"]["properties"]
    assert "amount_kwh" in props and "amount" not in props
    assert props["status"]["enum"][-2:] == ["draft", "in_review"]


def test_parse_errors_without_the_file_still_say_what_is_wrong() -> None:
    with pytest.raises(ContractError, match="statuses must be a table"):
        parse({"statuses": ["draft"]})


SHARED = """[contract.paths]
"/chargepointoperator" = "/v2/operators"
"/chargepointoperators" = "/v2/operators"
"/chargepointoperator/{id}" = "/v2/operators/{id}"
"""


def test_create_and_list_may_share_one_path_and_the_document_keeps_both_methods() -> None:
    contract = parse(tomllib.loads(SHARED)["contract"], text=SHARED)
    assert contract.path("/chargepointoperator") == contract.path("/chargepointoperators") == "/v2/operators"
    from qaas_excel import openapi

    document = apply_to_document(openapi.document(), contract)
    assert set(document["paths"]["/v2/operators"]) == {"post", "get"}
    assert set(document["paths"]["/v2/operators/{id}"]) == {"get", "patch"}


@pytest.mark.parametrize(("text", "message"), [
    ('"/chargepointoperators" = "/v2/things"\n"/chargepoints" = "/v2/things"',
     "/chargepoints and /chargepointoperators cannot both be GET /v2/things"),
    ('"/chargepointoperator/{id}" = "/v2/x/{id}"\n"/chargepoint/{id}" = "/v2/x/{id}"',
     "/chargepoint/{id} and /chargepointoperator/{id} cannot both be GET /v2/x/{id}"),
])
def test_one_method_and_path_for_two_operations_is_refused_naming_the_line(text: str, message: str) -> None:
    block = "[contract.paths]\n" + text + "\n"
    with pytest.raises(ContractError, match="line 3: " + message.replace("{", r"\{").replace("}", r"\}")):
        parse(tomllib.loads(block)["contract"], text=block)


def test_paging_by_parameters_is_checked_and_written_back() -> None:
    from qaas_excel.contract import Paging

    text = '[contract.paging]\noffset = "$skip"\nsize = "$top"\npage_size = 50\n'
    contract = parse(tomllib.loads(text)["contract"], text=text)
    assert contract.paging == Paging(offset="$skip", size="$top", page_size=50)
    assert contract.paging.params(2, 100) == {"$skip": 100, "$top": 50}
    again = contract.to_toml("contract")
    assert parse(tomllib.loads(again)["contract"]) == contract
    for bad, message in [('page = "page"\noffset = "offset"', "either page"),
                         ('offset = "offset"', "needs size"),
                         ('page = "page"\npage_size = 0', "page_size must be a whole number"),
                         ('page = "page"\nlimit = 3', "unknown key 'limit'")]:
        block = "[contract.paging]\n" + bad + "\n"
        with pytest.raises(ContractError, match=message):
            parse(tomllib.loads(block)["contract"], text=block)
