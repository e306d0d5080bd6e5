"""The studio's pages and endpoints: each one calls the package's public functions, as the CLI
does, and turns their results and errors into HTML or JSON. No letter logic lives here."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import tempfile
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..authoring import Finding, check_template, variable_tree
from ..errors import DataError, DrafterError, Location, Problem, StudioError, ValidationError
from ..files import read_bounded, write_atomic
from ..form import form_values, letter_form, set_field
from ..loading import MAX_BYTES
from ..mail import (
    ATTACHABLE,
    MAIL_DIR,
    POST_PDF,
    MailOptions,
    read_draft,
    review_drafts,
    write_drafts,
)
from ..manifest import FINISHED, MANIFEST, finished_letters, read_manifest
from ..merge import MergeOptions, merge
from ..render import FORMATS, read_and_render, write_letter
from ..send import (
    LOG_NAME,
    PASSWORD_VARIABLE,
    SendOptions,
    SendSettings,
    config_path,
    configured_options,
    configured_password,
    read_config,
    send_drafts,
)
from ..template import LetterTemplate
from .jobs import Job, Jobs, Previews
from .security import MAX_BODY_BYTES, Secrets
from .workspace import Workspace

HERE = Path(__file__).parent
_WATCHED_SUFFIXES = (".docx", ".po")
_POLL_SECONDS = 0.5


@dataclass
class Studio:
    """Everything one studio run holds: its workspace, secrets, previews and merges."""

    workspace: Workspace
    keys: Secrets
    previews: Previews
    jobs: Jobs
    pages: jinja2.Environment

    def page(self, name: str, request: Request, status: int = 200, **values: Any) -> Response:
        """A server-rendered page."""
        html = self.pages.get_template(name).render(
            csrf=self.keys.csrf, path=request.url.path, workspace=self.workspace.root, **values)
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def create_app(workspace: Workspace, keys: Secrets, previews: Previews) -> Starlette:
    """The studio's ASGI application (without its :class:`~.security.Guard`)."""
    pages = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "pages"), autoescape=True,
                               undefined=jinja2.StrictUndefined)
    studio = Studio(workspace, keys, previews, Jobs(), pages)
    pages.filters["marked"] = _marked

    def handler(function: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return await function(studio, request)
            except StudioError as e:
                return studio.page("error.html", request, 404, message=str(e))
            except DrafterError as e:
                return studio.page("error.html", request, 400,
                                   message=studio.workspace.shown(str(e)))
        return endpoint

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await run_in_threadpool(studio.jobs.close)

    routes = [
        Route("/", handler(home)),
        Route("/draft", handler(draft_page)),
        Route("/api/draft", handler(draft_update), methods=["POST"]),
        Route("/api/draft/save", handler(draft_save), methods=["POST"]),
        Route("/api/draft/form", handler(draft_form), methods=["POST"]),
        Route("/api/draft/form/set", handler(draft_form_set), methods=["POST"]),
        Route("/draft/pages/{key:str}/{page:int}.png", handler(draft_image)),
        Route("/draft/download", handler(draft_download), methods=["POST"]),
        Route("/check", handler(check_page)),
        Route("/check/findings", handler(check_findings)),
        Route("/check/events", handler(check_events)),
        Route("/check/upload", handler(check_upload), methods=["POST"]),
        Route("/merge", handler(merge_page)),
        Route("/merge/upload", handler(merge_upload), methods=["POST"]),
        Route("/merge/validate", handler(merge_validate)),
        Route("/merge/start", handler(merge_start), methods=["POST"]),
        Route("/merge/jobs/{job:str}", handler(job_page)),
        Route("/merge/jobs/{job:str}/events", handler(job_events)),
        Route("/merge/jobs/{job:str}/cancel", handler(job_cancel), methods=["POST"]),
        Route("/results", handler(results_page)),
        Route("/results/mail", handler(mail_page)),
        Route("/results/mail", handler(mail_drafts), methods=["POST"]),
        Route("/results/message", handler(message_page)),
        Route("/results/send", handler(send_start), methods=["POST"]),
        Route("/send/jobs/{job:str}", handler(job_page)),
        Route("/send/jobs/{job:str}/events", handler(job_events)),
        Route("/send/jobs/{job:str}/cancel", handler(job_cancel), methods=["POST"]),
        Route("/results/letters.zip", handler(results_zip)),
        Route("/results/file", handler(results_file)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


# --- home --------------------------------------------------------------------------------


async def home(studio: Studio, request: Request) -> Response:
    ws = studio.workspace
    return studio.page("home.html", request, letters=ws.letters(), templates=ws.templates(),
                       recipients=ws.recipients())


# --- draft a letter --------------------------------------------------------------------


async def draft_page(studio: Studio, request: Request) -> Response:
    ws = studio.workspace
    data = request.query_params.get("data", "")
    spec = request.query_params.get("template", "advocacy-letter")
    template = ws.template(spec)
    if data:
        text = read_bounded(ws.path(data), MAX_BYTES).decode("utf-8", errors="replace")
    else:  # start from the template's sample
        text = (read_bounded(template.sample, MAX_BYTES).decode("utf-8", errors="replace")
                if template.sample.is_file() else "")
        data = f"{template.name}-letter.yaml"
    return studio.page("draft.html", request, data=data, template=spec, text=text,
                       letters=ws.letters(), templates=ws.templates())


def _problem(studio: Studio, problem: Problem, path: Path | None) -> dict[str, Any]:
    here = path is not None and problem.location.file == str(path)  # not the template's
    line = problem.location.line if here else None
    column = problem.location.column if here else None
    return {"line": line, "column": column, "severity": problem.severity,
            "field": problem.field, "message": problem.message,
            "text": studio.workspace.shown(str(problem))}


def _error(studio: Studio, error: DrafterError, path: Path | None) -> list[dict[str, Any]]:
    if isinstance(error, ValidationError) and error.problems:
        return [_problem(studio, p, path) for p in error.problems]
    return [{"line": None, "column": None, "severity": "error", "field": "",
             "message": studio.workspace.shown(str(error)),
             "text": studio.workspace.shown(str(error))}]


async def _draft_fields(request: Request) -> tuple[str, str, str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
    else:
        body = dict(await request.form())
    return str(body.get("data", "")), str(body.get("template", "")), str(body.get("text", ""))


async def draft_update(studio: Studio, request: Request) -> Response:
    """Check the edited letter; with ``preview``, also make its page images."""
    data, spec, text = await _draft_fields(request)
    preview = request.query_params.get("preview") == "1"
    path = studio.workspace.path(data, must_exist=False)

    def work() -> dict[str, Any]:
        try:
            template = studio.workspace.template(spec)
            rendered, warnings = read_and_render(path, template, text=text)
        except DrafterError as e:
            return {"ok": False, "problems": _error(studio, e, path)}
        result: dict[str, Any] = {"ok": True,
                                  "problems": [_problem(studio, w, path) for w in warnings]}
        if preview:
            try:
                made = studio.previews.pages(data, rendered)
            except DrafterError as e:
                result.update(ok=False, problems=result["problems"] + _error(studio, e, None))
                return result
            if made is None:
                result["superseded"] = True
            else:
                key, count = made
                result["pages"] = [f"/draft/pages/{key}/{n}.png" for n in range(1, count + 1)]
        return result

    return JSONResponse(await run_in_threadpool(work), headers={"cache-control": "no-store"})


def _language(request: Request) -> str:
    """The user's language, from the browser's Accept-Language (the first one given)."""
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";", 1)[0].strip()
        if tag and tag != "*":
            return tag.replace("-", "_")
    return "en"


async def _form_request(request: Request) -> dict[str, Any]:
    body = await request.json()
    return body if isinstance(body, dict) else {}


async def draft_form(studio: Studio, request: Request) -> Response:
    """The form of the draft's template, and the draft's values for it."""
    body = await _form_request(request)
    data = str(body.get("data", "")) or "letter.yaml"
    path = studio.workspace.path(data, must_exist=False)

    def work() -> dict[str, Any]:
        template = studio.workspace.template(str(body.get("template", "")))
        fields = [f.as_dict() for f in letter_form(template, _language(request))]
        try:
            values = form_values(str(body.get("text", "")), str(path))
        except DrafterError as e:
            return {"ok": False, "fields": fields, "values": {},
                    "problems": _error(studio, e, path)}
        return {"ok": isinstance(values, dict), "fields": fields,
                "values": values if isinstance(values, dict) else {}, "problems": []}

    return JSONResponse(await run_in_threadpool(work), headers={"cache-control": "no-store"})


async def draft_form_set(studio: Studio, request: Request) -> Response:
    """One value of the form written into the draft's YAML: the new YAML."""
    body = await _form_request(request)
    where = body.get("path")
    if not isinstance(where, list) or not where or not all(
            isinstance(p, str | int) and not isinstance(p, bool) for p in where):
        return JSONResponse({"ok": False, "message": "a field's path is a list of names "
                             "and row numbers"}, 400)
    value = body.get("value")

    def work() -> dict[str, Any]:
        template = studio.workspace.template(str(body.get("template", "")))
        try:
            text = set_field(str(body.get("text", "")), tuple(where), value,
                             letter_form(template))
        except (DrafterError, ValueError) as e:
            return {"ok": False, "message": studio.workspace.shown(str(e))}
        return {"ok": True, "text": text}

    return JSONResponse(await run_in_threadpool(work), headers={"cache-control": "no-store"})


async def draft_image(studio: Studio, request: Request) -> Response:
    image = studio.previews.image(request.path_params["key"], request.path_params["page"])
    if image is None:
        return Response("no such page", status_code=404)
    return Response(image, media_type="image/png",
                    headers={"cache-control": "private, max-age=3600, immutable"})


async def draft_save(studio: Studio, request: Request) -> Response:
    data, _, text = await _draft_fields(request)
    if not data.endswith((".yaml", ".yml")):
        return JSONResponse({"saved": False, "message": "a letter file ends in .yaml"}, 400)
    path = studio.workspace.path(data, must_exist=False)

    def save() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text.encode("utf-8"))

    try:
        await run_in_threadpool(save)
    except DrafterError as e:
        return JSONResponse({"saved": False, "message": studio.workspace.shown(str(e))}, 500)
    return JSONResponse({"saved": True, "message": f"saved {data}"})


async def draft_download(studio: Studio, request: Request) -> Response:
    data, spec, text = await _draft_fields(request)
    form = await request.form()
    fmt = str(form.get("format", "docx"))
    if fmt not in FORMATS:
        return Response("unknown format", status_code=400)
    path = studio.workspace.path(data, must_exist=False)

    def make() -> bytes:
        rendered, _ = read_and_render(path, studio.workspace.template(spec), text=text)
        if fmt == "docx":
            return rendered.docx
        with studio.previews.converting, tempfile.TemporaryDirectory() as work:
            (pdf,) = write_letter(rendered, Path(work), "letter", ["pdf"],
                                  converter=studio.previews.converter)
            return pdf.read_bytes()

    try:
        content = await run_in_threadpool(make)
    except DrafterError as e:
        return studio.page("error.html", request, 422, message=studio.workspace.shown(str(e)))
    name = f"{Path(data).stem}.{fmt}"
    media = ("application/pdf" if fmt == "pdf" else
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    return Response(content, media_type=media, headers=_attachment(name))


def _attachment(name: str) -> dict[str, str]:
    from urllib.parse import quote
    return {"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"}


# --- check a template --------------------------------------------------------------------


def _check(studio: Studio, spec: str) -> dict[str, Any]:
    """Findings and the variables tree of a template, for the page."""
    try:
        template = studio.workspace.template(spec)
        stamp = _stamp(template)  # before reading: a save during the check is seen after it
        findings = check_template(template)
    except StudioError:
        raise  # a path outside the workspace: refused, not checked
    except DrafterError as e:
        return {"error": studio.workspace.shown(str(e)), "findings": [], "tree": [],
                "tree_error": "", "stamp": ""}
    tree_error = ""
    try:
        tree = variable_tree(template)
    except DrafterError:
        tree, tree_error = [], "The variables are listed once the template has no errors."
    errors = sum(f.severity == "error" for f in findings)
    return {"error": "", "findings": findings, "tree": tree, "tree_error": tree_error,
            "errors": errors, "warnings": len(findings) - errors, "stamp": stamp}


async def check_page(studio: Studio, request: Request) -> Response:
    spec = request.query_params.get("template", "")
    result = await run_in_threadpool(_check, studio, spec) if spec else None
    return studio.page("check.html", request, template=spec, result=result,
                       templates=studio.workspace.templates())


async def check_findings(studio: Studio, request: Request) -> Response:
    spec = request.query_params.get("template", "")
    result = await run_in_threadpool(_check, studio, spec)
    html = studio.pages.get_template("findings.html").render(result=result, template=spec)
    return HTMLResponse(html, headers={"cache-control": "no-store"})


async def check_events(studio: Studio, request: Request) -> Response:
    """Server-sent events: ``changed`` whenever the template's files change on disk.

    The files' state is compared twice a second with the one the page was made from
    (``stamp``), so that a save made while the page loads is not missed. Editors that save
    by writing a new file and renaming it over the old one are seen too."""
    template = studio.workspace.template(request.query_params.get("template", ""))
    seen = request.query_params.get("stamp", "")

    async def events() -> AsyncIterator[str]:
        nonlocal seen
        yield "retry: 2000\n\n"
        quiet = 0.0
        while not await request.is_disconnected():
            now = await run_in_threadpool(_stamp, template)
            if now != seen:
                seen = now
                yield f"event: changed\ndata: {json.dumps(now)}\n\n"
            elif quiet >= 15:
                yield ": still here\n\n"
                quiet = 0.0
            await asyncio.sleep(_POLL_SECONDS)
            quiet += _POLL_SECONDS

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-store"})


def _stamp(template: LetterTemplate) -> str:
    """The state on disk of a template's files (its layouts and catalogs): changes with any
    save, rename or removal."""
    files = set(template.variants.values())
    if len(template.variants) > 1 or (template.folder / "letter.docx") in files:
        files |= {p for p in template.folder.rglob("*") if p.suffix in _WATCHED_SUFFIXES}
    state = []
    for path in sorted(files):
        try:
            info = path.stat()
        except OSError:
            state.append(f"{path.name}:gone")
            continue
        state.append(f"{path.name}:{info.st_ino}:{info.st_mtime_ns}:{info.st_size}")
    return hashlib.sha256("\n".join(state).encode()).hexdigest()[:16]


async def _upload(request: Request, field: str) -> tuple[str, bytes] | None:
    form = await request.form(max_files=1, max_part_size=MAX_BODY_BYTES)
    upload = form.get(field)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return upload.filename, await upload.read()


async def check_upload(studio: Studio, request: Request) -> Response:
    uploaded = await _upload(request, "file")
    if uploaded is None:
        return studio.page("error.html", request, 400, message="choose a .docx file to upload")
    try:
        spec = studio.workspace.upload(*uploaded, (".docx",))
    except DrafterError as e:
        return studio.page("error.html", request, 400, message=str(e))
    return RedirectResponse(f"/check?template={_q(spec)}", status_code=303)


def _q(value: str) -> str:
    from urllib.parse import quote
    return quote(value, safe="")


# --- merge -------------------------------------------------------------------------------


async def merge_page(studio: Studio, request: Request) -> Response:
    ws = studio.workspace
    return studio.page("merge.html", request, cases=ws.cases(), recipients=ws.recipients(),
                       templates=ws.templates(), chosen=dict(request.query_params),
                       jobs=[j for j in studio.jobs.jobs.values() if j.kind == "merge"])


async def merge_upload(studio: Studio, request: Request) -> Response:
    uploaded = await _upload(request, "file")
    case = request.query_params.get("case", "")
    if uploaded is None:
        return studio.page("error.html", request, 400, message="choose a CSV or XLSX file")
    try:
        recipients = studio.workspace.upload(*uploaded, (".csv", ".tsv", ".xlsx"))
    except DrafterError as e:
        return studio.page("error.html", request, 400, message=str(e))
    return RedirectResponse(f"/merge/validate?case={_q(case)}&recipients={_q(recipients)}",
                            status_code=303)


def _outdir(case: str, recipients: str) -> str:
    return f"out/{Path(recipients).stem}"


def _row(studio: Studio, problem: Problem) -> dict[str, str]:
    """A line of the validation table: where (file, row, column), which record, what."""
    at = problem.location
    row = "" if at.line is None else f"{at.sheet}!{at.line}" if at.sheet else str(at.line)
    column = at.heading or ("" if at.column is None else str(at.column))
    return {"file": studio.workspace.shown(at.file) if at.file else at.option, "row": row,
            "column": column, "record": problem.record_label, "field": problem.field,
            "message": problem.message, "severity": problem.severity}


async def merge_validate(studio: Studio, request: Request) -> Response:
    """Every record validated, nothing rendered: the table of problems, then Start."""
    ws = studio.workspace
    case, recipients = request.query_params.get("case", ""), request.query_params.get(
        "recipients", "")
    spec = request.query_params.get("template", "")
    outdir = _outdir(case, recipients)

    def validate() -> dict[str, Any]:
        try:
            options = MergeOptions(template=ws.template_spec(spec) if spec else None,
                                   dry_run=True, keep_going=True)
            report = merge(ws.path(case), ws.path(recipients), ws.path(outdir, must_exist=False),
                           options)
        except DrafterError as e:
            return {"error": ws.shown(str(e)), "rows": [], "report": None}
        rows = [_row(studio, p) for p in [*report.problems, *report.warnings]]
        return {"error": "", "rows": rows, "report": report}

    result = await run_in_threadpool(validate)
    return studio.page("validate.html", request, case=case, recipients=recipients,
                       template=spec, outdir=outdir, **result)


async def merge_start(studio: Studio, request: Request) -> Response:
    ws = studio.workspace
    form = await request.form()
    case, recipients = str(form.get("case", "")), str(form.get("recipients", ""))
    spec = str(form.get("template", ""))
    outdir = _outdir(case, recipients)
    formats = tuple(f for f in FORMATS if form.get(f"format-{f}")) or FORMATS
    options = MergeOptions(template=ws.template_spec(spec) if spec else None,
                           formats=formats, combine=bool(form.get("combine")),
                           keep_going=bool(form.get("keep_going")),
                           force=bool(form.get("force")))
    job = studio.jobs.start(ws.path(case), ws.path(recipients),
                            ws.path(outdir, must_exist=False), options, (case, recipients))
    return RedirectResponse(f"/merge/jobs/{job.id}", status_code=303)


def _job(studio: Studio, request: Request) -> Job:
    job = studio.jobs.jobs.get(request.path_params["job"])
    kind = "send" if request.url.path.startswith("/send/") else "merge"
    if job is None or job.kind != kind:
        raise StudioError(f"no such {kind}")
    return job


async def job_page(studio: Studio, request: Request) -> Response:
    job = _job(studio, request)
    folder = studio.workspace.relative(job.outdir)
    results = drafts = None
    if job.finished and (job.outdir / MANIFEST).is_file():
        results = _results(studio, job.outdir)
        if job.kind == "send":
            drafts = await run_in_threadpool(review_drafts, job.outdir)
    return studio.page("job.html", request, job=job, state=job.snapshot(), folder=folder,
                       results=results, drafts=drafts, events=f"{request.url.path}/events",
                       cancel=f"{request.url.path}/cancel")


async def job_events(studio: Studio, request: Request) -> Response:
    """Server-sent events: the job's progress whenever it changes, then ``end``."""
    job = _job(studio, request)

    def wait(last: dict[str, Any]) -> dict[str, Any]:
        with job.changed:
            job.changed.wait_for(lambda: job.snapshot() != last, timeout=10)
        return job.snapshot()

    async def events() -> AsyncIterator[str]:
        last: dict[str, Any] = {}
        while True:
            state = await run_in_threadpool(wait, last)
            if await request.is_disconnected():
                return
            if state == last:
                yield ": still here\n\n"
                continue
            last = state
            yield f"event: progress\ndata: {json.dumps(state)}\n\n"
            if job.finished:
                yield f"event: end\ndata: {json.dumps(state)}\n\n"
                return

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-store"})


async def job_cancel(studio: Studio, request: Request) -> Response:
    job = _job(studio, request)
    studio.jobs.cancel(job)
    return JSONResponse(job.snapshot())


# --- results: a merge's output folder ------------------------------------------------------


def _results(studio: Studio, folder: Path) -> dict[str, Any]:
    rows = list(read_manifest(folder / MANIFEST).values())
    return {"rows": rows, "folder": studio.workspace.relative(folder),
            "combined": [p.name for p in (folder / "combined.pdf", folder / "combined.docx")
                         if p.is_file()],
            "letters": sum(r.get("status") in FINISHED for r in rows)}


def _results_folder(studio: Studio, request: Request) -> Path:
    folder = studio.workspace.path(request.query_params.get("folder", ""))
    if not (folder / MANIFEST).is_file():
        raise StudioError(f"{studio.workspace.relative(folder)}: no {MANIFEST} there")
    return folder


async def results_page(studio: Studio, request: Request) -> Response:
    folder = _results_folder(studio, request)
    return studio.page("results.html", request, results=_results(studio, folder))


def _letter_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """The files a manifest names (letters that exist), then the manifest itself."""
    for letter in finished_letters(folder):
        for path in (letter.docx, letter.pdf):
            # only files of this folder: a manifest edited by hand names nothing else
            if path is not None and path.parent == folder and path.is_file():
                yield path.name, path
    yield MANIFEST, folder / MANIFEST


async def results_zip(studio: Studio, request: Request) -> Response:
    folder = _results_folder(studio, request)

    def build() -> Any:
        spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)  # noqa: SIM115 (returned)
        with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, path in _letter_files(folder):
                archive.write(path, name)
        spool.seek(0)
        return spool

    spool = await run_in_threadpool(build)

    def chunks() -> Iterator[bytes]:
        with spool:
            yield from iter(lambda: spool.read(1 << 16), b"")

    return StreamingResponse(chunks(), media_type="application/zip",
                             headers=_attachment(f"{folder.name}-letters.zip"))


async def results_file(studio: Studio, request: Request) -> Response:
    folder = _results_folder(studio, request)
    name = request.query_params.get("name", "")
    allowed = {n: p for n, p in _letter_files(folder)}
    allowed.update({n: folder / n for n in ("combined.pdf", "combined.docx", POST_PDF,
                                            f"{MAIL_DIR}/{LOG_NAME}")
                    if (folder / n).is_file()})
    allowed.update(_draft_files(folder))
    if name not in allowed:
        raise StudioError(f"{name}: not a letter of this merge")
    media = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8",
             "eml": "message/rfc822", "jsonl": "text/plain; charset=utf-8"}.get(
        name.rsplit(".", 1)[-1], "application/vnd.openxmlformats-officedocument."
        "wordprocessingml.document")
    inline = request.query_params.get("inline") == "1" and name.endswith(".pdf")
    headers = {} if inline else _attachment(name)
    return Response(allowed[name].read_bytes(), media_type=media, headers=headers)


# --- email: drafts to review, a paced send --------------------------------------------------


def _draft_files(folder: Path) -> dict[str, Path]:
    """The drafts the manifest names (``mail/x.eml``), only those in the folder's mail/."""
    found = {}
    for row in read_manifest(folder / MANIFEST).values():
        name = row.get("mail", "")
        path = folder / name
        if name and path.parent == folder / MAIL_DIR and path.is_file():
            found[name] = path
    return found


def _send_defaults() -> dict[str, Any]:
    """The send form's first values: the environment's and the config file's, as the CLI
    takes them (never a password: that is typed, or DRAFTER_SMTP_PASSWORD)."""
    try:
        options = configured_options()
        sender = read_config(config_path()).get("mail", {})
    except DrafterError as e:
        return {"error": str(e), "server": "", "user": "", "rate": "", "burst": 1,
                "sender": "", "reply_to": "", "password_set": False}
    server = options.server
    return {"error": "", "server": "" if server is None else
            f"{server.scheme}://{server.host}:{server.port}",
            "user": server.user if server else "", "rate": options.rate or "",
            "burst": options.burst, "sender": sender.get("from", ""),
            "reply_to": sender.get("reply_to", ""),
            "password_set": configured_password() is not None}


async def mail_page(studio: Studio, request: Request) -> Response:
    """The merge's letters as emails: each draft's To, Cc, Bcc, subject and attachments, its
    delivery; the form that makes the drafts, and the one that sends them."""
    folder = _results_folder(studio, request)

    def gather() -> dict[str, Any]:
        drafts = review_drafts(folder)
        try:
            planned = send_drafts(folder, SendOptions()) if any(d.mail for d in drafts) \
                else None  # a dry run: what a send would do now
        except DrafterError as e:
            return {"drafts": drafts, "planned": None, "plan_error": str(e)}
        return {"drafts": drafts, "planned": planned, "plan_error": ""}

    values = await run_in_threadpool(gather)
    sends = [j for j in studio.jobs.jobs.values() if j.kind == "send" and j.outdir == folder]
    defaults = _send_defaults()
    senders = [d.sender for d in values["drafts"] if d.sender]
    if senders:  # the drafts made again are from whom they were from
        defaults["sender"] = senders[0]
    if sends:  # as the last send of these drafts had it
        defaults.update(sends[-1].settings)
    return studio.page("mail.html", request, folder=studio.workspace.relative(folder),
                       defaults=defaults, sends=sends,
                       post=(folder / POST_PDF).is_file(),
                       log=(folder / MAIL_DIR / LOG_NAME).is_file(), **values)


async def mail_drafts(studio: Studio, request: Request) -> Response:
    """``drafter mail``: write the drafts, then show them."""
    folder = _results_folder(studio, request)
    form = await request.form()
    attach = tuple(kind for kind in ATTACHABLE if form.get(f"attach-{kind}")) or ("pdf",)
    options = MailOptions(sender=str(form.get("sender", "")).strip(), attach=attach,
                          reply_to=str(form.get("reply_to", "")).strip())
    try:
        await run_in_threadpool(write_drafts, folder, options)
    except DrafterError as e:
        return studio.page("error.html", request, 400, message=studio.workspace.shown(str(e)))
    return RedirectResponse(f"/results/mail?folder={_q(studio.workspace.relative(folder))}",
                            status_code=303)


async def message_page(studio: Studio, request: Request) -> Response:
    """One draft, as its recipient will read it: headers, text, attachments."""
    folder = _results_folder(studio, request)
    name = request.query_params.get("name", "")
    path = _draft_files(folder).get(name)
    if path is None:
        raise StudioError(f"{name}: not a draft of this merge")
    message = await run_in_threadpool(read_draft, path)
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    attachments = [part.get_filename() or "" for part in message.iter_attachments()]
    letters = {p.name for _, p in _letter_files(folder)}
    headers = [(h, str(message[h])) for h in ("From", "To", "Cc", "Bcc", "Reply-To",
                                              "Subject", "Date", "Message-ID",
                                              "Content-Language") if message[h] is not None]
    return studio.page("message.html", request, folder=studio.workspace.relative(folder),
                       draft=name, headers=headers, text=text, attachments=attachments,
                       letters=letters, language=str(message["Content-Language"] or ""))


def _number(value: Any, kind: type, name: str) -> Any:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        number = kind(text)
    except ValueError:
        raise DataError([Problem(Location(option=name), "", f"{text!r} is not a number")]
                        ) from None
    if number < 0:
        raise DataError([Problem(Location(option=name), "", "give a number of 0 or more")])
    return number


async def send_start(studio: Studio, request: Request) -> Response:
    """``drafter send --send``, paced, in a process of its own; the password given stays in
    memory (the form's field, then the child process's), never on disk."""
    folder = _results_folder(studio, request)
    form = await request.form()
    try:
        options = configured_options(
            SendSettings(server=str(form.get("server", "")).strip() or None,
                         user=str(form.get("user", "")).strip() or None,
                         rate=_number(form.get("rate"), float, "rate"),
                         burst=_number(form.get("burst"), int, "burst")),
            send=True, limit=_number(form.get("limit"), int, "limit") or 0)
    except DrafterError as e:
        return studio.page("error.html", request, 400, message=studio.workspace.shown(str(e)))
    if options.server is None:
        return studio.page("error.html", request, 400, message="give the SMTP server, "
                           "e.g. smtp://smtp.example.org:587")
    password = str(form.get("password", "")) or configured_password()
    if options.server.user and not password:
        return studio.page("error.html", request, 400, message=f"the password for "
                           f"{options.server}: type it in the form (or start the studio with "
                           f"{PASSWORD_VARIABLE} set)")
    job = studio.jobs.send(folder, options, password)
    # the next send's form starts from these (never the password)
    job.settings = {k: str(form.get(k, "")).strip() for k in ("server", "user", "rate", "burst")}
    return RedirectResponse(f"/send/jobs/{job.id}", status_code=303)


def _marked(finding: Finding) -> Any:
    """A finding's paragraph text with the tag between » « shown marked."""
    from markupsafe import Markup, escape
    text = str(escape(finding.text))
    return Markup(re.sub(r"»(.*?)«", r'<mark>\1</mark>', text, count=1))
