"""The peer: rembg's own remove() with u2netp, run inside rembg's virtualenv by bench/engine.py.

usage: python _rembg_peer.py time REPEATS FILE...   -> JSON {"seconds": {file: median}, "rss_kb": int}
       python _rembg_peer.py mask OUTDIR FILE...    -> writes OUTDIR/<stem>.png (rembg's mask)
"""

import json
import resource
import statistics
import sys
import time
from pathlib import Path

from PIL import Image
from rembg import new_session, remove


def main(argv):
    mode, arg, files = argv[0], argv[1], argv[2:]
    session = new_session("u2netp")
    remove(Image.new("RGB", (64, 64)), session=session)  # warm-up: session and first-run costs
    if mode == "mask":
        for name in files:
            with Image.open(name) as image:
                remove(image, session=session, only_mask=True).save(Path(arg) / f"{Path(name).stem}.png")
        return 0
    seconds = {}
    for name in files:
        data = Path(name).read_bytes()
        runs = []
        for _ in range(int(arg)):
            started = time.perf_counter()
            remove(data, session=session)
            runs.append(time.perf_counter() - started)
        seconds[name] = statistics.median(runs)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "rss_kb": rss}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
