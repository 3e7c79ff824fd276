"""How OpenMP's waiting threads behave in our processes; imported before torch.

Between two parallel operations, OpenMP's worker threads wait for the next one. libgomp (the OpenMP runtime of
PyTorch's Linux wheels) spins for 300,000 iterations before it sleeps: fastest on an idle machine, ruinous when
the cores are busy with something else (Home Assistant on the same box), because spinning threads take the cores
from the threads with work. Sleeping at once (`OMP_WAIT_POLICY=PASSIVE`) is the opposite trade. A short spin
gets both: measured on 2 cores, 150 speech tokens through the full-size pipeline (int8 LLM, bf16 flow):

| waiting | idle machine | two busy processes beside it |
|---|---|---|
| libgomp default (spin 300,000) | 3.6–3.9 s | 14 s |
| `OMP_WAIT_POLICY=PASSIVE` | 6.3–6.5 s | 7.9–8.9 s |
| `GOMP_SPINCOUNT=10000` (ours) | 3.5–3.6 s | 7.7–8.2 s |

libgomp also cuts the spin to a thousandth when it manages more threads than there are cores, which is what
happens when a second thread starts its own OpenMP team: so all tensor work of the server runs on one thread
(`scheduler.ComputeScheduler`, loading and warm-up included). A value the user sets wins.
"""

import os

os.environ.setdefault("GOMP_SPINCOUNT", "10000")
