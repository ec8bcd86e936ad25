"""sp-sw-har: reader on a generated file; the real data in the simulator's frame (skips without ../shared)."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.data.sp_sw_har import CLASS_NAMES, COLUMNS, load_recording, load_sp_sw_har
from toolkit.errors import InputFileError
from toolkit.frames import G_MS2


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(",".join(COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")


def test_generated_file_left_and_right(tmp_path):
    f = tmp_path / "DATA" / "s03" / "s03_02_sw.csv"
    _write(f, [[1.0, -2.0, 9.0, 0.1, 0.2, 0.3, 1657533977810 + 10 * i, "SEATED" if i < 3 else "WALKING"]
               for i in range(6)])
    rec = load_recording(f)
    assert (rec.subject, rec.recording, rec.wrist, rec.device) == ("s03", "s03_02", "left", "wear-os-watch")
    np.testing.assert_allclose(rec.acc[0], [1.0, -2.0, 9.0])  # Android frame = watch frame
    assert rec.labels.tolist() == [0, 0, 0, 2, 2, 2]
    np.testing.assert_allclose(np.diff(rec.timestamps_s), 0.01, atol=1e-6)  # unix seconds in float64
    right = load_recording(f, wrist="right", mirror_to_left=True)
    np.testing.assert_allclose(right.acc[0], [-1.0, -2.0, 9.0])
    np.testing.assert_allclose(right.gyro[0], [0.1, -0.2, -0.3])
    assert right.mirrored and right.mount["wrist"] == "right"


def test_bad_header_and_label(tmp_path):
    f = tmp_path / "s01_01_sw.csv"
    f.write_text("a,b\n1,2\n")
    with pytest.raises(InputFileError, match="expected header"):
        load_recording(f)
    _write(f, [[0, 0, 9.8, 0, 0, 0, 1, "JUMPING"], [0, 0, 9.8, 0, 0, 0, 2, "JUMPING"]])
    with pytest.raises(InputFileError, match="unknown labels"):
        load_recording(f)


@pytest.mark.shared
def test_real_sp_sw_har_in_simulator_frame(shared_data):
    recs = load_sp_sw_har(shared_data)
    assert len(recs) == 223 and len({r.subject for r in recs}) == 23
    assert recs[0].class_names == CLASS_NAMES
    with_seated = [r for r in recs if np.any(r.labels == 0)]
    seated = np.array([r.acc[r.labels == 0].mean(0) for r in with_seated])
    mags = np.array([np.median(np.linalg.norm(r.acc[r.labels == 0], axis=1)) for r in with_seated])
    # Resting forearm: |a| ~ 1 g, face up (+Z, Android sign), hand lower than the elbow (+X to the hand: x < 0).
    assert abs(np.median(mags) - G_MS2) < 0.15
    assert np.mean(np.abs(mags - G_MS2) < 0.5) > 0.9  # a few SEATED segments include fidgeting
    assert np.mean(seated[:, 2] > 0) > 0.95  # face up while seated (a handful of recordings otherwise)
    assert np.median(seated[:, 0]) < -1.0
    assert np.argmax(np.abs(seated.mean(0))) == 2
    rates = [1 / np.median(np.diff(r.timestamps_s)) for r in recs]
    assert 95 < np.median(rates) < 105
