"""Benchmarks P1-P6 of the proofs issue and issue 11: one command, ratios against baselines measured in the same run.

    ./run bench            # full sizes
    ./run bench --quick    # smaller sizes, same ratios (for a first look)

Every measurement talks to a real sandbox (a separate process, real TLS) or real files, except P6, which
measures the matching of reconcile in memory, on records as the client decodes them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def sandbox_process(home: Path, latency_ms: int = 0, pids: list[int] | None = None):
    """`qaas-excel sandbox serve` in its own process, so the client under test has the CPU to itself
    (its process id appended to ``pids``, to measure its CPU)."""
    env = {**os.environ, "QAAS_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "qaas_excel", "sandbox", "serve", "--port", "0", "--auto-approve",
                             "--latency-ms", str(latency_ms)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        if pids is not None:
            pids.append(proc.pid)
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if "ready" not in line:
            raise RuntimeError(f"sandbox did not start: {line}")
        from qaas_excel.config import sandbox_environment

        yield sandbox_environment(home)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def signed_in_client(env: Any, home: Path, workers: int = 16):
    from qaas_excel.api.auth import MsalSignIn
    from qaas_excel.api.client import QaasClient

    signin = MsalSignIn(env, home=home)
    signin.login(lambda code: None, timeout=30)
    return QaasClient(env, signin, pool_size=workers)


def charge_point_rows(n: int, operator: Any = "SW-DD", seed: int = 1, invalid: bool = False) -> list[dict[str, Any]]:
    """``n`` valid rows; with ``invalid``, every row has two problems (an EVSE ID of the wrong shape, an amount
    below zero), as a sheet filled from the wrong export would."""
    rng = random.Random(seed)
    return [{"customer_reference": f"B-{i:06d}", "chargepointoperator_id": operator,
             "evse_id": f"SWE-{i}" if invalid else f"DE*SWE*E{i:07d}*1", "street": f"Benchstraße {i % 200 + 1}",
             "zip_code": "01067", "town": "Dresden", "commissioning_date": datetime(2021, 6, 1), "max_power_kw": 22.0,
             "period_start": datetime(2024, 1, 1), "period_end": datetime(2024, 12, 31),
             "amount": (-1 if invalid else 1) * rng.randint(1000, 190_000_000) / 1000} for i in range(n)]


def workbook(path: Path, n: int, invalid: bool = False) -> Path:
    from qaas_excel.templates import DEMO_OPERATORS, build_workbook

    build_workbook(DEMO_OPERATORS[:1], charge_point_rows(n, invalid=invalid), size=0).save(path)
    return path


def peak_mib() -> float:
    """This process's own peak memory (VmHWM, Linux). Not ``ru_maxrss``: the kernel carries the high-water mark of
    the process a child was forked from across ``exec``, so every child of a large benchmark process reported that
    process's peak, not its own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


# ``qaas-excel ARGS`` in a child that reports its own peak memory as it exits
_WITH_PEAK = ("import atexit, sys\n"
              "from benchmarks.__main__ import peak_mib\n"
              "atexit.register(lambda: sys.stderr.write(f'\\nQAAS_BENCH_PEAK_MIB {peak_mib()}\\n'))\n"
              "from qaas_excel.__main__ import main\n"
              "main()\n")


