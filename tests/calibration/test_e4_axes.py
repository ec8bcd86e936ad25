"""The Empatica E4 axis mapping, pinned with a physical argument (issue 13 item 1).

Sources (also in ``toolkit/profiles/empatica-e4.yaml``):

* Empatica, "Data Streaming Packets" (developer.empatica.com/windows-streaming-server-data.html): x toward the USB
  slot, y toward the shorter strap, **z toward the bottom of the device** (the skin side when worn).
* OpenPack (openpack-toolkit docs/openpack-dataset/data-collection/environment.md, assets/imu_coordinate.png): the
  E4's **y lies along the forearm, toward the fingertips** on the right wrist (e4-01); the photo shows the E4 case on
  the palm side of the wrist. On OpenPack's U0209/S0500 sample the right-wrist E4 y is anti-parallel to the ATR
  atr01 y (gravity correlation -0.97), and atr01 y points up whenever the hanging upper arm (atr03 y, doc: distal)
  and the forearm are both vertical: the E4's y points to the fingertips there. The issue's measured matrix
  [[0,-1,0],[1,0,0],[0,0,1]] is exactly this mapping for an E4 worn palmar (Rx(180) @ A).

The device frame below is built from those anatomical statements and the watch conventions of
:mod:`toolkit.frames` (left wrist: +X to the hand, right wrist: +X to the elbow, +Z out of the face = dorsal),
never from the profile's matrix; worn like a watch (the same way round relative to its face on either wrist) the
E4's y is minus the watch's X on both wrists.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from toolkit.device_profiles import get_real_profile
from toolkit.frames import G_MS2, WATCH_ROT_TPOSE
from toolkit.mount import Mount

E4 = get_real_profile("empatica-e4")
UP = np.array([0.0, 1.0, 0.0])


def hanging_watch(wrist: str) -> np.ndarray:
    """(3, 3) watch-to-world rotation of a dorsal watch with the arm hanging at the side (palm toward the thigh).

    From the T-pose (``WATCH_ROT_TPOSE``, left hand toward +x) the arm is lowered by a rotation about the forward
    axis +z: -90 deg takes the left hand (+x) down, +90 deg takes the right hand (-x) down."""
    angle = -90.0 if wrist == "left" else 90.0
    return Rotation.from_euler("z", angle, degrees=True).as_matrix() @ WATCH_ROT_TPOSE


def e4_frame(watch_to_world: np.ndarray, wrist: str) -> np.ndarray:
    """(3, 3) E4-to-world rotation from anatomy only: y along the forearm opposite to the watch's +X (to the
    fingertips on the right wrist, to the elbow on the left), z into the skin (minus the face normal), x = y cross z."""
    y = -watch_to_world[:, 0]
    z = -watch_to_world[:, 2]
    return np.column_stack([np.cross(y, z), y, z])


def test_the_issue_measurement_is_this_mapping_worn_palmar():
    measured = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(Mount("right", "palmar").rotation() @ E4.axes_matrix, measured, atol=1e-12)


@pytest.mark.parametrize("wrist", ["left", "right"])
def test_gravity_with_the_arm_hanging_lies_along_watch_x_with_the_wrists_sign(wrist):
    r_watch = hanging_watch(wrist)
    # what a watch on that wrist reads at rest: +g on the axis pointing up (frames: f = R^T (a - g))
    expected = r_watch.T @ (G_MS2 * UP)
    # left: +X points to the hand, i.e. down -> -g; right: +X points to the elbow, i.e. up -> +g
    assert np.allclose(expected, [-G_MS2 if wrist == "left" else G_MS2, 0.0, 0.0])
    r_e4 = e4_frame(r_watch, wrist)
    counts = r_e4.T @ (G_MS2 * UP) / G_MS2 * 64.0  # what the E4 reports, 64 counts per g
    acc, _ = E4.to_simulator(counts[None, :])
    np.testing.assert_allclose(acc[0], expected, atol=1e-9)
    # and the mount takes either wrist to the canonical left wrist: the hand is down
    canon, _ = Mount(wrist).to_canonical(acc)
    np.testing.assert_allclose(canon[0], [-G_MS2, 0.0, 0.0], atol=1e-9)


@pytest.mark.parametrize("wrist", ["left", "right"])
def test_forearm_rotation_about_the_e4_y_axis_is_rotation_about_watch_x(wrist):
    rng = np.random.default_rng(3)
    for _ in range(5):  # any arm pose: a random orientation of the whole forearm
        pose = Rotation.random(random_state=rng).as_matrix()
        r_watch = pose @ hanging_watch(wrist)
        r_e4 = e4_frame(r_watch, wrist)
        forearm = r_watch[:, 0]  # pronation / supination axis
        omega_world = 3.0 * forearm
        omega_e4 = r_e4.T @ omega_world  # what a gyroscope in the E4 would read
        assert abs(abs(omega_e4[1]) - 3.0) < 1e-9  # the E4's own forearm axis is y (issue 13)
        omega_watch = E4.axes_matrix @ omega_e4
        np.testing.assert_allclose(omega_watch, r_watch.T @ omega_world, atol=1e-9)
        np.testing.assert_allclose(omega_watch, [3.0, 0.0, 0.0], atol=1e-9)
        # the whole mapping: v_watch = R_watch^T R_e4 v_e4
        np.testing.assert_allclose(E4.axes_matrix, r_watch.T @ r_e4, atol=1e-9)


def test_face_up_on_a_table_reads_minus_64_on_z():
    # the E4's bottom (z) points down when its face is up: -1 g on z, +Z in the watch frame
    acc, _ = E4.to_simulator(np.array([[0.0, 0.0, -64.0]]))
    np.testing.assert_allclose(acc, [[0.0, 0.0, G_MS2]], atol=1e-12)
