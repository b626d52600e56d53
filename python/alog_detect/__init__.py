"""alog-detect: log anomaly detection from raw logs to edge devices.

Stages (each a pure function, called by both the CLI and SCons):
sample -> parse -> build_deeplog / build_mscred -> train -> export -> codegen.
"""

__version__ = "0.1.0"