def run_process(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """A whole ``qaas-excel`` process, as a user times it (start-up included): wall seconds, its own CPU
    seconds (``wait4``) and its own peak memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _WITH_PEAK, *args], env={**os.environ, **(env or {})},
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        peaks = [float(line.split()[1]) for line in stderr.splitlines() if line.startswith("QAAS_BENCH_PEAK_MIB ")]
        if not peaks:
            raise RuntimeError(f"qaas-excel {' '.join(args)} reported no peak memory: {stderr[-2000:]}")
        return {"s": seconds, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mib": peaks[-1],
                "rc": proc.returncode, "stdout": out.read().decode(errors="replace"), "stderr": stderr}


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- P1 ---------------------------------------------------------------------------------------------

def p1(tmp: Path, rows: int, sample: int) -> dict[str, Any]:
    from qaas_excel.pipeline import push_book
    from qaas_excel.resources import CHARGEPOINT, OPERATOR, encode_record
    from qaas_excel.workbook.openpyxl_book import OpenpyxlBook

    latency, workers = 50, 16
    home = tmp / "p1"
    with sandbox_process(home, latency_ms=latency) as env:
        client = signed_in_client(env, home, workers)
        op = client.create(OPERATOR, {"organization_name": "Bench GmbH", "street": "Weg 1", "zip_code": "01067",
                                      "town": "Dresden", "terms_agreed": "2024-01-01T00:00:00Z",
                                      "customer_reference": "BENCH-OP"}).record
        bodies = [json.dumps(encode_record(CHARGEPOINT, dict(r, chargepointoperator_id=op["id"],
                                                             customer_reference=f"S-{i}", evse_id=f"DE*BEN*E{i}*1")))
                  for i, r in enumerate(charge_point_rows(sample))]
        token = client.tokens.token()
        url = env.base_url + CHARGEPOINT.create_path
        # (a) one curl process per request, as the service's FAQ scripts do
        n_curl = max(10, sample // 4)
        t = time.perf_counter()
        for body in bodies[:n_curl]:
            subprocess.run(["curl", "-s", "-o", os.devnull, "--cacert", env.ca_bundle, "-X", "POST", url,
                            "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json",
                            "-d", body], check=True)
        curl_per_row = (time.perf_counter() - t) / n_curl
        # (b) a sequential keep-alive client
        import requests

        session = requests.Session()
        t = time.perf_counter()
        for body in bodies[n_curl:]:
            session.post(url, data=body, headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"},
                         verify=env.ca_bundle, timeout=30).raise_for_status()
        seq_per_row = (time.perf_counter() - t) / (len(bodies) - n_curl)
        # (c) qaas-excel push, 16 workers, of `rows` new rows (workbook read/save excluded)
        book = OpenpyxlBook.open(workbook(tmp / "p1.xlsx", rows))
        t = time.perf_counter()
        report = push_book(book, client, workers=workers)
        ours = time.perf_counter() - t
        assert report.counts.get("created", 0) >= rows, report.counts
    ideal = rows * latency / 1000 / workers
    return {"rows": rows, "ours_s": ours, "curl_s": curl_per_row * rows, "sequential_s": seq_per_row * rows,
            "ideal_s": ideal, "vs_curl": curl_per_row * rows / ours, "vs_sequential": seq_per_row * rows / ours,
            "of_ideal": ideal / ours, "baseline_samples": {"curl": n_curl, "sequential": len(bodies) - n_curl}}


def p1s(tmp: Path, rows: int) -> dict[str, Any]:
    """A small push as a user times it: ``qaas-excel push`` of ``rows`` new rows, one whole process (start-up,
    sign-in from the cache, listing, journal, saving), 16 workers against 1, at 50 ms latency; with the split
    of where the time goes: the client's CPU, the sandbox's CPU, and a start-up alone."""
    latency = 50
    out: dict[str, Any] = {"rows": rows, "latency_ms": latency}
    startup = run_process(["--help"])
    out["start-up"] = {k: startup[k] for k in ("s", "cpu_s", "peak_mib")}
    for workers in (1, 16):
        home = tmp / f"p1s-{workers}"
        pids: list[int] = []
        with sandbox_process(home, latency_ms=latency, pids=pids) as env:
            signed_in_client(env, home).close()  # the device-code sign-in done once, as a user has
            path = workbook(tmp / f"p1s-{workers}.xlsx", rows)
            before = process_cpu_s(pids[0])
            m = run_process(["push", str(path), "--env", "sandbox", "--workers", str(workers), "--json"],
                            {"QAAS_HOME": str(home)})
            m["sandbox_cpu_s"] = process_cpu_s(pids[0]) - before
        if m["rc"] != 0:
            raise RuntimeError(f"push with {workers} workers exited {m['rc']}: {m['stderr'][-2000:]}")
        counts = json.loads(m.pop("stdout"))["counts"]
        assert counts.get("created", 0) == rows + 1, counts  # the operator and every charge point
        m.pop("stderr")
        m["ideal_s"] = (rows + 1) * latency / 1000 / workers
        out[f"workers {workers}"] = m
    out["speed-up"] = out["workers 1"]["s"] / out["workers 16"]["s"]
    return out


# --- P2 ---------------------------------------------------------------------------------------------

def row_by_row(frame: pd.DataFrame) -> int:
    """The baseline: the same checks, one row and one cell at a time, in plain Python."""
    from qaas_excel import parsing
    from qaas_excel.resources import CHARGEPOINT, max_amount_kwh

    problems = 0
    seen: set = set()
    for _, row in frame.iterrows():
        vals = {}
        for f in CHARGEPOINT.client_fields:
            raw = row.get(f.name)
            if f.type.value == "decimal":
                v, err = parsing._to_decimal(raw)
            elif f.type.value == "date":
                v, err = parsing._to_date(raw)
            else:
                v, err = parsing._to_text(raw)
            problems += err is not None
            if f.required and v is None:
                problems += 1
            if v is not None and f.regex is not None and not f.regex.fullmatch(str(v)):
                problems += 1
            if v is not None and f.max_length and len(str(v)) > f.max_length:
                problems += 1
            vals[f.name] = v
        if vals["amount"] is not None and vals["max_power_kw"] is not None and vals["period_start"]:
            problems += vals["amount"] > max_amount_kwh(vals["max_power_kw"], vals["period_start"], vals["period_end"])
            problems += vals["period_start"].year != vals["period_end"].year
        problems += vals["commissioning_date"] > date.today() if vals["commissioning_date"] else 0
        key = vals["customer_reference"]
        problems += key in seen
        seen.add(key)
    return problems


def p2(rows: int, baseline_rows: int) -> dict[str, Any]:
    from qaas_excel.resources import CHARGEPOINT
    from qaas_excel.validation import validate

    frame = pd.DataFrame(charge_point_rows(rows), index=range(2, rows + 2), dtype=object)
    frame["chargepointoperator_id"] = 335
    validate(CHARGEPOINT, frame.head(1000))  # warm up imports
    t = time.perf_counter()
    result = validate(CHARGEPOINT, frame)
    ours = time.perf_counter() - t
    assert not result.problems
    t = time.perf_counter()
    row_by_row(frame.head(baseline_rows))
    loop = (time.perf_counter() - t) * rows / baseline_rows
    return {"rows": rows, "ours_s": ours, "loop_s": loop, "vs_loop": loop / ours, "baseline_rows": baseline_rows}


# --- P3 ---------------------------------------------------------------------------------------------

def _child(kind: str, path: str, home: str) -> None:
    """One measured step in a fresh process, so its peak memory is its own: prints seconds and peak RSS."""
    import openpyxl

    from qaas_excel.api.client import connect
    from qaas_excel.config import sandbox_environment
    from qaas_excel.pipeline import push_file
    from qaas_excel.workbook import package_book  # noqa: F401 - imported before the clock starts, as openpyxl is

    t = time.perf_counter()
    if kind == "openpyxl load+save":
        openpyxl.load_workbook(path).save(path)
    else:
        with connect(sandbox_environment(Path(home)), pool_size=16) as client:
            report = push_file(path, client, dry_run=kind == "dry run", workers=16)
        print(json.dumps({"counts": report.counts}))
    print(json.dumps({"s": time.perf_counter() - t, "peak_mib": peak_mib()}))


def _measure(kind: str, path: Path, home: Path) -> dict[str, Any]:
    code = f"from benchmarks.__main__ import _child; _child({kind!r}, {str(path)!r}, {str(home)!r})"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "QAAS_HOME": str(home)}, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()
    result = json.loads(out[-1])
    if len(out) > 1:
        result.update(json.loads(out[-2]))
    return result


def _seed(home: Path, rows: list[dict[str, Any]]) -> None:
    """The records of ``rows`` straight into the sandbox's database, as its API would have stored them."""
    from qaas_excel.resources import CHARGEPOINT, OPERATOR
    from qaas_excel.sandbox import DEFAULT_USER, USERS
    from qaas_excel.sandbox.api import now_text, validate_record
    from qaas_excel.sandbox.store import Store
    from qaas_excel.templates import DEMO_OPERATORS

    store = Store(home / "sandbox.sqlite3")
    account = USERS[DEFAULT_USER]
    operator = {k: v.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(v, datetime) else v
                for k, v in DEMO_OPERATORS[0].items() if v is not None}
    op, errors = validate_record(OPERATOR, operator, partial=False)
    assert not errors, errors
    op_id = store.insert(OPERATOR.name, account, {**op, "created": now_text(), "last_updated": now_text()})["id"]
    for row in rows:
        body = {**row, "chargepointoperator_id": op_id, "amount": f"{row['amount']:.3f}",
                "max_power_kw": str(row["max_power_kw"]),
                **{k: row[k].date().isoformat() for k in ("commissioning_date", "period_start", "period_end")}}
        clean, errors = validate_record(CHARGEPOINT, body, partial=False)
        assert not errors, errors
        stamp = now_text()
        store.insert(CHARGEPOINT.name, account, {**clean, "created": stamp, "last_updated": stamp,
                                                  "status": "created"})
    store.close()


P3_ROUNDS = 3  # each step measured this many times, in rounds (a round: every step once, in order)
P3_STEPS = ("openpyxl load+save", "dry run", "push (adopts every row)", "push (all unchanged)",
            "push again (all unchanged)")


def p3(tmp: Path, rows: int, rounds: int = P3_ROUNDS) -> dict[str, Any]:
    """The headless dry run and a real push of unchanged rows against openpyxl's bare load + save.

    One run of a step on this 2-core machine varies by up to 10 % from the next (openpyxl's load + save: 15.3 s in one
    run, 17.8 s in another), as much as the margin of a target. So each step runs ``rounds`` times, the steps of a
    round one after another (each round starts again from the workbook as made), and a ratio is the step's median
    run against openpyxl's median run; every run's time is kept beside it. A step's peak memory is the largest of
    its runs."""
    src = workbook(tmp / "p3.xlsx", rows)
    home = tmp / "p3"
    home.mkdir()
    _seed(home, charge_point_rows(rows))  # every row is on the service already
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in P3_STEPS}
    with sandbox_process(home) as env:
        signed_in_client(env, home).close()
        for _round in range(rounds):
            for kind in P3_STEPS:
                path = tmp / "p3-run.xlsx"
                if kind in ("openpyxl load+save", "dry run", "push (adopts every row)"):
                    shutil.copyfile(src, path)
                runs[kind].append(_measure(kind, path, home))
            assert runs["push (all unchanged)"][-1]["counts"] == {"unchanged": rows + 1}, runs
    out: dict[str, Any] = {"rows": rows, "rounds": rounds}
    for kind, measured in runs.items():
        seconds = [m["s"] for m in measured]
        out[kind] = {**measured[0], "s": statistics.median(seconds), "runs_s": seconds,
                     "peak_mib": max(m["peak_mib"] for m in measured)}
    bare = out["openpyxl load+save"]["s"]
    for kind in P3_STEPS[1:]:
        out[kind]["ratio"] = out[kind]["s"] / bare
    return out


