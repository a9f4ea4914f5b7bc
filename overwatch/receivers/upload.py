"""Reading a DQM upload request: header values and the body, validated before use.

Header values arrive as text a client chose; each is matched against a strict
pattern before it becomes a number or a name, and only those parsed values ever
reach a file name. The body is written once, into an anonymous file *inside the
data directory* (``O_TMPFILE``, so a killed process leaves nothing behind and
nothing is written elsewhere), hashed as it arrives, with the size limit and a
deadline enforced while reading. When it is accepted, :meth:`Body.publish` gives
that same file its final name with one ``link`` — no second copy. Where the kernel
or file system has no linkable ``O_TMPFILE``, the body goes to an ordinary
temporary file and is copied into place by the atomic writer.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import IO
from typing import Any
from typing import Protocol

from gunicorn.http.errors import ParseException
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import ClientDisconnected
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.http import parse_options_header
from werkzeug.wsgi import get_content_length
from werkzeug.wsgi import get_input_stream

from overwatch.receivers.writer import write_bytes_atomically
from overwatch.storage.agents import AGENT_NAME

__all__ = [
    "DEFAULT_AGENT",
    "MAX_RUN_NUMBER",
    "Body",
    "UploadError",
    "UploadHeaders",
    "parse_upload_headers",
    "receive_body",
    "token_from_headers",
]

DEFAULT_AGENT = "DQM"
#: Run numbers are stored as 32-bit integers.
MAX_RUN_NUMBER = 2**31 - 1
#: How far ahead of the receiver's clock a timeStamp may be.
MAX_CLOCK_AHEAD_SECONDS = 24 * 3600
_DIGITS = re.compile(r"[0-9]{1,12}")
_STATUS = re.compile(r"-?[0-9]{1,3}")
_CHUNK = 1024 * 1024
#: Content types sent with a raw body: none, binary, ROOT, and curl's default for --data-binary.
RAW_TYPES = frozenset(
    {"", "application/octet-stream", "application/x-root", "application/x-www-form-urlencoded"}
)
SECRET_HEADERS = frozenset({"token", "authorization", "cookie"})


class HeaderSource(Protocol):
    """Request headers, looked up without regard to case (werkzeug's ``Headers``)."""

    def get(self, key: str, /) -> str | None: ...


class UploadError(Exception):
    """An upload refused: HTTP status and a reason the client can act on."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class UploadHeaders:
    run_number: int
    timestamp: datetime
    agent: str
    data_status: int | None


def token_from_headers(headers: HeaderSource) -> str | None:
    """The ``token`` header (the ALICE agents' way), else an ``Authorization: Bearer`` token."""
    token = headers.get("token")
    if token:
        return token.strip()
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _whole_number(headers: HeaderSource, name: str) -> int:
    raw = headers.get(name)
    if raw is None or raw.strip() == "":
        raise UploadError(400, f"the {name} header is required")
    if not _DIGITS.fullmatch(raw.strip()):
        raise UploadError(
            400, f"{name} must be a whole number of at most 12 digits, got {raw[:40]!r}"
        )
    return int(raw.strip())


def parse_upload_headers(
    headers: HeaderSource, *, default_agent: str = DEFAULT_AGENT, now: float | None = None
) -> UploadHeaders:
    """Validate ``runNumber``, ``timeStamp``, ``amoreAgent`` and ``dataStatus``; raise :class:`UploadError`."""
    run_number = _whole_number(headers, "runNumber")
    if not 0 < run_number <= MAX_RUN_NUMBER:
        raise UploadError(
            400, f"runNumber must be between 1 and {MAX_RUN_NUMBER}, got {run_number}"
        )
    stamp = _whole_number(headers, "timeStamp")
    latest = (time.time() if now is None else now) + MAX_CLOCK_AHEAD_SECONDS
    if stamp > latest:
        raise UploadError(
            400,
            f"timeStamp {stamp} is more than a day ahead of this receiver's clock (unix seconds)",
        )
    agent = headers.get("amoreAgent")
    if agent is None:
        agent = default_agent
    if not AGENT_NAME.fullmatch(agent):
        raise UploadError(400, f"amoreAgent must be 1 to 32 letters or digits, got {agent[:40]!r}")
    status_text = headers.get("dataStatus")
    data_status = None
    if status_text is not None and status_text.strip() != "":
        if not _STATUS.fullmatch(status_text.strip()):
            raise UploadError(
                400, f"dataStatus must be a small whole number, got {status_text[:40]!r}"
            )
        data_status = int(status_text.strip())
    return UploadHeaders(run_number, datetime.fromtimestamp(stamp, UTC), agent, data_status)


class _HashingFile:
    """The file an upload is written into, hashed on the way so it is never read back for it."""

    def __init__(self, handle: IO[bytes], linkable: bool) -> None:
        self.handle = handle
        self.linkable = linkable
        self.digest = hashlib.sha256()

    def write(self, data: bytes, /) -> int:
        self.digest.update(data)
        return self.handle.write(data)

    def read(self, size: int = -1, /) -> bytes:
        return self.handle.read(size)

    def seek(self, offset: int, whence: int = 0, /) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def flush(self) -> None:
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def _anonymous_file(directory: Path) -> _HashingFile:
    """An unnamed file in ``directory`` that can later be linked under a name."""
    flag = getattr(os, "O_TMPFILE", 0)
    if flag:
        try:
            # Without O_EXCL (which tempfile adds), the kernel lets it be linked in later.
            fd = os.open(directory, flag | os.O_RDWR | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                raise
        else:
            return _HashingFile(os.fdopen(fd, "w+b"), linkable=Path("/proc/self/fd").is_dir())
    handle = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - closed by receive_body
    return _HashingFile(handle, linkable=False)


@dataclass
class Body:
    """The received file: an anonymous file in the data directory, its size and SHA-256."""

    file: IO[bytes]
    size: int
    sha256: str
    linkable: bool = False

    def make_durable(self) -> None:
        """Flush the content to disk (before any database lock is taken)."""
        self.file.flush()
        if self.linkable:
            os.fsync(self.file.fileno())
        # Otherwise write_bytes_atomically syncs the copy it makes.

    def publish(self, target: Path) -> None:
        """Give the content the name ``target``, atomically and durably; never overwrites.

        Raises :class:`FileExistsError` if ``target`` exists. The caller has called
        :meth:`make_durable`, so only the new directory entry remains to be synced.
        """
        if self.linkable:
            directory = os.open(target.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            try:
                # linkat(2) of an O_TMPFILE file through /proc is the documented way to name
                # it; a directory fd makes Python call linkat (with AT_SYMLINK_FOLLOW).
                os.link(
                    f"/proc/self/fd/{self.file.fileno()}",
                    target.name,
                    dst_dir_fd=directory,
                    follow_symlinks=True,
                )
                _fsync_directory(directory)
                return
            except FileExistsError:
                raise
            except OSError as exc:
                if exc.errno not in _CANNOT_LINK:
                    raise
                self.linkable = False  # copied below instead
            finally:
                os.close(directory)
        self.file.seek(0)
        write_bytes_atomically(target, self.file)


#: Answers of linkat(2) where this system cannot name an anonymous file.
_CANNOT_LINK = frozenset(
    {errno.EXDEV, errno.ENOENT, errno.EPERM, errno.EACCES, errno.EOPNOTSUPP, errno.ENOSYS}
)


def _fsync_directory(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some network and FUSE file systems reject fsync on directories.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise


class _Deadline:
    """A read stream that refuses to go on past a deadline."""

    def __init__(self, stream: IO[bytes], seconds: float) -> None:
        self._stream = stream
        self._until = time.monotonic() + seconds
        self._seconds = seconds

    def read(self, size: int = -1, /) -> bytes:
        if time.monotonic() > self._until:
            raise UploadError(408, f"the upload took longer than {self._seconds:g} s")
        return self._stream.read(size if size >= 0 else _CHUNK)

    def readline(self, size: int = -1, /) -> bytes:
        if time.monotonic() > self._until:
            raise UploadError(408, f"the upload took longer than {self._seconds:g} s")
        return self._stream.readline(size)


@contextmanager
def _socket_timeout(environ: Mapping[str, Any], seconds: float) -> Iterator[None]:
    # gunicorn hands over its socket: a client that stops sending then times out a read
    # instead of holding a worker thread for ever.
    sock = environ.get("gunicorn.socket")
    if not isinstance(sock, socket.socket):
        yield
        return
    previous = sock.gettimeout()
    sock.settimeout(seconds)
    try:
        yield
    finally:
        sock.settimeout(previous)


@contextmanager
def receive_body(
    environ: dict[str, Any], directory: Path, *, max_bytes: int, timeout: float
) -> Iterator[Body]:
    """Receive the upload's file (multipart field ``file`` or the raw body); closed afterwards.

    Raises :class:`UploadError` for a body over ``max_bytes`` (413, from Content-Length
    before anything is read), a body that does not arrive within ``timeout`` (408),
    an unsupported content type (415) and a missing or empty file (400).
    """
    mimetype, options = parse_options_header(environ.get("CONTENT_TYPE", ""))
    if mimetype != "multipart/form-data" and mimetype not in RAW_TYPES:
        raise UploadError(
            415,
            f"Content-Type {mimetype!r}: send the ROOT file as the multipart/form-data field "
            "'file' or as a raw application/octet-stream body",
        )
    declared = get_content_length(environ)
    if declared is not None and declared > max_bytes:
        raise UploadError(413, f"the upload is {declared} bytes, more than the {max_bytes} allowed")
    directory.mkdir(parents=True, exist_ok=True)
    opened: list[_HashingFile] = []

    def anonymous_file(*_args: Any, **_kwargs: Any) -> _HashingFile:
        handle = _anonymous_file(directory)
        opened.append(handle)
        return handle

    try:
        yield _receive(environ, mimetype, options, declared, max_bytes, timeout, anonymous_file)
    finally:
        for handle in opened:
            handle.close()


def _receive(
    environ: dict[str, Any],
    mimetype: str,
    options: dict[str, str],
    declared: int | None,
    max_bytes: int,
    timeout: float,
    anonymous_file: Any,
) -> Body:
    started = time.monotonic()
    try:
        with _socket_timeout(environ, timeout):
            stream = _Deadline(get_input_stream(environ, max_content_length=max_bytes), timeout)
            if mimetype == "multipart/form-data":
                handle = _multipart_file(stream, options, declared, anonymous_file)
            else:
                handle = anonymous_file()
                while chunk := stream.read(_CHUNK):
                    handle.write(chunk)
                if declared is not None and handle.tell() != declared:
                    raise UploadError(
                        400, f"the body ended after {handle.tell()} of {declared} bytes"
                    )
    except RequestEntityTooLarge:
        raise UploadError(413, f"the upload is more than the {max_bytes} bytes allowed") from None
    except TimeoutError:
        raise UploadError(408, f"the upload stalled for {timeout:g} s") from None
    except (OSError, ClientDisconnected, ParseException) as exc:
        if time.monotonic() - started >= timeout:
            # gunicorn reports the socket timeout as the end of the body.
            raise UploadError(408, f"the upload stalled for {timeout:g} s") from None
        raise UploadError(400, f"the upload did not arrive completely: {exc!r}") from None
    return _finish(handle)


def _multipart_file(
    stream: _Deadline, options: dict[str, str], declared: int | None, factory: Any
) -> _HashingFile:
    parser = FormDataParser(
        stream_factory=factory, max_form_memory_size=1024 * 1024, silent=False, max_form_parts=16
    )
    try:
        _, _, files = parser.parse(stream, "multipart/form-data", declared, options)  # type: ignore[arg-type]
    except ValueError as exc:
        raise UploadError(400, f"a malformed multipart/form-data body: {exc}") from exc
    uploaded: FileStorage | None = files.get("file")
    if uploaded is None:
        raise UploadError(400, "No file uploaded: the multipart form has no field 'file'")
    handle = uploaded.stream
    if not isinstance(handle, _HashingFile):
        raise TypeError("the multipart parser must write into the receiver's own files")
    return handle


def _finish(handle: _HashingFile) -> Body:
    handle.flush()
    size = handle.seek(0, 2)
    if size == 0:
        raise UploadError(400, "No file uploaded and the payload was empty")
    handle.seek(0)
    return Body(handle.handle, size, handle.digest.hexdigest(), handle.linkable)
