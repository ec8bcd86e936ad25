"""Data root resolution and dataset errors."""

from __future__ import annotations

import pytest

from toolkit.data.paths import DatasetNotFoundError, cache_dir, data_root_candidates, find_dataset


def test_explicit_root_wins(tmp_path, monkeypatch):
    (tmp_path / "a" / "sp-sw-har").mkdir(parents=True)
    monkeypatch.setenv("MULTI3EDGE_DATA", str(tmp_path / "b"))
    assert find_dataset("sp-sw-har", tmp_path / "a") == tmp_path / "a" / "sp-sw-har"
    assert data_root_candidates(tmp_path / "a") == [tmp_path / "a"]


def test_env_then_shared(tmp_path, monkeypatch):
    (tmp_path / "mm-fit").mkdir()
    monkeypatch.setenv("MULTI3EDGE_DATA", str(tmp_path))
    assert find_dataset("mm-fit") == tmp_path / "mm-fit"
    assert data_root_candidates()[0] == tmp_path
    assert data_root_candidates()[-1].parts[-2:] == ("shared", "data")


def test_missing_dataset_error_is_one_line_with_places_and_how_to_get(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        find_dataset("openpack", tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path / "openpack") in msg and "open-pack.github.io" in msg


def test_cache_dir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTI3EDGE_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_offline_pip_gives_one_line_error(tmp_path, monkeypatch):
    import subprocess

    from toolkit.data import wheels

    def fake_run(cmd, **kwargs):
        assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version (network unreachable)\n")

    monkeypatch.setattr(wheels.subprocess, "run", fake_run)
    with pytest.raises(DatasetNotFoundError) as e:
        wheels.ensure_wheel("seglearn", "1.2.5", tmp_path)
    assert "\n" not in str(e.value) and "offline" in str(e.value) and "network unreachable" in str(e.value)
