"""One module per `alog-detect` sub-command (see alog_detect.cli)."""
