"""The SMPL-compatible 24-joint tree shared by every body model and motion loader.

Joint ``j``'s rotation turns the segment that runs from joint ``j`` to its child
(``SEGMENT_CHILD[j]``): the left elbow's rotation turns the left forearm, the left wrist's turns
the hand. In the rest pose (the SMPL T-pose, arms along +-x, palms down, facing +z) every joint's
global rotation is the identity, so a vector "in joint j's frame" has the same coordinates as the
same vector in the world at rest.
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)
NUM_JOINTS = 24
#: Parent of each joint (-1 for the root), as in SMPL's kinematic tree.
PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21], dtype=np.int64)
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

#: The child that ends each joint's segment; -1 for end segments, whose far end is given by the
#: body model (finger tips, toe tips, top of the head).
SEGMENT_CHILD = np.array(
    [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, -1, -1, 15, 16, 17, -1, 18, 19, 20, 21, 22, 23, -1, -1],
    dtype=np.int64,
)

#: Human-readable name of the body segment each joint drives (used for surface sampling).
SEGMENT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_thigh",
    "right_thigh",
    "lower_back",
    "left_shank",
    "right_shank",
    "upper_back",
    "left_foot",
    "right_foot",
    "chest",
    "left_toes",
    "right_toes",
    "neck",
    "left_shoulder_girdle",
    "right_shoulder_girdle",
    "head",
    "left_upper_arm",
    "right_upper_arm",
    "left_forearm",
    "right_forearm",
    "left_hand",
    "right_hand",
    "left_fingers",
    "right_fingers",
)
SEGMENT_INDEX = {name: i for i, name in enumerate(SEGMENT_NAMES)}


def ancestors(joints: list[int] | tuple[int, ...]) -> list[int]:
    """All joints on the paths from the root to ``joints``, sorted (parents before children)."""
    needed: set[int] = set()
    for j in joints:
        while j >= 0 and j not in needed:
            needed.add(int(j))
            j = int(PARENTS[j])
    return sorted(needed)
