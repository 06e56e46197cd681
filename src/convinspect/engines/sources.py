"""SOURCE for `convinspect model`: what it names, and the configuration it holds.

Files are told apart by their first bytes, not their names: a zip is a `.keras` archive, an
HDF5 signature is a legacy `.h5` file, anything else must be JSON from `model.to_json()`.
Reading a file only parses data (zipfile, json, h5py); nothing in it is imported or run.
Builders (`module:function`, `file.py:function`) and applications (`keras.applications.NAME`)
are code, and only the Keras engine runs them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from convinspect.core.model.source import Source, SourceKind
from convinspect.core.vocab.text import shown
from convinspect.errors import BackendError, InvalidInput

MAX_CONFIG_BYTES = 256 * 2**20  # like spec files: a configuration larger than this is refused
_ZIP = b"PK\x03\x04"
_HDF5 = b"\x89HDF\r\n\x1a\n"
_APPLICATION = re.compile(r"(?:tf\.)?keras\.applications\.([A-Za-z][A-Za-z0-9_]*)")
_BUILDER = re.compile(r"(?P<target>[^:]+):(?P<function>[A-Za-z_][A-Za-z0-9_]*)")


def resolve(text: str) -> Source:
    """What SOURCE names; files are read (data only), code is only located."""
    match = _APPLICATION.fullmatch(text.strip())
    if match:
        return Source(text, SourceKind.APPLICATION, target=match.group(1))
    path = Path(text)
    if not text:
        raise InvalidInput("SOURCE is empty; give a .keras, .h5 or .json file, module:function or "
                           "keras.applications.NAME")  # fmt: skip
    if not path.exists():
        builder = _BUILDER.fullmatch(text)
        if builder:
            target = builder.group("target")
            file = Path(target) if target.endswith(".py") else None
            if file is not None and not file.is_file():
                raise InvalidInput(f"no such file {shown(target)} for the builder {shown(text)}")
            return Source(text, SourceKind.BUILDER, path=file, target=target, function=builder.group("function"))
        raise InvalidInput(
            f"no such file {shown(text)}; SOURCE is a .keras, .h5 or .json file, module:function, "
            "file.py:function or keras.applications.NAME"
        )
    if path.is_dir():
        raise InvalidInput(f"{shown(text)} is a folder; give a .keras, .h5 or .json file")
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as error:
        raise InvalidInput(f"cannot read {shown(text)}: {error.strerror or error}") from None
    if head.startswith(_ZIP):
        return Source(text, SourceKind.ARCHIVE, path=path, config=_archive(path, text))
    if head.startswith(_HDF5):
        return Source(text, SourceKind.H5, path=path, config=_h5(path, text))
    suffix = path.suffix.lower()
    if suffix in _BINARY:  # named as a binary format it is not: say so, rather than that it is bad JSON
        raise InvalidInput(f"{shown(text)} is named {suffix} but is not {_BINARY[suffix]} (its first bytes are "
                           f"{shown(head[:8])})")  # fmt: skip
    return Source(text, SourceKind.JSON, path=path, config=_json(_read(path, text), text, "the file"))


_BINARY = {".keras": "a zip archive, as a .keras file is", ".h5": "an HDF5 file", ".hdf5": "an HDF5 file"}


def _read(path: Path, text: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise InvalidInput(f"cannot read {shown(text)}: {error.strerror or error}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise InvalidInput(f"{shown(text)} is over {MAX_CONFIG_BYTES // 2**20} MiB; not a model configuration")
    return data


_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def _json(data: bytes | str, text: str, where: str) -> dict[str, Any]:
    if not data.strip():
        raise InvalidInput(f"{shown(text)}: {where} is empty")
    try:
        if isinstance(data, bytes):
            data = data.decode("utf-8-sig")
        value = json.loads(data)
    except UnicodeDecodeError as error:
        if where == "the file":
            raise InvalidInput(f"{shown(text)}: {where} is neither a zip, an HDF5 file nor UTF-8 JSON") from None
        raise InvalidInput(f"{shown(text)}: {where} is not UTF-8 text (byte {error.start} is {data[error.start]:#04x})"
                           ) from None  # fmt: skip
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"{shown(text)}: {where} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    except RecursionError:
        raise InvalidInput(f"{shown(text)}: {where} is nested too deeply") from None
    except ValueError:  # an integer past Python's 4,300-digit conversion limit
        raise InvalidInput(f"{shown(text)}: {where} holds an integer with more digits than Python reads (4,300)"
                           ) from None  # fmt: skip
    if not isinstance(value, dict):
        raise InvalidInput(
            f"{shown(text)}: {where} holds a JSON {_JSON_TYPES.get(type(value), 'value')}, not a model configuration"
        )
    return value


def _archive(path: Path, text: str) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise InvalidInput(f"{shown(text)} is a zip but not a Keras archive: it holds no config.json")
            with archive.open("config.json") as member:
                data = member.read(MAX_CONFIG_BYTES + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError) as error:
        raise InvalidInput(f"{shown(text)} is not a readable zip archive ({shown(str(error), 120)})") from None
    except OSError as error:
        raise InvalidInput(f"cannot read {shown(text)}: {error.strerror or error}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise InvalidInput(f"{shown(text)}: config.json is over {MAX_CONFIG_BYTES // 2**20} MiB")
    return _json(data, text, "its config.json")


def _h5(path: Path, text: str) -> dict[str, Any]:
    try:
        import h5py  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - h5py comes with Keras
        raise BackendError("reading .h5 files needs h5py: pip install h5py") from None
    try:
        with h5py.File(path, "r") as handle:
            present = "model_config" in handle.attrs
            raw = handle.attrs.get("model_config") if present else None
    except OSError as error:
        raise InvalidInput(f"{shown(text)} is not a readable HDF5 file ({shown(str(error), 120)})") from None
    except (TypeError, ValueError, KeyError, RuntimeError) as error:  # an attribute h5py cannot read as a value
        raise InvalidInput(f"{shown(text)}: its model_config attribute cannot be read ({shown(str(error), 120)})"
                           ) from None  # fmt: skip
    if not present:
        raise InvalidInput(
            f"{shown(text)} is an HDF5 file without a model_config (weights only?); save it with model.save()"
        )
    if not isinstance(raw, (bytes, str)):  # Keras writes a string; never turn a number into bytes(number)
        kind = type(raw).__name__
        raise InvalidInput(f"{shown(text)}: its model_config attribute is a {shown(kind, 40)}, not JSON text")
    if len(raw) > MAX_CONFIG_BYTES:
        raise InvalidInput(f"{shown(text)}: its model_config is over {MAX_CONFIG_BYTES // 2**20} MiB")
    return _json(raw, text, "its model_config")


def input_files(source: str, imports: Iterable[str] = ()) -> list[str]:
    """Every file a model run reads (an --output or --snapshot must be none of them): the source, a
    builder's module file, and the files of --import modules (top-level names, found without importing)."""
    files = [source]
    builder = _BUILDER.fullmatch(source)
    names = list(imports)
    if builder is not None and not Path(source).exists():
        target = builder.group("target")
        if target.endswith(".py"):
            files.append(target)
        else:
            names.append(target)
    for name in names:
        if name.endswith(".py"):
            files.append(name)
        elif name.isidentifier():  # a dotted name's parents would be imported to look it up
            files += [f"{name}.py", os.path.join(name, "__init__.py")]  # the current folder is searched first
            with contextlib.suppress(ImportError, ValueError):
                found = importlib.util.find_spec(name)
                if found is not None and found.origin and os.path.isfile(found.origin):
                    files.append(found.origin)
    return files
