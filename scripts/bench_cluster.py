"""Identity clustering speed and memory: `IdentityClusters` on synthetic face embeddings.

    python scripts/bench_cluster.py [--identities 10000] [--faces 20000]

Each face is one of `identities` random 128-d people (dlib's scale) plus a little noise, assigned
one image at a time as finalising does; prints the time per face and the peak memory the
clustering allocated (tracemalloc), with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc

import numpy as np

from layercraft.data.cluster import IdentityClusters


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--identities", type=int, default=10000)
    ap.add_argument("--faces", type=int, default=20000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    people = rng.normal(0, 0.1, (args.identities, 128)).astype(np.float32)
    noise = rng.normal(0, 0.01, (args.faces, 128)).astype(np.float32)
    clusters = IdentityClusters(0.4, "euclidean", 128)
    tracemalloc.start()
    t = time.perf_counter()
    for k in range(args.faces):
        clusters.assign(people[k % args.identities][None] + noise[k][None])
    dt = time.perf_counter() - t
    print(json.dumps({"command": f"python scripts/bench_cluster.py --identities {args.identities} --faces {args.faces}",
                      "identities_found": clusters.n, "seconds": round(dt, 2),
                      "ms_per_face": round(dt / args.faces * 1e3, 3),
                      "peak_mb": round(tracemalloc.get_traced_memory()[1] / 1e6, 1),
                      "load_average_1min": round(os.getloadavg()[0], 2)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
