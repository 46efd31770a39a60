"""`operators create --reference X` does what its help says: an operator with that reference is reused, never
duplicated."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from qaas_excel.cli import app

runner = CliRunner()
OPERATOR = ["--name", "Stadtwerke Test GmbH", "--street", "Weg 1", "--zip", "01067", "--town", "Dresden"]


def create(*args: str):
    return runner.invoke(app, ["operators", "create", "--env", "sandbox", *args], catch_exceptions=False)


def test_creating_twice_with_one_reference_reuses_the_record(sandbox, signed_in) -> None:
    first = create(*OPERATOR, "--reference", "ST-1", "--json")
    assert first.exit_code == 0, first.stderr
    record_id = json.loads(first.stdout)["id"]

    again = create(*OPERATOR, "--reference", "ST-1")
    assert again.exit_code == 0, again.stderr
    assert f"Reused operator record {record_id} (reference ST-1); nothing was created." in again.stderr
    assert "differ" not in again.stderr
    assert [r["id"] for r in sandbox.admin.records("operator")] == [record_id]
    assert sandbox.admin.requests("POST /chargepointoperator") == 1


def test_a_reused_record_with_other_values_says_which_differ_and_changes_nothing(sandbox, signed_in) -> None:
    record_id = json.loads(create(*OPERATOR, "--reference", "ST-2", "--json").stdout)["id"]
    moved = create("--name", "Stadtwerke Test GmbH", "--street", "Allee 9", "--zip", "01069", "--town", "Dresden",
                   "--reference", "ST-2", "--json")
    assert moved.exit_code == 0
    assert json.loads(moved.stdout)["street"] == "Weg 1"  # the record as the service holds it
    assert f"Reused operator record {record_id} (reference ST-2); nothing was created. Its Street, Zip code differ " \
           f"from the ones given: change them with `qaas-excel operators update {record_id}`." in moved.stderr
    assert len(sandbox.admin.records("operator")) == 1


def test_without_a_reference_each_create_is_a_new_record(sandbox, signed_in) -> None:
    assert create(*OPERATOR).exit_code == 0
    assert create("--name", "Andere GmbH", *OPERATOR[2:]).exit_code == 0
    assert len(sandbox.admin.records("operator")) == 2
