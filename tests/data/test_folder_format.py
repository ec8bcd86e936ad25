"""Folder datasets (one file per trial, dataset.yaml) and generic .ts files: generated fixtures only."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from toolkit.data.folder_format import load_folder, load_ts_dataset, template_regex
from toolkit.data.recording import RateWarning
from toolkit.data.windows import real_windows
from toolkit.device_profiles import RealDeviceProfile, resolve_profile
from toolkit.errors import ConfigError, InputFileError
from toolkit.frames import G_MS2
from toolkit.train.config import GridConfig
from toolkit.train.data import load_real_windows

RATE = 32.0
#: a 6-bit accelerometer (codes 0..63 over +-2 g), device axes x = watch -Y, y = watch +X, z = watch +Z
PROFILE_YAML = f"""\
schema: 2
name: test-6bit
rate_hz: 32
axes: {{x: -Y, y: +X, z: +Z}}
acc: {{units: counts, scale: {4 * G_MS2 / 63!r}, offset: {-2 * G_MS2!r}}}
gyro: null
"""
E4 = resolve_profile("empatica-e4")  # counts, 64 per g, own axes, no gyroscope, 32 Hz


def _trial(label: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) watch-frame specific force [m/s^2] on the right wrist: rest = arm hanging (gravity on +X),
    wave = forearm up (gravity on -X) with a 2.5 Hz side-to-side swing on Y."""
    t = np.arange(n) / RATE
    if label == "rest":
        acc = np.tile([G_MS2, 0.0, 0.0], (n, 1))
    else:
        acc = np.stack([np.full(n, -G_MS2), 6.0 * np.sin(2 * np.pi * 2.5 * t), np.zeros(n)], axis=1)
    return acc + rng.normal(0, 0.05, acc.shape)


def _write(root: Path, profile: RealDeviceProfile = E4, n: int = int(8 * RATE), subjects=("s1", "s2"),
           labels=("rest", "wave"), trials: int = 2, yaml: str | None = None) -> Path:  # fmt: skip
    rng = np.random.default_rng(0)
    k = 0
    for subj in subjects:
        for lab in labels:
            for _ in range(trials):
                (root / lab).mkdir(parents=True, exist_ok=True)
                codes, _ = profile.from_simulator(_trial(lab, n, rng))
                np.savetxt(root / lab / f"Acc-{k:02d}-{lab}-{subj}.txt", np.round(codes), fmt="%d")
                k += 1
    (root / "dataset.yaml").write_text(yaml or 'files: "{label}/{*}-{subject}.txt"\nrate_hz: 32\n'
                                       "profile: empatica-e4\nwrist: right\n")
    return root


def test_template_fields_and_wildcard():
    rx = template_regex("{label}/{*}-{subject}.txt")
    m = rx.fullmatch("walk/Accelerometer-2011-03-24-walk-m1.txt")
    assert m and m["label"] == "walk" and m["subject"] == "m1"
    m = template_regex("{subject}_{label}_{trial}.csv").fullmatch("p01_jump_rope_3.csv")
    assert m is None or m["subject"] == "p01"
    assert template_regex("{subject}_{trial}.csv").fullmatch("p01_3.csv")["trial"] == "3"
    with pytest.raises(ConfigError, match="unknown field"):
        template_regex("{activity}/{subject}.txt")


def test_folder_one_recording_per_trial_in_watch_frame(tmp_path):
    root = _write(tmp_path / "ds")
    recs = load_folder(root)
    assert len(recs) == 8 and {r.subject for r in recs} == {"s1", "s2"}
    assert recs[0].class_names == ["rest", "wave"] and recs[0].gyro is None and recs[0].rate_hz == RATE
    assert len({r.recording for r in recs}) == 8 and recs[0].recording == "rest/Acc-00-rest-s1.txt"
    # physics: a hanging right arm reads +1 g along the watch +X axis, a raised forearm -1 g (after the E4's codes
    # (1/64 g) and axes are undone), to within the code step
    for r in recs:
        want = G_MS2 if r.class_names[r.labels[0]] == "rest" else -G_MS2
        assert r.wrist == "right" and abs(r.acc[:, 0].mean() - want) < G_MS2 / 64
        assert abs(r.acc[:, 2].mean()) < G_MS2 / 64


