"""OpenMP's waiting policy for the server's process; imported before torch.

OpenMP threads that wait for work spin by default. On a small machine that also runs Home Assistant (or anything
else), spinning threads fight the busy ones for the same cores: on the 2-core development machine with other
load, a request took 15 s with spinning threads and 2 s with sleeping ones. `OMP_WAIT_POLICY=PASSIVE` makes them
sleep; a value set by the user wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
