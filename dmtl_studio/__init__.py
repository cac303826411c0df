"""DMTL Studio: data-augmented transfer learning for image classification, on a desktop, offline."""

import os as _os

__version__ = "0.1.0"

# onnxruntime (the frozen backbone's and predict's engine) ships Microsoft's telemetry switched on: when it loads it
# writes a device id and an event queue under ~/.cache/Microsoft and looks up Microsoft's collector. It reads this
# variable when it loads; the package sets it first, so no command, window or worker of the product can miss it.
_os.environ["ORT_DISABLE_TELEMETRY"] = "1"
