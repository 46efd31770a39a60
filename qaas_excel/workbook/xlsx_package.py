"""An .xlsx/.xlsm package opened for editing in place: parts are read as bytes, and only the parts a run
changes are written anew; every other part is carried into the saved file byte for byte.

This is how a run can write into a user's workbook without losing what no Python library models
(sparklines, shapes, form controls, slicers, threaded comments, VBA, ...): it never rebuilds the file.

Hostile or huge files are refused before they are unpacked (declared sizes, compression ratio, number of
parts); zip's own CRC and size checks stop a member that lies about its size. XML is parsed with lxml
with entity resolution, DTD loading and network access off; a part with a DOCTYPE is refused (Excel
never writes one).
"""

from __future__ import annotations

import errno
import io
import logging
import mmap
import os
import posixpath
import re
import shutil
import stat
import tempfile
import weakref
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from qaas_excel.workbook.files import REPAIR_HINT
from qaas_excel.workbook.table import WorkbookError

log = logging.getLogger(__name__)

# Sane limits for a workbook of charge point rows (stated in the README).
MAX_PART_BYTES = 256 * 2**20  # one part, uncompressed (a 200,000-row sheet is about 120 MiB)
MAX_TOTAL_BYTES = 1024 * 2**20  # all parts, uncompressed
MAX_RATIO = 200  # uncompressed : compressed, for parts over 1 MiB (real sheets compress 5-30 times)
MAX_PARTS = 20_000

REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
OFFICE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_blank_text=False)


def parse_xml(data: bytes, *, part: str = "") -> etree._Element:
    """A small part as an lxml tree, safely."""
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:4096]:
        raise WorkbookError(f"The workbook part {part} declares a DOCTYPE; Excel never writes one. Refusing it.")
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise WorkbookError(f"The workbook part {part} is not well-formed XML ({exc}).") from None


@dataclass(frozen=True)
class Relationship:
    id: str
    type: str
    target: str  # as written
    part: str | None  # resolved part name (None for external targets)
    external: bool


def resolve_target(source_part: str, target: str) -> str:
    """A relationship target as a part name ('xl/worksheets/sheet1.xml'), absolute or relative."""
    if target.startswith("/"):
        return target.lstrip("/")
    base = posixpath.dirname(source_part)
    return posixpath.normpath(posixpath.join(base, target))


