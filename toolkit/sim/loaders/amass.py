"""AMASS-style ``.npz`` motions (SMPL / SMPL-H / SMPL-X axis-angle poses) -> canonical :class:`Motion`.

File keys (as AMASS stores them):

* ``poses`` (T, 72) SMPL, (T, 156) SMPL-H (root + 21 body + 2 x 15 hand joints) or (T, 165)
  SMPL-X (root + 21 body + jaw + 2 eyes + 2 x 15 hand joints), axis-angle [rad];
* ``trans`` (T, 3) root translation [m]; ``mocap_framerate`` or ``mocap_frame_rate`` [Hz];
* optional ``betas``, ``gender`` (a 0-d unicode or bytes array, readable without pickle).

The file is read with ``np.load(allow_pickle=False)``; a file or key that needs pickle is refused.
Before anything is allocated, each array's ``.npy`` header is read and checked against the bytes the
archive actually holds (a damaged or hostile header cannot make the loader allocate gigabytes), and
the frame rate must lie within 1-2000 Hz (a rate of 1e-6 Hz would turn a few frames into years).

Conversion. AMASS is z-up: a standing body's root orientation is about ``Rx(+90 deg)`` (SMPL's
y-up model frame turned onto z-up). With ``C`` = :data:`toolkit.frames.Z_UP_TO_Y_UP`:

* root orientation ``R' = C R``; the other joints' local rotations carry over unchanged (SMPL's
  rest frame is the toolkit's rest frame);
* pelvis position: SMPL places the pelvis joint at ``R (J0 - J0) + J0 + trans = J0 + trans`` in
  the z-up world, ``J0`` being the rest pelvis in the model frame; so ``p' = C (J0 + trans)``.
  ``J0`` comes from ``body.model_pelvis`` (an :class:`toolkit.sim.smpl_body.SMPLBody`, ideally built
  with the file's gender and betas); without a body the reference body's pelvis is used. ``J0`` is
  constant, so it only shifts the raw trajectory, and :func:`toolkit.sim.canonical.canonicalize`
  removes any constant shift (it re-centres the feet): the approximation does not change the
  canonical motion;
* joints 0..21 come from the file; the SMPL hand joints 22 / 23 are taken from a 72-d file and
  set to the identity for SMPL-H / SMPL-X (which have finger joints instead; they are dropped);
* scale: AMASS positions are metres for the subject's own body. With a ``body`` the scale is
  :func:`toolkit.sim.canonical.leg_scale` of that body's pelvis-to-ankle height (strides follow
  leg length); without one it is 1.0, i.e. the subject is assumed to have the reference body's
  legs (a 1.70 m body);
* finally :func:`toolkit.sim.canonical.canonicalize` (resample to ``rate_hz``, feet centred).

Memory and speed (an hour of SMPL-H at 60 Hz is a 275 MB file). A member stored uncompressed (as
``np.savez`` writes it) is memory-mapped, not copied; its CRC-32 and the finiteness of every
value are still checked, by a helper thread while the main thread converts the rotations (both
are whole-array passes), and any problem is raised before the motion is used. The conversion runs
in blocks of :data:`_BLOCK` frames straight into the motion's one (T, 24, 4) array, so no
array-sized temporaries are allocated (on this VM fresh memory costs ~2-3 ms of system time per MB).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from toolkit.errors import InputFileError
from toolkit.frames import UP_AXIS, Z_UP_TO_Y_UP
from toolkit.sim.body import BodyModel
from toolkit.sim.canonical import canonicalize, leg_scale, reference_body
from toolkit.sim.motion import DEFAULT_HEIGHT_M, DEFAULT_RATE_HZ, Motion
from toolkit.sim.rotations import quat_mul
from toolkit.sim.skeleton import JOINT_INDEX, NUM_JOINTS

#: Width of ``poses`` -> model type.
POSE_WIDTHS: dict[int, str] = {72: "smpl", 156: "smplh", 165: "smplx"}
_RATE_KEYS = ("mocap_framerate", "mocap_frame_rate")
_MIN_FRAMES = 4
#: Accepted source frame rates [Hz].
RATE_RANGE_HZ = (1.0, 2000.0)
#: Largest array a motion file may hold [bytes] (an hour of SMPL-X at 120 Hz is 0.57 GB).
MAX_ARRAY_BYTES = 4 * 1024**3
_KEYS = ("poses", "trans", "betas", "gender", *_RATE_KEYS)
_BLOCK = 1024  # frames per block of the conversion (temporaries < 1 MB: reused, never page-faulted afresh)
_CRC_BLOCK = 1 << 22  # bytes per CRC-32 update
#: Z_UP_TO_Y_UP as a unit quaternion (x, y, z, w): a rotation of -90 deg about x.
_C_QUAT = np.array([-np.sqrt(0.5), 0.0, 0.0, np.sqrt(0.5)])


def _read(data: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    try:
        return np.asarray(data[key])
    except ValueError:
        raise InputFileError(
            path, f"{key!r} is a pickled object array; re-save it as a plain array (no pickle)"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise InputFileError(path, f"damaged archive member {key!r}: {e}") from None


def _mapped_member(path: Path, key: str) -> tuple[np.ndarray, Callable[[], None]] | None:
    """A read-only memory map of the stored (uncompressed) member ``key.npy`` of an ``.npz``, or None.

    ``np.savez`` stores members uncompressed, so the array's bytes lie in the file as they are:
    mapping them costs no copy and no fresh memory (an hour of SMPL-H poses is 275 MB). Returns
    the array and its integrity check: a function that verifies the member's CRC-32 over the
    mapping (what ``np.load`` does while reading) and raises :class:`InputFileError` on damaged
    bytes. None for a compressed, non-numeric or Fortran-ordered member (read it the usual way).
    """
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(f"{key}.npy")
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
                return None
            with open(path, "rb") as fh:
                fh.seek(info.header_offset)
                local = fh.read(30)
                if len(local) != 30 or local[:4] != b"PK\x03\x04":
                    return None
                start = info.header_offset + 30 + int.from_bytes(local[26:28], "little")
                start += int.from_bytes(local[28:30], "little")
                fh.seek(start)
                major, _minor = np.lib.format.read_magic(fh)
                read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read(fh)
                offset = fh.tell()
    except KeyError:
        return None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return None  # the usual reader names the problem
    if fortran or dtype.kind not in "fiu" or len(shape) == 0 or 0 in shape:
        return None
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if offset - start + nbytes != info.file_size:
        return None
    whole = np.memmap(path, dtype=np.uint8, mode="r", offset=start, shape=(info.file_size,))

    def check_crc() -> None:
        crc = 0
        for s in range(0, info.file_size, _CRC_BLOCK):  # zlib releases the GIL: runs beside the conversion
            crc = zlib.crc32(whole[s : s + _CRC_BLOCK], crc)
        if crc != info.CRC:
            raise InputFileError(path, f"damaged archive member {key!r}: CRC-32 mismatch")

    return np.ndarray(shape, dtype=dtype, buffer=whole, offset=offset - start), check_crc


def _all_finite(x: np.ndarray) -> bool:
    """``np.isfinite(x).all()`` block by block along axis 0 (no array-sized temporary)."""
    return all(bool(np.isfinite(x[s : s + _BLOCK]).all()) for s in range(0, x.shape[0], _BLOCK))


def check_array_headers(path: Path) -> None:
    """Read the ``.npy`` headers of the motion keys and refuse sizes the archive cannot hold.

    Raises:
        InputFileError: damaged archive, unreadable header, or an array larger than its member or
            than :data:`MAX_ARRAY_BYTES`.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                key = info.filename.removesuffix(".npy")
                if key not in _KEYS:
                    continue
                with zf.open(info) as fh:
                    major, _minor = np.lib.format.read_magic(fh)
                    read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                    shape, _fortran, dtype = read(fh)
                    header_bytes = fh.tell()
                if dtype.hasobject:
                    continue  # refused with its own message when read
                nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if nbytes > MAX_ARRAY_BYTES:
                    too_big = f"{key!r} claims {shape} {dtype} = {nbytes / 1e9:.3g} GB, over the limit"
                    raise InputFileError(path, too_big)
                if nbytes > info.file_size - header_bytes:
                    raise InputFileError(
                        path,
                        f"{key!r} claims {shape} {dtype} ({nbytes} bytes) but the archive holds "
                        f"{info.file_size - header_bytes} bytes (damaged or forged header)",
                    )
    except zipfile.BadZipFile as e:
        raise InputFileError(path, f"damaged .npz archive: {e}") from None
    except (ValueError, OSError, EOFError, zlib.error) as e:
        raise InputFileError(path, f"damaged .npy header in the archive: {e}") from None


