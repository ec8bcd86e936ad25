"""Runtime-agnostic streaming inference: live sensor chunks of one or more devices -> per-window predictions.

Pipeline, per device (each with its own transform, clock, state and counters)::

    push(t_s (N,), acc (N,3) m/s^2, gyro (N,3) rad/s | None, arrival_s)       device axes, irregular times
      |  transform (calibration: device axes -> canonical left-wrist watch frame)   engine.py
      |  channels in the manifest's order (acc_x .. gyro_z)                          engine.py
      v
    StreamResampler                                                                   resample.py
      |  guards: non-finite / out-of-order samples dropped and counted
      |  segments: a step > max_gap_s (0.25 s) ends one (no window spans it)
      |  linear interpolation onto t0 + j / r (r = nominal source rate, given or estimated)
      |  polyphase FIR (= scipy resample_poly) to the model rate; lookahead half / (up * r) (0.33 s at 100 Hz)
      |  model-rate samples farther than 1.5 source periods from any raw sample marked "filled"
      v
    Windower (RingBuffer of the last window_samples)                                  windows.py, ring.py
      |  window / hop in samples from the manifest, grid from each segment's start
      |  windows cut by a gap / the end and windows with too many filled samples dropped and counted
      v
    model.normalise -> model.run (ExecuTorch / LiteRT / ONNX Runtime: whatever was loaded)   engine.py
      |  softmax, timing of the model call (inference_s), latency since the chunk's arrival (latency_s)
      v
    ProbabilitySmoother: mean of the last k windows' probabilities                   smoothing.py
      v
    Prediction (label, probs, smoothed label, filled_samples / flagged, latency)  -> on_prediction callback

``offline.py`` runs a whole recording through the same path (one push + flush): the reference for streaming and
the way to evaluate a bundle as the watch pipeline sees the data. The windows equal those of
:func:`toolkit.data.windows.real_windows` (the training windows) except near each segment's first 0.33 s, where
the offline resampling's edge extension needs the segment's last sample (see :mod:`toolkit.stream.resample`).
"""

from toolkit.stream.engine import Prediction, StreamEngine, Transform
from toolkit.stream.live import LabelTrack, LiveRunner
from toolkit.stream.offline import offline_predictions, stream_resample, stream_windows
from toolkit.stream.resample import ResampledBlock, StreamResampler, estimate_nominal_rate_hz
from toolkit.stream.ring import RingBuffer
from toolkit.stream.smoothing import ProbabilitySmoother, softmax
from toolkit.stream.windows import StreamWindow, Windower

__all__ = [
    "LabelTrack",
    "LiveRunner",
    "Prediction",
    "ProbabilitySmoother",
    "ResampledBlock",
    "RingBuffer",
    "StreamEngine",
    "StreamResampler",
    "StreamWindow",
    "Transform",
    "Windower",
    "estimate_nominal_rate_hz",
    "offline_predictions",
    "softmax",
    "stream_resample",
    "stream_windows",
]
