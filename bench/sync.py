"""Benchmark: what the project sync engine (automation/runner/sources.py) costs next to plain git.

A generated repository of 1,000 files (100 directories of 10 YAML files, ~1 KiB each) in a bare
repository on local disk. Two kinds of sync, each against its plain-git counterpart, interleaved
round by round so load drifts hit both alike:
- first:       git_fetch into a new cache + git_export into a new snapshot (sandboxed, as
               RUNNER_USER when root, the tree unpacked and sealed by Python)
               vs `git clone` of the same repository;
- incremental: one new commit, then git_fetch into the existing cache + git_export into a new
               snapshot vs `git fetch` + `git checkout` in an existing clone.
Prints medians with min-max, the ratio of the medians, and the load average.

Run: .venv/bin/python bench/sync.py [--rounds N]  (as root, as the worker would run)
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import django_setup  # noqa: E402

django_setup("sync")
from automation.runner.sources import git_export, git_fetch, snapshot_remove  # noqa: E402

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True)


def generate(root: Path) -> tuple[Path, Path]:
    """A working repository with 1,000 files and the bare repository it pushes to."""
    work, bare = root / "work", root / "origin.git"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    for d in range(100):
        folder = work / f"dir{d:03}"
        folder.mkdir()
        for f in range(10):
            (folder / f"file{f}.yml").write_text(
                f"# file {d}/{f}\n" + "".join(f"key_{i}: value {d} {f} {i}\n" for i in range(50))
            )
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "generated", cwd=work)
    git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
    return work, bare


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def summary(values):
    return f"{statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    try:
        work, bare = generate(root)
        nothing = lambda: False  # noqa: E731
        lines = []

        phases: dict[str, list[float]] = {"fetch": [], "export": []}

        def sync(cache: Path, dest: Path):
            started = time.monotonic()
            revision = git_fetch(
                url=str(bare), ref="main", cache=cache, log=lines.append, cancelled=nothing
            )
            fetched = time.monotonic()
            git_export(cache=cache, revision=revision, dest=dest, log=lines.append)
            phases["fetch"].append(fetched - started)
            phases["export"].append(time.monotonic() - fetched)

        sync(root / "warm.git", root / "warm-snap")  # imports, sandbox probe, page cache
        phases["fetch"].clear()
        phases["export"].clear()
        first_ours, first_git, inc_ours, inc_git = [], [], [], []
        inc_fetch, inc_export = [], []
        cache, clone = root / "cache.git", root / "clone"
        for n in range(args.rounds):
            for path in (cache, clone, root / "snap-first"):
                snapshot_remove(path)  # any tree, sealed or not
            first_ours.append(timed(lambda: sync(cache, root / "snap-first")))
            first_git.append(timed(lambda: git("clone", "-q", str(bare), str(clone), cwd=root)))
            (work / f"dir{n:03}" / "file0.yml").write_text(f"# changed in round {n}\n")
            git("commit", "-q", "-am", f"round {n}", cwd=work)
            git("push", "-q", str(bare), "main", cwd=work)
            dest = root / f"snap-{n}"
            inc_ours.append(timed(lambda dest=dest: sync(cache, dest)))
            inc_fetch.append(phases["fetch"][-1])
            inc_export.append(phases["export"][-1])

            def plain_update():
                git("fetch", "-q", "origin", cwd=clone)
                git("checkout", "-q", "--detach", "origin/main", cwd=clone)

            inc_git.append(timed(plain_update))
            snapshot_remove(dest)
        print(f"rounds: {args.rounds}, interleaved; load average {os.getloadavg()}")
        size = sum(p.stat().st_size for p in work.rglob("*.yml"))
        print(f"repository: 1,000 files in 100 directories, {size / 1e6:.1f} MB")
        print(f"first sync (fetch + export):   {summary(first_ours)}")
        print(f"git clone:                     {summary(first_git)}")
        print(
            "first ratio:                   "
            f"{statistics.median(first_ours) / statistics.median(first_git):.2f}"
        )
        print(f"incremental sync (1 commit):   {summary(inc_ours)}")
        print(f"  of which git_fetch:          {summary(inc_fetch)}")
        print(f"  of which git_export:         {summary(inc_export)}")
        print(f"git fetch + checkout:          {summary(inc_git)}")
        print(
            "incremental ratio:             "
            f"{statistics.median(inc_ours) / statistics.median(inc_git):.2f}"
        )
    finally:
        snapshot_remove(root / "warm-snap")
        snapshot_remove(root / "snap-first")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
