# SPDX-License-Identifier: MIT
"""A stand-in for Lambda's snapshot_restore_py: records the registrations,
and runs the hooks when the test says a snapshot is taken or restored."""
before = []
after = []


def register_before_snapshot(func, *args, **kwargs):
    before.append((func, args, kwargs))
    return func


def register_after_restore(func, *args, **kwargs):
    after.append((func, args, kwargs))
    return func


def snapshot():
    for func, args, kwargs in before:
        func(*args, **kwargs)


def restore():
    for func, args, kwargs in after:
        func(*args, **kwargs)
