"""``edge-simulate``: motion capture in, synthetic IMU dataset out.

Run ``edge-simulate --help`` for the options and examples. Exit status: 0 every file simulated;
1 some files were skipped (each named on stderr with its problem; the others are written and
``manifest.json`` lists both); 2 bad option or input, nothing simulated; 3 internal error; 130
interrupted.
"""

from __future__ import annotations

import argparse
import sys

from toolkit.cli.args import MAX_THREADS, finite_float, non_negative_int, positive_float, positive_int
from toolkit.cli.fidelity import main as fidelity_main
from toolkit.errors import ConfigError
from toolkit.programs import EXIT_USAGE, parse_args, run_cli
from toolkit.sim.devices import PROFILES
from toolkit.sim.imu import DEFAULT_BANDWIDTH_HZ
from toolkit.sim.motion import DEFAULT_HEIGHT_M, DEFAULT_RATE_HZ
from toolkit.sim.pipeline import SimulationConfig, simulate_files
from toolkit.sim.placements import DEFAULT_PLACEMENTS, NAMED_SITES
from toolkit.sim.skeleton import SEGMENT_NAMES

PROG = "edge-simulate"
#: Exit status when some files were skipped (the others are written and listed in the manifest).
EXIT_SOME_SKIPPED = 1

EXAMPLES = """\
examples:
  # both wrist watches (default) of a CMU clip at 60 Hz, ideal sensor
  edge-simulate tests/fixtures/cmu/131_01_excerpt.bvh --out out/sim

  # every CMU clip, 8 human-attribute variants, 4 random surface placements each, 2 processes
  edge-simulate ../shared/data/cmu-mocap/asfamc/*/*.amc ../shared/data/cmu-mocap/bvh/*.bvh \\
      --variants 8 --surface-samples 4 --workers 2 --out out/cmu

  # an Empatica E4 on the left wrist (32 Hz, +-2 g, 1/64 g, no gyroscope), AMASS input
  edge-simulate walk_poses.npz --placements left_wrist --device empatica-e4 --out out/e4

  # your own SMPL model (licensed, never shipped) instead of the built-in body; betas as variants
  edge-simulate clip.bvh --body-model ~/models/smpl --gender female --variants 4 --out out/smpl

  # any humanoid BVH (Mixamo, Bandai Namco, LAFAN1, Rokoko, SMPL names); odd names via a joint map
  edge-simulate dataset/*/data/*.bvh --workers 2 --out out/bandai
  edge-simulate rig.bvh --units cm --up-axis z --joint-map rig_joints.yaml --out out/rig
  # motions written as joint-angle keyframes (format: toolkit/sim/loaders/keyframes.py)
  edge-simulate examples/keyframes/*.yaml --variants 3 --out out/keyframes

  # list placements, body segments and device profiles
  edge-simulate --list

  # the paper's fidelity metric of a simulated clip against a real recording
  edge-simulate fidelity --sim out/sim/131_01_excerpt_v0.npz --placement left_wrist \\
      --real real.csv --real-rate 100

Output: DIR/manifest.json and one DIR/<clip>_v<k>.npz per clip variant (see toolkit/sim/dataset.py).
A file that cannot be simulated is named on stderr with its problem and skipped; manifest.json lists it
under "skipped". Exit status: 0 all simulated, 1 some skipped (the rest written), 2 bad option or input
(nothing simulated), 3 internal error.
Frames and units: world y-up, gravity (0,-9.81,0) m/s^2, acc m/s^2, gyro rad/s, watch frame = Android
(+X 3 o'clock, +Y 12 o'clock, +Z out of the face).
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Simulate wrist (and other) IMU signals from motion capture (.bvh, .amc + .asf, AMASS .npz) "
                    "or keyframe motion scripts (.yaml).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("motion", nargs="*",
                   help="motion files: .bvh, .amc (its .asf beside it), AMASS-style .npz, keyframe script .yaml")
    p.add_argument("--out", "-o", help="output dataset folder (created)")
    p.add_argument("--rate", type=positive_float(100_000.0), default=DEFAULT_RATE_HZ,
                   help="simulation rate in Hz (default: %(default)s)")
    p.add_argument(
        "--placements",
        default=",".join(DEFAULT_PLACEMENTS),
        help="comma-separated named sites (default: %(default)s; see --list); '' for none",
    )
    p.add_argument("--surface-samples", type=non_negative_int(100_000), default=0,
                   help="random body-surface placements per variant")
    p.add_argument(
        "--segments", default=None, help="comma-separated segments to sample on (default: all but fingers/toes)"
    )
    p.add_argument(
        "--jitter-deg", type=finite_float(0.0, 360.0), default=30.0,
        help="rotation jitter about the normal in deg (default 30)",
    )
    p.add_argument("--variants", type=positive_int(100_000), default=1,
                   help="human-attribute variants per clip; v0 = reference body")
    p.add_argument("--height", type=positive_float(10.0), default=DEFAULT_HEIGHT_M,
                   help="reference body height in m (default 1.7)")
    p.add_argument("--device", default="ideal", help="device profile (default: ideal; see --list)")
    p.add_argument("--seed", type=non_negative_int(), default=0, help="random seed (default 0); same seed, same output")
    p.add_argument("--workers", type=positive_int(MAX_THREADS), default=1, help="worker processes (default 1)")
    p.add_argument(
        "--acc-bandwidth-hz",
        type=positive_float(),
        default=DEFAULT_BANDWIDTH_HZ,
        help="-3 dB bandwidth of the accelerometer and gyroscope in Hz, flat below it (default: %(default)s; "
        "lower it for jittery motion capture)",
    )
    p.add_argument("--body-model", help="SMPL/SMPL-H/SMPL-X model file or folder (.npz or .pkl); default: built-in")
    p.add_argument("--gender", default="neutral", choices=["neutral", "male", "female"], help="SMPL model gender")
    p.add_argument(
        "--units", default="auto", help="BVH length unit: auto (from the body height), m, cm, mm, inch, cmu"
    )
    p.add_argument("--up-axis", default="auto", help="BVH up axis: auto (from the skeleton), y, z, x, -y, -z, -x")
    p.add_argument("--joint-map", help="YAML 'source joint: SMPL joint' lines for BVH skeletons with unusual names")
    p.add_argument("--overwrite", action="store_true", help="write into an existing non-empty --out folder")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--list", action="store_true", help="list placements, segments and device profiles, then exit")
    return p


def print_catalogue() -> None:

    print("named placements:")
    for name, spec in NAMED_SITES.items():
        print(f"  {name:16s} {spec.description}")
    print("segments for --surface-samples:")
    print("  " + ", ".join(SEGMENT_NAMES))
    print("device profiles:")
    for name, prof in PROFILES.items():
        rate = f"{prof.rate_hz:g} Hz" if prof.rate_hz else "simulation rate"
        print(f"  {name:16s} {rate}, acc in {prof.acc_units}, gyro: {'yes' if prof.has_gyro else 'no'}")


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(s.strip() for s in value.split(",") if s.strip()) if value else ()


def run(argv: list[str]) -> int:
    if argv and argv[0] == "fidelity":

        return fidelity_main(argv[1:])
    args = parse_args(build_parser(), argv)
    if args is None:
        return EXIT_USAGE
    if args.list:
        print_catalogue()
        return 0
    if not args.motion:
        raise ConfigError("no motion files given (see --help for examples)")
    if not args.out:
        raise ConfigError("--out DIR is required")

    config = SimulationConfig(
        rate_hz=args.rate,
        height_m=args.height,
        placements=_split(args.placements),
        surface_samples=args.surface_samples,
        surface_segments=_split(args.segments) or None,
        jitter_deg=args.jitter_deg,
        variants=args.variants,
        device=args.device,
        seed=args.seed,
        acc_bandwidth_hz=args.acc_bandwidth_hz,
        body_model=args.body_model,
        gender=args.gender,
        units=args.units,
        up_axis=args.up_axis,
        joint_map=args.joint_map,
    )
    manifest = simulate_files(
        args.motion,
        args.out,
        config,
        workers=args.workers,
        progress=not args.no_progress,
        overwrite=args.overwrite,
        on_skip=_report_skip,
    )
    clips = manifest["clips"]
    seconds = sum(c["duration_s"] for c in clips)
    skipped = manifest["skipped"]
    print(
        f"{PROG}: {len(manifest['sources'])} file(s) -> {len(clips)} clip variant(s), "
        f"{seconds:.1f} s of signal per placement, in {manifest['wall_time_s']:.2f} s -> {args.out}"
        + (f"; {len(skipped)} file(s) skipped (listed in manifest.json)" if skipped else "")
    )
    return EXIT_SOME_SKIPPED if skipped else 0


def _report_skip(path: str, problem: str) -> None:
    """One line on stderr per skipped file, as soon as it fails."""
    print(f"{PROG}: skipped {path}: {problem}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    return run_cli(PROG, lambda: run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
