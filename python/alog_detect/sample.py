"""The built-in sample corpus: a deterministic synthetic device log with labelled anomalies.

One edge gateway (``edge-gw-07``) runs five services. Every line has the form::

    2026-03-14 08:12:33.123 edge-gw-07 sshd[2314]: INFO ses_9f3a12bc Accepted password for ...
    2026-03-14 08:12:40.001 edge-gw-07 netmgr[611]: INFO link eth0 up speed=1000Mb/s ...

Lines that belong to a session carry its id as the first token after the level: ``ses_`` followed by
8 lowercase hex digits, at least one a letter and one a digit (so every id masks to ``ses_<HEX>``);
the session key rule "first token starting with ``ses_``" finds it.
Background lines (link statistics, health checks, pool statistics, systemd) have no session id.

Sessions follow per-type workflows with branches (sshd logins, web API requests, scheduler jobs,
storage snapshots, VPN tunnels). About 3% of sessions get a sequence anomaly (a mandatory step
skipped, two steps swapped, or a rare error inserted); the session is labelled ``Anomaly`` when the
first deviating line made it into the log. The log stops at its last line as a running system's
would, with sessions still running; those (``SampleResult.unfinished_sessions``) are left out of
the labels unless their anomaly already showed: their ending is unknown, and a detector that
judges session ends at the end of its input (DeepLog's END) would otherwise count them as false
alarms. (Finishing them instead, by not starting them or by squeezing their last steps, puts a
shift in the message mix at the end of the log, which mscred-train holds out to calibrate on.) Time windows get a shift in the message mix: I/O error storms, the network manager going
silent, surges of rate-limit warnings, and the API service going down: fifteen short ones
(``MIX_WINDOWS``) in a sample of ``MIX_WINDOWS_MIN_LINES`` lines or more (`scons` makes 60,000),
for a window-level evaluation; in a shorter one, where those would be too short to show, three
longer ones (``MIX_WINDOWS_SHORT``: a storm, the silence, a surge).

Outputs in ``out_dir``: ``sample.log``, ``sample_labels.csv`` (``session,label,kind`` for every
finished or anomalous session, in order of first appearance; ``kind`` is one of ``SEQUENCE_KINDS`` for an anomaly, empty
for a normal session), ``sample_windows.csv`` (``first_line,last_line,kind``, 1-based inclusive
line numbers of each mix anomaly, ``kind`` one of ``MIX_KINDS``) and ``sample_events.csv``
(``line_no,event``: each line's true event, the workflow step or background message that produced it,
named ``service:step``; what ``python -m alog_detect.bench.sample_parse`` scores parse's grouping
against). Same lines and seed give identical bytes.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
from pathlib import Path
from typing import Callable

from . import atomic
from .errors import UserError

HOST = "edge-gw-07"
SESSION_PREFIX = "ses_"
# Every line starts "2026-03-14 08:12:33.123 edge-gw-07 sshd[2314]: ...": date, time, host and
# service are the header parse should drop (--header-tokens) before mining the message.
HEADER_TOKENS = 4
LOG_NAME = "sample.log"
LABELS_NAME = "sample_labels.csv"
WINDOWS_NAME = "sample_windows.csv"
EVENTS_NAME = "sample_events.csv"
MIN_LINES = 1000

# The clock is fixed (not "now") so that the same seed gives the same bytes on every machine.
EPOCH_MS = int(datetime.datetime(2026, 3, 14, 6, 0, tzinfo=datetime.timezone.utc).timestamp() * 1000)
MEAN_SESSION_GAP_MS = 1200
# Measured average of lines per simulated second at the gap above; used to plan the duration.
EXPECTED_LINES_PER_S = 5.3
ANOMALY_RATE = 0.03
# The sequence anomalies' kinds (sample_labels.csv) and the mix anomalies' (sample_windows.csv).
SEQUENCE_KINDS = ("skipped_step", "swapped_steps", "rare_error")
MIX_KINDS = ("error_storm", "service_silent", "message_surge", "api_outage")
# The mix anomalies: (kind, start, length) as fractions of the planned timeline. All of them end
# before 0.75, so that the last fifth of the log, which mscred-train holds out to calibrate on, is
# normal; the gaps leave room for a detector's multi-scale windows to forget one before the next.
MIX_WINDOWS = (
    ("error_storm", 0.06, 0.002), ("message_surge", 0.10, 0.0025), ("api_outage", 0.14, 0.01),
    ("error_storm", 0.20, 0.002), ("message_surge", 0.24, 0.0025), ("api_outage", 0.28, 0.01),
    ("error_storm", 0.32, 0.002), ("message_surge", 0.36, 0.0025), ("api_outage", 0.40, 0.01),
    ("service_silent", 0.45, 0.07), ("error_storm", 0.56, 0.002), ("api_outage", 0.60, 0.01),
    ("message_surge", 0.64, 0.0025), ("error_storm", 0.68, 0.002), ("message_surge", 0.72, 0.0025),
)
MIX_WINDOWS_MIN_LINES = 40_000
MIX_WINDOWS_SHORT = (("error_storm", 0.20, 0.008), ("service_silent", 0.45, 0.07), ("message_surge", 0.70, 0.02))
# The windows in which a service writes nothing, and that service.
SILENT_SERVICE = {"service_silent": "netmgr", "api_outage": "apid"}

USERS = ("alice", "bob", "carol", "deploy", "backup", "ops", "admin", "jenkins", "mallory", "svc-metrics")
JOBS = ("backup-db", "rotate-logs", "sync-firmware", "collect-metrics", "scrub-cache", "export-telemetry")
SUDO_COMMANDS = (
    "/usr/bin/systemctl restart netmgr",
    "/usr/bin/systemctl status storaged",
    "/usr/bin/journalctl -u apid --since -1h",
    "/bin/cat /var/log/apid/access.log",
    "/usr/sbin/ip route show table main",
)
API_RESOURCES = ("devices", "jobs", "sensors", "firmware")
SERVER_IP = "10.0.0.7"


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    out_dir: Path
    lines: int = 60_000
    seed: int = 1


@dataclasses.dataclass(frozen=True)
class SampleResult:
    log: Path
    labels: Path
    windows: Path
    events: Path
    lines: int
    sessions: int
    anomalous_sessions: int
    mix_windows: int
    unfinished_sessions: int = 0    # normal so far, still running at the last line: not labelled


@dataclasses.dataclass
class _Step:
    gap_ms: int          # delay after the previous step of the same session
    service: str
    level: str
    key: str             # identifies the workflow step; two steps with one key are interchangeable
    message: str
    optional: bool = False
    pid: int | None = None


@dataclasses.dataclass(order=True)
class _Line:
    t_ms: int
    order: int
    text: str = dataclasses.field(compare=False)
    session: str | None = dataclasses.field(compare=False, default=None)
    deviation: str | None = dataclasses.field(compare=False, default=None)  # the session's anomaly
    # kind, on the first line that leaves every normal path
    window: str | None = dataclasses.field(compare=False, default=None)
    finishes: bool = dataclasses.field(compare=False, default=False)  # the session's last step
    event: str = dataclasses.field(compare=False, default="")   # the true event, "service:step"


# ---- variable fields ----------------------------------------------------------------------------

def _ip(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.5:
        return f"10.{rng.randrange(0, 8)}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"
    if kind < 0.8:
        return f"192.168.{rng.randrange(0, 4)}.{rng.randrange(1, 255)}"
    return f"203.0.113.{rng.randrange(1, 255)}"


def _port(rng: random.Random) -> int:
    return rng.randrange(1024, 65536)


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _id_hex(rng: random.Random, digits: int) -> str:
    """Hex with at least one digit and one letter, so that every id masks the same way (<HEX>)."""
    while True:
        text = _hex(rng, digits)
        if not text.isdigit() and not text.isalpha():
            return text


def _b64(rng: random.Random, n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(rng.choice(alphabet) for _ in range(n))


# ---- session workflows --------------------------------------------------------------------------
# Each returns (steps, rare_steps): the normal run of one session and the rare error events that an
# injected anomaly may insert into it. Steps marked optional may repeat or be absent in normal runs;
# every other step is mandatory on the branch taken.

def _sshd_session(rng: random.Random):
    user, ip, port = rng.choice(USERS), _ip(rng), _port(rng)
    pid = rng.randrange(2000, 32000)

    def sshd(gap, level, key, msg, optional=False):
        return _Step(gap, "sshd", level, key, msg, optional, pid)

    steps = [sshd(0, "INFO", "conn", f"Connection from {ip} port {port} on {SERVER_IP} port 22")]
    branch = rng.random()
    if branch < 0.06:
        for _ in range(3):
            steps.append(sshd(rng.randrange(800, 4000), "WARN", "fail",
                              f"Failed password for {user} from {ip} port {port} ssh2", True))
        steps.append(sshd(rng.randrange(50, 300), "WARN", "lockout",
                          f"Disconnecting: Too many authentication failures for {user} "
                          f"from {ip} port {port} [preauth]"))
        return steps, _sshd_rare(rng, user, ip, pid)
    for _ in range(0 if branch < 0.75 else rng.randint(1, 2)):
        steps.append(sshd(rng.randrange(800, 4000), "WARN", "fail",
                          f"Failed password for {user} from {ip} port {port} ssh2", True))
    if rng.random() < 0.6:
        steps.append(sshd(rng.randrange(100, 900), "INFO", "accept_key",
                          f"Accepted publickey for {user} from {ip} port {port} ssh2: "
                          f"ED25519 SHA256:{_b64(rng, 43)}"))
    else:
        steps.append(sshd(rng.randrange(100, 900), "INFO", "accept_pw",
                          f"Accepted password for {user} from {ip} port {port} ssh2"))
    uid = 1000 + USERS.index(user)
    steps.append(sshd(rng.randrange(5, 40), "INFO", "opened",
                      f"pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)"))
    for _ in range(rng.choice((0, 1, 1, 2, 3, 4))):
        if rng.random() < 0.7:
            steps.append(_Step(rng.randrange(3000, 90000), "sudo", "INFO", "sudo",
                               f"{user} : TTY=pts/{rng.randrange(0, 6)} ; PWD=/home/{user} ; "
                               f"USER=root ; COMMAND={rng.choice(SUDO_COMMANDS)}", True,
                               rng.randrange(2000, 32000)))
        else:
            name = f"/home/{user}/{rng.choice(('report', 'dump', 'config', 'trace'))}-{_hex(rng, 6)}.tar.gz"
            steps.append(sshd(rng.randrange(3000, 60000), "INFO", "sftp",
                              f"subsystem request for sftp by user {user}", True))
            steps.append(sshd(rng.randrange(200, 20000), "INFO", "sftp_close",
                              f'close "{name}" bytes read {rng.randrange(0, 10**6)} '
                              f"written {rng.randrange(0, 10**8)}", True))
    steps.append(sshd(rng.randrange(2000, 60000), "INFO", "disconnect",
                      f"Received disconnect from {ip} port {port}:11: disconnected by user"))
    steps.append(sshd(rng.randrange(5, 60), "INFO", "closed",
                      f"pam_unix(sshd:session): session closed for user {user}"))
    return steps, _sshd_rare(rng, user, ip, pid)


def _sshd_rare(rng, user, ip, pid):
    return [
        _Step(rng.randrange(10, 500), "sshd", "ERROR", "rare_reset",
              "fatal: Read from socket failed: Connection reset by peer [preauth]", pid=pid),
        _Step(rng.randrange(10, 500), "sshd", "ERROR", "rare_pam",
              f"error: PAM: Authentication failure for illegal user {user} from {ip}", pid=pid),
    ]


def _api_session(rng: random.Random):
    user, ip = rng.choice(USERS), _ip(rng)
    resource = rng.choice(API_RESOURCES)
    obj = rng.randrange(1, 5000)
    method = "GET" if rng.random() < 0.75 else "POST"
    path = f"/api/v1/{resource}/{obj}" if method == "GET" else f"/api/v1/{resource}"
    pid = 884

    def api(gap, level, key, msg, optional=False):
        return _Step(gap, "apid", level, key, msg, optional, pid)

    steps = [api(0, "INFO", "req_" + method, f"{method} {path} from {ip}:{_port(rng)}")]
    if rng.random() < 0.08:
        steps.append(api(rng.randrange(1, 8), "WARN", "token_expired",
                         f"token expired for user {user}, issued {rng.randrange(3600, 90000)}s ago"))
        steps.append(api(rng.randrange(1, 4), "INFO", "resp_401",
                         f"response 401 bytes=0 duration={rng.randrange(1, 12)}ms"))
        return steps, _api_rare(rng, path, pid)
    steps.append(api(rng.randrange(1, 8), "INFO", "token_ok",
                     f"token verified for user {user} scope={rng.choice(('read', 'write', 'admin'))}"))
    if method == "GET":
        if rng.random() < 0.6:
            steps.append(api(rng.randrange(1, 3), "INFO", "cache_hit", f"cache hit key={resource}:{obj}"))
        else:
            steps.append(api(rng.randrange(1, 3), "INFO", "cache_miss", f"cache miss key={resource}:{obj}"))
            steps.append(api(rng.randrange(2, 80), "INFO", "db_select",
                             f"db query on {resource} took {rng.randrange(2, 80)}ms rows={rng.randrange(0, 50)}"))
        code, bytes_ = 200, rng.randrange(200, 40000)
    else:
        steps.append(api(rng.randrange(1, 5), "INFO", "validated",
                         f"validated payload fields={rng.randrange(2, 14)} size={rng.randrange(80, 9000)}B"))
        steps.append(api(rng.randrange(3, 120), "INFO", "db_insert",
                         f"db insert into {resource} took {rng.randrange(3, 120)}ms id={rng.randrange(1, 10**6)}"))
        code, bytes_ = 201, rng.randrange(40, 400)
    steps.append(api(rng.randrange(1, 10), "INFO", "resp_ok",
                     f"response {code} bytes={bytes_} duration={rng.randrange(3, 250)}ms"))
    return steps, _api_rare(rng, path, pid)


def _api_rare(rng, path, pid):
    return [
        _Step(rng.randrange(1, 20), "apid", "ERROR", "rare_panic",
              f"panic recovered in handler {path}: runtime error: invalid memory address "
              f"or nil pointer dereference", pid=pid),
        _Step(rng.randrange(1, 20), "apid", "ERROR", "rare_deadlock",
              "db transaction aborted: deadlock detected, rolling back", pid=pid),
    ]


def _job_session(rng: random.Random):
    name, user = rng.choice(JOBS), rng.choice(USERS)
    worker = rng.randrange(1, 9)
    job_id = rng.randrange(10000, 99999)
    pid = 702

    def sched(gap, level, key, msg, optional=False):
        return _Step(gap, "jobsched", level, key, msg, optional, pid)

    def run_once(attempt_failed: bool):
        out = [sched(rng.randrange(50, 3000), "INFO", "started",
                     f"job {name} started on worker-{worker} pid={rng.randrange(3000, 60000)}")]
        for _ in range(rng.randint(0, 3)):
            out.append(sched(rng.randrange(2000, 40000), "INFO", "progress",
                             f"job {name} progress {rng.randrange(1, 100)}% items={rng.randrange(0, 100000)}",
                             True))
        if attempt_failed:
            out.append(sched(rng.randrange(500, 30000), "WARN", "failed",
                             f"job {name} failed exit={rng.choice((1, 2, 70, 75, 137))} on worker-{worker}"))
            out.append(sched(rng.randrange(5, 50), "INFO", "retry",
                             f"job {name} retry 1/3 scheduled in {rng.choice((10, 30, 60))}s"))
        else:
            out.append(sched(rng.randrange(500, 30000), "INFO", "finished",
                             f"job {name} finished exit=0 duration={rng.randrange(2, 900)}s"))
        return out

    steps = [sched(0, "INFO", "queued", f"job {name} queued id={job_id} priority={rng.randrange(0, 10)} "
                                        f"owner={user}")]
    if rng.random() < 0.15:
        steps += run_once(attempt_failed=True)
    steps += run_once(attempt_failed=False)
    steps.append(sched(rng.randrange(100, 5000), "INFO", "artifacts",
                       f"job {name} artifacts uploaded to /var/lib/jobs/{name}/{job_id}.tar.gz "
                       f"size={rng.randrange(1, 500000)}KiB"))
    rare = [
        sched(rng.randrange(100, 5000), "ERROR", "rare_oom",
              f"job {name} killed by OOM killer rss={rng.randrange(900, 4000)}MiB limit=768MiB"),
        sched(rng.randrange(100, 5000), "ERROR", "rare_heartbeat",
              f"job {name} lost heartbeat from worker-{worker} after {rng.randrange(30, 120)}s"),
    ]
    return steps, rare


def _snapshot_session(rng: random.Random):
    vol, snap, user = f"vol-{_id_hex(rng, 8)}", f"snap-{_id_hex(rng, 8)}", rng.choice(USERS)
    mount = f"/mnt/data{rng.randrange(0, 4)}"
    pid = 455

    def stor(gap, level, key, msg, optional=False):
        return _Step(gap, "storaged", level, key, msg, optional, pid)

    steps = [
        stor(0, "INFO", "snap_req", f"snapshot requested for volume {vol} by {user}"),
        stor(rng.randrange(5, 200), "INFO", "freeze", f"freezing filesystem {mount}"),
        stor(rng.randrange(50, 3000), "INFO", "snap_created",
             f"snapshot {snap} created size={rng.randrange(10, 90000)}MiB in {rng.randrange(40, 3000)}ms"),
        stor(rng.randrange(5, 100), "INFO", "thaw", f"thawing filesystem {mount}"),
    ]
    if rng.random() < 0.6:
        steps.append(stor(rng.randrange(100, 2000), "INFO", "replicate",
                          f"replicating {snap} to {_ip(rng)}:{rng.choice((7400, 7401, 9000))}"))
        steps.append(stor(rng.randrange(2000, 120000), "INFO", "replicated",
                          f"replication of {snap} complete {rng.randrange(10**6, 10**10)} bytes "
                          f"in {rng.randrange(2, 120)}s"))
    steps.append(stor(rng.randrange(10, 500), "INFO", "snap_done", f"snapshot job done for volume {vol}"))
    rare = [stor(rng.randrange(10, 2000), "ERROR", "rare_checksum",
                 f"snapshot {snap} checksum mismatch at block {rng.randrange(0, 10**7)}, "
                 f"volume {vol} marked degraded")]
    return steps, rare


def _tunnel_session(rng: random.Random):
    dev, peer = f"wg{rng.randrange(0, 3)}", f"{_ip(rng)}:{rng.choice((51820, 51821))}"
    pid = 611

    def net(gap, level, key, msg, optional=False):
        return _Step(gap, "netmgr", level, key, msg, optional, pid)

    steps = [net(0, "INFO", "hs_init", f"tunnel {dev} handshake initiated with peer {peer}")]
    if rng.random() < 0.2:
        steps.append(net(rng.randrange(5000, 6000), "WARN", "hs_timeout",
                         f"tunnel {dev} handshake timeout after 5s, retrying", True))
        steps.append(net(rng.randrange(5, 50), "INFO", "hs_init",
                         f"tunnel {dev} handshake initiated with peer {peer}", True))
    steps.append(net(rng.randrange(20, 400), "INFO", "hs_done",
                     f"tunnel {dev} handshake complete keepalive={rng.choice((15, 25, 30))}s"))
    steps.append(net(rng.randrange(1, 20), "INFO", "up", f"tunnel {dev} up mtu=1420 peer={peer}"))
    for _ in range(rng.randint(1, 2)):
        steps.append(net(rng.randrange(1, 30), "INFO", "route",
                         f"route add 10.{rng.randrange(8, 64)}.{rng.randrange(0, 256)}.0/24 "
                         f"via {_ip(rng)} dev {dev}", True))
    steps.append(net(rng.randrange(30000, 900000), "INFO", "down",
                     f"tunnel {dev} down reason={rng.choice(('idle', 'peer-closed', 'rekey'))} "
                     f"rx_bytes={rng.randrange(10**3, 10**9)} tx_bytes={rng.randrange(10**3, 10**9)}"))
    rare = [net(rng.randrange(10, 500), "ERROR", "rare_key",
                f"tunnel {dev} peer {peer} presented unknown public key, dropping handshake")]
    return steps, rare


# (workflow, weight): API requests dominate, as they do on a real gateway.
SESSION_TYPES: tuple[tuple[Callable, float], ...] = (
    (_api_session, 0.45), (_sshd_session, 0.15), (_job_session, 0.15),
    (_snapshot_session, 0.12), (_tunnel_session, 0.13),
)


# ---- sequence anomalies -------------------------------------------------------------------------

def _inject_anomaly(rng: random.Random, steps: list[_Step], rare: list[_Step]) -> tuple[list[_Step], int, str]:
    """Return the mutated steps, the index of the first line that leaves every normal path and the
    anomaly's kind (one of SEQUENCE_KINDS)."""
    kind = rng.random()
    if kind < 0.35:
        # Drop a mandatory step (never the first: the session must still be recognisable).
        candidates = [i for i in range(1, len(steps) - 1) if not steps[i].optional]
        if candidates:
            i = rng.choice(candidates)
            return steps[:i] + steps[i + 1:], i, "skipped_step"
    elif kind < 0.6:
        candidates = [i for i in range(1, len(steps) - 1)
                      if steps[i].key != steps[i + 1].key
                      and not (steps[i].optional and steps[i + 1].optional)]
        if candidates:
            i = rng.choice(candidates)
            swapped = steps[:i] + [steps[i + 1], steps[i]] + steps[i + 2:]
            return swapped, i, "swapped_steps"
    i = rng.randrange(1, len(steps))
    return steps[:i] + [rng.choice(rare)] + steps[i:], i, "rare_error"