# --- P8 ---------------------------------------------------------------------------------------------

def _notes_in(path: Path) -> int:
    """How many cell notes (comments) the workbook holds, over all its sheets."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as z:
        return sum(len(re.findall(rb"<(?:\w+:)?comment\b", z.read(n))) for n in z.namelist()
                   if re.fullmatch(r"xl/(?:.*/)?comments?[^/]*\.xml", n))


def p8(tmp: Path, rows: int) -> dict[str, Any]:
    """``qaas-excel validate`` of the README's largest sheet, all valid and all invalid, each a whole process:
    seconds, peak memory, the file's size before and after, and the notes it carries after."""
    out: dict[str, Any] = {"rows": rows}
    for kind, invalid in (("valid", False), ("invalid", True)):
        path = workbook(tmp / f"p8-{kind}.xlsx", rows, invalid=invalid)
        size = path.stat().st_size
        m = run_process(["validate", str(path), "--json"], {"QAAS_HOME": str(tmp / "p8")})
        report = json.loads(m.pop("stdout"))
        m.pop("stderr")
        expected_rc = 1 if invalid else 0
        assert m["rc"] == expected_rc, (kind, m["rc"], report)
        m.update(mb_before=size / 2**20, mb_after=path.stat().st_size / 2**20, notes=_notes_in(path),
                 counts=report.get("counts"))
        out[kind] = m
    return out


