"""The most memory cubecl's main GPU pool held in a run, from its memory log at the `full` level
(`[memory.logger] level = "full"`, `stdout = true` in cubecl.toml): each new page's log prints the
pools' state, whose summary says the bytes reserved then. Usage: most_held.py LOG...
(session 33, docs/BENCHMARKS.md)."""
import re, sys
for f in sys.argv[1:]:
    lines=open(f).read().split('\n')
    best=0; i=0; pages=0
    while i < len(lines):
        if 'Allocated a new memory page' in lines[i] and 'Main GPU' in lines[i]:
            pages+=1
            j=i
            while j < len(lines) and '## Summary' not in lines[j]: j+=1
            tot=[x for x in lines[j:j+8] if 'Total bytes reserved' in x]
            if tot:
                v=tot[0].split(':')[1].strip(); num,unit=v.split()
                mb=float(num)*(1e-3 if unit=='KB' else 1 if unit=='MB' else 1e3 if unit=='GB' else 1e-6)
                best=max(best,mb)
            i=j
        i+=1
    print(f, 'new pages', pages, 'most reserved MB', best)
