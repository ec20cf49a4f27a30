"""
Scaling curves (run them with `bench/run --curves`): how the cost of one
receiver of a broadcast and of one idle connection changes with their number.

Two curves per server, each point one run of bench/driver.py's run_once (the
same servers, pinning, quiet-machine wait and load generator as every other
scenario):

- broadcast: 64-byte text from one sender to 100, 1 000 and 10 000
  receivers, 16 in flight: deliveries/s, and the server's CPU time per
  delivery (its CPU seconds ÷ deliveries: flat if a receiver costs the same
  whatever their number);
- idle: 1 000, 10 000 and 50 000 connections opened and held: the server's
  RSS growth ÷ connections (flat if a connection costs the same).

50 000 connections need 50 000 file descriptors in the server and as many in
the generator: the driver raises its own RLIMIT_NOFILE hard limit (with
CAP_SYS_RESOURCE, up to /proc/sys/fs/nr_open) before it starts them, and
they inherit it.  Where it may not (a container without that capability),
the largest point becomes the largest round thousand the hard limit allows,
and the tables and plot say which.  The results go to
bench/results/<date>-curves.json and the plot to bench/curves.png
(matplotlib, from bench/requirements.txt).
"""

from __future__ import annotations

import datetime
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import driver
from driver import Scenario

#: The servers drawn by default: ratchet_tx, its peers, and raw Twisted as
#: the ceiling of the Twisted stack.
CURVE_SERVERS = ["ratchet_tx", "autobahn", "websockets", "picows", "node-ws", "raw-twisted"]
RECEIVERS = [100, 1000, 10_000]
IDLE_CONNECTIONS = [1000, 10_000, 50_000]
#: File descriptors a process needs beyond its connections: the listening
#: socket, logs, the interpreter's own.
NOFILE_MARGIN = 1000


def _broadcastPoint(receivers: int) -> Scenario:
    return Scenario(
        name=f"broadcast-{receivers}",
        title=f"broadcast: 64-byte text, 1 sender to {receivers} receivers, 16 in flight",
        mode="broadcast",
        args=["--conns", str(receivers), "--size", "64", "--window", "16"],
        metric="deliveries_per_s",
        unit="deliveries/s",
        extra_time=receivers / 500,  # connecting them, at worst 500 a second
    )


