"""Where a quarantined payload came from, recorded so that a replay can rebuild it.

A record pulled through an adapter with a field mapping is quarantined as the *source
row* (the department's columns, before mapping), together with the adapter's class, its
configuration (secrets are references only, and the whole origin is stored encrypted),
its base folder and the stream. Replay rebuilds the adapter from that recorded
configuration and asks it for the stream's mapping, which re-reads the mapping file: an
engineer fixes the file the configuration names, and the replay maps the same source row
again. The recorded configuration, not the topology, is the reference, because pulls
also run without a topology (``tongyuan pull --config``) and the topology may have moved
on to other sources since the row was read.

Source rows are made JSON-safe with tagged values (``{"$type": "datetime", "value": …}``)
so that a database row's datetimes, decimals and bytes come back as the same Python
types, and a mapping's ``datetime:`` formats see what they saw the first time.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import uuid
from collections.abc import Mapping as AbcMapping
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from standards.formats.layout import PERSONAL_ID_FIELDS

log = logging.getLogger(__name__)

_TAG = "$type"
_COLUMN = re.compile(r"column ([^\s]+)")

# Row forms: what the stored payload is, and so how a replay turns it into a record.
FORM_STANDARD = "standard"  # the standard's own field names (exchange files, standard drops)
FORM_SOURCE = "source"  # a department row, mapped by the adapter's field mapping
FORM_ADAPTER = "adapter"  # an adapter that maps in code: replayed as if standard-shaped


class OriginError(ValueError):
    """The recorded origin cannot be rebuilt (adapter gone, configuration now invalid)."""


def json_safe(value: Any) -> Any:
    """A JSON-able copy of a source row; non-JSON scalars become tagged values."""
    if isinstance(value, AbcMapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return {_TAG: "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "value": value.isoformat()}
    if isinstance(value, time):
        return {_TAG: "time", "value": value.isoformat()}
    if isinstance(value, Decimal):
        return {_TAG: "decimal", "value": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {_TAG: "bytes", "value": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, uuid.UUID):
        return {_TAG: "uuid", "value": str(value)}
    return {_TAG: "text", "value": str(value)}


_DECODERS: dict[str, Any] = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "decimal": Decimal,
    "bytes": lambda text: base64.b64decode(text),
    "uuid": uuid.UUID,
    "text": str,
}


def restore(value: Any) -> Any:
    """The inverse of :func:`json_safe`."""
    if isinstance(value, dict):
        tag = value.get(_TAG)
        if isinstance(tag, str) and tag in _DECODERS and set(value) == {_TAG, "value"}:
            return _DECODERS[tag](value["value"])
        return {k: restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [restore(v) for v in value]
    return value


def stream_mapping(source: Any, stream: str) -> tuple[str, Any | None]:
    """The row form of a stream and the field mapping that reads it, if the hub can see one.

    The built-in adapters keep their compiled mappings in different places (drop folders
    behind ``mapping_for``, SQL in ``mappings``, HTTP on each stream); an adapter that maps
    in code has none, and its rows are replayed as standard-shaped.
    """
    streams = getattr(source, "_streams", None)
    if callable(getattr(source, "mapping_for", None)) and isinstance(streams, dict):
        spec = streams.get(stream)
        if spec is not None and getattr(spec, "mapping", None) is None:
            return FORM_STANDARD, None
        return FORM_SOURCE, source.mapping_for(stream)
    mappings = getattr(source, "mappings", None)
    if isinstance(mappings, dict) and stream in mappings:
        return FORM_SOURCE, mappings[stream]
    if isinstance(streams, dict) and hasattr(streams.get(stream), "mapping"):
        return FORM_SOURCE, streams[stream].mapping
    return FORM_ADAPTER, None


def personal_columns(mapping: Any) -> list[str]:
    """Source columns that feed a personal ID field: masked in the displayed payload.

    A department's ID column has its own name (``SQR_ZJHM``) and may hold a passport
    number that looks like no citizen ID, so only the mapping can say it is personal.
    """
    sources: dict[str, str] = getattr(mapping, "_sources", {}) or {}
    out: set[str] = set()
    for field_path, described in sources.items():
        if field_path.rsplit(".", 1)[-1] not in PERSONAL_ID_FIELDS:
            continue
        for column in _COLUMN.findall(described):
            out.add(column.rsplit(".", 1)[-1].lstrip("@"))
    return sorted(out)


def _file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def load_origin(path: Path) -> dict[str, Any]:
    """The origin of what one loaded file quarantines: the folder it was loaded from.

    Entries name their file relative to the load (``materials/manifest.xml``); a replay run
    from another directory would not find the material files the manifest names without
    the folder the delivery sat in.
    """
    return {"path": "load", "files_dir": str(path.parent.resolve())}


def pull_origin(
    source: Any, stream: str, source_name: str, *, files_dir: Path | None = None
) -> dict[str, Any]:
    """The origin of every record one pull quarantines (computed once per pull).

    ``files_dir`` is where the pull found material files. An adapter whose configuration
    cannot be captured still gets an origin naming source and stream (logged): replay
    then reads its rows as standard-shaped.
    """
    origin: dict[str, Any] = {"path": "pull", "source": source_name, "stream": stream}
    if files_dir is not None:
        origin["files_dir"] = str(files_dir)
    cls = type(source)
    try:
        form, mapping = stream_mapping(source, stream)
        origin.update(
            adapter=f"{cls.__module__}:{cls.__qualname__}",
            form=form,
            base_dir=str(getattr(source, "base_dir", "") or ""),
            config=source.config.model_dump(mode="json", by_alias=True),
        )
    except Exception as exc:  # an adapter's own code: never let it fail the pull
        log.warning("%s/%s: origin for replay not recorded: %s", source_name, stream, exc)
        origin["form"] = FORM_ADAPTER
        return origin
    if mapping is not None:
        mapping_file = str(getattr(mapping, "source", "") or "")
        path = Path(mapping_file)
        on_disk = bool(mapping_file) and path.is_file()
        origin["mapping"] = {
            "file": mapping_file if on_disk else None,
            "inline": not on_disk,
            "sha256": _file_sha256(path) if on_disk else None,
        }
        origin["personal_columns"] = personal_columns(mapping)
    return origin


def rebuild_source(origin: dict[str, Any]) -> Any:
    """The adapter as it is configured *now* from the recorded configuration."""
    from adapters.sdk import AdapterError
    from adapters.sdk.registry import load_adapter

    ref = origin.get("adapter")
    if not isinstance(ref, str):
        raise OriginError("the entry records no adapter")
    try:
        cls = load_adapter(ref)
        base = origin.get("base_dir") or None
        return cls.configured(
            origin.get("config") or {},
            source=f"recorded config of {ref}",
            base_dir=Path(base) if base else None,
        )
    except AdapterError as exc:
        raise OriginError(f"cannot rebuild adapter {ref}: {exc}") from None
