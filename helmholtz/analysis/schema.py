"""The types and ranges of a run's records, checked before a collection reads them.

A config.json or result.json that parses but holds a list for a name, 1e400 for
a seed or a value nested a thousand deep is no record of this program: `check`
says which key is wrong and how, and the collection lists the folder as
unreadable for that reason while it collects the others. Keys not named here
are free (other versions record other settings), but nothing may nest deeper
than MAX_DEPTH.
"""
import math
import numbers

MAX_DEPTH = 8  # config.json nests two deep (optimizer, versions); room for more, never a thousand


def _text(value):
    return isinstance(value, str) and 0 < len(value) <= 1000


def _whole(low, high=2 ** 63 - 1):
    def check(value):
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    return check


def _number(low=-math.inf, high=math.inf, finite=True):
    def check(value):
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            return False
        if not math.isfinite(value):  # allowed where the collection sets such a run apart
            return not finite
        return low <= value <= high
    return check


def _level(value):
    return _text(value) or _number()(value)


def _by_level(value_check):
    def check(value):
        return isinstance(value, dict) and all(_text(k) and value_check(v) for k, v in value.items())
    return check


def _flag(value):
    return isinstance(value, bool)


def _optional(check):
    return lambda value: value is None or check(value)


# key: (check, what it must be), for the keys the collection reads
CONFIG = {
    "domain": (_text, "a name"), "dataset": (_text, "a name"), "model": (_text, "a name"),
    "level": (_level, "a level (a number or a name)"), "seed": (_whole(0), "a whole number >= 0"),
    "level_name": (_optional(_text), "a name"),
    "setting": (_optional(_whole(0, 10 ** 6)), "a whole number >= 0"),
    "params": (_optional(_whole(0)), "a whole number >= 0"),
    "num_epoch": (_optional(_whole(1)), "a whole number >= 1"),
    "batch_size": (_optional(_whole(1)), "a whole number >= 1"),
    "subset": (_optional(_whole(1)), "a whole number >= 1"),
    "bits_per_sample": (_optional(_number(0)), "a finite number >= 0"),
    "payload_bits_per_sample": (_optional(_number(0)), "a finite number >= 0"),
    "bits_per_sample_at": (_optional(_by_level(_number(0))), "levels to finite numbers >= 0"),
    "payload_bits_per_sample_at": (_optional(_by_level(_number(0))),
                                   "levels to finite numbers >= 0"),
    "fixed": (_optional(_flag), "true or false"), "precision": (_optional(_text), "a name"),
    "git_commit": (_optional(_text), "text"), "threads": (_optional(_whole(1)), "a whole number >= 1"),
    "cpu": (_optional(_text), "text"),
}
RESULT = {
    "complete": (_optional(_flag), "true or false"), "diverged": (_optional(_flag), "true or false"),
    "diverged_epoch": (_optional(_whole(1)), "a whole number >= 1"),
    "epochs": (_optional(_whole(0)), "a whole number >= 0"),
    "test_accuracy": (_optional(_number(0, 1, finite=False)), "an accuracy in [0, 1]"),
    "test_accuracy_at": (_optional(_by_level(_number(0, 1, finite=False))),
                         "levels to accuracies in [0, 1]"),
}
REQUIRED = {"config.json": ("domain", "dataset", "model", "level", "seed"), "result.json": ()}


def _depth(value, limit):
    """Whether `value` nests no deeper than `limit` (without recursing past it)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limit:
                return False
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return True


def check(record, name):
    """Why the record (config.json or result.json, by `name`) is not one of this
    program's, as "<name>: <key> is ..., expected ...", or None when it is."""
    schema = CONFIG if name == "config.json" else RESULT
    missing = [key for key in REQUIRED[name] if key not in record]
    if missing:
        return f"{name} lacks {', '.join(missing)}"
    if not _depth(record, MAX_DEPTH):
        return f"{name} nests deeper than {MAX_DEPTH} levels"
    for key, (ok, expected) in schema.items():
        if key in record and not ok(record[key]):
            shown = repr(record[key])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            return f"{name}: {key} is {shown}, expected {expected}"
    return None
