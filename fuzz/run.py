"""
The long-running fuzz harness: the targets of L{fuzz.targets}, fed mutated
seeds (random engine) or driven by libFuzzer through atheris.

    python -m fuzz.run                          # every target, 60 s, random engine
    python -m fuzz.run --target hybi --seconds 3600 --seed 7
    python -m fuzz.run --engine atheris --target handshake -- -max_total_time=600

See fuzz/README.md.  An input that breaks a target is written to
C{fuzz/crashes/<target>-<sha1>.json} (the bytes in hex and the read cuts),
and can be replayed with C{--replay FILE}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

from fuzz.targets import TARGETS, mutate, randomOps

CRASHES = Path(__file__).resolve().parent / "crashes"


def outcome(result: object) -> str:
    """A short name for what a target returned, for the statistics."""
    if isinstance(result, str):
        return result.split(" ", 1)[0] if result.startswith("refused") else result
    if isinstance(result, list):
        return type(result[-1]).__name__ if result else "nothing"
    return type(result).__name__


def save(target: str, data: bytes, cuts: list[int], error: BaseException) -> Path:
    CRASHES.mkdir(exist_ok=True)
    digest = hashlib.sha1(data + repr(cuts).encode()).hexdigest()[:16]
    path = CRASHES / f"{target}-{digest}.json"
    path.write_text(
        json.dumps(
            {
                "target": target,
                "data": data.hex(),
                "cuts": cuts,
                "error": "".join(traceback.format_exception_only(type(error), error)).strip(),
            },
            indent=2,
        )
        + "\n"
    )
    return path


def known(error: BaseException, ignore: list[str]) -> bool:
    """Whether C{error} is a known failure: its text matches one of C{ignore}."""
    text = f"{type(error).__name__}: {error}"
    return any(re.search(pattern, text) for pattern in ignore)


def randomEngine(
    targets: list[str], seconds: float, seed: int, maxCrashes: int, ignore: list[str] = ()
) -> int:
    """
    Mutate seeds at random for C{seconds}; return how many distinct failures
    were found (by target, exception type and message).
    """
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    runs: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    failures: dict[tuple[str, str, str], Path] = {}
    corpus = {name: list(TARGETS[name][1]) for name in targets}
    nextReport = time.monotonic() + 10
    while time.monotonic() < deadline and len(failures) < maxCrashes:
        name = rng.choice(targets)
        target, seeds = TARGETS[name]
        pool = corpus[name]
        base = rng.choice(pool)
        data = mutate(base, randomOps(rng), seeds)
        if rng.random() < 0.1:
            # Now and then, grow or concatenate: long streams, repeated frames.
            data = data + mutate(rng.choice(pool), randomOps(rng, 2), seeds)
        cuts = [rng.randrange(1 << 16) for _ in range(rng.randrange(6))]
        runs[name] += 1
        try:
            result = target(data, cuts)
        except Exception as error:  # noqa: BLE001 - the harness reports them all
            if known(error, ignore):
                outcomes[f"{name}: known failure"] += 1
                continue
            key = (name, type(error).__name__, str(error)[:120])
            if key not in failures:
                failures[key] = save(name, data, cuts, error)
                print(
                    f"FAILURE in {name}: {type(error).__name__}: {error}\n"
                    f"  saved to {failures[key]}",
                    flush=True,
                )
            continue
        kind = outcome(result)
        outcomes[f"{name}: {kind}"] += 1
        # Keep inputs that got somewhere new as seeds (a poor man's coverage).
        if outcomes[f"{name}: {kind}"] == 1 and len(pool) < 200:
            pool.append(data)
        if time.monotonic() > nextReport:
            nextReport += 10
            print(f"{sum(runs.values())} runs, {len(failures)} failures", flush=True)
    print(
        f"{sum(runs.values())} runs in {seconds:.0f} s: "
        + ", ".join(f"{name} {count}" for name, count in sorted(runs.items()))
    )
    for name, count in sorted(outcomes.items()):
        print(f"  {count:>9}  {name}")
    print(f"{len(failures)} distinct failures")
    return len(failures)


def atherisEngine(target: str, libFuzzerArgs: list[str], ignore: list[str] = ()) -> None:
    """
    Run C{target} under libFuzzer (atheris): the first byte of each input
    says how many read cuts follow (two bytes each), the rest is the data.
    """
    import atheris

    check, seeds = TARGETS[target]
    if target == "stack":
        # Import what the stack target imports lazily, so it is instrumented.
        check(b"", [])
    # The codecs (and the stack) are imported by now: instrument them in place.
    atheris.instrument_all()

    def testOneInput(raw: bytes) -> None:
        # The first byte says how many cuts (0 to 6) follow, two bytes each.
        count = raw[0] % 7 if raw else 0
        cuts = [int.from_bytes(raw[1 + 2 * i : 3 + 2 * i], "big") for i in range(count)]
        try:
            check(raw[1 + 2 * count :], cuts)
        except Exception as error:
            if not known(error, ignore):
                raise

    corpus = CRASHES.parent / "corpus" / target
    if not corpus.exists():
        corpus.mkdir(parents=True)
        for index, seed in enumerate(seeds):
            # A zero byte (no cuts), then the seed.
            (corpus / f"seed-{index}").write_bytes(b"\x00" + seed)
    atheris.Setup([sys.argv[0], str(corpus), *libFuzzerArgs], testOneInput)
    atheris.Fuzz()


def replay(path: Path) -> None:
    crash = json.loads(path.read_text())
    check, _ = TARGETS[crash["target"]]
    print(check(bytes.fromhex(crash["data"]), crash["cuts"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fuzz ratchet_tx's codecs and stack.")
    parser.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--engine", choices=["random", "atheris"], default="random")
    parser.add_argument("--max-failures", type=int, default=20)
    parser.add_argument("--replay", type=Path, help="run one saved failure again")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="REGEX",
        help="a known failure to pass over (matched against 'Type: message'; repeatable)",
    )
    parser.add_argument("libfuzzer", nargs="*", help="after --: arguments for libFuzzer")
    options = parser.parse_args(argv)
    if options.replay:
        replay(options.replay)
        return 0
    targets = list(TARGETS) if options.target == "all" else [options.target]
    if options.engine == "atheris":
        if len(targets) != 1:
            parser.error("--engine atheris fuzzes one --target at a time")
        atherisEngine(targets[0], options.libfuzzer, options.ignore)
        return 0
    print(
        f"random engine, seed {options.seed}, {options.seconds:.0f} s, targets: "
        + ", ".join(targets),
        flush=True,
    )
    found = randomEngine(
        targets, options.seconds, options.seed, options.max_failures, options.ignore
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