# ---- background and mix anomalies ---------------------------------------------------------------

def _format_line(t_ms: int, service: str, pid: int, level: str, message: str, session: str | None,
                 stamp_cache: dict[int, str]) -> str:
    secs, millis = divmod(t_ms, 1000)
    stamp = stamp_cache.get(secs)
    if stamp is None:
        stamp = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        stamp_cache[secs] = stamp
    sid = f"{session} " if session else ""
    return f"{stamp}.{millis:03d} {HOST} {service}[{pid}]: {level} {sid}{message}"


@dataclasses.dataclass(frozen=True)
class _Window:
    kind: str
    start_ms: int
    end_ms: int


def _plan_windows(duration_ms: int, lines: int) -> tuple[_Window, ...]:
    """The mix anomalies at fixed fractions of the planned timeline, sized relative to it."""
    def at(kind, start, length):
        return _Window(kind, EPOCH_MS + int(duration_ms * start),
                       EPOCH_MS + int(duration_ms * (start + length)))
    return tuple(at(*spec) for spec in (MIX_WINDOWS if lines >= MIX_WINDOWS_MIN_LINES else MIX_WINDOWS_SHORT))


def _silenced(windows: tuple[_Window, ...], service: str) -> list[_Window]:
    return [w for w in windows if SILENT_SERVICE.get(w.kind) == service]


