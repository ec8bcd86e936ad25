"""The export flow behind ``edge-export``, top to bottom (one call: :func:`export_bundles`):

1. split the teacher's windows by subject: evaluation subjects are held out of distillation AND calibration;
2. standardise with the teacher's input spec (mean/std of its training data) and score the float teacher;
3. per profile (``phone``, ``watch``, ``watch-acc``): build an :class:`~export.student.EdgeStudent` that sees the
   profile's channels (``watch-acc``: the accelerometer only), distil it from the teacher (which keeps all of its
   input channels, gyroscope included), score it;
4. pick >= 256 calibration windows from the training subjects (or a given calibration file);
5. per target x precision: export, load the file back in its runtime, compare with the float student on the
   held-out windows (max |delta logit|, top-1 agreement, macro F1) and with the float teacher (top-1 agreement);
6. int8 ``.pte`` losing more than 1 point of macro F1 on the TRAINING subjects' windows: quantisation-aware
   training, distilled from the float student, replaces it (``qat="auto"``; ``"on"`` always, ``"off"`` never);
7. write the student checkpoint, class text embeddings and ``manifest.json`` (sha256 of every file).

The float teacher is also saved under ``<out>/teacher/`` (classifier.pt + classifier.json) for ``edge-bench``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from export.distill import DistillConfig, distill, embedding_agreement, macro_f1, predict_logits
from export.exporters import EXTENSIONS, check_target, exporter, parity, run_all
from export.manifest import git_commit, package_versions, sha256_file, write_manifest
from export.quantize import SETTINGS, CalibrationSet, calibration_set, check_calibration, needs_qat, pt2e_qat
from export.student import EdgeStudent, count_macs, count_params, student_config
from export.teacher import CHECKPOINT_NAME, InputSpec, Teacher, load_windows, split_subjects
from toolkit.errors import ConfigError
from toolkit.train.channels import ACC_CHANNELS, uses_gyro
from toolkit.train.checkpoint import save_checkpoint

#: Target profiles: the student size each gets by default and the precisions it ships.
#: ``channels``: what the student sees (None: the teacher's channels; a teacher with gyroscope keeps it during
#: distillation either way).
PROFILES: dict[str, dict[str, Any]] = {
    "phone": {"student_size": "base", "channels": None, "description": "phones: larger student, fp32 and/or int8"},
    "watch": {"student_size": "small", "channels": None, "description": "watches: smaller student, int8 first"},
    "watch-acc": {"student_size": "small", "channels": ACC_CHANNELS,
                  "description": "accelerometer-only devices (Empatica E4, ...): the watch student without gyroscope "
                                 "input, distilled from the acc + gyro teacher"},
}


def default_profiles(teacher: Teacher) -> list[str]:
    """``phone``, ``watch`` and, when the teacher uses the gyroscope, ``watch-acc``."""
    return ["phone", "watch"] + (["watch-acc"] if uses_gyro(teacher.spec.channels) else [])


def student_channels(profile: str, spec: InputSpec) -> tuple[str, ...]:
    """The channels the student of ``profile`` sees (a subset of the teacher's)."""
    wanted = PROFILES[profile]["channels"] or spec.channels
    missing = [c for c in wanted if c not in spec.channels]
    if missing:
        raise ConfigError(f"profile {profile}: the teacher has no input channels {missing}")
    return tuple(wanted)


def save_teacher(teacher: Teacher, folder: Path) -> None:
    """Write the teacher as a toolkit/train classifier checkpoint (what :func:`~export.teacher.load_teacher` reads)."""

    spec, model = teacher.spec, teacher.model
    payload = {
        "model": model.state_dict(),
        "model_config": {"arch": "har", "imu": model.imu_cfg.to_dict(), "classifier": model.cfg.to_dict()},
        "normalizer": {"schema": 1, "mean": list(spec.mean), "std": list(spec.std)},
        "extra": {"class_names": list(teacher.class_names), "source": teacher.source,
                  "channels": list(spec.channels)},
    }
    grid = {"rate_hz": spec.rate_hz, "window_s": spec.window_s, "hop_s": spec.hop_s}
    save_checkpoint(folder / CHECKPOINT_NAME, payload, kind="classifier", config={"grid": grid},
                    metrics={"fold": {"test": list(teacher.eval_subjects)}})


def export_bundles(
    teacher: Teacher, out: str | Path, *, targets: Sequence[str] = ("pte", "tflite", "onnx"),
    precisions: Sequence[str] = ("int8",), profiles: Sequence[str] | None = None,
    student_size: str | None = None, calibration: str | Path | None = None, distill_cfg: DistillConfig | None = None,
    qat: str = "auto", log: Callable[[str], None] = print,
) -> dict[str, dict[str, Any]]:
    """Export ``teacher``'s distilled students into ``out/<profile>/``; returns {profile: manifest}.

    ``profiles``: names in :data:`PROFILES` (None: :func:`default_profiles`). The windows are refused when a
    channel the teacher uses holds NaN / inf (ConfigError naming the channel).
    """
    for t in targets:
        check_target(t)  # fail before any work when a runtime is missing
    t_start = time.perf_counter()
    _log = log

    def log(msg: str) -> None:
        _log(f"{time.perf_counter() - t_start:6.1f}s {msg}")

    if teacher.windows is None:
        raise ConfigError("no windows to distil on: give --data (x, y, subject .npz) or put 'data' in the sidecar")
    spec, data = teacher.spec, teacher.windows
    raw = data.select(spec.channels, "windows to distil on")
    spec.check(raw)
    profiles = list(profiles) if profiles is not None else default_profiles(teacher)
    for profile in profiles:
        if profile not in PROFILES:
            raise ConfigError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
        student_channels(profile, spec)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    # 1-2. subjects, standardisation, teacher score
    if teacher.eval_subjects:  # the subjects the teacher never saw (its fine-tuning fold's test subjects)
        eval_subj = sorted(set(teacher.eval_subjects))
        train_subj = sorted(set(data.subject.tolist()) - set(eval_subj))
    else:
        train_subj, eval_subj = split_subjects(data)
    tr, ev = np.isin(data.subject, train_subj), np.isin(data.subject, eval_subj)
    x = spec.normalise(raw)
    labelled = tr & (data.y >= 0)
    teacher_ev = predict_logits(teacher.model, x[ev])
    teacher_f1 = macro_f1(data.y[ev], teacher_ev.argmax(1))
    teacher_example = torch.from_numpy(x[:1].copy())
    log(f"teacher: {count_params(teacher.model):,} parameters, macro F1 {teacher_f1:.3f} on held-out subjects "
        f"{', '.join(eval_subj)} ({int(ev.sum())} windows)")
    save_teacher(teacher, out / "teacher")

    # 4. calibration windows (never from evaluation subjects)
    if calibration is not None:
        cw = load_windows(calibration)
        cal_raw = cw.select(spec.channels, f"calibration windows {calibration}")
        spec.check(cal_raw)
        cal = CalibrationSet(spec.normalise(cal_raw), tuple(sorted(set(cw.subject.tolist()))))
        check_calibration(cal, eval_subj)
    else:
        cal = calibration_set(x, data.subject, eval_subj)
    log(f"calibration: {len(cal)} windows from subjects {', '.join(cal.subjects)}")

    manifests = {}
    for profile in profiles:
        folder = out / profile
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        size = student_size or PROFILES[profile]["student_size"]
        # 3. student: it sees its profile's channels of the windows; the teacher keeps all of its own
        s_channels = student_channels(profile, spec)
        s_spec = spec.restricted(s_channels)
        idx = [spec.channels.index(c) for c in s_channels]
        xs = np.ascontiguousarray(x[..., idx])
        s_cal = CalibrationSet(np.ascontiguousarray(cal.x[..., idx]), cal.subjects)
        example = torch.from_numpy(xs[:1].copy())
        cfg = student_config(size, in_channels=xs.shape[2], window=xs.shape[1], num_classes=len(teacher.class_names),
                             embed_out=teacher.model.imu_cfg.out_dim)
        torch.manual_seed((distill_cfg or DistillConfig()).seed)  # the student's initial weights: reproducible
        student = EdgeStudent(cfg)
        log(f"[{profile}] distilling a '{size}' student ({count_params(student):,} parameters) on "
            f"{', '.join(s_channels)} from the teacher's {', '.join(spec.channels)}")
        distill(teacher.model, student, x[tr], np.where(labelled, data.y, -1)[tr], distill_cfg, progress=True,
                student_windows=xs[tr])
        ref = predict_logits(student, xs[ev])
        student_f1 = macro_f1(data.y[ev], ref.argmax(1))
        student_vs_teacher = float((ref.argmax(1) == teacher_ev.argmax(1)).mean())
        cos = embedding_agreement(teacher.model, student, x[ev], xs[ev])
        log(f"[{profile}] student macro F1 {student_f1:.3f} (teacher {teacher_f1:.3f}), top-1 agreement with the "
            f"teacher {student_vs_teacher:.3f}, embedding cosine {cos:.3f}")
        torch.save(student.state_dict(), folder / "student.pt")
        (folder / "student.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")

        # 5-6. artefacts
        artefacts = []
        for target in targets:
            mod = exporter(target)
            for precision in precisions:
                name = f"student_{precision}{EXTENSIONS[target]}"
                path = folder / name
                log(f"[{profile}] {target} {precision}: exporting {name}")
                extra = {"etrecord_path": folder / f"student_{precision}.etrecord"} if target == "pte" else {}
                info = mod.export(student, example, path, precision == "int8", s_cal, **extra)
                got = run_all(mod.load(path), xs[ev])
                fig = parity(ref, got, data.y[ev])
                if target == "pte" and precision == "int8" and qat != "off":
                    # decided on the TRAINING subjects' windows (never on the evaluation subjects reported below)
                    f1_float_tr = macro_f1(data.y[labelled], predict_logits(student, xs[labelled]).argmax(1))
                    f1_int8_tr = macro_f1(data.y[labelled], run_all(mod.load(path), xs[labelled]).argmax(1))
                    if qat == "on" or needs_qat(f1_float_tr, f1_int8_tr):
                        log(f"[{profile}] pte int8 loses {f1_float_tr - f1_int8_tr:.3f} F1 on the training "
                            f"subjects: quantisation-aware training (distilled from the float student)")
                        converted = pt2e_qat(student, example, xs[tr], np.where(labelled, data.y, -1)[tr])
                        info = mod.export(converted, example, path, False, None, **extra)
                        info.update({"qat": True, "ptq_macro_f1_on_eval": fig["macro_f1"],
                                     "qat_decided_on": "training subjects",
                                     "ptq_vs_float_macro_f1_on_training": [f1_int8_tr, f1_float_tr]})
                        got = run_all(mod.load(path), xs[ev])
                        fig = parity(ref, got, data.y[ev])
                vs_teacher = parity(teacher_ev, got)
                log(f"[{profile}] {target} {precision}: {path.stat().st_size / 1024:.1f} KB, max|dlogit| "
                    f"{fig['max_abs_delta_logit']:.2e}, top-1 agreement {fig['top1_agreement']:.3f} with the float "
                    f"student, {vs_teacher['top1_agreement']:.3f} with the float teacher, "
                    f"macro F1 {fig['macro_f1']:.3f}"
                    + (f", {info['partitions']} XNNPACK partition(s), {sum(info['non_delegated_ops'].values())} "
                       "op(s) outside" if target == "pte" else ""))
                artefacts.append({"file": name, "target": target, "precision": precision, "bytes": path.stat().st_size,
                                  "runtime": {"pte": "executorch.runtime (XNNPACK)", "tflite": "ai_edge_litert",
                                              "onnx": "onnxruntime CPU"}[target],
                                  "parity_vs_float_student": fig,
                                  "agreement_vs_float_teacher": {"top1_agreement": vs_teacher["top1_agreement"],
                                                                 "n_windows": vs_teacher["n_windows"]},
                                  "export": info})

        # 7. manifest
        text_file = None
        if teacher.class_text_embeddings is not None:
            text_file = "class_text_embeddings.npy"
            np.save(folder / text_file, np.asarray(teacher.class_text_embeddings, np.float32))
        manifest = {
            "profile": profile, "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "input": s_spec.to_dict(), "classes": teacher.class_names,
            "outputs": {"logits": "(1, K) float32 (int8 artefacts: dequantised by the loader)",
                        "embedding": f"(1, {cfg.embed_out}) float32 in the teacher's latent space; cosine against "
                                     "class_text_embeddings gives zero-shot scores"},
            "class_text_embeddings": text_file,
            "student": {"size": size, "config": cfg.to_dict(), "parameters": count_params(student),
                        "macs": count_macs(student, example), "checkpoint": "student.pt"},
            "teacher": {"parameters": count_params(teacher.model),
                        "macs": count_macs(teacher.model, teacher_example), "folder": "../teacher",
                        "channels": list(spec.channels)},
            "metrics": {"eval_subjects": eval_subj, "train_subjects": train_subj, "n_eval_windows": int(ev.sum()),
                        "teacher_macro_f1": teacher_f1, "student_macro_f1": student_f1,
                        "student_teacher_top1_agreement": student_vs_teacher,
                        "student_teacher_embedding_cosine": cos},
            "artefacts": artefacts,
            "quantization": {**SETTINGS, "calibration_windows": len(cal), "calibration_subjects": list(cal.subjects)},
            "provenance": {"checkpoint_sha256": teacher.checkpoint_sha256, "teacher_source": teacher.source,
                           "windows_sha256": teacher.windows_sha256,
                           "teacher_checkpoint_written_sha256": sha256_file(out / "teacher" / CHECKPOINT_NAME),
                           "git_commit": git_commit(Path(__file__).parent), "packages": package_versions()},
        }
        write_manifest(folder, manifest)
        log(f"[{profile}] wrote {folder}/manifest.json")
        manifests[profile] = manifest
    return manifests
