"""The two model architectures. Imports torch: import lazily from command modules."""

from .deeplog import DeepLog, DeepLogConfig
from .mscred import MSCRED, MSCREDConfig

__all__ = ["DeepLog", "DeepLogConfig", "MSCRED", "MSCREDConfig"]
