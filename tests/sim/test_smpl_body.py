"""SMPL-family model files without chumpy, and the smplx-backed body (on generated, real-shaped models)."""

from __future__ import annotations

import hashlib
import pickle
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tests.sim.smpl_fixture import (
    HEIGHT_PER_BETA0,
    fake_chumpy,
    make_model_arrays,
    write_malicious_pkl,
    write_model_npz,
    write_official_pkl,
)
from toolkit.errors import ConfigError, InputFileError
from toolkit.frames import G_MS2, GRAVITY_WORLD
from toolkit.sim.body import BuiltinBody
from toolkit.sim.imu import simulate_imu
from toolkit.sim.motion import Motion, still_motion
from toolkit.sim.skeleton import NUM_JOINTS, SEGMENT_INDEX
from toolkit.sim.smpl_body import SMPLBody
from toolkit.sim.smpl_files import (
    REQUIRED_KEYS,
    _load_pkl,
    convert_pkl_to_npz,
    load_model_file,
    validate_model_arrays,
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("smpl_models")
    write_model_npz(d / "SMPL_NEUTRAL.npz", "smpl")
    return d


@pytest.fixture(scope="module")
def body(model_dir) -> SMPLBody:
    return SMPLBody(model_dir / "SMPL_NEUTRAL.npz")


def _motion(quat: np.ndarray, root: np.ndarray, rate_hz: float = 60.0) -> Motion:
    return Motion(rate_hz=rate_hz, root_pos=root, local_quat=quat)


# ----------------------------------------------------------------------------------------------
# Model files


def test_official_pkl_loads_without_chumpy_and_equals_npz(model_dir, tmp_path):
    pkl = write_official_pkl(tmp_path / "basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl")
    assert "chumpy" not in sys.modules and "chumpy.ch" not in sys.modules
    got = load_model_file(pkl)
    ref = load_model_file(model_dir / "SMPL_NEUTRAL.npz")
    for key in REQUIRED_KEYS:
        assert got[key].shape == ref[key].shape, key
        np.testing.assert_allclose(got[key], ref[key], rtol=0, atol=1e-6, err_msg=key)
    assert str(got["bs_style"]) == "lbs"
    assert got["J"].shape == (NUM_JOINTS, 3)
    assert "extra_expression" not in got  # a chumpy expression (no 'x') is dropped, not evaluated
    assert "chumpy" not in sys.modules

    npz = convert_pkl_to_npz(pkl, tmp_path / "converted.npz")
    with np.load(npz, allow_pickle=False) as z:
        assert set(REQUIRED_KEYS) <= set(z.files)
    body_from_pkl = SMPLBody(tmp_path, gender="neutral", model_type="smpl")  # finds the official name
    assert body_from_pkl.model_file == pkl
    np.testing.assert_allclose(body_from_pkl.rest_joints, SMPLBody(npz).rest_joints, atol=1e-6)


def test_python2_style_protocol0_pickle_of_chumpy(tmp_path):
    with fake_chumpy() as ch:
        data = pickle.dumps({"v": ch.Ch(np.arange(6.0).reshape(2, 3)), "s": "lbs"}, protocol=0)
    p = tmp_path / "tiny.pkl"
    p.write_bytes(data)
    out = _load_pkl(p)  # copyreg._reconstructor + BUILD, the pre-protocol-2 path
    np.testing.assert_array_equal(out["v"], np.arange(6.0).reshape(2, 3))


def test_forbidden_pickle_content_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    pkl = write_malicious_pkl(tmp_path / "evil.pkl", marker)
    with pytest.raises(InputFileError, match=r"refused to unpickle (posix|nt|os)\.system"):
        load_model_file(pkl)
    assert not marker.exists()
    evil2 = tmp_path / "evil2.pkl"
    evil2.write_bytes(b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(InputFileError, match=r"refused to unpickle builtins\.eval"):
        load_model_file(evil2)
    # a pickle disguised as an .npz is refused by np.load(allow_pickle=False)
    disguised = tmp_path / "evil.npz"
    disguised.write_bytes(pkl.read_bytes())
    with pytest.raises(InputFileError, match="pickled data is refused"):
        load_model_file(disguised)


def test_required_array_needing_pickle_is_refused(tmp_path):
    arrays = make_model_arrays("smpl")
    arrays["f"] = np.array([{"not": "faces"}], dtype=object)
    p = tmp_path / "obj.npz"
    np.savez(p, **arrays)
    with pytest.raises(InputFileError, match="'f' is stored as a pickled object array"):
        load_model_file(p)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("weights"), "missing 'weights'"),
        (lambda a: a.__setitem__("weights", a["weights"][:, :23]), r"'weights' must be \(6890, 24\)"),
        (lambda a: a.__setitem__("posedirs", a["posedirs"][:, :, :10]), r"'posedirs' must be \(6890, 3, 207\)"),
        (lambda a: a.__setitem__("J_regressor", a["J_regressor"][:20]), "has 20 joints"),
        (lambda a: a.__setitem__("f", a["f"].astype(np.int64) + 10), "'f' indexes vertices outside"),
        (lambda a: a["v_template"].__setitem__((0, 0), np.nan), "'v_template' contains NaN"),
    ],
)
def test_bad_model_arrays(change, message):
    arrays = make_model_arrays("smpl")
    change(arrays)
    with pytest.raises(InputFileError, match=message):
        validate_model_arrays(arrays, "model.npz")


