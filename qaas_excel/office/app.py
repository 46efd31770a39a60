"""The companion's routes: the add-in's files, and a small JSON API over the same library calls as the ribbon.

Every ``/api/`` route is a POST that ``security.Guard`` has already checked (host, origin, secret, size).
Errors become ``{"error": message, "kind": ...}`` with the ribbon's wording, never a traceback; the log
gets the error's type only, so that no workbook value or token can end up there.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import logging
import traceback
from collections.abc import Callable
from importlib import resources as importlib_resources
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from qaas_excel import __version__
from qaas_excel.api import errors
from qaas_excel.config import get_environment, load_config, state_dir
from qaas_excel.config_files import ConfigError
from qaas_excel.excel import ribbon, session
from qaas_excel.office import manifest
from qaas_excel.office.functions import evaluate
from qaas_excel.office.runs import COMMANDS, Runs
from qaas_excel.office.security import Guard
from qaas_excel.office.signin import SignIn
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.runlock import BookBusyError
from qaas_excel.values import json_default
from qaas_excel.workbook.mapping import META_SHEET
from qaas_excel.workbook.table import WorkbookError

log = logging.getLogger(__name__)

STATIC = importlib_resources.files("qaas_excel.office") / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".png": "image/png", ".json": "application/json",
         ".xml": "application/xml"}
SECRET_PLACEHOLDER = "{{QAAS_SECRET}}"


class BadRequest(Exception):
    pass


def error_answer(exc: BaseException, what: str) -> JSONResponse:
    """The ribbon's message for an error (excel/macros.py), with a status the add-in can act on."""
    if isinstance(exc, BadRequest):
        return JSONResponse({"error": str(exc), "kind": "request"}, status_code=400)
    if isinstance(exc, errors.SignInRequired):
        return JSONResponse({"error": f"{exc}\n\nUse 'Sign in' on the QaaS tab.", "kind": "signin"}, status_code=401)
    if isinstance(exc, errors.ForbiddenError | errors.UnauthorizedError):
        return JSONResponse({"error": str(exc), "kind": "forbidden"}, status_code=401)
    if isinstance(exc, BookBusyError):
        return JSONResponse({"error": str(exc), "kind": "busy"}, status_code=409)
    if isinstance(exc, WorkbookError | ConfigError):
        return JSONResponse({"error": str(exc), "kind": "workbook" if isinstance(exc, WorkbookError) else "config"},
                            status_code=422)
    if isinstance(exc, errors.TransientError):
        return JSONResponse({"error": str(exc), "kind": "unreachable"}, status_code=503)
    if isinstance(exc, errors.QaasError):
        return JSONResponse({"error": str(exc), "kind": "service"}, status_code=502)
    # Frames only: an exception's message may quote a cell, and the log must never hold workbook content.
    log.error("%s failed: %s\n%s", what, type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)))
    return JSONResponse({"error": f"Unexpected error in {what}: {type(exc).__name__}. Details are in "
                                  f"{state_dir() / 'office.log'}.", "kind": "bug"}, status_code=500)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):
        raise BadRequest("The request is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request must be a JSON object.")
    return data


def _environments() -> list[str]:
    names = ["production", "sandbox"]
    with contextlib.suppress(ConfigError):
        names += [n for n in load_config().get("environments", {}) if n not in names]
    return names


def status() -> dict[str, Any]:
    """Who is signed in, where: shown at the top of the task pane."""
    env_name = session.settings().get("env") or "production"
    out: dict[str, Any] = {"env": env_name, "environments": _environments(), "username": None, "problem": None,
                           "version": __version__, "account": session.account(),
                           # what a run reads, and the buttons of excel/ribbon.py for the task pane
                           "sheets": [OPERATOR.sheet, CHARGEPOINT.sheet, META_SHEET],
                           "buttons": [{"command": b.python, "label": b.label, "tip": b.screentip}
                                       for b in ribbon.BUTTONS]}
    try:
        out["env"] = session.environment().name
        out["username"] = session.sign_in_for().username
    except (ConfigError, errors.QaasError) as exc:
        out["problem"] = str(exc)
    return out


def help_text() -> str:
    from qaas_excel.excel.macros import help_text as ribbon_help

    return ribbon_help()


