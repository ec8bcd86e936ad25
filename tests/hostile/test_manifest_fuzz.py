"""Hypothesis fuzz of manifest parsing: any JSON value, and any mutation of a real manifest, is either accepted as a
valid manifest or refused with an InputFileError; never another exception (issue 14)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from export import manifest as mf
from toolkit.errors import InputFileError

REAL = json.loads((Path(__file__).resolve().parents[2] / "toolkit/default_model/edge/watch/manifest.json").read_text())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _validate(data: Any) -> None:
    try:
        out = mf.validate_manifest(data)
    except InputFileError:
        return
    assert isinstance(out, dict)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_value_is_a_manifest_or_a_clear_error(data: Any) -> None:
    _validate(data)


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


PATHS = [p for p in _paths(REAL) if p]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), json_values)
def test_a_real_manifest_with_one_field_replaced_is_valid_or_a_clear_error(path: tuple, value: Any) -> None:
    data = copy.deepcopy(REAL)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    _validate(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_as_manifest_json_is_a_clear_error(tmp_path_factory, blob: bytes) -> None:
    folder = tmp_path_factory.mktemp("bundle")
    (folder / "manifest.json").write_bytes(blob)
    try:
        mf.read_manifest(folder)
    except InputFileError:
        return
