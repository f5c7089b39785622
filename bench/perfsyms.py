#!/usr/bin/env python3
"""bench/perfsyms.py: name the operator's own frames in `perf script` output.

Some perf builds print "[unknown]" for every frame of the operator binary
(its symbols are there: addr2line finds them). This resolves those frames
with one addr2line call per binary, in place of the unknowns, so that
bench/perfsum.py can summarise them.

    perf script -i op.perf -F tid,time,ip,sym,dso > op.txt
    python3 bench/perfsyms.py op.txt      # rewrites op.txt
"""

import re
import subprocess
import sys

FRAME = re.compile(r"^(\s+)([0-9a-f]+) \[unknown\] \((/[^)]*grace-operator[^)]*)\)$")


def main(path):
    with open(path) as f:
        lines = f.read().split("\n")
    want = {}
    for ln in lines:
        m = FRAME.match(ln)
        if m:
            want.setdefault(m.group(3), set()).add(m.group(2))
    names = {}
    for binary, addrs in want.items():
        addrs = sorted(addrs)
        out = subprocess.run(["addr2line", "-f", "-e", binary] + ["0x" + a for a in addrs],
                             capture_output=True, text=True, check=True).stdout.split("\n")
        for i, a in enumerate(addrs):
            names[(binary, a)] = out[2 * i] if 2 * i < len(out) else "??"
    with open(path, "w") as f:
        for ln in lines:
            m = FRAME.match(ln)
            if m:
                ln = "%s%s %s (%s)" % (m.group(1), m.group(2), names[(m.group(3), m.group(2))],
                                       m.group(3))
            f.write(ln + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