# --- P4 / P5 ----------------------------------------------------------------------------------------

def p4(tmp: Path, rows: int) -> dict[str, Any]:
    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # the remote engine, for measuring only
    import xlwings as xw
    from xlwings.pro import _xlremote as remote

    sys.path.insert(0, str(ROOT))
    from qaas_excel.outcomes import Outcome
    from qaas_excel.results import Result
    from qaas_excel.workbook.writeback import outcomes_to_writeback
    from qaas_excel.workbook.xlwings_book import XlwingsBook
    from tests.excel.conftest import book_json

    path = workbook(tmp / "p4.xlsx", rows)
    book = xw.Book(impl=remote.App(remote.Apps(), add_book=False).books.open(book_json(path)))
    xb = XlwingsBook(book)
    from qaas_excel.resources import CHARGEPOINT

    table = xb.read(CHARGEPOINT)
    outcomes = [Outcome(r, Result.CREATED, "Created.", {"id": i, "status": "created", "last_updated": datetime.now()},
                        "fp") for i, r in enumerate(table.data.index, start=1)]
    xb.write_back(table, outcomes_to_writeback(CHARGEPOINT, outcomes))
    return {"rows": rows, "operations": xb.operations, "recorded_actions": len(book.impl.json()["actions"])}


def p5(tmp: Path, cells: int) -> dict[str, Any]:
    from qaas_excel.excel import session, udfs

    home = tmp / "p5"
    os.environ["QAAS_HOME"] = str(home)
    with sandbox_process(home) as env:
        client = signed_in_client(env, home)
        from qaas_excel.resources import CHARGEPOINT, OPERATOR

        op = client.create(OPERATOR, {"organization_name": "Bench GmbH", "street": "Weg 1", "zip_code": "01067",
                                      "town": "Dresden", "terms_agreed": "2024-01-01T00:00:00Z"}).record
        ids = [client.create(CHARGEPOINT, dict(r, chargepointoperator_id=op["id"])).record["id"]
               for r in charge_point_rows(20)]
        session.save_settings(env="sandbox")
        from qaas_excel.sandbox.admin import SandboxAdmin

        admin = SandboxAdmin(env.base_url, env.admin_token or "", env.ca_bundle or "")
        admin.reset_stats()
        for i in range(cells):
            udfs.QAAS_STATUS(ids[i % len(ids)])
        api = {k: v for k, v in admin.stats()["requests"].items() if " /chargepoint" in k}
    return {"cells": cells, "requests": sum(api.values())}


