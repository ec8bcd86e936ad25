"""Device description files (YAML, schema 2): built-ins as files, round trips, affine codes, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from toolkit.device_profiles import (
    PROFILES_DIR,
    REAL_PROFILES,
    RealDeviceProfile,
    get_real_profile,
    load_profile_file,
    resolve_profile,
)
from toolkit.errors import ConfigError, InputFileError
from toolkit.frames import G_MS2

GOOD = {
    "schema": 2,
    "name": "coded-watch",
    "rate_hz": 32,
    "sign": "android",
    "axes": {"x": "-Y", "y": "+X", "z": "+Z"},
    "axes_source": "test",
    "acc": {"units": "counts", "scale": 0.306, "offset": -9.81, "range_g": 3},
    "gyro": None,
}


def write(tmp_path, data, name="dev.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return p


def test_every_builtin_profile_is_a_file_of_the_schema():
    files = sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))
    assert files == sorted(REAL_PROFILES)
    for name in files:
        assert load_profile_file(PROFILES_DIR / f"{name}.yaml") == get_real_profile(name)
        assert get_real_profile(name).axes_source, name  # every mapping states where it comes from


@pytest.mark.parametrize("name", sorted(REAL_PROFILES))
def test_file_round_trip(tmp_path, name):
    p = get_real_profile(name)
    assert RealDeviceProfile.from_dict(json.loads(json.dumps(p.to_file_dict()))) == p
    assert load_profile_file(p.save(tmp_path / f"{name}.yaml")) == p
    assert RealDeviceProfile.from_dict(p.to_dict()) == p  # the flat schema 1 still reads


def test_affine_codes_signed_permutation_and_acc_only(tmp_path):
    prof = resolve_profile(str(write(tmp_path, GOOD)))
    assert prof.name == "coded-watch" and not prof.has_gyro and prof.channels == ("acc",)
    # codes (a, b, c) -> SI in device axes 0.306*code - 9.81 -> watch: X = y_dev, Y = -x_dev, Z = z_dev
    codes = np.array([[32.0, 64.0, 10.0]])
    dev = 0.306 * codes - 9.81
    acc, gyro = prof.to_simulator(codes)
    np.testing.assert_allclose(acc, [[dev[0, 1], -dev[0, 0], dev[0, 2]]])
    assert gyro is None
    back, _ = prof.from_simulator(acc)
    np.testing.assert_allclose(back, codes)
    # a full matrix is accepted as well and gives the same profile
    m = dict(GOOD, matrix=prof.axes_matrix.tolist())
    del m["axes"]
    assert resolve_profile(write(tmp_path, m, "m.yml")).axes_to_watch == prof.axes_to_watch
    # per-axis scale, counts_per_g with an offset
    per_axis = dict(GOOD, acc={"units": "counts", "scale": [1.0, 2.0, 3.0], "offset": [0.0, 0.5, 0.0]})
    a, _ = resolve_profile(write(tmp_path, per_axis, "p.yaml")).to_simulator(np.array([[1.0, 1.0, 1.0]]))
    np.testing.assert_allclose(a, [[2.5, -1.0, 3.0]])
    cpg = dict(GOOD, acc={"units": "counts", "counts_per_g": 64, "offset": 0.1})
    a, _ = resolve_profile(write(tmp_path, cpg, "c.yaml")).to_simulator(np.array([[0.0, 0.0, 64.0]]))
    np.testing.assert_allclose(a, [[0.1, -0.1, G_MS2 + 0.1]])


@pytest.mark.parametrize(
    "change,message",
    [
        ({"colour": "red"}, "key 'colour': unknown key"),
        ({"acc": {"units": "g", "gain": 2}}, "key 'acc.gain': unknown key"),
        ({"axes": {"x": "+X", "y": "+X", "z": "+Z"}}, "key 'axes.y': not a rotation: watch axis X is already used"),
        ({"axes": {"x": "-X", "y": "+Y", "z": "+Z"}}, "key 'axes': left-handed mapping"),
        ({"axes": {"x": "+W", "y": "+Y", "z": "+Z"}}, "key 'axes.x': must be one of"),
        ({"axes": {"x": "+X", "y": "+Y"}}, "key 'axes.z': missing"),
        ({"matrix": [[1, 0, 0], [0, 2, 0], [0, 0, 1]]}, "key 'axes': give exactly one"),
        ({"acc": {"units": "mg"}}, "key 'acc.units': unknown units 'mg'"),
        ({"acc": {"units": "counts"}}, "key 'acc': units: counts needs exactly one of counts_per_g or scale"),
        ({"acc": {"units": "g", "scale": 2.0}}, "key 'acc.scale': only meaningful with units: counts"),
        ({"acc": {"units": "counts", "scale": float("nan")}}, "key 'acc.scale': must be one finite number"),
        ({"acc": {"units": "counts", "scale": [1, 2]}}, "key 'acc.scale': must be one finite number"),
        ({"gyro": {"units": "rpm"}}, "key 'gyro.units': unknown units 'rpm'"),
        ({"rate_hz": None}, "key 'rate_hz': missing"),
        ({"rate_hz": float("inf")}, "key 'rate_hz': must be a positive finite number"),
        ({"rate_hz": -3}, "key 'rate_hz': must be a positive finite number"),
        ({"sign": "up"}, "key 'sign': unknown sign 'up'"),
        ({"schema": 1}, "key 'schema': must be 2"),
        ({"wrist_worn": "yes"}, "key 'wrist_worn': must be true or false"),
    ],
)
def test_invalid_files_give_one_line_naming_file_and_key(tmp_path, change, message):
    data = {k: v for k, v in {**GOOD, **change}.items() if v is not None or k == "gyro"}
    if "matrix" in change:
        data["axes"] = GOOD["axes"]
    path = write(tmp_path, data)
    with pytest.raises(InputFileError) as info:
        resolve_profile(str(path))
    text = str(info.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


def test_bad_matrix_and_unreadable_files(tmp_path):
    m = {k: v for k, v in GOOD.items() if k != "axes"}
    m["matrix"] = [[1, 0, 0], [0, 2, 0], [0, 0, 1]]
    with pytest.raises(InputFileError, match=r"key 'matrix': not orthonormal"):
        load_profile_file(write(tmp_path, m))
    with pytest.raises(InputFileError, match="no such device description file"):
        resolve_profile(str(tmp_path / "missing.yaml"))
    with pytest.raises(InputFileError, match="not valid YAML at line"):
        load_profile_file(write(tmp_path, "schema: 2\nacc: {units: g\n", "bad.yaml"))
    with pytest.raises(InputFileError, match="expected a mapping"):
        load_profile_file(write(tmp_path, "- 1\n- 2\n", "list.yaml"))
    with pytest.raises(ConfigError, match="or a device description file ending in .yaml"):
        resolve_profile("fitbit")