# The periodic sessionless lines of each service: (t_ms, service, pid, level, step, message), each stream
# in time order. One random generator runs through them in this order (after the sessions and the
# windows' lines), so each stream starts from the state the previous one left.

def _netmgr_lines(rng: random.Random, end_ms: int, windows: tuple[_Window, ...]):
    silent = _silenced(windows, "netmgr")
    rx = tx = 0
    t = EPOCH_MS + rng.randrange(0, 10000)
    while t < end_ms:
        rx += rng.randrange(2000, 40000)
        tx += rng.randrange(1000, 30000)
        if not any(w.start_ms <= t < w.end_ms for w in silent):
            yield t, "netmgr", 611, "INFO", "link", (f"link eth0 up speed=1000Mb/s rx_packets={rx} tx_packets={tx} "
                                             f"rx_errors=0")
        t += rng.randrange(9000, 11000)


def _storaged_lines(rng: random.Random, end_ms: int, windows: tuple[_Window, ...]):
    t = EPOCH_MS + rng.randrange(0, 30000)
    while t < end_ms:
        yield t, "storaged", 455, "INFO", "health", (f"health check ok disks=4 max_temp={rng.randrange(38, 52)}C "
                                           f"free={rng.randrange(20, 80)}%")
        t += rng.randrange(29000, 31000)


