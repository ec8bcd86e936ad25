"""The floor plan: imports go down only (README "Where things happen").

Each package is imported, with every module in it, in a fresh interpreter; the test fails when a module of a higher
layer got loaded. Function-local imports of project modules are counted (at most 10, each delaying a heavy optional
dependency and saying so on its line), and ``edge-devices --help`` must load no dataset loader and no torch.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT = ("toolkit", "firmware_bridge", "calibration", "export")

#: Bottom to top; each layer may import only the layers before it (and itself).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("floor", ("toolkit", "toolkit.errors", "toolkit.frames", "toolkit.units", "toolkit.mount",
               "toolkit.device_profiles", "toolkit.hashing", "toolkit.strict_json", "toolkit.programs",
               "toolkit.lazy_exports", "toolkit.quiet", "toolkit.resources", "toolkit.versioned")),
    ("simulation, data, models, training", ("toolkit.sim", "toolkit.data", "toolkit.models", "toolkit.train")),
    ("transport, protocols, recording", ("firmware_bridge",)),
    ("calibration procedures", ("calibration",)),
    ("export", ("export",)),
    ("streaming", ("toolkit.stream",)),
    ("commands", ("toolkit.cli",)),
]
#: Third-party packages the floor may load.
FLOOR_THIRD_PARTY = {"numpy", "scipy"}
#: Most function-local imports of project modules allowed.
MAX_LOCAL_IMPORTS = 10


def layer_of(module: str) -> int | None:
    """Index in :data:`LAYERS` of a project module (the longest matching prefix wins); None outside the project."""
    best, best_len = None, -1
    for i, (_name, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            exact_only = i == 0  # the floor names single modules; "toolkit" alone must not swallow toolkit.sim
            if (module == p or (not exact_only and module.startswith(p + "."))) and len(p) > best_len:
                best, best_len = i, len(p)
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> list[str]:
    out = []
    for root in PROJECT:
        for path in sorted((REPO / root).rglob("*.py")):
            if path.name != "__main__.py":
                out.append(module_name(path))
    return out


def test_every_project_module_has_a_layer() -> None:
    missing = [m for m in project_modules() if layer_of(m) is None]
    assert not missing, f"modules outside the floor plan (add them to LAYERS): {missing}"


_PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("index", range(len(LAYERS)), ids=[name for name, _ in LAYERS])
def test_layer_loads_nothing_above_it(index: int) -> None:
    names = [m for m in project_modules() if layer_of(m) == index]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", _PROBE, *names], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    above = sorted(m for m in loaded if m.split(".")[0] in PROJECT and (layer_of(m) or 0) > index)
    assert not above, f"importing layer {LAYERS[index][0]!r} loaded higher-layer modules: {above}"
    if index == 0:
        third = {m.split(".")[0] for m in loaded} - set(sys.stdlib_module_names) - set(PROJECT) - {"__main__"}
        third = {m for m in third if not m.startswith("_")}
        assert third <= FLOOR_THIRD_PARTY, f"the floor imports {sorted(third - FLOOR_THIRD_PARTY)}"


def _local_project_imports() -> list[tuple[str, int, str]]:
    """``(path, line, source line)`` of every import of a project module inside a function."""
    out = []
    for root in PROJECT:
        for path in sorted((REPO / root).rglob("*.py")):
            text = path.read_text()
            lines = text.splitlines()
            tree = ast.parse(text)
            for func in ast.walk(tree):
                if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node in ast.walk(func):
                    if isinstance(node, ast.Import):
                        targets = [a.name for a in node.names]
                    elif isinstance(node, ast.ImportFrom):
                        targets = ["." if node.level else (node.module or "")]
                    else:
                        continue
                    if any(t == "." or t.split(".")[0] in PROJECT for t in targets):
                        out.append((str(path.relative_to(REPO)), node.lineno, lines[node.lineno - 1].strip()))
    return sorted(set(out))


def test_function_local_project_imports_are_few_and_say_why() -> None:
    found = _local_project_imports()
    listing = "\n".join(f"{p}:{n}: {src}" for p, n, src in found)
    assert len(found) <= MAX_LOCAL_IMPORTS, f"{len(found)} function-local project imports:\n{listing}"
    silent = [f"{p}:{n}: {src}" for p, n, src in found if "# delays " not in src]
    assert not silent, "each function-local import needs '# delays <heavy dependency>':\n" + "\n".join(silent)


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_edge_devices_help_loads_no_dataset_loader_and_no_torch() -> None:
    proc = _fresh(
        "import contextlib, io, json, sys\n"
        "from toolkit.cli.devices import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        "assert 'examples:' in out.getvalue()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "torch" not in loaded
    assert not [m for m in loaded if m.startswith(("toolkit.data", "toolkit.cli.replays"))]


def test_every_console_script_points_into_the_command_package() -> None:
    import tomllib

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert len(scripts) == 10
    for name, target in scripts.items():
        module, _, func = target.partition(":")
        assert module.startswith("toolkit.cli.") and func == "main", f"{name} = {target}"
        assert (REPO / Path(*module.split("."))).with_suffix(".py").is_file(), target


def test_loading_a_calibration_imports_no_optimiser(tmp_path: Path) -> None:
    proc = _fresh(
        "import sys\n"
        "from calibration import DeviceCalibration, Mount, get_real_profile\n"
        "cal = DeviceCalibration.identity('w', get_real_profile('wear-os-watch'), Mount(wrist='left'))\n"
        "import numpy as np\n"
        "cal.apply(np.zeros((2, 3)), np.zeros((2, 3)))\n"
        "assert 'scipy.optimize' not in sys.modules, 'scipy.optimize loaded'\n"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_examples_use_public_names_and_leave_sys_path_alone() -> None:
    problems = []
    for path in sorted((REPO / "examples").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and ast.unparse(node) in ("sys.path.insert", "sys.path.append"):
                problems.append(f"{path.name}: edits sys.path")
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROJECT:
                names = [a.name for a in node.names]
                proc = _fresh(f"import importlib, json; m = importlib.import_module({node.module!r}); "
                              f"print(json.dumps(getattr(m, '__all__', None)))")
                public = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
                problems += [f"{path.name}: {node.module}.{n} is not in its __all__" for n in names
                             if public is None or n not in public]
    assert not problems, "\n".join(problems)
