"""One writer per log directory: `train` holds a lock on it for its whole run.

`hold(logdir)` takes an exclusive `fcntl.flock` on `<logdir>/.lock`, a file it keeps open until
the run ends. The operating system releases such a lock when its process ends, however it ends
(exit, crash, SIGKILL, a reboot), so no dead process can block a log directory; and since the
lock belongs to an open file, not to a name, there is no check-then-create race between two
processes started together. The lock file stays in the log directory (deleting it while a run
holds it would let a second run in).

The holder writes who it is into the lock file (host, pid, boot id, start time), for the message
that refuses a second `train`, and empties it when it ends. A record found when taking the lock
was left by a process that died: the new run says it takes over. (`filelock` would give the same
`flock`, but not the record of who holds it, which is most of this module.)
"""

import contextlib
import datetime
import json
import os
import socket
import time

from tfp_realnvp.cli.errors import UsageError

LOCK_FILE = ".lock"
# How long a refused run waits for the holder's record: the holder writes it just after locking.
RECORD_WAIT_S = 2.0


@contextlib.contextmanager
def hold(logdir):
    """Holds the lock of `logdir` (created if need be) for the `with` block.

    Raises:
      UsageError: another process holds it; the message names its host, pid and start time.
    """
    os.makedirs(logdir, exist_ok=True)
    path = os.path.join(logdir, LOCK_FILE)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if _lock(descriptor, logdir):
            left = _read_record(path)
            if left is not None:
                print(
                    f"Taking over {logdir!r}: its lock was left by {_holder(left)}, "
                    f"which ended without releasing it{_since_reboot(left)}."
                )
            _write_record(descriptor)
        else:
            raise UsageError(_refusal(logdir, path))
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)  # a clean end leaves no record
    finally:
        os.close(descriptor)  # releases the lock


def _lock(descriptor, logdir):
    """True once locked; False if another process holds the lock."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        return _unlockable(logdir, "this system has no fcntl.flock")
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as error:  # a file system without locks
        return _unlockable(logdir, error.strerror)
    return True


def _unlockable(logdir, reason):
    print(f"Cannot lock {logdir!r} ({reason}): nothing stops a second train there.")
    return True


def _write_record(descriptor):
    record = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "boot_id": _boot_id(),
        "since": datetime.datetime.now().astimezone().isoformat(sep=" ", timespec="seconds"),
    }
    data = (json.dumps(record) + "\n").encode()
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, data, 0)
    os.fsync(descriptor)


def _read_record(path):
    """The holder's record, or None if the file holds none (or only part of one)."""
    try:
        with open(path, "rb") as file:
            record = json.loads(file.read().decode())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not {"host", "pid", "since"} <= set(record):
        return None
    return record


def _refusal(logdir, path):
    deadline = time.monotonic() + RECORD_WAIT_S
    record = _read_record(path)
    while record is None and time.monotonic() < deadline:
        time.sleep(0.05)
        record = _read_record(path)
    holder = "another process" if record is None else _holder(record)
    return (
        f"argument --logdir: {logdir!r} is in use by {holder}, which holds {path!r}; wait for "
        "it to end or choose another --logdir"
    )


def _holder(record):
    return f"pid {record['pid']} on host {record['host']} (since {record['since']})"


def _since_reboot(record):
    """Words saying the machine restarted since the record was written, if it did."""
    same_host = record["host"] == socket.gethostname()
    restarted = record.get("boot_id") not in (None, _boot_id())
    return " (the machine restarted since)" if same_host and restarted else ""


def _boot_id():
    """Linux's id of the current boot, or None elsewhere."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as file:
            return file.read().strip()
    except OSError:
        return None