def _apid_lines(rng: random.Random, end_ms: int, windows: tuple[_Window, ...]):
    silent = _silenced(windows, "apid")
    t = EPOCH_MS + rng.randrange(0, 15000)
    while t < end_ms:
        if not any(w.start_ms <= t < w.end_ms for w in silent):
            yield t, "apid", 884, "INFO", "pool", f"worker pool busy={rng.randrange(0, 32)}/32 queue={rng.randrange(0, 8)}"
        t += rng.randrange(14000, 16000)


def _systemd_lines(rng: random.Random, end_ms: int, windows: tuple[_Window, ...]):
    t = EPOCH_MS + rng.randrange(0, 300000)
    while t < end_ms:
        unit = rng.choice(("Daily rotation of log files", "Cleanup of Temporary Directories",
                           "Refresh fwupd metadata"))
        yield t, "systemd", 1, "INFO", "starting", f"Starting {unit}..."
        yield t + rng.randrange(50, 2000), "systemd", 1, "INFO", "finished", f"Finished {unit}."
        t += rng.randrange(240000, 420000)


BACKGROUND = (_netmgr_lines, _storaged_lines, _apid_lines, _systemd_lines)


def _window_lines(rng: random.Random, window: _Window):
    """The injected lines of a storm or surge window: (t_ms, service, pid, level, step, message)."""
    t = window.start_ms
    if window.kind == "error_storm":
        while t < window.end_ms:
            sector = rng.randrange(0, 2 * 10**9)
            yield t, "kernel", 0, "ERROR", "io_error", (f"I/O error, dev sdb, sector {sector} op 0x0:(READ) "
                                            f"flags 0x80700 phys_seg 1 prio class 2")
            yield t + rng.randrange(1, 5), "kernel", 0, "ERROR", "buffer_io_error", (
                f"Buffer I/O error on dev sdb1, logical block {sector // 8}, async page read")
            t += rng.randrange(100, 400)
    elif window.kind == "message_surge":
        while t < window.end_ms:
            yield t, "apid", 884, "WARN", "rate_limit", (f"rate limit exceeded for client {_ip(rng)} "
                                           f"on /api/v1/status (limit=100/min)")
            t += rng.randrange(50, 350)


