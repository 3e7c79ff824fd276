"""How OpenMP's waiting threads behave in our processes; imported before torch.

Between two parallel operations, OpenMP's worker threads wait for the next one. libgomp (the OpenMP runtime of
PyTorch's Linux wheels) spins for a while before it sleeps: harmless on an idle machine, ruinous when the cores
are busy with something else (Home Assistant, a backup, a compile on the same box), because spinning threads take
the cores from the threads with work. `OMP_WAIT_POLICY=PASSIVE` makes them sleep at once. Measured on 2 cores with
the full-size model through the server (streamed request, 6.8 s of speech, all tensor work on one thread):

| waiting | idle machine | a two-job compile beside it |
|---|---|---|
| `OMP_WAIT_POLICY=PASSIVE` (ours) | 8.5–8.7 s | 23 s |
| `GOMP_SPINCOUNT=10000` | 8.6–8.8 s | 45 s |

Idle, sleeping costs nothing measurable (bench_pipeline: RTF 1.17 vs 1.19). What did cost was running torch on
two threads (loading on one, computing on another): libgomp then manages more threads than there are cores and
the two teams get in each other's way (first audio 2.1 s instead of 1.2 s), so all tensor work of the server runs
on one thread (`scheduler.ComputeScheduler`, loading and warm-up included). A value the user sets wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