def rels_part(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def relative_target(source_part: str, part: str) -> str:
    return posixpath.relpath(part, posixpath.dirname(source_part) or ".")


class Package:
    """The parts of one workbook file; ``save`` writes a new file with the changed ones replaced.

    Every part is read through the one handle opened with the package: a file that another program replaces
    meanwhile (Excel or a colleague's run saving, a sync client) is still read whole, as it was when opened.
    """

    def __init__(self, path: Path, infos: list[zipfile.ZipInfo], source: zipfile.ZipFile | None = None,
                 identity: tuple[int, ...] | None = None) -> None:
        self.path = path
        self._infos = {i.filename: i for i in infos}
        self._order = [i.filename for i in infos]
        self._cache: dict[str, bytes] = {}
        self._changed: dict[str, bytes | _Spooled] = {}
        self._removed: set[str] = set()
        self._source = source
        self._identity = identity
        self._closer = weakref.finalize(self, _close_zip, source) if source is not None else None

    # -- opening -------------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path) -> Package:
        try:
            f: BinaryIO = open(path, "rb")  # noqa: SIM115 - held by the package until it is closed
        except OSError:
            raise WorkbookError(f"{path.name} cannot be read.", path=str(path)) from None
        try:
            source = zipfile.ZipFile(f)
            infos = source.infolist()
        except (zipfile.BadZipFile, OSError, EOFError):
            f.close()
            raise WorkbookError(f"{path.name} is damaged (not a readable .xlsx archive). {REPAIR_HINT}",
                                path=str(path)) from None
        try:
            check_limits(path, infos)
        except WorkbookError:
            _close_zip(source)
            raise
        return cls(path, infos, source, _identity(os.fstat(f.fileno())))

    def close(self) -> None:
        """Let go of the file (before it is replaced: Windows replaces no file that is open)."""
        if self._closer is not None:
            self._closer()
        self._source = None

    def replaced(self) -> bool:
        """Is the file on disk no longer the one this package was read from (saved meanwhile by another program)?"""
        try:
            return self._identity is not None and _identity(os.stat(self.path)) != self._identity
        except OSError:
            return True

    def _zip(self) -> zipfile.ZipFile:
        """The open archive; after ``close``, the file again, if it is still the one that was opened."""
        if self._source is not None:
            return self._source
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - held by the package until it is closed
        except OSError as exc:
            raise WorkbookError(f"{self.path.name} cannot be read ({exc.strerror or exc}).",
                                path=str(self.path)) from None
        if self._identity is not None and _identity(os.fstat(f.fileno())) != self._identity:
            f.close()
            raise WorkbookError(f"{self.path.name} was replaced by another program while this run used it (saved in "
                                "Excel, or by a colleague); nothing was written. Run again.", path=str(self.path))
        try:
            self._source = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, EOFError):
            f.close()
            raise WorkbookError(f"{self.path.name} is damaged (not a readable .xlsx archive).",
                                path=str(self.path)) from None
        self._closer = weakref.finalize(self, _close_zip, self._source)
        return self._source

    # -- parts ---------------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return [n for n in self._order if n not in self._removed] + [
            n for n in self._changed if n not in self._infos]

    def has(self, part: str) -> bool:
        return (part in self._infos and part not in self._removed) or part in self._changed

    def read(self, part: str) -> bytes:
        if part in self._changed:
            written = self._changed[part]
            return written.read() if isinstance(written, _Spooled) else written
        if part in self._removed or part not in self._infos:
            raise WorkbookError(f"The part {part} is missing from the package (a relationship points to it).")
        data = self._cache.get(part)
        if data is None:
            with self._reading(part):
                data = _read_part(self._zip(), self._infos[part])
            self._cache[part] = data
        return data

    @contextmanager
    def _reading(self, part: str) -> Iterator[None]:
        try:
            yield
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise WorkbookError(f"{self.path.name}: the part {part} cannot be read ({exc}); the file is "
                                f"damaged. {REPAIR_HINT}", path=str(self.path)) from None

    @contextmanager
    def _temporary(self) -> Iterator[None]:
        """A temporary file that cannot be written (the temporary folder full, or not writable): said so, with what
        to do; the workbook is not touched."""
        try:
            yield
        except OSError as exc:
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            raise WorkbookError(
                f"{self.path.name} could not be written: the temporary folder {tempfile.gettempdir()} "
                f"{'is full' if full else 'cannot be used'} ({exc.strerror or exc}); the workbook is unchanged. Free "
                "space there, or set TMPDIR to a folder with room (a sheet of 200,000 rows needs some 400 MB), and "
                "run again.", path=str(self.path)) from None

    @contextmanager
    def mapped(self, part: str) -> Iterator[bytes | mmap.mmap]:
        """A part as it is, to be read once more from start to end (a sheet a run writes): one larger than
        ``MAP_FROM``, as read from the archive, decompressed into a temporary file and mapped, not held in memory
        (40 MB at 50,000 rows, 170 MB at 200,000); ``release`` lets go of the pages read so far. Any other part (a
        small one, one read already, one the run wrote) as ``read`` gives it. The map is closed on leaving."""
        info = self._infos.get(part)
        if (part in self._changed or part in self._cache or part in self._removed or info is None
                or info.file_size <= MAP_FROM):
            yield self.read(part)
            return
        with self._temporary(), tempfile.TemporaryFile() as f:  # on Windows deleted once the map is closed too
            with self._reading(part):
                source = self._zip().open(info)
            with source:
                while True:
                    with self._reading(part):  # the CRC checked at the end, as ``read`` does
                        chunk = source.read(_READ_CHUNK)
                    if not chunk:
                        break
                    f.write(chunk)  # an error here is the temporary folder's, not the workbook's
            f.flush()
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            yield data
        finally:
            # a view of it still held (an error half-way through a write): closed when the last view goes
            with suppress(BufferError):
                data.close()

    def forget(self, part: str) -> None:
        """Let go of a part's bytes as read (never of what a run wrote); ``read`` reads them again through the same
        open handle: the same bytes, or an error if the file can no longer be read as it was opened."""
        self._cache.pop(part, None)

    def xml(self, part: str) -> etree._Element:
        return parse_xml(self.read(part), part=part)

    def write(self, part: str, data: bytes) -> None:
        if self.has(part) and self.read(part) == data:
            return
        self._changed[part] = data
        self._cache.pop(part, None)  # the old content is not read again: a large sheet is not held twice
        self._removed.discard(part)

    def write_pieces(self, part: str, pieces: Iterable[bytes | memoryview], *,
                     old: bytes | mmap.mmap | None = None) -> bool:
        """Write a part made one piece after another, held in a temporary file rather than in memory (a sheet of
        200,000 rows is some 190 MB) and compared with the part as it is while it is made: False, and nothing
        written, when it is the same. ``old``: the part as it is, if at hand (``mapped``: its pages read are let go
        of as the part is made, the pieces' views of it included)."""
        if old is None:
            old = self.read(part) if self.has(part) else None
        # held until saved; a large buffer, as a sheet comes in some 400,000 pieces of a few hundred bytes each
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, buffering=_WINDOW)  # noqa: SIM115
        size, same, released = 0, old is not None, 0
        for piece in pieces:
            for window in _windows(piece) if len(piece) > RELEASE_EVERY else (piece,):
                if same:
                    same = _same_at(old, size, window)  # type: ignore[arg-type]  # not None where same
                try:
                    spool.write(window)
                except OSError:
                    spool.close()
                    with self._temporary():
                        raise
                size += len(window)
                if size - released >= RELEASE_EVERY:
                    release(old)
                    released = size
        if same and size == len(old):  # type: ignore[arg-type]
            spool.close()
            return False
        self._changed[part] = _Spooled(spool, size)
        self._cache.pop(part, None)
        self._removed.discard(part)
        return True

    def remove(self, part: str) -> None:
        data = self._changed.pop(part, None)
        if isinstance(data, _Spooled):
            data.spool.close()
        if part in self._infos:
            self._removed.add(part)

    @property
    def changed(self) -> set[str]:
        return set(self._changed) | self._removed

    # -- relationships and content types --------------------------------------------------------------
    def rels(self, part: str) -> list[Relationship]:
        name = rels_part(part)
        if not self.has(name):
            return []
        out = []
        for el in self.xml(name):
            if not isinstance(el.tag, str) or etree.QName(el).localname != "Relationship":
                continue
            target = el.get("Target") or ""
            external = el.get("TargetMode") == "External"
            out.append(Relationship(el.get("Id") or "", el.get("Type") or "", target,
                                    None if external else resolve_target(part, target), external))
        return out

    def related(self, part: str, rel_type_suffix: str) -> list[Relationship]:
        return [r for r in self.rels(part) if r.type.endswith(rel_type_suffix)]

    def add_relationship(self, part: str, rel_type: str, target_part: str) -> str:
        """A new relationship from ``part`` to ``target_part``; its id. The rest of the rels file keeps its bytes."""
        name = rels_part(part)
        existing = {r.id for r in self.rels(part)}
        n = 1
        while f"rId{n}" in existing:
            n += 1
        rid = f"rId{n}"
        entry = (f'<Relationship Id="{rid}" Type={quoteattr(rel_type)} '
                 f'Target={quoteattr(relative_target(part, target_part))}/>').encode()
        if self.has(name):
            data = self.read(name)
            end = data.rfind(b"</Relationships>")
            if end < 0:  # an empty self-closed root
                data = re.sub(rb"<Relationships([^>]*)/>", lambda m: b"<Relationships" + m.group(1) + b">"
                              + entry + b"</Relationships>", data, count=1)
            else:
                data = data[:end] + entry + data[end:]
        else:
            data = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    b'<Relationships xmlns="' + REL_NS.encode() + b'">' + entry + b"</Relationships>")
        self.write(name, data)
        return rid

    def remove_relationship(self, part: str, rid: str) -> None:
        name = rels_part(part)
        data = self.read(name)
        pattern = rb"<Relationship\b[^>]*\bId=\"" + re.escape(rid.encode()) + rb"\"[^>]*?(?:/>|>\s*</Relationship>)"
        data = re.sub(pattern, b"", data, count=1)
        self.write(name, data)

    def content_type(self, part: str) -> str | None:
        root = self.xml("[Content_Types].xml")
        for el in root:
            if isinstance(el.tag, str) and etree.QName(el).localname == "Override" and \
                    (el.get("PartName") or "").lstrip("/") == part:
                return el.get("ContentType")
        ext = part.rsplit(".", 1)[-1].lower()
        for el in root:
            if isinstance(el.tag, str) and etree.QName(el).localname == "Default" and \
                    (el.get("Extension") or "").lower() == ext:
                return el.get("ContentType")
        return None

    def set_content_type(self, part: str, content_type: str, *, default_extension: bool = False) -> None:
        """Declare a new part's type (an Override, or a Default for its extension); existing entries stay."""
        if self.content_type(part) == content_type:
            return
        data = self.read("[Content_Types].xml")
        if default_extension:
            ext = part.rsplit(".", 1)[-1]
            entry = f'<Default Extension={quoteattr(ext)} ContentType={quoteattr(content_type)}/>'.encode()
        else:
            entry = f'<Override PartName={quoteattr("/" + part)} ContentType={quoteattr(content_type)}/>'.encode()
        end = data.rfind(b"</Types>")
        self.write("[Content_Types].xml", data[:end] + entry + data[end:])

    def remove_content_type(self, part: str) -> None:
        data = self.read("[Content_Types].xml")
        pattern = rb"<Override\b[^>]*\bPartName=\"/" + re.escape(part.encode()) + rb"\"[^>]*/>"
        self.write("[Content_Types].xml", re.sub(pattern, b"", data, count=1))

    def free_name(self, pattern: str) -> str:
        """The first unused part name of a pattern such as 'xl/comments{}.xml'."""
        n = 1
        while self.has(pattern.format(n)):
            n += 1
        return pattern.format(n)

    # -- saving --------------------------------------------------------------------------------------
    def write_to(self, target: Path) -> None:
        """Write the package to ``target`` (a new file): unchanged parts carried over with their metadata."""
        src = self._zip()
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
            for name in self._order:
                if name in self._removed:
                    continue
                info = self._infos[name]
                out = zipfile.ZipInfo(name, date_time=info.date_time)
                out.compress_type = zipfile.ZIP_DEFLATED if name in self._changed else info.compress_type
                out.external_attr = info.external_attr
                out.create_system = info.create_system
                if name in self._changed:
                    _write_entry(dst, out, self._changed[name])
                else:
                    dst.writestr(out, self._cache.get(name) or src.read(info))
            for name, data in self._changed.items():
                if name not in self._infos:
                    out = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                    out.compress_type = zipfile.ZIP_DEFLATED
                    _write_entry(dst, out, data)