def _scalar_text(value: np.ndarray) -> str:
    v = value.item() if value.size == 1 else ""
    return v.decode("latin1") if isinstance(v, bytes) else str(v)


def read_amass_npz(path: str | Path) -> dict:
    """Read and validate the arrays of an AMASS-style file.

    Returns:
        ``{"poses": (T, W), "trans": (T, 3), "rate_hz": float, "betas": (B,), "gender": str,
        "model_type": str}``; ``poses`` is the file's own array, read-only and memory-mapped when
        the member is stored uncompressed (``np.savez``), any real dtype; the others are float64.

    Raises:
        InputFileError: one line naming the first problem.
    """
    arrays, check_data = _read_amass(Path(path))
    check_data()
    return arrays


def _read_amass(p: Path) -> tuple[dict, Callable[[], None]]:
    """:func:`read_amass_npz` with the checks that read all of ``poses`` (its CRC-32 and that every
    value is finite) returned as a function, to run beside the conversion (each is a pass over the
    whole array: ~0.1 s for an hour of SMPL-H)."""
    if p.is_dir():
        raise InputFileError(p, "is a folder, not an .npz motion file")
    if zipfile.is_zipfile(p):
        check_array_headers(p)
    try:
        data = np.load(p, allow_pickle=False)
    except FileNotFoundError:
        raise InputFileError(p, "file not found") from None
    except zipfile.BadZipFile as e:
        raise InputFileError(p, f"damaged .npz archive: {e}") from None
    except ValueError as e:
        raise InputFileError(p, f"not a plain .npz archive (pickled data is refused): {e}") from None
    except OSError as e:
        raise InputFileError(p, f"cannot read: {e}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise InputFileError(p, "expected an .npz archive with 'poses' and 'trans', found a single .npy array")
    with data:
        files = set(data.files)
        if "poses" not in files:
            raise InputFileError(p, "missing 'poses' (not an AMASS motion file)")
        mapped = _mapped_member(p, "poses")
        poses, check_crc = mapped if mapped is not None else (_read(data, "poses", p), None)
        if "trans" not in files:
            raise InputFileError(p, "missing 'trans'")
        trans = _read(data, "trans", p)
        rate_key = next((k for k in _RATE_KEYS if k in files), None)
        if rate_key is None:
            raise InputFileError(p, "missing the frame rate ('mocap_framerate' or 'mocap_frame_rate')")
        rate = _read(data, rate_key, p)
        betas = _read(data, "betas", p) if "betas" in files else np.zeros(0)
        gender = _scalar_text(_read(data, "gender", p)) if "gender" in files else ""
    if poses.ndim != 2 or poses.shape[1] not in POSE_WIDTHS or poses.dtype.kind not in "fiu":
        raise InputFileError(
            p, f"'poses' must be (T, 72), (T, 156) or (T, 165) numbers, found {poses.dtype} {poses.shape}"
        )
    t = poses.shape[0]
    if t < _MIN_FRAMES:
        raise InputFileError(p, f"only {t} frames (need at least {_MIN_FRAMES})")
    if trans.ndim != 2 or trans.shape[1] != 3 or trans.dtype.kind not in "fiu":
        raise InputFileError(p, f"'trans' must be (T, 3) numbers, found {trans.dtype} {trans.shape}")
    if trans.shape[0] != t:
        raise InputFileError(p, f"'trans' has {trans.shape[0]} frames but 'poses' has {t}")
    if rate.size != 1 or rate.dtype.kind not in "fiu":
        raise InputFileError(p, f"'{rate_key}' must be a single number, found {rate.dtype} {rate.shape}")
    rate_hz = float(rate.item())
    if not (np.isfinite(rate_hz) and rate_hz > 0):
        raise InputFileError(p, f"'{rate_key}' must be a positive frame rate, found {rate_hz}")
    if not (RATE_RANGE_HZ[0] <= rate_hz <= RATE_RANGE_HZ[1]):
        lo, hi = RATE_RANGE_HZ
        raise InputFileError(p, f"'{rate_key}' must be a frame rate within {lo:g}-{hi:g} Hz, found {rate_hz:g}")
    trans = np.asarray(trans, dtype=np.float64)
    if not np.isfinite(trans).all():
        raise InputFileError(p, "'poses' or 'trans' contains NaN or infinite values")
    if betas.dtype.kind not in "fiu" or not np.isfinite(betas).all():
        raise InputFileError(p, "'betas' must be finite numbers")

    def check_data() -> None:
        if check_crc is not None:
            check_crc()
        if not _all_finite(poses):
            raise InputFileError(p, "'poses' or 'trans' contains NaN or infinite values")

    arrays = {
        "poses": poses,
        "trans": trans,
        "rate_hz": rate_hz,
        "betas": betas.astype(np.float64).ravel(),
        "gender": gender,
        "model_type": POSE_WIDTHS[poses.shape[1]],
    }
    return arrays, check_data


def rotvec_to_quat(rotvec: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4) (x, y, z, w) of rotation vectors (..., 3) [rad] (vectorised numpy).

    ``q = (sin(theta/2) r / theta, cos(theta/2))``, ``theta = |r|``; below 1e-4 rad the factor
    ``sin(theta/2) / theta`` is its Taylor series ``1/2 - theta^2/48`` (exact to double precision).
    """
    x, y, z = rotvec[..., 0], rotvec[..., 1], rotvec[..., 2]
    theta2 = x * x + y * y + z * z
    theta = np.sqrt(theta2)
    half = 0.5 * theta
    small = theta < 1e-4
    factor = np.divide(np.sin(half), theta, out=0.5 - theta2 / 48.0, where=~small)
    out = np.empty(rotvec.shape[:-1] + (4,))
    np.multiply(rotvec, factor[..., None], out=out[..., :3])
    np.cos(half, out=out[..., 3])
    return out


def amass_to_raw_motion(poses: np.ndarray, trans: np.ndarray, rate_hz: float, pelvis_rest: np.ndarray) -> Motion:
    """Un-normalised y-up :class:`Motion` (source metres, source rate) from z-up AMASS arrays.

    Converted block by block (:data:`_BLOCK` frames) straight into the motion's one (T, 24, 4)
    array: no (T, 24, 3) rotation-vector copy and no array-sized temporaries (an hour at 60 Hz
    would need ~1 GB of them), and ``poses`` may be a memory map of the file. The quaternions
    are unit by construction, with ``w >= 0`` (:func:`toolkit.sim.canonical.canonicalize` need not
    normalise them again).

    Args:
        poses: (T, 72 | 156 | 165) axis-angle poses [rad], any real dtype.
        trans: (T, 3) z-up root translations [m].
        rate_hz: frame rate [Hz].
        pelvis_rest: (3,) rest pelvis joint ``J0`` in the model frame [m].
    """
    t = poses.shape[0]
    quat = np.empty((t, NUM_JOINTS, 4))
    quat[:, 22:24] = (0.0, 0.0, 0.0, 1.0)
    cols = 72 if poses.shape[1] == 72 else 66  # SMPL's own hand joints, or none (SMPL-H / SMPL-X)
    for s in range(0, t, _BLOCK):
        block = quat[s : s + _BLOCK]
        rotvec = np.asarray(poses[s : s + _BLOCK, :cols], dtype=np.float64).reshape(block.shape[0], cols // 3, 3)
        block[:, : cols // 3] = rotvec_to_quat(rotvec)
        block[:, 0] = quat_mul(_C_QUAT, block[:, 0])
        np.negative(block, out=block, where=block[..., 3:] < 0)  # w >= 0 (angles beyond pi)
    root = (np.asarray(pelvis_rest, dtype=np.float64)[None, :] + trans) @ Z_UP_TO_Y_UP.T
    return Motion(rate_hz=rate_hz, root_pos=root, local_quat=quat)


def load_amass(
    path: str | Path,
    *,
    height_m: float = DEFAULT_HEIGHT_M,
    rate_hz: float = DEFAULT_RATE_HZ,
    text: str = "",
    name: str | None = None,
    body: BodyModel | None = None,
) -> Motion:
    """Load an AMASS-style ``.npz`` as a canonical :class:`Motion` (see the module docstring).

    Args:
        path: the ``.npz`` file.
        height_m: body height to normalise to [m].
        rate_hz: output rate [Hz].
        text: the clip's description.
        name: identifier; default the file stem.
        body: the subject's body (an :class:`~toolkit.sim.smpl_body.SMPLBody` built with the file's
            gender and betas gives the exact ``J0`` and leg length); None = reference body, scale 1.

    Raises:
        InputFileError: missing keys, wrong shapes, NaN / inf, fewer than 4 frames, pickled content.
    """
    p = Path(path)
    arrays, check_data = _read_amass(p)
    if body is not None:
        rest = body.rest_joints
        pelvis_rest = np.asarray(getattr(body, "model_pelvis", rest[0]), dtype=np.float64)
        ankles = 0.5 * (rest[JOINT_INDEX["left_ankle"], UP_AXIS] + rest[JOINT_INDEX["right_ankle"], UP_AXIS])
        scale = leg_scale(float(rest[0, UP_AXIS] - ankles), height_m)
    else:
        pelvis_rest = reference_body(height_m).rest_joints[0]
        scale = 1.0
    with ThreadPoolExecutor(max_workers=1) as checker:  # the checks run beside the conversion (2 cores)
        checked = checker.submit(check_data)
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite poses: refused just below
            raw = amass_to_raw_motion(arrays["poses"], arrays["trans"], arrays["rate_hz"], pelvis_rest)
        checked.result()  # damaged or non-finite data: raised here, before anything uses it
    raw.text = text
    raw.source = str(p)
    raw.name = name or p.stem
    raw.meta = {
        "format": "amass",
        "model_type": arrays["model_type"],
        "gender": arrays["gender"],
        "betas": [float(b) for b in arrays["betas"]],
        "source_rate_hz": arrays["rate_hz"],
        "scale": scale,
        "pelvis_rest": "body" if body is not None else "reference body (approximation)",
    }
    return canonicalize(raw, scale=scale, height_m=height_m, rate_hz=rate_hz, consume=True, normalized=True)
