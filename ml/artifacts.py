"""Model artifacts and their promotion, in the lake (a local directory or S3, through :class:`LakeStorage`).

Layout (``LakeLayout.model_artifact``)::

    artifacts/models/<name>/<version>/model.txt       LightGBM text model (bytes as the caller gives them)
    artifacts/models/<name>/<version>/metadata.json   features, windows, metrics, data fingerprint, code version, …
    artifacts/models/<name>/current.json              {"version", "promoted_at", "metric", "value", …}

Invariants:

- **A version is immutable.** :func:`save_model` refuses a version that has any object already
  (:class:`VersionExistsError`). It writes ``model.txt`` first and ``metadata.json`` last, so ``metadata.json``
  marks a complete version; :func:`load_model` refuses a version without it and checks the model's SHA-256.
  The existence check and the writes are not one atomic step: two writers racing on the *same* version could both
  pass it — versions are meant to be unique per training run (e.g. ``<UTC timestamp>-<run id>``).
- **Promotion compares like with like.** :func:`promote` moves ``current.json`` to a candidate only when there is
  no current version, or the candidate is strictly better than the current version *re-evaluated by the caller on
  the same (latest) validation window*. A value computed on another window — such as the one stored in
  ``current.json`` when the current model was promoted — is never compared; without the current model's value on
  the same window the candidate is not promoted. Writing ``current.json`` is the only mutation of a promotion
  (one atomic put; concurrent promotions: the last writer wins).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.storage import LakeStorage
from ml.metrics import json_safe

MODEL_FILE = "model.txt"
METADATA_FILE = "metadata.json"
CURRENT_FILE = "current.json"
#: the distribution whose version stands in for the code version outside a git checkout
DISTRIBUTION = "customer-lakehouse"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class VersionExistsError(FileExistsError):
    """The model version already has objects in the lake; versions are never overwritten."""


class ArtifactNotFoundError(FileNotFoundError):
    """The model version (or its metadata.json, written last) does not exist."""


class ArtifactIntegrityError(ValueError):
    """The stored model's SHA-256 differs from the one recorded in its metadata."""


@dataclass(frozen=True)
class Promotion:
    """The outcome of :func:`promote`: whether ``version`` became current, and why.

    ``previous_version`` is the version that was current before the call (None if none);
    ``previous_value`` is the value the caller measured for it on the same window (None if not given).
    """

    name: str
    version: str
    promoted: bool
    reason: str
    metric: str
    value: float
    previous_version: str | None
    previous_value: float | None


# --- keys ---------------------------------------------------------------------------------------------------------


def _check_name(kind: str, value: str) -> None:
    if not isinstance(value, str) or not _SAFE_NAME.fullmatch(value) or value == CURRENT_FILE:
        raise ValueError(f"model {kind} {value!r} must be 1-128 characters of letters, digits, '.', '_', '-', "
                         f"starting with a letter or digit (and not {CURRENT_FILE!r})")


def version_folder(name: str, version: str) -> str:
    """``artifacts/models/<name>/<version>``, relative to the lake root; raises ``ValueError`` for unsafe names."""
    _check_name("name", name)
    _check_name("version", version)
    return LakeLayout.model_artifact(name, version)


def current_key(name: str) -> str:
    """``artifacts/models/<name>/current.json``, relative to the lake root."""
    _check_name("name", name)
    return LakeLayout.model_artifact(name, CURRENT_FILE)


# --- provenance -------------------------------------------------------------------------------------------------


def code_version(path: Path | None = None) -> str:
    """The code's version: ``git:<git describe --always --dirty --tags>`` of the checkout holding ``path``
    (default: this package), else ``customer-lakehouse==<installed version>``, else ``"unknown"``.

    Never raises: outside a git checkout, or without git, it falls back to the package version.
    """
    folder = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        result = subprocess.run(["git", "-C", str(folder), "describe", "--always", "--dirty", "--tags"],
                                capture_output=True, text=True, timeout=10, check=True)
        described = result.stdout.strip()
        if described:
            return f"git:{described}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"{DISTRIBUTION}=={package_version(DISTRIBUTION)}"
    except PackageNotFoundError:
        return "unknown"