# --- P6 ---------------------------------------------------------------------------------------------

def reconcile_data(n: int, seed: int = 6) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows as `rows_of` hands them over and records as `client.list` decodes them, with every verdict.

    Of the rows: 90 % carry a QaaS ID (1 in 50 of them with another amount, 1 in 200 with an ID the
    service does not know), 5 % have no ID but match by reference, 5 % were never pushed; the
    service holds 2 % more records that no row refers to.
    """
    from datetime import timedelta

    rng = random.Random(seed)
    start, end = date(2024, 1, 1), date(2024, 12, 31)
    service, rows = [], []
    for i in range(n):
        amount = Decimal(rng.randint(1000, 190_000_000)) / 1000
        record = {"id": i + 1, "chargepointoperator_id": 1 + i % 40, "evse_id": f"DE*SWE*E{i:07d}*1",
                  "customer_reference": f"B-{i:06d}", "period_start": start, "period_end": end,
                  "commissioning_date": start - timedelta(days=400), "max_power_kw": Decimal(22),
                  "amount": amount, "status": "created"}
        kind = i % 20
        if kind == 18:  # no ID in the row, found by its reference
            rows.append({**record, "row": i + 2, "id": None, "status": None})
        elif kind == 19:  # never pushed: the service does not have it
            rows.append({**record, "row": i + 2, "id": None, "status": None, "customer_reference": f"N-{i:06d}",
                         "evse_id": f"DE*SWE*N{i:07d}*1"})
            continue
        else:
            row = {**record, "row": i + 2}
            if i % 50 == 1:
                row["amount"] = amount + 1
            if i % 200 == 3:
                row["id"] = 10 * n + i
            rows.append(row)
        service.append(record)
    for j in range(n // 50):
        service.append({**service[j], "id": n + j + 1, "customer_reference": f"S-{j:06d}",
                        "evse_id": f"DE*SWE*S{j:07d}*1"})
    return rows, service


def quadratic_reconcile(rows: list[dict[str, Any]], service: list[dict[str, Any]],
                        operator_names: dict[Any, str]) -> pd.DataFrame:
    """The baseline: `reconcile_records` as it was before issue 11, which rebuilt the set of row IDs per record."""
    from qaas_excel import reconcile as r
    from qaas_excel.resources import CHARGEPOINT
    from qaas_excel.sync import natural_key

    by_id = {s["id"]: s for s in service}
    by_ref = {str(s.get("customer_reference")).strip(): s for s in service if s.get("customer_reference")}
    by_key = {k: s for s in service if (k := natural_key(CHARGEPOINT, s))}
    used: set[int] = set()
    out: list[dict[str, Any]] = []

    def op_name(value: Any) -> str:
        return operator_names.get(value, "" if value is None else str(value))

    for row in rows:
        record = None
        if row.get("id") is not None:
            record = by_id.get(row["id"])
            if record is None:
                out.append(r._detail(row, None, r.MISSING_ON_SERVICE, op_name))
                continue
        else:
            ref = str(row.get("customer_reference") or "").strip()
            record = by_ref.get(ref) if ref else None
            if record is None and (key := natural_key(CHARGEPOINT, row)):
                record = by_key.get(key)
            if record is not None and record["id"] in used:
                record = None
        if record is None:
            out.append(r._detail(row, None, r.ONLY_IN_WORKBOOK, op_name))
            continue
        used.add(record["id"])
        wb_amount, svc_amount = r._amount(row.get("amount")), r._amount(record.get("amount"))
        if wb_amount != svc_amount:
            verdict = r.AMOUNT_DIFFERS
        elif row.get("id") is not None and (row.get("status") or "") != (record.get("status") or ""):
            verdict = r.STATUS_CHANGED
        else:
            verdict = r.IN_SYNC
        out.append(r._detail(row, record, verdict, op_name))
    for record in service:
        if record["id"] not in used and record["id"] not in {x.get("id") for x in rows}:
            out.append(r._detail(None, record, r.ONLY_ON_SERVICE, op_name))
    return pd.DataFrame(out, columns=r.DETAIL_COLUMNS, dtype=object)


def merge_by_id(rows: list[dict[str, Any]], service: list[dict[str, Any]]) -> pd.DataFrame:
    """The other baseline: a pandas outer merge on QaaS ID alone, with exact differences (no reference/EVSE match)."""
    wb = pd.DataFrame(rows, columns=["row", "id", "amount", "status"], dtype=object)
    svc = pd.DataFrame(service, columns=["id", "amount", "status"], dtype=object)
    merged = wb.merge(svc, on="id", how="outer", suffixes=("_workbook", "_service"), indicator=True)
    merged["difference_kwh"] = [(s if isinstance(s, Decimal) else Decimal(0)) - (w if isinstance(w, Decimal) else
                                                                                  Decimal(0))
                                for w, s in zip(merged["amount_workbook"], merged["amount_service"], strict=True)]
    return merged


def p6(rows: int) -> dict[str, Any]:
    from qaas_excel.reconcile import reconcile_records

    def timed(fn: Any, *args: Any) -> tuple[float, Any]:
        t = time.perf_counter()
        out = fn(*args)
        return time.perf_counter() - t, out

    small = rows // 8  # linear means the same time per row at an eighth of the size
    small_rows, small_service = reconcile_data(small)
    reconcile_records(small_rows[:500], small_service[:500], {})  # warm up imports
    ours_small, _ = timed(reconcile_records, small_rows, small_service, {})
    full_rows, full_service = reconcile_data(rows)
    ours, detail = timed(reconcile_records, full_rows, full_service, {})
    old, old_detail = timed(quadratic_reconcile, full_rows, full_service, {})
    assert detail.equals(old_detail), "the baseline must give the same answer"
    merge, _ = timed(merge_by_id, full_rows, full_service)
    counts = detail["verdict"].value_counts().to_dict()
    assert counts.get("only on service") == rows // 50 + rows // 200 and counts.get("in sync", 0) > rows // 2, counts
    return {"rows": rows, "service_records": len(full_service), "ours_s": ours, "quadratic_s": old,
            "vs_quadratic": old / ours, "merge_s": merge, "of_merge": ours / merge, "small_rows": small,
            "per_row_us": ours / rows * 1e6, "per_row_small_us": ours_small / small * 1e6, "counts": counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--only", nargs="*", default=["p1", "p1s", "p2", "p3", "p4", "p5", "p6", "p8"])
    args = parser.parse_args()
    q = args.quick
    results: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
                               "when": datetime.now().isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["QAAS_HOME"] = str(tmp / "home")
        if "p1" in args.only:
            results["P1"] = p1(tmp, 400 if q else 2000, 80 if q else 240)
        if "p1s" in args.only:
            results["P1s"] = p1s(tmp, 100 if q else 600)
        if "p2" in args.only:
            results["P2"] = p2(20_000 if q else 100_000, 2_000 if q else 10_000)
        if "p3" in args.only:
            results["P3"] = p3(tmp, 10_000 if q else 50_000)
        if "p4" in args.only:
            results["P4"] = p4(tmp, 10_000)
        if "p5" in args.only:
            results["P5"] = p5(tmp, 1000)
        if "p6" in args.only:
            results["P6"] = p6(10_000 if q else 50_000)
        if "p8" in args.only:
            results["P8"] = p8(tmp, 20_000 if q else 200_000)
    report(results)


def _spread(m: dict[str, Any]) -> str:
    """The median's runs, where a step ran more than once: "; 2.2-2.4 s in 3 runs"."""
    each = m.get("runs_s") or []
    return f"; {min(each):.1f}-{max(each):.1f} s in {len(each)} runs" if len(each) > 1 else ""


