"""Per pass, the most memory cubecl's main GPU pool held and what was in use then, from its memory
log at the `full` level (`[memory.logger] level = "full"`, `stdout = true` in cubecl.toml): every
new page's log ends with a summary of bytes in use and reserved, and every release between passes
logs "Manual memory cleanup". Usage: in_step_peak.py LOG... (session 34, docs/BENCHMARKS.md)."""
import re, sys

def mb(text):
    m = re.match(r'([\d.]+)\s*(\w+)?', text.strip())
    return float(m.group(1)) * {'B': 1e-6, 'KB': 1e-3, 'MB': 1, 'GB': 1e3}[m.group(2) or 'B']

for path in sys.argv[1:]:
    lines = open(path).read().split('\n')
    segment, rows = 0, []
    for i, line in enumerate(lines):
        if 'Manual memory cleanup' in line:
            segment += 1
        if line.startswith('## Summary'):
            block = lines[i:i + 8]
            in_use = next(mb(x.split(':')[1]) for x in block if 'Bytes in use' in x)
            reserved = next(mb(x.split(':')[1]) for x in block if 'Total bytes reserved' in x)
            rows.append((segment, in_use, reserved))
    print(path, '(segments: between releases; MB)')
    for s in sorted({r[0] for r in rows}):
        seg = [r for r in rows if r[0] == s]
        top = max(seg, key=lambda r: (r[2], r[1]))
        print(f'  {s:3d}: most reserved {top[2]:.0f}, in use then {top[1]:.0f}')
    top = max(rows, key=lambda r: r[2])
    print(f'  run: most reserved {top[2]:.0f} MB, in use then {top[1]:.0f} MB')