# ---- assembly -----------------------------------------------------------------------------------

# The log is written as it is simulated, in two passes over the same random numbers, so that
# memory does not grow with the line count (only with the sessions, whose ids and labels are kept):
# the first pass counts the lines a duration gives and notes the generator's state where each
# background stream starts; the second merges the sessions' lines (each session arrives later than
# the one before and its lines follow its arrival) with the background streams by (time, order),
# writing every line that no later one can precede. Lines of equal time keep the order in which
# they were generated: sessions' lines first, then the background's stream by stream.

@dataclasses.dataclass(frozen=True)
class _Session:
    arrival_ms: int
    sid: str
    steps: list
    times: list
    deviation: int | None
    kind: str | None            # one of SEQUENCE_KINDS for an anomalous session


def _sessions(rng: random.Random, duration_ms: int, windows: tuple[_Window, ...]):
    """The sessions in order of arrival, drawing from `rng` in a fixed order."""
    end_ms = EPOCH_MS + duration_ms
    used_ids: set[str] = set()
    workflows = [w for w, _ in SESSION_TYPES]
    weights = [p for _, p in SESSION_TYPES]
    silent = [w for w in windows if w.kind in SILENT_SERVICE]
    t = EPOCH_MS
    while True:
        t += int(rng.expovariate(1.0 / MEAN_SESSION_GAP_MS))
        if t >= end_ms:
            return
        workflow = rng.choices(workflows, weights)[0]
        steps, rare = workflow(rng)
        deviation = kind = None
        if rng.random() < ANOMALY_RATE:
            steps, deviation, kind = _inject_anomaly(rng, steps, rare)
        sid = SESSION_PREFIX + _id_hex(rng, 8)
        while sid in used_ids:
            sid = SESSION_PREFIX + _id_hex(rng, 8)
        used_ids.add(sid)
        times = []
        st = t
        for step in steps:
            st += step.gap_ms
            times.append(st)
        # A silent service starts nothing and has nothing running while it is silent.
        services = {s.service for s in steps}
        if any(SILENT_SERVICE[w.kind] in services and times[0] < w.end_ms and times[-1] >= w.start_ms
               for w in silent):
            continue
        yield _Session(t, sid, steps, times, deviation, kind)


