"""Bad input ends a command with one line naming the problem and the fix.

Commands wrap their entry point in `cli_main`: a `UsageError` (or a disk-full
or permission error) prints `error: ...` on stderr and exits with status 2,
with no traceback. Anything else is a bug and keeps its traceback.
"""
import contextlib
import errno
import os
import sys


class UsageError(Exception):
    """A problem the user can fix; the message names it and the fix."""


def cli_main(main):
    """Run `main()` and turn user-fixable failures into one line, exit 2."""
    try:
        return main()
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
    except BrokenPipeError:  # whoever read our output stopped (`| head`): stop quietly too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        sys.exit(141)  # 128 + SIGPIPE, as a C program killed by it
    except OSError as e:
        if e.errno == errno.ENOSPC:
            print(f"error: disk full while writing {e.filename or 'output'}; "
                  "free some space (or point --cache_dir/--log_dir elsewhere) and run again",
                  file=sys.stderr)
        elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            print(f"error: cannot write {e.filename}: {e.strerror}; "
                  "choose a writable folder (--log_dir / --cache_dir)", file=sys.stderr)
        else:
            raise
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        sys.exit(130)
    sys.exit(2)


@contextlib.contextmanager
def quiet_stderr():
    """Silence file descriptor 2 (C++ libraries' start-up notes) for a moment."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