def test_windows_never_span_trials(tmp_path):
    n = int(5.5 * RATE)
    recs = load_folder(_write(tmp_path / "ds", n=n))
    w = real_windows(recs, rate_hz=30.0, window_s=2.0, hop_s=1.0)
    # each 5.5 s trial gives floor((5.5 - 2) / 1) + 1 = 4 windows, all inside it; concatenated trials would give more
    per_rec = {r: int(np.sum(w.recording == r)) for r in set(w.recording.tolist())}
    assert len(per_rec) == 8 and set(per_rec.values()) == {4}
    assert np.all(w.start_s + 2.0 <= 5.5 + 1e-9)


def test_profile_file_affine_codes_and_cli_override(tmp_path):
    (tmp_path / "profile.yaml").write_text(PROFILE_YAML)
    prof = resolve_profile(str(tmp_path / "profile.yaml"))
    root = _write(tmp_path / "ds", profile=prof, yaml='files: "{label}/{*}-{subject}.txt"\nprofile: ../profile.yaml\n'
                  "wrist: right\n")  # fmt: skip
    recs = load_folder(root)
    assert recs[0].device == "test-6bit" and recs[0].rate_hz == RATE  # the profile's rate: no rate_hz given
    step = 4 * G_MS2 / 63
    rest = [r for r in recs if r.labels[0] == 0]
    assert all(abs(r.acc[:, 0].mean() - G_MS2) < step for r in rest)
    # the command line's profile wins over the description's (here: the wrong one, so the values differ)
    other = load_folder(root, profile="empatica-e4")
    assert other[0].device == "empatica-e4" and not np.allclose(other[0].acc, recs[0].acc)


