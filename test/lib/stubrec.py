"""Records of test/stub_popit.c, the popit stand-in of the handoff tests.

The stub writes RECDIR/<pid>.rec, one "key value" line per item ("argv",
"env", "fd" and "line" repeat; "SigBlk:"/"SigIgn:" come from
/proc/self/status) and "exit" as its last line.
"""

import glob
import os
import time

LISTS = ("argv", "env", "fd", "line")


def parse_record(text):
    """One record as a dict: lists for LISTS, "eof" a bool, else values."""
    rec = {key: [] for key in LISTS}
    rec["eof"] = False
    for line in text.splitlines():
        if line.startswith("Sig"):      # from /proc/self/status
            key, _, value = line.partition(":")
            rec[key] = value.strip()
            continue
        key, _, value = line.partition(" ")
        if key in LISTS:
            rec[key].append(value)
        elif key == "eof":
            rec["eof"] = True
        else:
            rec[key] = value
    return rec


def read_records(recdir, want=1, timeout=10):
    """Wait for want finished records; returns them oldest first."""
    deadline = time.monotonic() + timeout
    while True:
        recs = []
        for path in sorted(glob.glob(os.path.join(recdir, "*.rec")),
                           key=os.path.getmtime):
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            if text.endswith("exit\n"):
                recs.append(parse_record(text))
        if len(recs) >= want:
            return recs
        if time.monotonic() > deadline:
            raise AssertionError("only %d of %d stub records in %s"
                                 % (len(recs), want, recdir))
        time.sleep(0.02)
