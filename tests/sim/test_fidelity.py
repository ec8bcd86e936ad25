"""The Multi3Net+ fidelity metric (magnitude MSE) and its command line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from toolkit.cli.fidelity import main
from toolkit.errors import ConfigError
from toolkit.frames import G_MS2
from toolkit.sim.fidelity import (
    NORMALIZATIONS,
    align_and_resample,
    fidelity_mse,
    fidelity_report,
    magnitude,
    normalize_series,
)


def _motion(t_s: float, rate: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth, band-limited (< 5 Hz) wrist-like acc [m/s^2] and gyro [rad/s], (T, 3) each."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(t_s * rate))) / rate
    freqs = rng.uniform(0.3, 4.0, (2, 3, 4))
    phases = rng.uniform(0, 2 * np.pi, (2, 3, 4))
    amps = rng.uniform(0.5, 2.0, (2, 3, 4))
    waves = (amps[..., None] * np.sin(2 * np.pi * freqs[..., None] * t + phases[..., None])).sum(axis=2)
    acc = waves[0].T + np.array([0.0, 0.0, G_MS2])
    gyro = waves[1].T
    return acc, gyro


# --- the metric ------------------------------------------------------------------------------------


@pytest.mark.parametrize("normalize", NORMALIZATIONS)
def test_identical_signals_score_zero(normalize):
    acc, _ = _motion(5.0, 60.0)
    assert fidelity_mse(acc, acc.copy(), normalize) == 0.0


def test_hand_computed_example():
    sim = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]])  # |.| = 1, 2, 3
    real = np.array([[0.0, 1.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, -4.0]])  # |.| = 1, 1, 4
    # none: ((1-1)^2 + (2-1)^2 + (3-4)^2) / 3
    assert fidelity_mse(sim, real, "none") == pytest.approx(2.0 / 3.0, rel=1e-12)
    # zscore: r = corr([1,2,3], [1,1,4]) = sqrt(3)/2, MSE = 2 (1 - r) = 2 - sqrt(3)
    assert fidelity_mse(sim, real, "zscore") == pytest.approx(2.0 - math.sqrt(3.0), rel=1e-12)
    # minmax: [0, .5, 1] vs [0, 0, 1]
    assert fidelity_mse(sim, real, "minmax") == pytest.approx(0.25 / 3.0, rel=1e-12)
    # (T,) inputs are taken as magnitudes
    assert fidelity_mse(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 4.0]), "none") == pytest.approx(2.0 / 3.0)


def test_zscore_mse_is_two_minus_twice_the_correlation():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(400, 3)), rng.normal(size=(400, 3))
    r = np.corrcoef(magnitude(a), magnitude(b))[0, 1]
    assert fidelity_mse(a, b) == pytest.approx(2.0 * (1.0 - r), rel=1e-10)
    assert 0.0 <= fidelity_mse(a, -a * 3.0 + 1.0) <= 4.0


@pytest.mark.parametrize("normalize", NORMALIZATIONS)
def test_invariant_to_fixed_and_time_varying_rotations(normalize):
    sim, _ = _motion(8.0, 60.0, seed=1)
    real, _ = _motion(8.0, 60.0, seed=2)
    base = fidelity_mse(sim, real, normalize)
    assert base > 0.01
    fixed = Rotation.random(random_state=5)
    varying = Rotation.random(sim.shape[0], random_state=6)  # a different rotation at every sample
    varying2 = Rotation.random(sim.shape[0], random_state=7)
    for s, r in (
        (fixed.apply(sim), real),
        (sim, fixed.apply(real)),
        (varying.apply(sim), real),
        (sim, varying.apply(real)),
        (varying.apply(sim), varying2.apply(real)),
    ):
        assert fidelity_mse(s, r, normalize) == pytest.approx(base, rel=1e-10, abs=1e-13)


def test_constant_series_are_only_centred():
    np.testing.assert_array_equal(normalize_series(np.full(10, 9.81), "zscore"), np.zeros(10))
    np.testing.assert_array_equal(normalize_series(np.full(10, 2.0), "minmax"), np.zeros(10))
    rng = np.random.default_rng(0)
    # an unmoving simulated gyroscope against a moving real one scores exactly 1 under z-score
    assert fidelity_mse(np.zeros((100, 3)), rng.normal(size=(100, 3))) == pytest.approx(1.0)


def test_errors():
    a = np.ones((10, 3))
    with pytest.raises(ConfigError) as e:
        fidelity_mse(a, np.ones((9, 3)))
    assert str(e.value) == (
        "length mismatch: sim has 10 samples, real 9; put them on one time grid first (align_and_resample)"
    )
    with pytest.raises(ConfigError, match="unknown normalization 'l2'"):
        fidelity_mse(a, a, "l2")
    with pytest.raises(ConfigError, match=r"sim: expected shape \(T, 3\) or \(T,\)"):
        fidelity_mse(np.ones((10, 2)), a)
    bad = a.copy()
    bad[2, 1] = np.inf
    with pytest.raises(ConfigError, match="real: contains NaN or infinite values"):
        fidelity_mse(a, bad)
    with pytest.raises(ConfigError, match="at least 2 samples"):
        fidelity_mse(a[:1], a[:1])


def test_align_and_resample_puts_real_on_the_sim_grid():
    sim, _ = _motion(10.0, 60.0, seed=4)
    real, _ = _motion(12.0, 100.0, seed=4)  # same motion, longer, at 100 Hz
    s, r = align_and_resample(sim, 60.0, real, 100.0)
    assert s.shape == r.shape == sim.shape  # truncated to the common 10 s
    inner = slice(30, -30)
    np.testing.assert_allclose(r[inner], sim[inner], atol=0.02)
    assert fidelity_mse(s, r) < 1e-3
    with pytest.raises(ConfigError, match="real_rate_hz must be a positive finite number"):
        align_and_resample(sim, 60.0, real, -1.0)


def test_report():
    acc, gyro = _motion(6.0, 50.0, seed=8)
    rot = Rotation.random(acc.shape[0], random_state=1)
    rep = fidelity_report(acc, gyro, rot.apply(acc), rot.apply(gyro))
    assert rep["mse_acc"] == pytest.approx(0.0, abs=1e-12) and rep["mse_gyro"] == pytest.approx(0.0, abs=1e-12)
    assert (rep["n"], rep["normalize"], rep["rate_hz"], rep["duration_s"]) == (300, "zscore", None, None)
    rep = fidelity_report(acc, None, acc, gyro, "none", sim_rate_hz=50.0, real_rate_hz=50.0)
    assert rep["mse_gyro"] is None and rep["rate_hz"] == 50.0 and rep["duration_s"] == pytest.approx(6.0)
    with pytest.raises(ConfigError, match="give both sim_rate_hz and real_rate_hz"):
        fidelity_report(acc, gyro, acc, gyro, sim_rate_hz=50.0)


# --- command line ----------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A two-placement simulator clip at 60 Hz and real recordings of its left wrist at 100 Hz."""
    sim_rate, real_rate, dur = 60.0, 100.0, 10.0
    acc_l, gyro_l = _motion(dur, sim_rate, seed=11)
    acc_r, gyro_r = _motion(dur, sim_rate, seed=12)
    sim = tmp_path / "clip_v0.npz"
    np.savez_compressed(
        sim,
        acc=np.stack([acc_l, acc_r], axis=1).astype(np.float32),
        gyro=np.stack([gyro_l, gyro_r], axis=1).astype(np.float32),
        placements=np.array(["left_wrist", "right_wrist"]),
        rate_hz=np.float64(sim_rate),
    )
    # the real watch: the same left-wrist motion at 100 Hz, worn at another orientation, with jitter
    acc_real, gyro_real = _motion(dur, real_rate, seed=11)
    rot = Rotation.from_euler("xyz", [30, -50, 120], degrees=True)
    acc_real, gyro_real = rot.apply(acc_real), rot.apply(gyro_real)
    t = np.arange(acc_real.shape[0]) / real_rate + np.random.default_rng(0).uniform(-0.002, 0.002, acc_real.shape[0])
    csv = tmp_path / "watch.csv"
    rows = ["timestamp_s,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z,label"]
    for ti, a, g in zip(t, acc_real, gyro_real, strict=True):
        rows.append(f"{ti:.6f}," + ",".join(f"{v:.6f}" for v in (*a, *g)) + ",WALKING")
    csv.write_text("\n".join(rows) + "\n")
    npz = tmp_path / "real.npz"
    np.savez(npz, acc=rot.apply(acc_l), gyro=rot.apply(gyro_l), rate_hz=np.float64(sim_rate))
    return {"sim": sim, "csv": csv, "npz": npz, "dir": tmp_path}