def _idlePoint(connections: int) -> Scenario:
    return Scenario(
        name=f"idle-{connections}",
        title=f"idle: {connections} open connections, server memory",
        mode="idle",
        args=["--conns", str(connections), "--hold", str(60 + connections // 500)],
        metric="kib_per_connection",
        unit="KiB/conn",
        higher_is_better=False,
        extra_time=connections / 500,
    )


def plan(nofile: int) -> list[Scenario]:
    """
    The points to run: every receiver count, and every idle connection count
    that C{nofile} file descriptors allow (one beyond is replaced by the
    largest round thousand that fits, so the curve still reaches as far as
    the machine lets it).
    """
    fits = (nofile - NOFILE_MARGIN) // 1000 * 1000
    idle = sorted({n if n <= fits else fits for n in IDLE_CONNECTIONS if fits > 0})
    points = [_broadcastPoint(n) for n in RECEIVERS] + [_idlePoint(n) for n in idle]
    for point in points:
        driver.SCENARIO_BY_NAME[point.name] = point
        if point.mode == "broadcast":
            driver.PER_CPU[point.name] = ("deliveries", "deliveries/CPU-s")
    return points


def raiseFileLimit(needed: int) -> int:
    """
    Raise this process's RLIMIT_NOFILE (soft and hard) to C{needed} where
    allowed (with CAP_SYS_RESOURCE up to /proc/sys/fs/nr_open); return the
    hard limit the servers and the generator will inherit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard >= needed:
        return hard
    try:
        with open("/proc/sys/fs/nr_open") as f:
            needed = min(needed, int(f.read()))
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
    except (OSError, ValueError) as e:
        print(
            f"RLIMIT_NOFILE: cannot raise the hard limit from {hard} to {needed} ({e}): "
            f"the idle curve stops at what {hard} descriptors allow",
            file=sys.stderr,
        )
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


# --------------------------------------------------------------------------
# Summary


def _sizes(summary: dict, curve: str) -> list[int]:
    return sorted({int(n) for entry in summary.values() for n in entry[curve]})


def summarize(runs: list[dict], servers: list[str], points: list[Scenario]) -> dict:
    """Per server: each point's median (over repeats) and the derived costs."""
    summary: dict = {}
    for name in servers:
        entry: dict = {"broadcast": {}, "idle": {}}
        for point in points:
            good = [r for r in runs if r["server"] == name and r["scenario"] == point.name]
            failed = [r["error"] for r in good if not r["ok"]]
            good = [r for r in good if r["ok"]]
            size = int(point.args[1])
            if not good:
                if failed:
                    entry[point.mode][str(size)] = {"failed": failed[0]}
                continue
            cell = {"value": statistics.median(r["value"] for r in good)}
            if point.mode == "broadcast":
                perCpu = [r["per_cpu_s"] for r in good if r.get("per_cpu_s")]
                if perCpu:
                    cell["cpu_us_per_delivery"] = 1e6 / statistics.median(perCpu)
                cell["server_cpu"] = statistics.median(r.get("server_cpu", 0) for r in good)
                cell["latency_p50_ms"] = statistics.median(r["latency_ms"]["p50"] for r in good)
            loads = [r["other_load"] for r in good if "other_load" in r]
            if loads:
                cell["other_load_max"] = max(loads)
            entry[point.mode][str(size)] = cell
        summary[name] = entry
    return summary


def _cell(cells: dict, size: int, key: str, unit: str = "") -> str:
    cell = cells.get(str(size))
    if cell is None:
        return "-"
    if "failed" in cell:
        return "failed"
    value = cell.get(key)
    return "-" if value is None else driver._fmt(value, unit)


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def _growth(cells: dict, key: str, small: int, large: int) -> str:
    a, b = cells.get(str(small), {}).get(key), cells.get(str(large), {}).get(key)
    return f"{b / a:.2f}×" if a and b else "-"


def printTables(summary: dict, out=sys.stdout) -> None:
    """The curves as markdown tables (what bench/README.md shows)."""
    receivers = _sizes(summary, "broadcast")
    idle = _sizes(summary, "idle")
    sizes = " | ".join(_thousands(n) for n in receivers)
    first, last = receivers[0], receivers[-1]
    print("\n#### broadcast deliveries/s by receivers (64-byte text, 16 in flight)\n", file=out)
    print(f"| server | {sizes} |", file=out)
    print("|---|" + "--:|" * len(receivers), file=out)
    for name, entry in summary.items():
        cells = " | ".join(_cell(entry["broadcast"], n, "value") for n in receivers)
        print(f"| {name} | {cells} |", file=out)
    print(
        "\n#### server CPU µs per delivery by receivers (flat: a receiver costs the same)\n",
        file=out,
    )
    print(f"| server | {sizes} | {_thousands(last)} ÷ {_thousands(first)} |", file=out)
    print("|---|" + "--:|" * (len(receivers) + 1), file=out)
    for name, entry in summary.items():
        cells = " | ".join(
            _cell(entry["broadcast"], n, "cpu_us_per_delivery", "KiB/conn") for n in receivers
        )
        growth = _growth(entry["broadcast"], "cpu_us_per_delivery", first, last)
        print(f"| {name} | {cells} | {growth} |", file=out)
    if not idle:
        return
    sizes = " | ".join(_thousands(n) for n in idle)
    first, last = idle[0], idle[-1]
    print("\n#### idle KiB per connection by connections (flat: a connection costs the same)\n",
          file=out)
    print(f"| server | {sizes} | {_thousands(last)} ÷ {_thousands(first)} |", file=out)
    print("|---|" + "--:|" * (len(idle) + 1), file=out)
    for name, entry in summary.items():
        cells = " | ".join(_cell(entry["idle"], n, "value", "KiB/conn") for n in idle)
        print(f"| {name} | {cells} | {_growth(entry['idle'], 'value', first, last)} |", file=out)
    loads = [
        cell.get("other_load_max", 0)
        for entry in summary.values()
        for curve in entry.values()
        for cell in curve.values()
    ]
    if loads:
        print(f"\n(other processes used at most {max(loads) * 100:.0f}% of a CPU during a run)",
              file=out)


# --------------------------------------------------------------------------
# The plot


def draw(document: dict, path: Path) -> None:
    """Three panels: deliveries/s, CPU µs per delivery, idle KiB per connection."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = document["summary"]
    receivers, idle = _sizes(summary, "broadcast"), _sizes(summary, "idle")
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.6), dpi=100)
    panels = [
        (axes[0], "broadcast", "value", receivers, "receivers",
         "deliveries per second (higher is better)", "Broadcast throughput"),
        (axes[1], "broadcast", "cpu_us_per_delivery", receivers, "receivers",
         "server CPU µs per delivery (lower is better)", "Cost of one receiver"),
        (axes[2], "idle", "value", idle, "idle connections",
         "server RSS KiB per connection (lower is better)", "Cost of one idle connection"),
    ]
    styles = {
        "ratchet_tx": dict(color="#d62728", linewidth=3.0, marker="o", zorder=5),
        "raw-twisted": dict(color="#7f7f7f", linewidth=1.5, marker="s", linestyle="--"),
    }
    palette = ["#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
    for ax, curve, key, sizes, xlabel, ylabel, title in panels:
        colours = iter(palette)
        for name, entry in summary.items():
            cells = entry[curve]
            xs = [n for n in sizes if key in cells.get(str(n), {})]
            if not xs:
                continue
            ys = [cells[str(n)][key] for n in xs]
            style = styles.get(name) or dict(color=next(colours), linewidth=1.8, marker="o")
            ax.plot(xs, ys, label=name, markersize=6, **style)
            ax.annotate(
                driver._fmt(ys[-1], "KiB/conn" if key != "value" or curve == "idle" else ""),
                (xs[-1], ys[-1]), textcoords="offset points", xytext=(6, 0),
                va="center", fontsize=8, color=style["color"],
            )
        ax.set_xscale("log")
        ax.set_xticks(sizes)
        ax.set_xticklabels([_thousands(n) for n in sizes])
        ax.set_xlim(sizes[0] / 1.6, sizes[-1] * 2.2)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.08)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    axes[0].yaxis.set_major_formatter(
        matplotlib.ticker.FuncFormatter(lambda v, _: driver._fmt(v) if v else "0")
    )
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=10, frameon=False)
    env = document["environment"]
    fig.suptitle(
        f"ratchet_tx {env.get('ratchet_tx_commit', '?')} and its peers on "
        f"{env.get('cpus', '?')} CPUs ({document['started'][:10]}): flat lines in the middle "
        "and right panels mean the cost per receiver / connection does not grow",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    fig.savefig(path)
    plt.close(fig)


# --------------------------------------------------------------------------


def main(options) -> int:
    plot = options.plot or driver.BENCH / "curves.png"
    if options.report:
        document = json.loads(options.report.read_text())
        printTables(document["summary"])
        draw(document, plot)
        print(f"\nplot: {plot}")
        return 0
    if not driver.LOADGEN.exists():
        sys.exit(f"{driver.LOADGEN} is missing: run bench/run, which builds it")
    if options.baseline:
        sys.exit("--curves compares servers, not revisions: no --baseline")
    hard = raiseFileLimit(max(IDLE_CONNECTIONS) + NOFILE_MARGIN)
    points = plan(hard)
    if options.pin:
        import os

        if (os.cpu_count() or 1) < 2:
            options.pin = False
        else:
            os.sched_setaffinity(0, {driver.GENERATOR_CPU})
    servers = [s for s in driver.SERVERS if s.name in options.servers]
    started = datetime.datetime.now()
    stamp = started.strftime("%Y%m%d-%H%M%S")
    driver.RESULTS.mkdir(exist_ok=True)
    logdir = driver.RESULTS / f"{stamp}-curves-logs"
    logdir.mkdir()
    output = options.output or driver.RESULTS / f"{stamp}-curves.json"
    total = len(points) * len(servers) * options.repeats
    print(
        f"{total} runs: servers {', '.join(s.name for s in servers)}; points "
        f"{', '.join(p.name for p in points)}; {options.repeats} repeat(s) of "
        f"{options.warmup} s warm-up + {options.duration} s; RLIMIT_NOFILE {hard}",
        flush=True,
    )
    machine = driver.environment()
    snapshot = tempfile.TemporaryDirectory(prefix="ratchet_tx-curves-")
    if any(s.name in ("ratchet_tx", "raw-writethrough") for s in servers):
        driver.snapshot_ratchet(Path(snapshot.name) / "work-tree")
        machine["ratchet_tx_speedups"] = driver.speedupsBuilt()
    runs = []
    waited = 0.0
    t_start = time.monotonic()
    for point in points:
        for rep in range(options.repeats):
            for server in servers:
                budget = driver.QUIET_BUDGET_RUNS * options.quiet_wait - waited
                if budget > 0:
                    t = time.monotonic()
                    driver.wait_quiet(min(options.quiet_wait, budget))
                    waited += time.monotonic() - t
                tag = f"{point.name}-{server.name}-{rep}"
                record = driver.run_once(server, point, options, logdir, tag)
                record["repeat"] = rep
                runs.append(record)
                if record["ok"]:
                    line = f"{driver._fmt(record['value'], point.unit)} {point.unit}"
                    if "per_cpu_s" in record:
                        line += f"  {1e6 / record['per_cpu_s']:.2f} CPU-µs/delivery"
                    if record.get("other_load", 0) > driver.OTHER_LOAD_WARNING:
                        line += f"  WARNING: other load {record['other_load'] * 100:.0f}%"
                else:
                    line = f"FAILED: {record['error']}"
                elapsed = time.monotonic() - t_start
                print(
                    f"[{len(runs):3d}/{total} {elapsed:5.0f}s] {point.name:<15} "
                    f"#{rep + 1} {server.name:<12} {line}",
                    flush=True,
                )
    snapshot.cleanup()
    names = [s.name for s in servers]
    summary = summarize(runs, names, points)
    document = {
        "kind": "curves",
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - t_start, 1),
        "environment": machine,
        "options": {
            "servers": names,
            "points": {p.name: [p.mode] + p.args for p in points},
            "repeats": options.repeats,
            "warmup": options.warmup,
            "duration": options.duration,
            "pinned": options.pin,
            "nofile": hard,
        },
        "servers": {s.name: s.description for s in servers},
        "summary": summary,
        "runs": runs,
    }
    output.write_text(json.dumps(document, indent=1))
    printTables(summary)
    draw(document, plot)
    print(f"\nresults: {output}\nplot: {plot}\nserver logs: {logdir}")
    failed = sum(1 for r in runs if not r["ok"])
    if failed:
        print(f"{failed} run(s) failed", file=sys.stderr)
    return 1 if failed else 0
