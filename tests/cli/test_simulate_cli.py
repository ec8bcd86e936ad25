"""edge-simulate end to end: outputs, reproducibility, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from toolkit.cli.simulate import main
from toolkit.sim.dataset import read_clip, read_manifest

REPO = Path(__file__).resolve().parents[2]
BVH = REPO / "tests" / "fixtures" / "cmu" / "131_01_excerpt.bvh"
AMC = REPO / "tests" / "fixtures" / "cmu" / "02_01_excerpt.amc"


def run(argv, capsys):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_simulates_bvh_and_amc_into_a_documented_dataset(tmp_path, capsys):
    out = tmp_path / "ds"
    code, stdout, err = run(
        [BVH, AMC, "--out", out, "--variants", "2", "--surface-samples", "3", "--no-progress"], capsys
    )
    assert code == 0, err
    assert "2 file(s) -> 4 clip variant(s)" in stdout
    manifest = read_manifest(out)
    assert {s["clip"] for s in manifest["sources"]} == {BVH.stem, AMC.stem}
    assert all(len(s["sha256"]) == 64 for s in manifest["sources"])
    assert manifest["device_profile"]["name"] == "ideal"
    entry = manifest["clips"][0]
    clip = read_clip(out / entry["file"])
    t, p = clip["acc"].shape[:2]
    assert p == 5 and list(clip["placements"][:2]) == ["left_wrist", "right_wrist"]
    assert clip["acc"].dtype == np.float32 and clip["gyro"].shape == (t, p, 3) and clip["quat"].shape == (t, p, 4)
    assert clip["joints"].shape == (t, 24, 3) and clip["pose"].shape == (t, 24, 3)
    assert float(clip["rate_hz"]) == 60.0 and str(clip["text"])  # text travels with the clip
    heights = [c["body"]["attributes"]["height_m"] for c in manifest["clips"] if c["clip"] == BVH.stem]
    assert heights[0] == pytest.approx(1.7) and heights[1] != pytest.approx(1.7)


def test_same_seed_same_output_and_workers_do_not_matter(tmp_path, capsys):
    args = [BVH, AMC, "--variants", "2", "--surface-samples", "2", "--no-progress", "--seed", "7"]
    assert run([*args, "--out", tmp_path / "a"], capsys)[0] == 0
    assert run([*args, "--out", tmp_path / "b", "--workers", "2"], capsys)[0] == 0
    assert run([*args[:-1], "8", "--out", tmp_path / "c"], capsys)[0] == 0
    for f in sorted((tmp_path / "a").glob("*.npz")):
        a, b, c = read_clip(f), read_clip(tmp_path / "b" / f.name), read_clip(tmp_path / "c" / f.name)
        np.testing.assert_array_equal(a["acc"], b["acc"])
        np.testing.assert_array_equal(a["placement_offset"], b["placement_offset"])
        if int(a["variant"]) > 0:
            assert not np.array_equal(a["acc"], c["acc"])  # another seed, another body


def test_device_profile_changes_rate_and_units(tmp_path, capsys):
    code, _, err = run(
        [BVH, "--out", tmp_path, "--device", "empatica-e4", "--placements", "left_wrist", "--no-progress"], capsys
    )
    assert code == 0, err
    clip = read_clip(next(tmp_path.glob("*.npz")))
    assert float(clip["rate_hz"]) == 32.0 and not bool(clip["has_gyro"])
    assert np.isnan(clip["gyro"]).all() and np.abs(clip["acc"]).max() <= 2 * 9.81 + 1e-3
    assert "acc_device" in clip


def test_help_and_list(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "examples:" in capsys.readouterr().out
    code, out, _ = run(["--list"], capsys)
    assert code == 0 and "left_wrist" in out and "empatica-e4" in out and "left_forearm" in out


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("edge-simulate")
    proc = subprocess.run([str(exe), "--list"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "named placements" in proc.stdout


def _one_line_error(capsys, argv, *needles):
    code, _, err = run(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-simulate: error:"), err
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in err


def test_truncated_bvh(tmp_path, capsys):
    bad = tmp_path / "cut.bvh"
    text = BVH.read_text()
    bad.write_text(text[: int(len(text) * 0.7)].rsplit("\n", 1)[0] + "\n")
    _one_line_error(capsys, [bad, "--out", tmp_path / "o"], "cut.bvh")


def test_npz_without_poses(tmp_path, capsys):
    bad = tmp_path / "noposes.npz"
    np.savez(bad, trans=np.zeros((10, 3)), mocap_framerate=np.float64(60))
    _one_line_error(capsys, [bad, "--out", tmp_path / "o"], "noposes.npz", "poses")


def test_nan_in_motion(tmp_path, capsys):
    bad = tmp_path / "nan.npz"
    poses = np.zeros((20, 156))
    poses[5, 10] = np.nan
    np.savez(bad, poses=poses, trans=np.zeros((20, 3)), mocap_framerate=np.float64(60), betas=np.zeros(16))
    _one_line_error(capsys, [bad, "--out", tmp_path / "o"], "nan.npz", "NaN")


def test_unknown_placement(tmp_path, capsys):
    _one_line_error(
        capsys,
        [BVH, "--out", tmp_path / "o", "--placements", "left_ankle_bracelet"],
        "left_ankle_bracelet",
        "known placements",
    )


def test_missing_file_and_unknown_format(tmp_path, capsys):
    _one_line_error(capsys, [tmp_path / "nope.bvh", "--out", tmp_path / "o"], "nope.bvh", "not found")
    odd = tmp_path / "clip.c3d"
    odd.write_bytes(b"\x00" * 10)
    _one_line_error(capsys, [odd, "--out", tmp_path / "o"], "clip.c3d", "unknown motion format")


def test_unknown_device(tmp_path, capsys):
    _one_line_error(capsys, [BVH, "--out", tmp_path / "o", "--device", "fitbit-9000"], "fitbit-9000")


def test_manifest_is_plain_json(tmp_path, capsys):
    run([BVH, "--out", tmp_path, "--no-progress"], capsys)
    data = json.loads((tmp_path / "manifest.json").read_text())
    assert data["format_version"] == 1 and data["units"]["acc"] == "m/s^2"


def test_smpl_body_model_path(tmp_path, capsys):
    from tests.sim.smpl_fixture import write_model_npz

    model = write_model_npz(tmp_path / "SMPL_NEUTRAL.npz")
    code, _, err = run(
        [BVH, "--out", tmp_path / "o", "--body-model", model, "--variants", "2", "--no-progress"], capsys
    )
    assert code == 0, err
    manifest = read_manifest(tmp_path / "o")
    bodies = [c["body"] for c in manifest["clips"]]
    assert all(b["kind"] == "smpl" for b in bodies)
    assert not any(bodies[0]["betas"]) and any(bodies[1]["betas"])
    clip = read_clip(tmp_path / "o" / manifest["clips"][0]["file"])
    assert 7.0 < np.linalg.norm(clip["acc"][:, 0], axis=-1).mean() < 15.0


def test_bad_body_model(tmp_path, capsys):
    bad = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(bad, v_template=np.zeros((10, 3)))
    _one_line_error(capsys, [BVH, "--out", tmp_path / "o", "--body-model", bad], "SMPL_NEUTRAL.npz")


def _truncated_bvh(tmp_path: Path) -> Path:
    bad = tmp_path / "bad.bvh"
    text = BVH.read_text()
    bad.write_text(text[: int(len(text) * 0.7)].rsplit("\n", 1)[0] + "\n")
    return bad


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_bad_file_is_skipped_and_the_batch_survives(tmp_path, capsys, workers):
    bad = _truncated_bvh(tmp_path)
    out = tmp_path / "ds"
    code, stdout, err = run([BVH, bad, AMC, "--out", out, "--workers", workers, "--no-progress"], capsys)
    assert code == 1, err  # some skipped: non-zero, documented
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("edge-simulate: skipped ") and "bad.bvh" in lines[0], err
    assert "BrokenProcessPool" not in err and "internal error" not in err
    manifest = read_manifest(out)
    assert sorted(c["clip"] for c in manifest["clips"]) == sorted([BVH.stem, AMC.stem])
    for c in manifest["clips"]:
        assert read_clip(out / c["file"])["acc"].shape[0] > 10
    assert [s["path"] for s in manifest["skipped"]] == [str(bad)] and manifest["skipped"][0]["problem"]
    assert "1 file(s) skipped" in stdout


def test_all_files_bad_exits_2_and_names_them(tmp_path, capsys):
    bad = _truncated_bvh(tmp_path)
    folder = tmp_path / "a_folder.bvh"
    folder.mkdir()
    code, _, err = run([bad, folder, "--out", tmp_path / "o", "--workers", "2", "--no-progress"], capsys)
    assert code == 2
    assert "bad.bvh" in err and "a_folder.bvh: is a folder" in err and "none of the 2 files" in err
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_non_empty_output_folder_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "ds"
    assert run([BVH, "--out", out, "--no-progress"], capsys)[0] == 0
    _one_line_error(capsys, [BVH, "--out", out, "--no-progress"], "not empty", "--overwrite")
    code, _, err = run([AMC, "--out", out, "--no-progress", "--overwrite"], capsys)
    assert code == 0, err
    assert [c["clip"] for c in read_manifest(out)["clips"]] == [AMC.stem]


def test_folder_and_hardened_npz_inputs_give_one_line_errors(tmp_path, capsys):
    folder = tmp_path / "motions"
    folder.mkdir()
    _one_line_error(capsys, [folder, "--out", tmp_path / "o"], "motions", "is a folder")
    slow = tmp_path / "slow.npz"
    np.savez(slow, poses=np.zeros((20, 156)), trans=np.zeros((20, 3)), mocap_framerate=np.float64(1e-6))
    _one_line_error(capsys, [slow, "--out", tmp_path / "o"], "slow.npz", "1-2000 Hz")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    _one_line_error(capsys, [broken, "--out", tmp_path / "o"], "broken.npz")


def test_every_error_class_survives_a_pickle_round_trip():
    import pickle

    import toolkit.errors as errors

    for err in (
        errors.Multi3EdgeError("m"),
        errors.ConfigError("c"),
        errors.InputFileError(Path("/x/clip.bvh"), "truncated at line 3"),
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)
    back = pickle.loads(pickle.dumps(errors.InputFileError("a.npz", "bad")))
    assert (back.path, back.problem) == ("a.npz", "bad")
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert set(classes) == {errors.Multi3EdgeError, errors.ConfigError, errors.InputFileError}


def test_acc_bandwidth_option_reaches_the_manifest(tmp_path, capsys):
    code, _, err = run([BVH, "--out", tmp_path / "o", "--acc-bandwidth-hz", "8", "--no-progress"], capsys)
    assert code == 0, err
    assert read_manifest(tmp_path / "o")["config"]["acc_bandwidth_hz"] == 8.0
    _one_line_error(capsys, [BVH, "--out", tmp_path / "p", "--acc-bandwidth-hz", "0"], "bandwidth")