def _streams(windows: tuple[_Window, ...]):
    """(stream function, its window or None) in the order the generator runs through them."""
    return [(lambda rng, end_ms, ws, w=w: _window_lines(rng, w), w) for w in windows] + \
        [(f, None) for f in BACKGROUND]


def _plan(seed: int, duration_ms: int, windows: tuple[_Window, ...]) -> tuple[int, list]:
    """First pass: how many lines the duration gives, and the generator's state at the start of
    each background stream."""
    rng = random.Random(seed)
    count = sum(len(session.steps) for session in _sessions(rng, duration_ms, windows))
    states = []
    for stream, _ in _streams(windows):
        states.append(rng.getstate())
        count += sum(1 for _ in stream(rng, EPOCH_MS + duration_ms, windows))
    return count, states


def _background_lines(states: list, duration_ms: int, windows: tuple[_Window, ...]):
    """The background and window lines as ((t_ms, 1, rank, i), _Line) in that order: rank is the
    stream's place among the lines generated after the sessions (background streams, then windows)."""
    import heapq

    cache: dict[int, str] = {}
    streams = _streams(windows)
    ranks = {id(f): rank for rank, f in enumerate([f for f, w in streams if w is None] +
                                                  [f for f, w in streams if w is not None])}

    def keyed(stream, window, state):
        rng = random.Random()
        rng.setstate(state)
        rank = ranks[id(stream)]
        for i, (st, service, pid, level, step, message) in enumerate(stream(rng, EPOCH_MS + duration_ms, windows)):
            yield (st, 1, rank, i), _Line(st, 0, _format_line(st, service, pid, level, message, None, cache),
                                         window=window.kind if window is not None else None,
                                         event=f"{service}:{step}")

    return heapq.merge(*(keyed(f, w, state) for (f, w), state in zip(streams, states)), key=lambda x: x[0])