def canonical_json(obj: Any) -> str:
    """``obj`` as canonical JSON: keys sorted, no whitespace, UTF-8 text (numpy, dates etc. via ``json_safe``)."""
    return json.dumps(json_safe(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def data_fingerprint(parts: dict[str, object]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``parts`` (e.g. dataset, cutoff, row counts, file sizes).

    Key order does not matter; any change of a value changes the fingerprint. NaN counts as null.
    Raises ``TypeError`` for values JSON cannot hold.
    """
    return hashlib.sha256(canonical_json(parts).encode("utf-8")).hexdigest()


# --- save / load ------------------------------------------------------------------------------------------------


def save_model(storage: LakeStorage, name: str, version: str, model_bytes: bytes, metadata: dict[str, Any], *,
               created_at: datetime | None = None) -> str:
    """Store a new model version: ``model.txt`` then ``metadata.json``; returns the version folder's URI.

    Parameters
    ----------
    storage : the lake
    name : model name, e.g. ``"churn"``; version : e.g. ``"20250301T120000Z-ab12cd"`` (letters, digits, ``._-``)
    model_bytes : the LightGBM text model (``Booster.model_to_string().encode()``)
    metadata : JSON-able facts: features, windows, metrics, validation metrics on the latest validation window,
        data fingerprint, … (NaN becomes null). ``name``, ``version``, ``model_sha256`` and ``model_bytes`` are
        set here; ``created_at`` (ISO, UTC) and ``code_version`` are added when missing.
    created_at : defaults to now (UTC)

    Raises
    ------
    VersionExistsError
        when any object already exists under the version's folder.
    ValueError
        for an unsafe name/version, or metadata naming another model/version.
    """
    folder = version_folder(name, version)
    for key, expected in (("name", name), ("version", version)):
        if key in metadata and metadata[key] != expected:
            raise ValueError(f"metadata[{key!r}] is {metadata[key]!r}, but the model is saved as {expected!r}")
    if next(storage.list(folder), None) is not None:
        raise VersionExistsError(f"model {name!r} version {version!r} already exists at "
                                 f"{storage.layout.uri(folder)}: versions are immutable, save under a new version")
    meta = json_safe(dict(metadata))
    meta.update(name=name, version=version, model_sha256=hashlib.sha256(model_bytes).hexdigest(),
                model_bytes=len(model_bytes))
    meta.setdefault("created_at", (created_at or datetime.now(UTC)).isoformat())
    meta.setdefault("code_version", code_version())
    storage.put_bytes(f"{folder}/{MODEL_FILE}", model_bytes, content_type="text/plain")
    storage.put_bytes(f"{folder}/{METADATA_FILE}", json.dumps(meta, indent=2, allow_nan=False).encode(),
                      content_type="application/json")
    return storage.layout.uri(folder)


def _read_json(storage: LakeStorage, key: str) -> dict[str, Any] | None:
    if not storage.exists(key):
        return None
    return json.loads(storage.get_bytes(key))


def load_model(storage: LakeStorage, name: str, version: str) -> tuple[bytes, dict[str, Any]]:
    """``(model bytes, metadata)`` of a stored version.

    Raises
    ------
    ArtifactNotFoundError
        when the version has no ``metadata.json`` (missing, or its save did not finish).
    ArtifactIntegrityError
        when ``model.txt`` does not match the SHA-256 in the metadata.
    """
    folder = version_folder(name, version)
    metadata = _read_json(storage, f"{folder}/{METADATA_FILE}")
    if metadata is None:
        raise ArtifactNotFoundError(f"model {name!r} version {version!r} not found (no {METADATA_FILE} at "
                                    f"{storage.layout.uri(folder)})")
    model_bytes = storage.get_bytes(f"{folder}/{MODEL_FILE}")
    expected = metadata.get("model_sha256")
    if expected and hashlib.sha256(model_bytes).hexdigest() != expected:
        raise ArtifactIntegrityError(f"model {name!r} version {version!r}: {MODEL_FILE} does not match the SHA-256 "
                                     f"recorded in {METADATA_FILE}; save the model again under a new version")
    return model_bytes, metadata


def list_versions(storage: LakeStorage, name: str) -> list[str]:
    """The complete versions (with ``metadata.json``) of model ``name``, sorted by name."""
    _check_name("name", name)
    folder = LakeLayout.model_artifact(name, "").rstrip("/")
    versions = set()
    for obj in storage.list(folder):
        parts = obj.key[len(folder) + 1:].split("/")
        if len(parts) == 2 and parts[1] == METADATA_FILE:
            versions.add(parts[0])
    return sorted(versions)


# --- promotion --------------------------------------------------------------------------------------------------


def current_pointer(storage: LakeStorage, name: str) -> dict[str, Any] | None:
    """The content of ``current.json`` (``version``, ``promoted_at``, ``metric``, ``value``, …), or None."""
    return _read_json(storage, current_key(name))


def current_version(storage: LakeStorage, name: str) -> str | None:
    """The promoted version of model ``name``, or None when none was promoted yet."""
    pointer = current_pointer(storage, name)
    return None if pointer is None else pointer["version"]


def promote(storage: LakeStorage, name: str, version: str, metric_name: str, value: float, *,
            higher_is_better: bool = True, current_value_on_same_window: float | None = None,
            promoted_at: datetime | None = None) -> Promotion:
    """Make ``version`` current if there is no current version or it is strictly better than the current one.

    Parameters
    ----------
    metric_name, value : the candidate's metric on the latest validation window (e.g. ``"roc_auc"``, 0.81)
    higher_is_better : False for losses (Brier, MAE)
    current_value_on_same_window : the *current* version's value of the same metric, re-evaluated by the caller
        on the same window. Required to replace a current version: a stored value from another window is never
        compared, so without it the candidate is not promoted.
    promoted_at : defaults to now (UTC)

    Returns
    -------
    :class:`Promotion` — promoted or not, and why. Only a promotion writes (``current.json``, nothing else).

    Raises
    ------
    ArtifactNotFoundError
        when the candidate version is not stored (complete) in the lake.
    ValueError
        for a NaN/infinite value.
    """
    folder = version_folder(name, version)
    if not storage.exists(f"{folder}/{METADATA_FILE}"):
        raise ArtifactNotFoundError(f"cannot promote model {name!r} version {version!r}: not saved at "
                                    f"{storage.layout.uri(folder)}")
    for label, v in (("value", value), ("current_value_on_same_window", current_value_on_same_window)):
        if v is not None and not math.isfinite(v):
            raise ValueError(f"{label} must be a finite number, got {v!r}")
    value = float(value)
    previous = current_version(storage, name)
    current = None if current_value_on_same_window is None else float(current_value_on_same_window)

    def outcome(promoted: bool, reason: str) -> Promotion:
        return Promotion(name, version, promoted, reason, metric_name, value, previous, current)

    if previous == version:
        return outcome(False, f"version {version!r} is already current")
    if previous is not None:
        if current is None:
            return outcome(False, f"the current version {previous!r} was not re-evaluated on the same window; a "
                                  "value from another window is never compared")
        better = value > current if higher_is_better else value < current
        if not better:
            relation = "equals" if value == current else "is worse than"
            return outcome(False, f"{metric_name} {value:.6g} {relation} the current version {previous!r} "
                                  f"({current:.6g}) on the same window")
    pointer = {
        "version": version,
        "promoted_at": (promoted_at or datetime.now(UTC)).isoformat(),
        "metric": metric_name,
        "value": value,
        "higher_is_better": higher_is_better,
        "previous_version": previous,
        "previous_value_on_same_window": current,
    }
    storage.put_bytes(current_key(name), json.dumps(pointer, indent=2).encode(), content_type="application/json")
    if previous is None:
        return outcome(True, "no current version")
    return outcome(True, f"{metric_name} {value:.6g} beats the current version {previous!r} ({current:.6g}) on the "
                         "same window")