@dataclass
class _Spooled:
    """A part a run wrote, in a temporary file (``Package.write_pieces``)."""

    spool: tempfile.SpooledTemporaryFile[bytes]
    size: int

    def read(self) -> bytes:
        self.spool.seek(0)
        return self.spool.read()


# A part written piece by piece stays in memory up to this size, and goes to a temporary file beyond it (16 MiB
# raised the peak of a 50,000-row dry run by 10 MiB: the sheet as it was is held while it is written).
SPOOL_IN_MEMORY = 4 * 2**20
_WINDOW = 2**20  # a view of the part as it was is compared a MiB at a time (a memoryview compares item by item)


_READ_CHUNK = 2**16  # a part is read in pieces of this size: larger ones are no faster and held 5 MiB more


def _read_part(source: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A part's bytes, decompressed 64 KiB at a time into one buffer of its size (its CRC checked at the end, as
    ``ZipFile.read`` does). ``ZipFile.read`` inflates a part in one call whose output blocks are joined at the end: a
    56 MB sheet raised the peak by 111 MiB, where this raises it by its own size."""
    out = io.BytesIO()
    if info.file_size:  # the buffer made its full size at once: grown as written, it held up to 1/8 more
        out.seek(info.file_size - 1)
        out.write(b"\0")
        out.seek(0)
    with source.open(info) as part:
        while chunk := part.read(_READ_CHUNK):
            out.write(chunk)
    out.truncate()  # a part shorter than it said is checked by its CRC; here it is only not padded with zeros
    return out.getvalue()  # the buffer itself, not a copy


# A part larger than this that a run reads once more to write it is mapped from a temporary file (``mapped``), not
# held in memory; its pages are let go of every ``RELEASE_EVERY`` bytes read.
MAP_FROM = 8 * 2**20
RELEASE_EVERY = 4 * 2**20
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)  # Linux and macOS; Windows trims a working set by itself


def release(data: object) -> None:
    """Let go of the pages of a mapped part read so far (``mapped``): read again from the file if needed. Bytes:
    nothing."""
    if isinstance(data, mmap.mmap) and _DONTNEED is not None and not data.closed:
        data.madvise(_DONTNEED)


def _windows(piece: bytes | memoryview) -> list[bytes | memoryview]:
    """A long piece (a stretch of a sheet left as it was) a ``RELEASE_EVERY`` at a time."""
    return [piece[k:k + RELEASE_EVERY] for k in range(0, len(piece), RELEASE_EVERY)]


def _same_at(old: bytes | mmap.mmap, at: int, piece: bytes | memoryview) -> bool:
    """Does ``old`` hold ``piece`` at ``at`` (at most its length)? Compared without copying bytes ``old``."""
    if not len(piece):
        return at <= len(old)
    if isinstance(old, mmap.mmap):  # no startswith: compared a window at a time, as bytes
        end = at + len(piece)
        return all(old[at + k:min(at + k + _WINDOW, end)] == bytes(piece[k:k + _WINDOW])
                   for k in range(0, len(piece), _WINDOW))
    if isinstance(piece, bytes):
        return old.startswith(piece, at)
    return all(old.startswith(bytes(piece[k:k + _WINDOW]), at + k) for k in range(0, len(piece), _WINDOW))


def _write_entry(dst: zipfile.ZipFile, info: zipfile.ZipInfo, data: bytes | _Spooled) -> None:
    """A part the run wrote, compressed at ``WRITE_LEVEL``; a spooled one streamed from its file."""
    if isinstance(data, bytes):
        dst.writestr(info, data, compresslevel=WRITE_LEVEL)
        return
    # ZipInfo names its level compress_level from Python 3.13 on, _compresslevel before (writestr sets the same)
    setattr(info, "compress_level" if hasattr(zipfile.ZipInfo, "compress_level") else "_compresslevel", WRITE_LEVEL)
    info.file_size = data.size  # so that a part over 2 GiB gets its ZIP64 header
    data.spool.seek(0)
    with dst.open(info, "w") as out:
        shutil.copyfileobj(data.spool, out, _WINDOW)


# zlib's level for the parts a run writes: 3 compresses a 170 MB sheet in 0.8 s to 10 % more than the default 6 does
# in 2.2 s (level 1: 0.55 s, 27 % more).
WRITE_LEVEL = 3


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _close_zip(source: zipfile.ZipFile) -> None:
    fp = source.fp
    source.close()
    if fp is not None:
        fp.close()


def check_limits(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse, before unpacking anything, what would eat the machine's memory (a zip bomb, a giant sheet)."""
    name = path.name
    if len(infos) > MAX_PARTS:
        raise WorkbookError(f"{name} has {len(infos):,} parts (at most {MAX_PARTS:,} are accepted).", path=str(path))
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > MAX_PART_BYTES:
            raise WorkbookError(
                f"{name}: the part {info.filename} unpacks to {info.file_size / 2**20:,.0f} MiB (at most "
                f"{MAX_PART_BYTES // 2**20} MiB are accepted). Split the workbook into smaller ones.", path=str(path))
        if info.file_size > 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise WorkbookError(
                f"{name}: the part {info.filename} is compressed {info.file_size // max(info.compress_size, 1):,} "
                f"to 1 (at most {MAX_RATIO} to 1 is accepted): not a workbook a spreadsheet program wrote.",
                path=str(path))
    if total > MAX_TOTAL_BYTES:
        raise WorkbookError(f"{name} unpacks to {total / 2**20:,.0f} MiB (at most {MAX_TOTAL_BYTES // 2**20} MiB are "
                            "accepted).", path=str(path))


