"""The command layer: every ``edge-*`` command is one module here with a ``main(argv) -> exit code``.

=================  ===========================  ==============================================================
command            module                       what it runs
=================  ===========================  ==============================================================
``edge-simulate``  :mod:`.simulate`             IMU simulation (:mod:`toolkit.sim`); ``fidelity`` subcommand
``edge-pretrain``  :mod:`.pretrain`             Multi3Net+ pretraining (:mod:`toolkit.train.pretrain`)
``edge-finetune``  :mod:`.finetune`             fine-tuning (:mod:`toolkit.train.finetune_job`)
``edge-eval``      :mod:`.evaluate`             evaluation protocols (:mod:`toolkit.train.evaluate`)
``edge-export``    :mod:`.export`               distillation, quantisation, export (:mod:`export.pipeline`)
``edge-bench``     :mod:`.bench`                artefact benchmarks (:mod:`export.bench`)
``edge-devices``   :mod:`.devices`              BLE scan (:mod:`firmware_bridge.connect`)
``edge-record``    :mod:`.record`               BLE recording (:mod:`firmware_bridge.session`)
``edge-calibrate`` :mod:`.calibrate`            calibration procedure (:mod:`calibration.procedure`)
``edge-stream``    :mod:`.stream`               live inference (:mod:`toolkit.stream`)
=================  ===========================  ==============================================================

Shared pieces: :mod:`.args` (number parsers), :mod:`toolkit.programs` (one-line errors, exit codes, output paths),
:mod:`.train_args`, and :mod:`.replays` (``--virtual NAME``: the dataset lookup of virtual replays). Only this
package imports this package. ``python -m toolkit.cli COMMAND [options]`` runs any command by its short name.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from toolkit.quiet import quiet_third_party

# Before any command module imports torch / torchao / executorch / LiteRT: their warnings fire at import time.
quiet_third_party()

#: Short command name -> module of this package holding its ``main``.
COMMANDS = {
    "simulate": "simulate",
    "pretrain": "pretrain",
    "finetune": "finetune",
    "eval": "evaluate",
    "export": "export",
    "bench": "bench",
    "devices": "devices",
    "record": "record",
    "calibrate": "calibrate",
    "stream": "stream",
}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m toolkit.cli COMMAND [options]``: run one command (its module is loaded only then)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m toolkit.cli {{{','.join(COMMANDS)}}} [options]  (--help after a command)",
              file=sys.stderr)
        return 2
    module = importlib.import_module(f"{__name__}.{COMMANDS[argv[0]]}")
    return module.main(argv[1:])


__all__ = ["COMMANDS", "main"]