def test_cli_csv_round_trip(files, capsys):
    code = main(["--sim", str(files["sim"]), "--placement", "left_wrist", "--real", str(files["csv"])])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.count("\n") == 1 and out.startswith("left_wrist: MSE|a| = 0.00")
    assert "MSE|w| = 0.00" in out and "600 samples at 60 Hz" in out


def test_cli_json_and_npz(files, capsys):
    code = main(["--sim", str(files["sim"]), "--placement", "left_wrist", "--real", str(files["npz"]), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rep = json.loads(out)
    assert rep["placement"] == "left_wrist" and rep["normalize"] == "zscore" and rep["n"] == 600
    assert rep["mse_acc"] == pytest.approx(0.0, abs=1e-9) and rep["mse_gyro"] == pytest.approx(0.0, abs=1e-9)
    # the other wrist moved differently
    main(["--sim", str(files["sim"]), "--placement", "right_wrist", "--real", str(files["npz"]), "--json"])
    assert json.loads(capsys.readouterr().out)["mse_acc"] > 0.1


def test_cli_real_rate_flag_and_no_gyroscope(files, capsys):
    csv = files["dir"] / "acc_only.csv"
    acc, _ = _motion(10.0, 100.0, seed=11)
    csv.write_text("acc_x,acc_y,acc_z\n" + "\n".join(",".join(f"{v:.6f}" for v in a) for a in acc) + "\n")
    code = main(["--sim", str(files["sim"]), "--placement", "left_wrist", "--real", str(csv), "--real-rate", "100"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "MSE|w| = n/a (no gyroscope in real)" in out


def _run_bad(argv: list[str], capsys) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("edge-simulate fidelity: error: ")
    return err


def test_cli_bad_files_exit_2_with_one_line(files, capsys):
    sim, csv = str(files["sim"]), str(files["csv"])
    missing = str(files["dir"] / "nope.npz")
    assert missing in _run_bad(["--sim", missing, "--real", csv], capsys)

    garbage = files["dir"] / "garbage.npz"
    garbage.write_text("not a zip")
    err = _run_bad(["--sim", str(garbage), "--real", csv], capsys)
    assert str(garbage) in err and "not a readable .npz" in err

    pickled = files["dir"] / "pickled.npz"
    np.savez(pickled, acc=np.array([{"a": 1}], dtype=object), rate_hz=60.0)
    assert "pickled" in _run_bad(["--sim", str(pickled), "--real", csv], capsys)

    bad_csv = files["dir"] / "bad.csv"
    bad_csv.write_text("acc_x,acc_z\n1,2\n3,4\n")
    err = _run_bad(["--sim", sim, "--placement", "left_wrist", "--real", str(bad_csv)], capsys)
    assert str(bad_csv) in err and "header lacks acc_y" in err

    text_csv = files["dir"] / "text.csv"
    text_csv.write_text("acc_x,acc_y,acc_z\n1,2,3\n1,two,3\n")
    err = _run_bad(["--sim", sim, "--placement", "left_wrist", "--real", str(text_csv), "--real-rate", "50"], capsys)
    assert str(text_csv) in err and "could not read the numbers" in err


def test_cli_bad_options_exit_2(files, capsys):
    sim, csv = str(files["sim"]), str(files["csv"])
    err = _run_bad(["--sim", sim, "--real", csv], capsys)
    assert "holds 2 placements (left_wrist, right_wrist); choose one with --placement" in err
    err = _run_bad(["--sim", sim, "--placement", "nose", "--real", csv], capsys)
    assert "no placement 'nose' (it has: left_wrist, right_wrist)" in err
    no_rate = files["dir"] / "no_rate.csv"
    no_rate.write_text("acc_x,acc_y,acc_z\n1,2,3\n1,2,3\n")
    err = _run_bad(["--sim", sim, "--placement", "left_wrist", "--real", str(no_rate)], capsys)
    assert "no sample rate: pass --real-rate HZ or add a timestamp_s column" in err
    assert main(["--sim", sim]) == 2  # argparse usage error: --real missing
    capsys.readouterr()


def test_cli_help(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--real-rate" in out