def legal_text(value: str) -> str:
    """Characters XML 1.0 forbids, written as Excel does (_xHHHH_)."""
    return _ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)


def xml_text(value: str) -> bytes:
    """Text content for XML, escaped."""
    return escape(legal_text(value)).encode("utf-8")


_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --- saving a file in place ---------------------------------------------------------------------------

def backup_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.backup{path.suffix}")


def save_atomically(write: Callable[[Path], object], target: Path, *, keep_backup: bool = True) -> Path:
    """Write a new file beside ``target`` and rename it over the target: the old or the new file, never half.

    A symlinked workbook is written through the link (the link stays a link); the file keeps its mode and group, so
    colleagues on a shared folder keep their access; the previous version is kept as ``<name>.backup.xlsx``, made
    anew (never written into, so a backup another OS user made does not stop the save). The new file is written
    under a ``~$`` name, as Office writes its own, which sync clients leave alone until it is renamed.
    """
    real = Path(os.path.realpath(target))
    folder = real.parent
    if not folder.is_dir():
        raise WorkbookError(f"Cannot save {target}: the folder {folder} does not exist.", path=str(target))
    before = real.stat() if real.exists() else None
    mode = stat.S_IMODE(before.st_mode) if before is not None else _default_mode()
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f"~${real.stem}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _save_error(target, exc) from None
    tmp = Path(tmp_name)
    try:
        os.close(fd)
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if before is not None and os.name != "nt":
            try:
                os.chown(tmp, -1, before.st_gid)  # allowed when this user is in the workbook's group
            except OSError:
                log.debug("could not give %s the group of %s", tmp, real)
        if keep_backup and before is not None:
            _keep_backup(real)
        os.replace(tmp, real)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _save_error(target, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _keep_backup(real: Path) -> None:
    """The current file becomes ``NAME.backup.xlsx``: a hard link (or a copy) under a new name, renamed over the old
    backup. A backup that cannot be made does not stop the save; it is said."""
    backup = backup_path(real)
    staged = real.with_name(f"~${real.stem}.{os.getpid()}.backup.tmp")
    try:
        staged.unlink(missing_ok=True)
        try:
            os.link(real, staged)
        except OSError:
            shutil.copy2(real, staged)
        os.replace(staged, backup)
    except OSError as exc:
        staged.unlink(missing_ok=True)
        log.warning("Saved %s without keeping the previous version as %s (%s).", real.name, backup.name,
                    exc.strerror or exc)


def _save_error(target: Path, exc: OSError) -> WorkbookError:
    return WorkbookError(f"Could not save {target}: {why_not_saved(exc, target)} The workbook is unchanged.",
                         path=str(target))


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def why_not_saved(exc: OSError, target: Path) -> str:
    """The real cause of a failed save in words, and what to do about it (one sentence each)."""
    real = Path(os.path.realpath(target))
    folder = real.parent
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"the disk is full ({reason}). Free space on the disk of {folder}, or save the result elsewhere "
                "with --output OTHER.xlsx.")
    if (folder / f"~${real.name}").exists():
        return f"it is open in Excel ({reason}). Close it in Excel, then run again."
    if exc.errno == errno.EROFS:
        return f"the disk is read-only ({reason}). Save the result elsewhere with --output OTHER.xlsx."
    if real.exists() and not os.access(real, os.W_OK):
        return f"the file is read-only ({reason}). Allow changes to it, or save elsewhere with --output OTHER.xlsx."
    if not os.access(folder, os.W_OK):
        return (f"the folder {folder} is read-only for you ({reason}). Save the result elsewhere with "
                "--output OTHER.xlsx.")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (f"the system refused ({reason}): another program (a sync client, a virus scanner, Excel on another "
                "computer) may hold the file, or the folder does not let you replace it. Try again, or save "
                "elsewhere with --output OTHER.xlsx.")
    return f"{reason}. Save the result elsewhere with --output OTHER.xlsx, or try again."