def _lines_in_order(seed: int, duration_ms: int, windows: tuple[_Window, ...], states: list):
    """Second pass: every _Line in (time, order) order, one at a time."""
    import heapq

    rng = random.Random(seed)
    cache: dict[int, str] = {}
    pending: list = []                  # heap of ((t_ms, 0, order), _Line) for sessions' lines
    background = _background_lines(states, duration_ms, windows)
    head = next(background, None)
    order = 0

    def until(limit):
        nonlocal head
        while True:
            mine = pending[0] if pending else None
            if head is not None and (mine is None or head[0] < mine[0]):
                if limit is not None and head[0][0] >= limit:
                    return
                yield head[1]
                head = next(background, None)
            elif mine is not None:
                if limit is not None and mine[0][0] >= limit:
                    return
                yield heapq.heappop(pending)[1]
            else:
                return

    for session in _sessions(rng, duration_ms, windows):
        # No later session has a line before its arrival: what comes earlier is final.
        yield from until(session.arrival_ms)
        last = len(session.steps) - 1
        for i, (step, st) in enumerate(zip(session.steps, session.times)):
            text = _format_line(st, step.service, step.pid, step.level, step.message, session.sid, cache)
            heapq.heappush(pending, ((st, 0, order), _Line(st, order, text, session.sid,
                                                           session.kind if i == session.deviation else None,
                                                           finishes=i == last, event=f"{step.service}:{step.key}")))
            order += 1
    yield from until(None)