# ----------------------------------------------------------------------------------------------
# The body


def test_rest_pose_matches_builtin_and_stands_on_floor(body):
    builtin = BuiltinBody()
    assert body.model_type == "smpl"
    assert body.rest_joints.shape == (NUM_JOINTS, 3)
    np.testing.assert_allclose(body.rest_joints, builtin.rest_joints, atol=5e-3)
    assert body.vertices[:, 1].min() == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(body.rest_joints[0, [0, 2]], 0.0, atol=1e-9)
    assert body.height_m == pytest.approx(1.70, abs=0.01)
    assert body.pelvis_height_m == pytest.approx(builtin.pelvis_height_m, abs=5e-3)
    assert body.faces.shape == (13776, 3) and body.vertices.shape == (6890, 3)
    np.testing.assert_allclose(np.linalg.norm(body.normals, axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(body.skin_weights.sum(axis=1), 1.0, atol=1e-6)
    d = body.describe()
    assert d["kind"] == "smpl" and d["model_type"] == "smpl" and d["gender"] == "neutral" and d["betas"] == []
    assert d["model_sha256"] == hashlib.sha256(body.model_file.read_bytes()).hexdigest()


def test_betas_change_height(model_dir, body):
    taller = SMPLBody(model_dir / "SMPL_NEUTRAL.npz", betas=[1.0])
    shorter = SMPLBody(model_dir / "SMPL_NEUTRAL.npz", betas=[-1.0, 0.0, 0.0])
    assert taller.height_m == pytest.approx(body.height_m * (1 + HEIGHT_PER_BETA0), rel=1e-4)
    assert shorter.height_m == pytest.approx(body.height_m * (1 - HEIGHT_PER_BETA0), rel=1e-4)
    assert taller.pelvis_height_m > body.pelvis_height_m > shorter.pelvis_height_m
    assert taller.describe()["betas"] == [1.0]
    with pytest.raises(ConfigError, match="11 betas given"):
        SMPLBody(model_dir / "SMPL_NEUTRAL.npz", betas=np.ones(11))


def test_named_watch_frames_in_rest_pose(body):
    for name in ("left_wrist", "right_wrist"):
        pl = body.named_placement(name)
        x, z = pl.rot_js[:, 0], pl.rot_js[:, 2]
        assert z @ np.array([0.0, 1.0, 0.0]) > 0.99, name  # dorsal face up
        assert x @ np.array([1.0, 0.0, 0.0]) > 0.99, name
        np.testing.assert_allclose(pl.rot_js.T @ pl.rot_js, np.eye(3), atol=1e-9)
        pos = body.rest_joints[pl.joint] + pl.offset
        assert np.min(np.linalg.norm(body.vertices - pos, axis=1)) < 1e-12  # on a mesh vertex
        start, end = body.segment_ends(pl.joint)
        along = (pos - start) @ (end - start) / np.linalg.norm(end - start) ** 2
        assert along == pytest.approx(0.88, abs=0.05)
        assert pos[1] > body.rest_joints[pl.joint, 1]  # on top of the forearm
    for name in ("head", "chest", "waist", "left_thigh", "right_upper_arm"):
        pl = body.named_placement(name)
        start, end = body.segment_ends(pl.joint)
        axis = (end - start) / np.linalg.norm(end - start)
        radial = pl.offset - (pl.offset @ axis) * axis  # from the segment axis to the sensor
        assert pl.rot_js[:, 2] @ (radial / np.linalg.norm(radial)) > 0.8, name  # +Z points outward


def test_sampled_placements_lie_on_vertices(body):
    rng = np.random.default_rng(3)
    pls = body.sample_placements(300, rng, jitter_deg=0.0)
    assert len(pls) == 300
    for pl in pls:
        pos = body.rest_joints[pl.joint] + pl.offset
        dist = np.linalg.norm(body.vertices - pos, axis=1)
        vid = int(np.argmin(dist))
        assert dist[vid] < 1e-12
        np.testing.assert_allclose(pl.rot_js[:, 2], body.normals[vid], atol=1e-12)
        np.testing.assert_allclose(pl.rot_js.T @ pl.rot_js, np.eye(3), atol=1e-9)
        assert np.linalg.det(pl.rot_js) == pytest.approx(1.0)
        assert body.vertex_segments[vid] == pl.joint
    assert not any(pl.name.startswith(("left_fingers", "right_toes")) for pl in pls)
    forearm = body.sample_placements(20, rng, segments=["left_forearm"], jitter_deg=10.0)
    assert {pl.joint for pl in forearm} == {SEGMENT_INDEX["left_forearm"]}
    with pytest.raises(ConfigError, match="unknown segment"):
        body.sample_placements(2, rng, segments=["tail"])


def test_still_tpose_reads_gravity_on_left_watch(body):
    sig = simulate_imu(still_motion(60), body, [body.named_placement("left_wrist")])
    acc = sig.acc[:, 0]
    np.testing.assert_allclose(np.linalg.norm(acc, axis=1), G_MS2, atol=1e-9)
    assert np.all(acc[:, 2] > 0.99 * G_MS2)
    np.testing.assert_allclose(sig.gyro, 0.0, atol=1e-12)


def test_taller_body_has_larger_centripetal_acceleration(model_dir, body):
    rate, omega, t = 60.0, 2.0, 120
    quat = np.zeros((t, NUM_JOINTS, 4))
    quat[..., 3] = 1.0
    quat[:, 0] = Rotation.from_rotvec(np.outer(np.arange(t) / rate * omega, [0.0, 1.0, 0.0])).as_quat()
    motion = _motion(quat, np.zeros((t, 3)), rate)
    taller = SMPLBody(model_dir / "SMPL_NEUTRAL.npz", betas=[2.0])

    def horizontal(b: SMPLBody) -> float:
        pl = b.named_placement("left_wrist")
        sig = simulate_imu(motion, b, [pl])
        radius = np.linalg.norm((b.rest_joints[pl.joint] + pl.offset)[[0, 2]])
        rot = Rotation.from_quat(sig.quat[10:-10, 0])
        acc_world = rot.apply(sig.acc[10:-10, 0]) + GRAVITY_WORLD  # a = R f + g
        horiz = np.linalg.norm(acc_world[:, [0, 2]], axis=1)
        assert np.mean(horiz) == pytest.approx(omega**2 * radius, rel=0.02)
        np.testing.assert_allclose(acc_world[:, 1], 0.0, atol=1e-6)
        return float(np.mean(horiz))

    assert horizontal(taller) > 1.05 * horizontal(body)


def test_skinned_vertices_of_rigid_motion(body):
    t = 30
    rng = np.random.default_rng(0)
    quat = np.zeros((t, NUM_JOINTS, 4))
    quat[..., 3] = 1.0
    root_rot = Rotation.from_rotvec(np.outer(np.linspace(0, 1.5, t), [0.3, 1.0, -0.2]))
    quat[:, 0] = root_rot.as_quat()
    root = np.cumsum(rng.normal(0, 0.01, (t, 3)), axis=0) + [0.0, 0.9, 0.0]
    motion = _motion(quat, root)
    ids = rng.choice(len(body.vertices), 50, replace=False)
    got = body.skinned_vertices(motion, ids)
    rel = body.vertices[ids] - body.rest_joints[0]
    want = np.einsum("tab,kb->tka", root_rot.as_matrix(), rel) + root[:, None]
    assert got.shape == (t, 50, 3)
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_mesh_sequence_matches_skinning(body):
    t = 8
    rng = np.random.default_rng(1)
    quat = Rotation.from_rotvec(rng.normal(0, 0.4, (t * NUM_JOINTS, 3))).as_quat().reshape(t, NUM_JOINTS, 4)
    root = rng.normal(0, 0.3, (t, 3)) + [0.0, 1.0, 0.0]
    motion = _motion(quat, root)
    meshes = body.mesh_sequence(motion, batch_size=3)
    assert meshes.shape == (t, 6890, 3) and meshes.dtype == np.float32
    ids = rng.choice(6890, 200, replace=False)
    # the generated model has zero pose blend shapes, so smplx equals plain skinning
    np.testing.assert_allclose(meshes[:, ids], body.skinned_vertices(motion, ids), atol=2e-5)
    np.testing.assert_allclose(body.mesh_sequence(motion, frames=[5, 2]), meshes[[5, 2]], atol=1e-6)


@pytest.mark.parametrize("kind", ["smplh", "smplx"])
def test_smplh_and_smplx_bodies(tmp_path, kind):
    path = write_model_npz(tmp_path / kind / f"{kind.upper()}_FEMALE.npz", kind)
    b = SMPLBody(tmp_path, gender="female", model_type=kind)
    assert b.model_type == kind and b.describe()["gender"] == "female"
    builtin = BuiltinBody()
    # hand joints 22 / 23 = middle-finger bases, which the generated model puts at the built-in hand joints
    np.testing.assert_allclose(b.rest_joints, builtin.rest_joints, atol=5e-3)
    np.testing.assert_allclose(b.skin_weights.sum(axis=1), 1.0, atol=1e-6)
    fingers = b.vertex_segments == 22
    assert fingers.sum() > 20 and np.all(b.vertices[fingers, 0] > b.rest_joints[22, 0] - 3e-3)
    pl = b.named_placement("left_wrist")
    assert pl.rot_js[:, 2] @ [0.0, 1.0, 0.0] > 0.99
    quat = np.zeros((3, NUM_JOINTS, 4))
    quat[..., 3] = 1.0
    quat[:, 18] = Rotation.from_rotvec([0.0, 0.0, 0.5]).as_quat()  # bend the left elbow
    motion = _motion(quat, np.tile(b.rest_joints[0], (3, 1)))
    meshes = b.mesh_sequence(motion, batch_size=2)
    np.testing.assert_allclose(meshes[0], b.skinned_vertices(motion, np.arange(len(b.vertices)))[0], atol=2e-5)
    with pytest.raises(InputFileError, match=f"holds an {kind} model"):
        SMPLBody(path, model_type="smpl")
    # all of AMASS's 16 SMPL-H betas reach smplx (it would keep only 10 of a 16-component file)
    n_betas = 16 if kind == "smplh" else 10
    taller = SMPLBody(path, betas=np.r_[1.0, np.zeros(n_betas - 1)])
    assert taller.height_m == pytest.approx(b.height_m * (1 + HEIGHT_PER_BETA0), rel=1e-4)
    assert taller._betas_t.shape == (1, n_betas)
    with pytest.raises(ConfigError, match=f"{n_betas + 1} betas given"):
        SMPLBody(path, betas=np.zeros(n_betas + 1))


def test_model_folder_lookup_errors(model_dir):
    with pytest.raises(InputFileError, match="no smpl female model file"):
        SMPLBody(model_dir, gender="female", model_type="smpl")
    with pytest.raises(ConfigError, match="gender must be one of"):
        SMPLBody(model_dir, gender="other")
    with pytest.raises(InputFileError, match="unsupported model file type"):
        load_model_file(__file__)