def report(r: dict[str, Any]) -> None:
    rows = [("measure", "result", "target", "met")]
    if "P1" in r:
        p = r["P1"]
        rows += [(f"P1 push {p['rows']} rows, 50 ms latency", f"{p['ours_s']:.1f} s", "", ""),
                 ("  vs curl per request", f"{p['vs_curl']:.0f}x ({p['curl_s']:.0f} s)", ">= 50x",
                  p["vs_curl"] >= 50),
                 ("  vs sequential keep-alive", f"{p['vs_sequential']:.1f}x ({p['sequential_s']:.0f} s)", ">= 10x",
                  p["vs_sequential"] >= 10),
                 ("  of ideal rows*latency/16", f"{p['of_ideal']:.0%} ({p['ideal_s']:.2f} s)", ">= 80%",
                  p["of_ideal"] >= 0.8)]
    if "P1s" in r:
        p = r["P1s"]
        one, many = p["workers 1"], p["workers 16"]
        rows += [(f"P1s push {p['rows']} new rows (whole process), 16 workers", f"{many['s']:.1f} s "
                  f"(ideal {many['ideal_s']:.1f} s)", "", ""),
                 ("  speed-up over 1 worker", f"{p['speed-up']:.1f}x ({one['s']:.1f} s)", ">= 10x",
                  p["speed-up"] >= 10),
                 ("  split: client CPU, sandbox CPU, start-up", f"{many['cpu_s']:.1f} s, "
                  f"{many['sandbox_cpu_s']:.1f} s, {p['start-up']['s']:.2f} s", "", ""),
                 ("  peak memory of the push", f"{many['peak_mib']:.0f} MiB", "", "")]
    if "P2" in r:
        p = r["P2"]
        rows += [(f"P2 validate {p['rows']} rows", f"{p['ours_s']:.2f} s", "<= 0.4 s", p["ours_s"] <= 0.4),
                 ("  vs row-by-row loop", f"{p['vs_loop']:.0f}x ({p['loop_s']:.1f} s)", ">= 20x", p["vs_loop"] >= 20)]
    if "P3" in r:
        p = r["P3"]
        bare = p["openpyxl load+save"]
        rows += [(f"P3 {p['rows']} rows: openpyxl bare load+save",
                  f"{bare['s']:.1f} s{_spread(bare)}, peak {bare['peak_mib']:.0f} MiB", "baseline", "")]
        for kind in ("dry run", "push (adopts every row)", "push (all unchanged)", "push again (all unchanged)"):
            m = p[kind]
            target = kind in ("dry run", "push again (all unchanged)")
            limit = 0.3 if kind == "dry run" else 0.15
            rows += [(f"  headless {kind}", f"{m['ratio']:.2f}x ({m['s']:.1f} s{_spread(m)}), peak "
                      f"{m['peak_mib']:.0f} MiB", f"<= {limit}x" if target else "",
                      m["ratio"] <= limit if target else "")]
        memory = p["dry run"]["peak_mib"] / bare["peak_mib"]
        rows += [("P7 peak memory of the dry run vs openpyxl's", f"{memory:.2f}x", "<= 0.5x", memory <= 0.5)]
    if "P4" in r:
        p = r["P4"]
        rows += [(f"P4 xlwings operations, {p['rows']}-row push", str(p["operations"]), "<= 30",
                  p["operations"] <= 30)]
    if "P5" in r:
        p = r["P5"]
        rows += [(f"P5 requests for {p['cells']} QAAS_STATUS cells", str(p["requests"]), "<= 2", p["requests"] <= 2)]
    if "P6" in r:
        p = r["P6"]
        rows += [(f"P6 reconcile {p['rows']} rows", f"{p['ours_s']:.2f} s ({p['per_row_us']:.1f} µs/row)", "", ""),
                 (f"  at {p['small_rows']} rows", f"{p['per_row_small_us']:.1f} µs/row", "", ""),
                 ("  vs the quadratic one before", f"{p['vs_quadratic']:.0f}x ({p['quadratic_s']:.1f} s)", "", ""),
                 ("  vs pandas merge by ID alone", f"{p['of_merge']:.1f}x slower ({p['merge_s']:.2f} s)", "", "")]
    if "P8" in r:
        p = r["P8"]
        for kind, limit in (("valid", 15), ("invalid", 30)):
            m = p[kind]
            rows += [(f"P8 validate {p['rows']:,} {kind} rows", f"{m['s']:.1f} s, peak {m['peak_mib']:.0f} MiB",
                      f"<= {limit} s, 1 GiB", m["s"] <= limit and m["peak_mib"] <= 1024),
                     ("  file before, after; notes", f"{m['mb_before']:.1f} MB, {m['mb_after']:.1f} MB; "
                      f"{m['notes']:,} notes", "", "")]
    print(f"qaas-excel benchmarks on {r['machine']} at {r['when']}")
    width, result_width = max(len(a) for a, *_ in rows), max(34, *(len(b) for _a, b, *_ in rows))
    for a, b, c, d in rows:
        met = "" if d == "" or d == "met" else ("yes" if d else "NO")
        print(f"{a:<{width}}  {b:<{result_width}} {c:<8} {met if d != 'met' else d}")
    print(json.dumps(r, default=lambda v: str(v) if isinstance(v, Decimal) else v, indent=1))


if __name__ == "__main__":
    main()