def create_app(*, port: Callable[[], int], secret: str, runs: Runs | None = None,
               signin: SignIn | None = None) -> Any:
    """The companion: FastAPI behind the Guard. ``port`` is read per request (port 0 is known after binding)."""
    runs = runs or Runs()
    signin = signin or SignIn()
    app = FastAPI(title="QaaS companion", docs_url=None, redoc_url=None, openapi_url=None,
                  exception_handlers={StarletteHTTPException: _plain_error})
    app.state.runs, app.state.signin = runs, signin

    def origin() -> str:
        return f"https://localhost:{port()}"

    def api(path: str, what: str) -> Callable[[Callable[[dict[str, Any]], Any]], Any]:
        """A POST route whose work runs in a worker thread (the library is synchronous)."""

        def register(work: Callable[[dict[str, Any]], Any]) -> Any:
            async def endpoint(request: Request) -> Response:
                try:
                    body = await json_body(request)
                    answer = await run_in_threadpool(work, body | dict(request.path_params))
                    text = json.dumps(answer, ensure_ascii=False, default=json_default, allow_nan=False)
                except Exception as exc:  # noqa: BLE001 - every error becomes a message for the task pane
                    return error_answer(exc, what)
                return Response(text, media_type="application/json")

            app.add_api_route(path, endpoint, methods=["POST"], name=what)
            return work

        return register

    @api("/api/status", "status")
    def _status(body: dict[str, Any]) -> dict[str, Any]:
        return status() | {"signin": signin.status()}

    @api("/api/environment", "environment")
    def _environment(body: dict[str, Any]) -> dict[str, Any]:
        env = body.get("env")
        account = body.get("account")
        if not isinstance(env, str) or env not in _environments():
            raise BadRequest("Choose one of: " + ", ".join(_environments()) + ".")
        if account is not None and not isinstance(account, str):
            raise BadRequest("The account is an e-mail address.")
        get_environment(env)  # a sandbox that is not running, or a broken config.toml: said now
        session.save_settings(env=env, account=account)
        signin.reset()
        from qaas_excel.excel.udfs import cache

        cache.clear()
        return status()

    @api("/api/signin/start", "sign in")
    def _signin_start(body: dict[str, Any]) -> dict[str, Any]:
        return signin.start()

    @api("/api/signin/status", "sign in")
    def _signin_status(body: dict[str, Any]) -> dict[str, Any]:
        return signin.status()

    @api("/api/signin/cancel", "sign in")
    def _signin_cancel(body: dict[str, Any]) -> dict[str, Any]:
        signin.cancel()
        return signin.status()

    @api("/api/signout", "sign out")
    def _signout(body: dict[str, Any]) -> dict[str, Any]:
        signin.reset()
        removed = session.sign_in_for().logout()
        session.reset_clients()
        from qaas_excel.excel.udfs import cache

        cache.clear()
        return {"removed": removed, "message": f"Signed out: {', '.join(removed)}." if removed
                else "Nobody was signed in."}

    @api("/api/run/{command}", "run")
    def _run(body: dict[str, Any]) -> dict[str, Any]:
        command = body.get("command")
        if command not in COMMANDS:
            raise BadRequest(f"Unknown command; one of {', '.join(COMMANDS)}.")
        return runs.run(str(command), body.get("book"), body.get("selection")).to_dict()

    @api("/api/settle", "settle")
    def _settle(body: dict[str, Any]) -> dict[str, Any]:
        run_id = body.get("run")
        if not isinstance(run_id, str):
            raise BadRequest("Which run?")
        cleared = runs.settle(run_id, applied=body.get("applied") is True, saved=body.get("saved") is True)
        return {"journal_cleared": cleared}

    @api("/api/functions", "worksheet functions")
    def _functions(body: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"results": evaluate(body.get("calls"))}
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    @api("/api/template", "new workbook")
    def _template(body: dict[str, Any]) -> dict[str, Any]:
        from qaas_excel.excel.macros import template_path

        path = template_path()
        return {"name": path.name, "base64": base64.b64encode(path.read_bytes()).decode()}

    @api("/api/help", "help")
    def _help(body: dict[str, Any]) -> dict[str, Any]:
        return {"text": help_text()}

    # -- the add-in's files ------------------------------------------------------------------------
    def page(name: str) -> Response:
        text = (STATIC / name).read_text(encoding="utf-8")
        text = text.replace(SECRET_PLACEHOLDER, html.escape(secret, quote=True))
        return Response(text, media_type=TYPES[".html"])

    async def taskpane(request: Request) -> Response:
        return page(manifest.TASKPANE_PAGE)

    async def help_page(request: Request) -> Response:
        return page(manifest.HELP_PAGE)

    async def functions_json(request: Request) -> Response:
        return Response(manifest.functions_json(), media_type=TYPES[".json"])

    async def manifest_file(request: Request) -> Response:
        return Response(manifest.manifest_xml(origin()), media_type=TYPES[".xml"])

    icons = manifest.icon_files()

    async def asset(request: Request) -> Response:
        name = "assets/" + request.path_params["name"]
        if name not in icons:
            return Response(status_code=404)
        return Response(icons[name], media_type=TYPES[".png"])

    scripts = {p.name: p for p in (STATIC / "app").iterdir() if p.name.endswith(".js")}

    async def script(request: Request) -> Response:
        found = scripts.get(request.path_params["name"])
        if found is None:
            return Response(status_code=404)
        return Response(found.read_text(encoding="utf-8"), media_type=TYPES[".js"])

    async def stylesheet(request: Request) -> Response:
        return Response((STATIC / "taskpane.css").read_text(encoding="utf-8"), media_type=TYPES[".css"])

    for path, endpoint in (("/", taskpane), ("/" + manifest.TASKPANE_PAGE, taskpane),
                           ("/" + manifest.HELP_PAGE, help_page), ("/" + manifest.FUNCTIONS_METADATA, functions_json),
                           ("/manifest.xml", manifest_file), ("/assets/{name}", asset), ("/app/{name}", script),
                           ("/taskpane.css", stylesheet)):
        app.add_api_route(path, endpoint, methods=["GET"], include_in_schema=False)
    return Guard(app, port=port, secret=secret)


async def _plain_error(request: Request, exc: StarletteHTTPException) -> Response:
    return JSONResponse({"error": "Not found." if exc.status_code == 404 else "Not allowed."},
                        status_code=exc.status_code)

