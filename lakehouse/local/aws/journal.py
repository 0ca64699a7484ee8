"""A write-ahead journal that lets the embedded emulator be restarted (even SIGKILLed) without losing state.

moto keeps every resource in memory: a restarted server would come back empty, and with it the stream's
unarchived records, the feature, score and write-key tables. AWS does not forget, so the local stand-in must not
either. :class:`JournaledApp` wraps moto's WSGI application: every request that can change state (see
:func:`is_mutating`) runs under one lock and, when it succeeded, is appended to a JSON-lines journal *before* its
answer is sent — an acknowledged change is always in the journal; one killed before its answer was never
acknowledged. :func:`replay` runs the journal through a fresh moto application, in order, before the server
listens again.

What a replay restores exactly: everything a request's content determines (Kinesis sequence numbers are counters
per shard, DynamoDB items, S3 objects and their ETags, CloudWatch data points), the times moto takes from
``moto.core.utils.utcnow`` (a stream's creation time, a record's ``ApproximateArrivalTimestamp``, an object's
``LastModified``, a table's creation time: while a journaled request runs, live or replayed, the clock moto reads
shows its journaled time), and S3 multipart upload ids (new ids are mapped to the journaled ones). Not restored:
ids moto draws at random for other services (SQS message ids, for instance; the lakehouse uses none of them locally).

Journal line: ``{"at": <epoch seconds>, "environ": {<CGI and HTTP_* keys>}, "text": <body>}`` (``"body": <base64>``
in place of ``text`` when the body is not UTF-8; ``"upload_id"`` for a CreateMultipartUpload).
The journal is flushed after every line but not fsynced: it survives the emulator's death, not the machine's.
"""

from __future__ import annotations

import base64
import datetime as _datetime
import io
import json
import re
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from werkzeug.test import create_environ
from werkzeug.wsgi import get_input_stream

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

READ_ACTIONS = ("Get", "List", "Describe", "Query", "Scan", "BatchGet", "TransactGet", "Head", "Select")
CGI_KEYS = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "SERVER_NAME",
            "SERVER_PORT", "SERVER_PROTOCOL", "REQUEST_URI", "RAW_URI")
CBOR_OPERATION = re.compile(r"^/service/[^/]+/operation/([A-Za-z0-9]+)$")
UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")


def action_of(environ: dict[str, Any], body: bytes) -> str | None:
    """The API action a request names (``X-Amz-Target``, an RPC-v2-CBOR path, or a query-protocol ``Action``);
    None for REST-style requests (S3), whose method decides."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    operation = CBOR_OPERATION.match(environ.get("PATH_INFO", ""))
    if operation:
        return operation.group(1)
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return form["Action"][0]
    return None


def is_mutating(environ: dict[str, Any], body: bytes) -> bool:
    """Whether a request may change the emulator's state: every action but the reads (``Get*``, ``List*``,
    ``Describe*``, ``Query``, ``Scan``, ``BatchGet*``, ...); a REST request unless it is GET or HEAD.

    Unknown actions count as mutating: journaling a read costs a replayed no-op, skipping a write loses data.
    """
    action = action_of(environ, body)
    if action is not None:
        return not action.startswith(READ_ACTIONS)
    return environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD", "OPTIONS")


_FROZEN = threading.local()  # .at: the aware UTC time moto's clock shows this thread, while a request sets it


class _RequestClock(_datetime.datetime):
    """``datetime.datetime`` whose ``now`` returns, on a thread handling a journaled request, that request's
    journaled time (:func:`frozen_at`), and the real time everywhere else."""

    @classmethod
    def now(cls, tz: _datetime.tzinfo | None = None) -> _datetime.datetime:  # type: ignore[override]
        frozen = getattr(_FROZEN, "at", None)
        if frozen is None:
            return _datetime.datetime.now(tz)
        return frozen.astimezone(tz) if tz is not None else frozen.astimezone().replace(tzinfo=None)

    @classmethod
    def utcnow(cls) -> _datetime.datetime:  # type: ignore[override]
        return cls.now(_datetime.UTC).replace(tzinfo=None)


def install_request_clock() -> None:
    """Make ``moto.core.utils.utcnow`` (moto's clock for creation and arrival times) follow :class:`_RequestClock`.

    It reads the module global ``datetime``; that global becomes a copy of the ``datetime`` module whose
    ``datetime`` class is :class:`_RequestClock`. Idempotent.
    """
    import moto.core.utils as moto_utils

    if getattr(moto_utils.datetime, "datetime", None) is _RequestClock:
        return
    shim = types.ModuleType("datetime")
    shim.__dict__.update({k: v for k, v in vars(_datetime).items() if not k.startswith("__")})
    shim.datetime = _RequestClock  # type: ignore[attr-defined]
    moto_utils.datetime = shim  # type: ignore[attr-defined]


@contextmanager
def frozen_at(at: float) -> Iterator[None]:
    """Within the block, moto's clock on this thread shows ``at`` (epoch seconds): a journaled request and its
    replay see the same time, so the times moto stores are the same."""
    _FROZEN.at = _datetime.datetime.fromtimestamp(at, _datetime.UTC)
    try:
        yield
    finally:
        _FROZEN.at = None


def _call(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run one request through ``app``; returns its status line, headers and whole body."""
    answer: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None):
        answer["status"], answer["headers"] = status, headers
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return answer["status"], answer["headers"], b"".join(chunks)