def _plan_duration(config: SampleConfig) -> tuple[int, tuple[_Window, ...], list]:
    planned_ms = int(config.lines / EXPECTED_LINES_PER_S * 1000)
    windows = _plan_windows(planned_ms, config.lines)
    duration_ms = int(planned_ms * 1.15)
    while True:
        count, states = _plan(config.seed, duration_ms, windows)
        if count >= config.lines:
            return duration_ms, windows, states
        duration_ms = int(duration_ms * 1.3)


def generate_sample(config: SampleConfig) -> SampleResult:
    if config.lines < MIN_LINES:
        raise UserError(f"--lines must be at least {MIN_LINES} (got {config.lines})", config.out_dir,
                        f"ask for {MIN_LINES} lines or more")
    duration_ms, windows, states = _plan_duration(config)
    label: dict[str, str] = {}          # session -> its anomaly kind, "" for a normal session
    finished: set[str] = set()          # sessions whose last step is in the log
    seen: dict[_Window, list[int]] = {}  # window -> [first line, last line]
    silent = [w for w in windows if w.kind in SILENT_SERVICE]
    # An injected line names its window's kind; windows of one kind never overlap, and the storm's
    # second line of a pair may come a few ms after the window's end.
    injected = {kind: [w for w in windows if w.kind == kind] for kind in MIX_KINDS}
    out = Path(config.out_dir)
    written = 0
    with atomic.atomic_path(out / LOG_NAME) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as log, \
            atomic.atomic_path(out / EVENTS_NAME) as events_tmp, \
            open(events_tmp, "w", encoding="utf-8", newline="\n") as events:
        batch: list[str] = []
        event_batch: list[str] = ["line_no,event\n"]
        for line in _lines_in_order(config.seed, duration_ms, windows, states):
            written += 1
            batch.append(line.text + "\n")
            event_batch.append(f"{written},{line.event}\n")
            if len(batch) >= 4096:
                log.write("".join(batch))
                events.write("".join(event_batch))
                batch, event_batch = [], []
            if line.session is not None:
                if line.deviation is not None:
                    label[line.session] = line.deviation
                else:
                    label.setdefault(line.session, "")
                if line.finishes:
                    finished.add(line.session)
            hits = [w for w in injected[line.window] if w.start_ms <= line.t_ms][-1:] if line.window else []
            hits += [w for w in silent if w.start_ms <= line.t_ms < w.end_ms]
            for window in hits:
                seen.setdefault(window, [written, written])[1] = written
            if written == config.lines:
                break
        log.write("".join(batch))
        events.write("".join(event_batch))
    labels = "session,label,kind\n" + "".join(f"{s},{'Anomaly' if k else 'Normal'},{k}\n"
                                              for s, k in label.items() if k or s in finished)
    windows_text = "first_line,last_line,kind\n" + "".join(
        f"{seen[w][0]},{seen[w][1]},{w.kind}\n" for w in windows if w in seen)
    labels_path = atomic.write_text(out / LABELS_NAME, labels)
    windows_path = atomic.write_text(out / WINDOWS_NAME, windows_text)
    anomalous = sum(bool(k) for k in label.values())
    unfinished = sum(1 for s, k in label.items() if not k and s not in finished)
    return SampleResult(
        log=out / LOG_NAME, labels=labels_path, windows=windows_path, events=out / EVENTS_NAME, lines=written,
        sessions=len(label) - unfinished, anomalous_sessions=anomalous, unfinished_sessions=unfinished,
        mix_windows=windows_text.count("\n") - 1,
    )