def test_time_column_and_rate_check(tmp_path):
    root = tmp_path / "ds"
    (root / "p1").mkdir(parents=True)
    t = np.arange(400) / 100.0  # really 100 Hz, declared 50 Hz below
    acc = np.tile([0.0, 0.0, 9.81], (400, 1))
    for k in range(2):
        np.savetxt(root / "p1" / f"walk_{k}.csv", np.column_stack([t * 1000, acc, np.zeros((400, 3))]),
                   delimiter=",", header="time_ms,ax,ay,az,gx,gy,gz", comments="")  # fmt: skip
    (root / "dataset.yaml").write_text(
        'files: "{subject}/{label}_{trial}.csv"\nheader_rows: 1\ntime_unit: ms\nrate_hz: 50\n'
        "columns: {t: time_ms, acc: [ax, ay, az], gyro: [gx, gy, gz]}\nprofile: wear-os-watch\n")
    with pytest.warns(RateWarning, match="declared rate 50 Hz but the timestamps say 100 Hz"):
        recs = load_folder(root)
    assert recs[0].rate_hz == pytest.approx(100.0) and recs[0].gyro is not None and recs[0].recording == "0"
    (root / "dataset.yaml").write_text((root / "dataset.yaml").read_text().replace("rate_hz: 50", "rate_hz: 101"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RateWarning)  # 1 % off: the declared rate is kept, silently
        assert load_folder(root)[0].rate_hz == 101.0


@pytest.mark.parametrize("content, match", [
    ("1 2 3\n4 5\n", r"line 2: 2 fields, but line 1 has 3 \(ragged rows\)"),
    ("1 2 3\n4 x 6\n", r"line 2, column 1 \(acc_y\): not a number: 'x'"),
    ("1 2 3\n4 nan 6\n", r"line 2, column 1 \(acc_y\): nan \(NaN or infinite"),
    ("1 2 inf\n", r"line 1, column 2 \(acc_z\): inf"),
])  # fmt: skip
def test_bad_files_give_one_line_errors_naming_file_and_column(tmp_path, content, match):
    root = _write(tmp_path / "ds", n=64)
    bad = root / "wave" / "Acc-99-wave-s1.txt"
    bad.write_text(content)
    with pytest.raises(InputFileError, match=match) as e:
        load_folder(root)
    assert str(bad) in str(e.value) and "\n" not in str(e.value)


def test_template_errors(tmp_path):
    root = _write(tmp_path / "ds", n=64)
    (root / "rest" / "notes.txt").write_text("1 2 3\n")
    with pytest.raises(InputFileError, match="notes.txt: does not fit the path template"):
        load_folder(root)
    (root / "dataset.yaml").write_text(
        'files: "{label}/{*}-{subject}.txt"\nprofile: empatica-e4\nexclude: ["notes*"]\n')
    assert len(load_folder(root)) == 8
    (root / "dataset.yaml").write_text('files: "{label}/{*}-{subject}.csv"\nprofile: empatica-e4\n')
    with pytest.raises(InputFileError, match="no file fits the path template"):
        load_folder(root)
    (root / "dataset.yaml").write_text('files: "{label}/{*}-{subject}.txt"\nprofile: empatica-e4\nfoo: 1\n')
    with pytest.raises(ConfigError, match=r"unknown keys \['foo'\]"):
        load_folder(root)
    (root / "dataset.yaml").unlink()
    with pytest.raises(ConfigError, match="no dataset.yaml"):
        load_folder(root)


def test_registry_folder_windows(tmp_path):
    root = _write(tmp_path / "ds")
    w = load_real_windows(f"folder:{root}", GridConfig())
    assert set(w.subject.tolist()) == {"s1", "s2"} and w.class_names == ["rest", "wave"]
    assert not w.has_gyro.any() and np.isnan(w.x[:, :, 3:]).all()
    # mirrored into the left-wrist frame like every registry dataset: gravity of a hanging arm on -X
    rest = w.x[w.y == 0]
    assert abs(rest[:, :, 0].mean() + G_MS2) < 0.2


def _ts_text(n_cases: int, dims: int, length: int, labels: list[str]) -> str:
    rng = np.random.default_rng(1)
    lines = ["# generated", "@problemName gen", "@timeStamps false", "@univariate false", f"@dimensions {dims}",
             "@equalLength true", f"@seriesLength {length}", f"@classLabel true {' '.join(sorted(set(labels)))}",
             "@data"]  # fmt: skip
    for k in range(n_cases):
        x = rng.normal(0, 1, (dims, length))
        x[4] += 9.81  # dimension 4 carries gravity
        lines.append(":".join(",".join(f"{v:.4f}" for v in row) for row in x) + f":{labels[k]}")
    return "\n".join(lines) + "\n"


def test_ts_any_dimensions_mapping_and_subject_file(tmp_path):
    labels = ["a", "b"] * 4
    f = tmp_path / "X_TRAIN.ts"
    f.write_text(_ts_text(8, 9, 50, labels))
    with pytest.raises(ConfigError, match="no device profile"):
        load_ts_dataset(str(f))
    recs = load_ts_dataset(str(f), "empatica-e4")  # acc-only profile: dims 0-2 are acc, no gyro
    assert len(recs) == 8 and recs[0].gyro is None and {r.subject for r in recs} == {"unknown"}
    (tmp_path / "dataset.yaml").write_text(
        "format: ts\nfiles: [X_TRAIN.ts]\nrate_hz: 25\nprofile: wear-os-watch\ncolumns: {acc: [3, 4, 5], "
        "gyro: [6, 7, 8]}\nsubjects: subjects.txt\n")  # fmt: skip
    (tmp_path / "subjects.txt").write_text("\n".join(["p1", "p2"] * 4) + "\n")
    recs = load_folder(tmp_path)
    assert [r.subject for r in recs[:3]] == ["p1", "p2", "p1"] and recs[0].rate_hz == 25.0
    assert recs[0].gyro is not None and abs(recs[0].acc[:, 1].mean() - 9.81) < 0.5  # dimension 4 = acc y
    (tmp_path / "subjects.txt").write_text("p1\np2\n")
    with pytest.raises(InputFileError, match="2 subject ids for 8 cases"):
        load_folder(tmp_path)