class JournaledApp:
    """WSGI middleware: state-changing requests to ``app`` are serialized and journaled to ``path`` once they
    succeed (status < 400), before their answer is sent. Reads pass through concurrently."""

    def __init__(self, app: WsgiApp, path: Path):
        self.app = app
        self.path = path
        self._lock = threading.Lock()
        install_request_clock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")  # noqa: SIM115 (held for the server's lifetime)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Answer one request; a state-changing one is journaled (when it succeeds) before it is answered."""
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = False
        if not is_mutating(environ, body):
            return self.app(environ, start_response)
        with self._lock:
            at = time.time()
            with frozen_at(at):
                status, headers, answer = _call(self.app, environ)
            if int(status.split(" ", 1)[0]) < 400:
                self._append(entry(environ, body, at, answer))
        start_response(status, headers)
        return [answer]

    def _append(self, line: dict[str, Any]) -> None:
        self._file.write(json.dumps(line, separators=(",", ":")).encode() + b"\n")
        self._file.flush()

    def close(self) -> None:
        """Close the journal file."""
        self._file.close()


def entry(environ: dict[str, Any], body: bytes, at: float, answer: bytes) -> dict[str, Any]:
    """The journal line of one successful state-changing request (``upload_id``: the id a
    CreateMultipartUpload answered with, which later requests of the upload name)."""
    line: dict[str, Any] = {
        "at": at,
        "environ": {k: v for k, v in environ.items()
                    if isinstance(v, str) and (k in CGI_KEYS or k.startswith("HTTP_"))},
    }
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and len(json.dumps(text)) <= 4 * len(body) // 3 + 4:
        line["text"] = text  # JSON and form bodies: a third smaller than base64
    else:
        line["body"] = base64.b64encode(body).decode("ascii")  # binary, or text that JSON would escape heavily
    if environ.get("REQUEST_METHOD") == "POST" and "uploads" in parse_qs(environ.get("QUERY_STRING", ""),
                                                                         keep_blank_values=True):
        found = UPLOAD_ID.search(answer)
        if found:
            line["upload_id"] = found.group(1).decode()
    return line


def read_journal(path: Path) -> Iterator[dict[str, Any]]:
    """The journal's complete lines, in order, read one at a time (a journal is hundreds of MB after a few demos).
    A torn last line (the emulator killed while writing it, so its request was never answered) is cut off the file
    once the lines before it are read; a torn line elsewhere raises ``ValueError`` when it is reached."""
    if not path.is_file():
        return
    size, good = path.stat().st_size, 0
    with open(path, "rb") as handle:
        for raw in handle:
            try:
                line = json.loads(raw)
            except ValueError:
                if good + len(raw) < size:
                    raise ValueError(f"{path}: unreadable journal line at byte {good}") from None
                break
            good += len(raw)
            yield line
    if good < size:
        with open(path, "r+b") as handle:
            handle.truncate(good)


def replay(app: WsgiApp, path: Path) -> tuple[int, list[str]]:
    """Run every journaled request of ``path`` through ``app`` in order, moto's clock frozen at each request's
    original time; returns how many were replayed and the problems (a request that fails now but succeeded then)."""
    install_request_clock()
    upload_ids: dict[str, str] = {}
    problems: list[str] = []
    replayed = 0
    for n, line in enumerate(read_journal(path)):
        replayed = n + 1
        environ = create_environ()
        environ.update(line["environ"])
        for old, new in upload_ids.items():
            for key in ("QUERY_STRING", "REQUEST_URI", "RAW_URI"):
                if key in environ:
                    environ[key] = environ[key].replace(f"uploadId={old}", f"uploadId={new}")
        body = line["text"].encode("utf-8") if "text" in line else base64.b64decode(line["body"])
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        what = f"line {n + 1} ({environ['REQUEST_METHOD']} {environ.get('PATH_INFO')})"
        try:
            with frozen_at(line["at"]):
                status, _, answer = _call(app, environ)
        except Exception as exc:  # moto raises some errors through its WSGI app: each one reported
            problems.append(f"{what}: {type(exc).__name__}: {exc}")
            continue
        if int(status.split(" ", 1)[0]) >= 400:
            problems.append(f"{what}: {status}")
        elif "upload_id" in line:
            found = UPLOAD_ID.search(answer)
            if found:
                upload_ids[line["upload_id"]] = found.group(1).decode()
    return replayed, problems
