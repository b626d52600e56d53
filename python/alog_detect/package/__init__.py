"""The package stage: what `scons` ships for a target (docs/build.md, "Bundles").

- archive.py   deterministic .tar.gz files (the same inputs give the same bytes)
- contents.py  what every package shares: files read once, hashes, the model directory's hashes
               for a manifest, SHA256SUMS, the templates' jinja2 settings, the tarball
- bundle.py    the Linux bundle: engine, libraries, headers, models, pkg-config and CMake files,
               a README for the device, manifest.json and SHA256SUMS
- wheel.py     the device-side wheel: packaging/runtime (alog_runtime), a target's libalog.so and
               the models, tagged py3-none-<platform>
- firmware.py  the firmware tarball: the library for the models, headers, the model as C, the
               example image and its sources, a README, manifest.json and SHA256SUMS
"""
