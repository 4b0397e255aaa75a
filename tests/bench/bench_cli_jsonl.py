"""`slawatch tickets list --format jsonl` over 1,000,000 tickets: time, and memory that stays flat.

Generates the tickets with the report benchmark's generator (bulk inserts: executemany
on SQLite, COPY on PostgreSQL), then runs the real command as a child process whose
stdout is read and its lines counted as they arrive, and measures the child's wall time
and peak RSS (resource.getrusage of the child, each measurement in a fresh measuring
process, since RUSAGE_CHILDREN keeps the maximum of every child so far). The same is
done for a tenth of the tickets: streaming holds one batch of rows, not the list, so
peak memory must be about the same for 100,000 and 1,000,000 tickets. A matcher run
(`team="team3"`, filtered in Python over the stream) is measured too.

    python3 -m tests.bench.bench_cli_jsonl [--tickets 1000000] [--runs 3] [--backend both] [--only-largest]

Prints the median of the runs per backend and size.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.bench_report import generate
from tests.support.databases import fresh_postgres_url

ROOT = Path(__file__).resolve().parents[2]
EXTRA = 3  # the report generator's three monitoring-blind tickets
MATCHER = 'team="team3"'  # one ticket in 12


def run_cli(config: str, *args: str) -> tuple[float, float, int, float]:
    """(wall seconds, peak RSS in MB of the child, lines, CPU seconds of the child) of one
    `tickets list --format jsonl`."""
    command = [sys.executable, "-m", "slawatch", "tickets", "list", "--format", "jsonl", "--config", config, *args]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT)
    assert child.stdout is not None
    lines = 0
    while chunk := child.stdout.read(1 << 16):
        lines += chunk.count(b"\n")
    if child.wait() != 0:
        raise RuntimeError(f"{command} exited with {child.returncode}")
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, usage.ru_maxrss / 1024, lines, usage.ru_utime + usage.ru_stime


def _measure(config: Path, *args: str) -> tuple[float, float, int, float]:
    out = subprocess.run(
        [sys.executable, "-c", "import json, sys; from tests.bench.bench_cli_jsonl import run_cli; "
         "print(json.dumps(run_cli(*sys.argv[1:])))", str(config), *args],
        capture_output=True, check=True, text=True, cwd=ROOT,
    )
    wall, rss, lines, cpu = json.loads(out.stdout)
    return wall, rss, lines, cpu


def bench(url: str, backend: str, count: int, runs: int, folder: Path) -> dict[str, tuple[float, float, float]]:
    started = time.perf_counter()
    generate(url, count)
    print(f"{backend}: generated {count:,} tickets in {time.perf_counter() - started:.1f} s", flush=True)
    config = folder / f"{backend}-{count}.yaml"
    config.write_text(f"database: {{url: '{url}'}}\n")
    results = {}
    for label, args, expected in (("all", (), count + EXTRA), ("matcher", (MATCHER,), None)):
        measured = [_measure(config, *args) for _ in range(runs)]
        if expected is not None:
            assert all(m[2] == expected for m in measured), measured
        wall, rss = statistics.median(m[0] for m in measured), statistics.median(m[1] for m in measured)
        cpu = statistics.median(m[3] for m in measured)
        results[label] = (wall, rss, cpu)
        print(
            f"{backend}: tickets list --format jsonl {' '.join(args) + ' ' if args else ''}over {count:,} tickets: "
            f"{measured[0][2]:,} lines, wall {wall:.2f} s ({measured[0][2] / wall:,.0f} lines/s), CPU {cpu:.2f} s, "
            f"peak RSS {rss:.0f} MB (median of {runs}; runs: "
            + ", ".join(f"{m[0]:.2f} s/{m[3]:.2f} s CPU/{m[1]:.0f} MB" for m in measured) + ")",
            flush=True,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--only-largest", action="store_true", help="Skip the run over a tenth of the tickets.")
    args = parser.parse_args()
    sizes = [args.tickets] if args.only_largest else sorted({max(1, args.tickets // 10), args.tickets})
    summary: dict[tuple[str, int], dict[str, tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for size in sizes:
            if args.backend in ("sqlite", "both"):
                summary[("sqlite", size)] = bench(f"sqlite:///{folder / f'bench-{size}.db'}", "sqlite", size,
                                                  args.runs, folder)
                (folder / f"bench-{size}.db").unlink()
            if args.backend in ("postgresql", "both"):
                gen = fresh_postgres_url()
                url = next(gen)
                try:
                    summary[("postgresql", size)] = bench(url, "postgresql", size, args.runs, folder)
                finally:
                    gen.close()
    print("summary (median wall / CPU / peak RSS of the child):", flush=True)
    for backend in ("sqlite", "postgresql"):
        rows = [(size, summary[(backend, size)]) for size in sizes if (backend, size) in summary]
        if rows:
            print(f"  {backend}: " + "; ".join(
                f"{size:,} tickets {r['all'][0]:.1f} s / {r['all'][2]:.1f} s / {r['all'][1]:.0f} MB "
                f"(matcher {r['matcher'][0]:.1f} s / {r['matcher'][2]:.1f} s / {r['matcher'][1]:.0f} MB)"
                for size, r in rows), flush=True)


if __name__ == "__main__":
    main()
