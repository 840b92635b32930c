"""Cold start, memory and install size: `briefbot ask` on the sample content, and the .venv.

Prints: median and worst wall time of `briefbot ask` as a fresh process (5 runs), its peak
resident memory, the resident memory of a running console chat, and the size of .venv.
Targets: cold start under 1 s, resident memory under 80 MB, .venv under 250 MB.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ask_once() -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "briefbot", "ask", "--article", "seed", "--json",
         "who was at the talks?"],
        cwd=ROOT, check=True, capture_output=True,
    )
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) / 1024  # ru_maxrss is in KiB on Linux


def _chat_rss_mb() -> float:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "briefbot", "--config", str(ROOT / "config.yaml"), "chat"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("/latest\nwho was at the talks?\n")
    proc.stdin.flush()
    time.sleep(2.0)  # let it answer both
    rss_kb = 0
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            rss_kb = int(line.split()[1])
    proc.stdin.close()
    proc.wait(timeout=30)
    return rss_kb / 1024


def _dir_mb(path: Path) -> float:
    total = 0
    for entry in path.rglob("*"):
        if entry.is_file() and not entry.is_symlink():
            total += entry.stat().st_size
    return total / 1e6


def main() -> None:
    runs = [_ask_once() for _ in range(5)]
    times = [t for t, _ in runs]
    print(f"briefbot ask cold start: median {statistics.median(times):.3f} s, "
          f"worst {max(times):.3f} s (target < 1 s)")
    print(f"briefbot ask peak RSS: {max(m for _, m in runs):.1f} MB")
    print(f"console chat peak RSS, sample content: {_chat_rss_mb():.1f} MB (target < 80 MB)")
    venv = ROOT / ".venv"
    if venv.is_dir():
        print(f".venv size: {_dir_mb(venv):.0f} MB (target < 250 MB)")


if __name__ == "__main__":
    main()
