"""The spool both local sinks (sink.py, http_sink.py) store messages in:
one file per message, written to a hidden temporary name, fsynced, then
renamed, so a reader never sees a partial message."""
import datetime
import os


def store(directory, seq, suffix, data):
    """Stores data (bytes) as DIR/<UTC timestamp>-<seq><suffix>; returns the
    path. Raises OSError (the temporary file is removed)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    name = "%s-%d%s" % (now.strftime("%Y%m%dT%H%M%S.%fZ"), seq, suffix)
    final = os.path.join(directory, name)
    tmp = os.path.join(directory, ".%s.tmp" % name)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return final
