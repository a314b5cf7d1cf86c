"""The OFD container (GB/T 33190-2016 §7.2): a ZIP of XML and resource files.

Reading is bounded (size, number of entries, bytes inflated) and strict
about names, since a signed package's every file must be accounted for:
a name that escapes the package, repeats or uses backslashes is refused.
XML is parsed with defusedxml (no DTDs, no entities).
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeTree
from defusedxml.common import DefusedXmlException

from signing.errors import VerificationError

OFD_NS = "http://www.ofdspec.org/2016"
ENTRY_FILE = "/OFD.xml"  # SPEC: GB/T 33190-2016 §7.4 — the package's entry
MAX_PACKAGE_SIZE = 32 * 1024 * 1024
MAX_ENTRIES = 1000
MAX_INFLATED_SIZE = 64 * 1024 * 1024

Files = dict[str, bytes]  # absolute package path ("/Doc_0/Document.xml") -> bytes


def tag(name: str) -> str:
    """An element name in the OFD namespace, as ElementTree spells it."""
    return f"{{{OFD_NS}}}{name}"


def _malformed(message: str) -> VerificationError:
    return VerificationError("malformed", message)


def _entry_path(name: str) -> str:
    if not name or "\\" in name or name.startswith("/") or "\x00" in name:
        raise _malformed(f"package entry {name!r} has an unusable name")
    path = posixpath.normpath("/" + name)
    if path != "/" + name.rstrip("/") or ".." in path.split("/"):
        raise _malformed(f"package entry {name!r} is not a plain path inside the package")
    return path


def read_package(data: bytes) -> Files:
    """Every file of an OFD package by its absolute path; VerificationError when it is not a sound one."""
    if len(data) > MAX_PACKAGE_SIZE:
        raise VerificationError("too_large", f"OFD package is {len(data)} bytes, over the limit")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as error:
        raise _malformed(f"not an OFD package (ZIP): {error}") from None
    with archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        if len(entries) > MAX_ENTRIES:
            raise VerificationError("too_large", f"OFD package holds over {MAX_ENTRIES} files")
        if sum(info.file_size for info in entries) > MAX_INFLATED_SIZE:
            raise VerificationError("too_large", "OFD package inflates to over 64 MiB")
        files: Files = {}
        for info in entries:
            path = _entry_path(info.filename)
            if path in files:
                raise _malformed(f"package entry {path} appears twice")
            try:
                # The declared size bounds the read: a lying header stops at the bound, not at memory's end.
                with archive.open(info) as member:
                    content = member.read(info.file_size + 1)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as error:
                raise _malformed(f"package entry {path} does not inflate: {error}") from None
            if len(content) != info.file_size:
                raise _malformed(f"package entry {path} is not the size its header says")
            files[path] = content
    if ENTRY_FILE not in files:
        raise _malformed("OFD package has no OFD.xml")
    return files


def write_package(files: Files) -> bytes:
    """The ZIP container, OFD.xml first, the rest in path order, deflated."""
    out = io.BytesIO()
    order = sorted(files, key=lambda path: (path != ENTRY_FILE, path))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in order:
            info = zipfile.ZipInfo(path.lstrip("/"), date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[path])
    return out.getvalue()


def parse_xml(files: Files, path: str) -> Element:
    content = files.get(path)
    if content is None:
        raise _malformed(f"the package has no {path}")
    try:
        return SafeTree.fromstring(content, forbid_dtd=True)
    except (SafeTree.ParseError, DefusedXmlException, ValueError) as error:
        raise _malformed(f"{path} is not well-formed XML: {error}") from None


def resolve(location: str, *, base: str) -> str:
    """An ST_Loc as an absolute package path: absolute as written, or relative to
    the directory `base` (GB/T 33190-2016 §7.3.6 ST_Loc)."""
    text = (location or "").strip()
    if not text or "\\" in text:
        raise _malformed(f"unusable file location {location!r}")
    joined = text if text.startswith("/") else posixpath.join(base, text)
    path = posixpath.normpath(joined)
    if not path.startswith("/") or path.startswith("//"):
        raise _malformed(f"file location {location!r} leaves the package")
    return path


def text_of(element: Element, name: str) -> str:
    child = element.find(tag(name))
    if child is None or not (child.text or "").strip():
        raise _malformed(f"<{name}> is missing")
    return (child.text or "").strip()
