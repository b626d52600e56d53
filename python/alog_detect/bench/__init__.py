"""Benchmarks on the public labelled data in ../shared/data: scripts that print numbers and write
their own section of docs/results.md (``results_md.update_section``); run as
``python -m alog_detect.bench.<name>``."""
