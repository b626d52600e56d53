"""Deterministic archives (reproducible-builds.org): the same files give the same bytes.

Entries are sorted by name, directories first; every entry has mtime SOURCE_DATE_EPOCH (0 when
unset), uid/gid 0 and no owner names, mode 0755 (directories, executables) or 0644; the gzip
header holds no file name and the same time.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH when set (reproducible-builds.org), else 0."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(value) if value.isdigit() else 0


def _tar_info(arcname: str, size: int, executable: bool, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(arcname)
    info.size = size
    info.mtime = mtime
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _directories(arcnames) -> list[str]:
    dirs = set()
    for name in arcnames:
        parts = name.split("/")[:-1]
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(dirs)


def tarball_bytes(files: dict[str, tuple[bytes, bool]], mtime: int | None = None) -> bytes:
    """files: {arcname: (bytes, executable)} -> the .tar.gz bytes."""
    mtime = source_date_epoch() if mtime is None else mtime
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in _directories(files):
            info = _tar_info(name, 0, True, mtime)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, (data, executable) in sorted(files.items()):
            tar.addfile(_tar_info(name, len(data), executable, mtime), io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=mtime, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()
