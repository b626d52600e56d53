"""alog_runtime: log anomaly detection on the device, from Python, with no dependency.

A ctypes binding over libalog.so, the C engine of alog-detect: raw log lines in, the verdicts of
DeepLog and MSCRED out, byte for byte the ones `alog-engine` prints.

    from alog_runtime import Detector

    with Detector() as detector:                  # the models installed with the package
        for verdict in detector.feed_many(open("/var/log/app.log", "rb")):
            if verdict.anomaly:
                print(verdict.to_json().decode())

`python -m alog_runtime [--models DIR] [--all] [FILE|-]` is alog-engine's command line.
"""

__version__ = "0.1.0"

from .detector import Detector, Verdict  # noqa: E402
from .errors import (AlogError, ArgumentError, ArgumentTypeError, ClosedError,  # noqa: E402
                     DetectorSetupError, Error, LibraryError, ModelDirError, RunError)

__all__ = ["Detector", "Verdict", "Error", "LibraryError", "AlogError", "ModelDirError",
           "DetectorSetupError", "RunError", "ArgumentError", "ArgumentTypeError", "ClosedError",
           "__version__"]
