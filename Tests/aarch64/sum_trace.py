"""Instructions executed, from a qemu-aarch64 `-d in_asm,exec,nochain` log: each translated block's instruction
count (from its `IN:` listing) summed over every `Trace` line that runs it. Used by count.sh and
count-openblas.sh."""
import re
import sys

sizes, total, pc, n = {}, 0, None, 0
with open(sys.argv[1], errors="replace") as f:
    for line in f:
        if line.startswith("Trace "):
            m = re.search(r"\[[0-9a-f]+/([0-9a-f]+)/", line)
            total += sizes.get(int(m.group(1), 16), 0)
        elif line.startswith("IN:"):
            pc, n = None, 0
        elif re.match(r"^0x[0-9a-f]+:", line):
            addr = int(line.split(":")[0], 16)
            if pc is None:
                pc = addr
            n += 1
            sizes[pc] = n
print(total)
