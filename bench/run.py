"""Run livelens' benchmarks, print one table and write the same figures to bench/results.json.

    python bench/run.py                 # everything (what `make bench` runs; ~10 minutes)
    python bench/run.py --quick         # every benchmark, tiny and fast (what tests/bench runs)
    python bench/run.py --only list,depth --out /tmp/r.json

Each benchmark is bounded in time and count, talks to 127.0.0.1 only, and
stops by itself. Figures are ratios measured side by side in one run; the
absolute numbers are printed for context only (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import analysis_cost  # noqa: E402
import batching  # noqa: E402
import depth  # noqa: E402
import fuzz  # noqa: E402
import harness  # noqa: E402
import latency  # noqa: E402
import postgres_nodes  # noqa: E402
import startup  # noqa: E402
import throughput  # noqa: E402
import transcript_seek  # noqa: E402
import workers  # noqa: E402
from harness import machine  # noqa: E402

BENCHMARKS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "latency": latency.run,
    "list": throughput.list_vs_limit,
    "peer": throughput.against_moto,
    "depth": depth.run,
    "analysis": analysis_cost.run,
    "startup": startup.run,
    "batching": batching.run,
    "workers": workers.run,
    "seek": transcript_seek.run,
    "fuzz": fuzz.run,
    "pgnodes": postgres_nodes.run,
}

Row = tuple[str, str, str, str, str]


def _ms(value: Any, bound: float | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isinf(value)):
        return f"> {bound:.0f} s" if bound else "not visible"
    return f"{value:,.1f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def rows_for(name: str, result: dict[str, Any], results: dict[str, Any]) -> list[Row]:
    if "error" in result:
        return [(name, "failed", result["error"].splitlines()[-1][:80], "", "ERROR")]
    rows: list[Row] = []
    if name == "latency":
        for r in result["runs"]:
            n = r["contacts"]
            bound = r["bound_seconds"]
            label = f"1 ingest→visible N={n}"
            goal, verdict = "", ""
            if n == 200:
                goal = "p99 < 100 ms"
                verdict = _verdict(r["p99_ms"] is not None and not math.isinf(r["p99_ms"]) and r["p99_ms"] < 100)
            rows.append((label, "p50 / p99 / max",
                         f"{_ms(r['p50_ms'], bound)} / {_ms(r['p99_ms'], bound)} / {_ms(r['max_ms'], bound)}",
                         goal, verdict))
            rows.append((label, "turns/s offered / accepted / analysed",
                         f"{r['offered_turns_per_s']:.0f} / {r['accepted_turns_per_s']:.1f} / "
                         f"{r['analysed_turns_per_s']:.1f} ({r['visible']}/{r['accepted']} visible)", "", ""))
    elif name == "list":
        rows.append(("2 V2 page of 100 vs no-work app", "req/s livelens / baseline",
                     f"{result['livelens']['requests_per_s']:,.0f} / {result['baseline']['requests_per_s']:,.0f}",
                     "", ""))
        rows.append(("2 V2 page of 100 vs no-work app", "ratio", f"{result['ratio']:.2f}", "≥ 0.7",
                     _verdict(result["ratio"] >= 0.7)))
    elif name == "peer":
        rows.append(("3 DescribeInstance vs moto", "req/s livelens / moto",
                     f"{result['livelens']['requests_per_s']:,.0f} / {result['moto']['requests_per_s']:,.0f}", "", ""))
        rows.append(("3 DescribeInstance vs moto", "ratio livelens/moto", f"{result['ratio']:.2f}", "", ""))
    elif name == "depth":
        rows.append((f"4 page at segment 10 vs {result['segments']:,}", "ms / ms",
                     f"{result['one_at_10_ms']:.2f} / {result['one_at_end_ms']:.2f}", "", ""))
        rows.append((f"4 page at segment 10 vs {result['segments']:,}", "ratio", f"{result['depth_ratio']:.2f}",
                     "≤ 1.2", _verdict(result["depth_ratio"] <= 1.2)))
        rows.append((f"4 1 vs {result['contacts']:,} contacts in the db", "ms / ms",
                     f"{result['one_at_10_ms']:.2f} / {result['many_at_10_ms']:.2f}", "", ""))
        rows.append((f"4 1 vs {result['contacts']:,} contacts in the db", "ratio", f"{result['contacts_ratio']:.2f}",
                     "≤ 1.2", _verdict(result["contacts_ratio"] <= 1.2)))
    elif name == "analysis":
        rules = result["rules"]
        label = "5 analysis, per core"
        what = "turns/s (pipeline + 50 rules)" if rules.get("available") else "turns/s (pipeline; NO rules)"
        rows.append((label, what, f"{result['turns_per_core_s']:.1f} ({result['cpu_ms_per_turn']:.1f} ms/turn)",
                     "", ""))
        shares = ", ".join(f"{k} {v:.0%}" for k, v in result["shares"].items())
        rows.append((label, "share of CPU", shares, "", ""))
        if not rules.get("available"):
            rows.append((label, "categories (50 rules)", f"not measured: {rules.get('reason', '')[:60]}", "", ""))
        memory = result.get("memory")
        if memory:
            rows.append((f"5 memory, {memory['contacts']} live contacts", "peak RSS / per contact",
                         f"{memory['peak_rss_mib']:.0f} MiB / {memory['per_contact_kib']:.1f} KiB", "", ""))
    elif name == "startup":
        rows.append(("6 start-up", "serve → first answer (median)", f"{result['first_answer_s']:.2f} s", "", ""))
    elif name == "batching":
        for size, r in result["batches"].items():
            rows.append((f"7 CPU per turn, batch {size}", "pipeline + 50 rules (pipeline / rules)",
                         f"{r['cpu_ms_per_turn']:.1f} ms ({r['pipeline_cpu_ms_per_turn']:.1f} / "
                         f"{r['rules_cpu_ms_per_turn']:.1f}); {r['turns_per_core_s']:.0f} turns/s/core",
                         "≤ 8 ms", _verdict(r["cpu_ms_per_turn"] <= 8)))
        for size, r in result["batches"].items():
            stages = ", ".join(f"{k} {v:.1f}" for k, v in r.get("stage_cpu_ms_per_turn", {}).items())
            rows.append((f"7 CPU per turn, batch {size}", "per stage (ms)", stages, "", ""))
        rows.append(("7 CPU per turn", "ratio to batch 1 (1 / 8 / 32)",
                     " / ".join(f"{v:.2f}" for v in result["ratio_to_batch_1"].values()), "", ""))
    elif name == "workers":
        t = result.get("throughput")
        if t:
            for case, r in t["cases"].items():
                rows.append((f"8 drain, {case}", "analysed turns/s (worker CPU/turn)",
                             f"{r['turns_per_s']:.1f} ({r['worker_cpu_ms_per_turn']:.1f} ms)",
                             "≥ 100/core", _verdict(r["turns_per_s_per_worker"] >= 100)))
            rows.append(("8 2 pinned workers vs 1", "ratio", f"{t['ratio_2_workers_to_1']:.2f}", "≥ 1.8",
                         _verdict(t["ratio_2_workers_to_1"] >= 1.8)))
            rows.append((f"8 batch {workers.BATCH_K} vs 1", "ratio", f"{t['ratio_batch_k_to_1']:.2f}", "", ""))
        for r in result.get("latency", []):
            n, bound = r["contacts"], r["bound_seconds"]
            ok = r["p99_ms"] is not None and not math.isinf(r["p99_ms"]) and r["p99_ms"] <= 100
            label = f"8 workers={r.get('analysis_workers', 'auto')}, ingest→visible N={n}"
            rows.append((label, "p50 / p99 / max",
                         f"{_ms(r['p50_ms'], bound)} / {_ms(r['p99_ms'], bound)} / {_ms(r['max_ms'], bound)}",
                         "p99 ≤ 100 ms", _verdict(ok)))
            rows.append((label, "turns/s offered / accepted / analysed",
                         f"{r['offered_turns_per_s']:.0f} / {r['accepted_turns_per_s']:.1f} / "
                         f"{r['analysed_turns_per_s']:.1f} ({r['visible']}/{r['accepted']} visible)", "", ""))
        k = result.get("kill")
        if k:
            rows.append((f"8 kill -9 x{k['kills']} at N={k['contacts']}", "acknowledged / lost / duplicated",
                         f"{k['acknowledged']} / {k['lost']} / {k['duplicated']}", "0 lost, 0 dup",
                         _verdict(k["lost"] == 0 and k["duplicated"] == 0)))
            rows.append((f"8 kill -9 x{k['kills']} at N={k['contacts']}", "p50 / p99 / max",
                         f"{_ms(k['p50_ms'], k['bound_seconds'])} / {_ms(k['p99_ms'], k['bound_seconds'])} / "
                         f"{_ms(k['max_ms'], k['bound_seconds'])}", "", ""))
    elif name == "seek":
        label = f"9 GetTranscript AbsoluteTime, {result['small']} vs {result['large']:,} items"
        small, large = result["small"], result["large"]
        for method in ("indexed", "linear"):
            times = result[f"{method}_{small}_ms"], result[f"{method}_{large}_ms"]
            rows.append((label, f"{method}: ms / ms", f"{times[0]:.2f} / {times[1]:.2f}", "", ""))
        rows.append((label, "ratio (binary search)", f"{result['indexed_ratio']:.2f}", "≤ 2",
                     _verdict(result["indexed_ratio"] <= 2)))
    elif name == "pgnodes":
        rows += pgnodes_rows(result)
    elif name == "fuzz":
        label = f"10 fuzz, {result['examples_per_operation']} inputs × {result['operations']} operations"
        rows.append((label, "5xx or traceback", "none" if result["clean"] else "FOUND (see results.json)",
                     "none", _verdict(result["clean"])))
        rows.append((label, "time", f"{result['seconds']:.0f} s", "", ""))
    return rows


def pgnodes_rows(result: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for scale in result.get("scale") or []:
        for case, r in scale["runs"].items():
            label = f"11 {case}, N={scale['contacts']}"
            rows.append((label, "analysed turns/s; p50 / p99",
                         f"{r['analysed_turns_per_s']:.1f} ({r['visible']}/{r['accepted']} visible); "
                         f"{_ms(r['p50_ms'], r['bound_seconds'])} / {_ms(r['p99_ms'], r['bound_seconds'])}", "", ""))

        def ratio(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.2f}"

        rows.append((f"11 turns/s ratios, N={scale['contacts']}", "pg 1+1 / sqlite; pg 2+2 / sqlite; 2+2 / 1+1",
                     f"{ratio(scale['ratio_turns_1x1_to_sqlite'])}; {ratio(scale['ratio_turns_2x2_to_sqlite'])}; "
                     f"{ratio(scale['ratio_turns_2x2_to_1x1'])}", "", ""))
    faults = result.get("faults")
    if faults:
        label = f"11 2+2, N={faults['contacts']}, kill -9 node + worker" + (
            ", PostgreSQL restart" if faults["postgres_restart"].get("command") else "")
        ok = faults["lost"] == 0 and faults["duplicated"] == 0
        rows.append((label, "acknowledged / stored / analysed / lost / duplicated",
                     f"{faults['acknowledged']} / {faults['stored']} / {faults['analysed']} / {faults['lost']} / "
                     f"{faults['duplicated']}", "0 lost, 0 dup", _verdict(ok)))
        in_order = (faults["contacts_segments_out_of_item_order"] == 0
                    and faults["contacts_items_out_of_send_order"] == 0)
        rows.append((label, "contacts COMPLETED; out of order",
                     f"{faults['completed']}/{faults['contacts']}; {faults['contacts_segments_out_of_item_order']}"
                     f" + {faults['contacts_items_out_of_send_order']}", "all, 0",
                     _verdict(in_order and faults["completed"] == faults["contacts"])))
    depth_pg = result.get("depth")
    if depth_pg:
        label = f"11 PostgreSQL: {depth_pg['segments']:,} segments / contacts"
        rows.append((label, "depth ratio; contacts ratio", f"{depth_pg['depth_ratio']:.2f}; "
                     f"{depth_pg['contacts_ratio']:.2f}", "≤ 1.2",
                     _verdict(depth_pg["depth_ratio"] <= 1.2 and depth_pg["contacts_ratio"] <= 1.2)))
    return rows


def memory_from_latency(results: dict[str, Any]) -> dict[str, Any] | None:
    runs = results.get("latency", {}).get("runs") or []
    if not runs:
        return None
    biggest = max(runs, key=lambda r: r["contacts"])
    if not biggest.get("peak_rss_kib") or not biggest.get("rss_before_kib"):
        return None
    grown = biggest["peak_rss_kib"] - biggest["rss_before_kib"]
    return {
        "contacts": biggest["contacts"],
        "warm_rss_mib": round(biggest["rss_before_kib"] / 1024, 1),
        "peak_rss_mib": round(biggest["peak_rss_kib"] / 1024, 1),
        "per_contact_kib": round(grown / biggest["contacts"], 1),
        "source": "benchmark 1 (latency), its largest N",
    }


def table(rows: list[Row]) -> str:
    header: Row = ("benchmark", "measure", "value", "goal", "verdict")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    def line(row: Row) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"

    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _clean(value: Any) -> Any:
    """JSON has no infinity: a turn never seen is ``null``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that the harness works")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results.json"))
    args = parser.parse_args(argv)
    chosen = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in chosen if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    harness.QUICK = args.quick
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for name in chosen:
        print(f"[bench] {name}{' (quick)' if args.quick else ''} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            results[name] = BENCHMARKS[name](args.quick)
        except Exception:
            traceback.print_exc()
            results[name] = {"error": traceback.format_exc()}
        timings[name] = round(time.perf_counter() - started, 1)
        print(f"[bench] {name} took {timings[name]} s", file=sys.stderr, flush=True)
    if "analysis" in results and "error" not in results["analysis"]:
        memory = memory_from_latency(results)
        if memory:
            results["analysis"]["memory"] = memory

    rows = [row for name in chosen for row in rows_for(name, results[name], results)]
    info = machine()
    printed = table(rows)
    local = " (+ local changes)" if info["dirty"] else ""
    print(f"livelens benchmarks — {info['date']} — commit {info['commit']}{local}"
          f" — {info['nproc']} cores ({info['cpu']}), {info['memory_gib']} GiB, Python {info['python']}"
          f"{' — QUICK mode' if args.quick else ''}")
    print(printed)
    Path(args.out).write_text(json.dumps(_clean({
        "machine": info, "quick": args.quick, "seconds": timings, "results": results,
        "table": [dict(zip(("benchmark", "measure", "value", "goal", "verdict"), r, strict=True)) for r in rows],
    }), indent=2) + "\n")
    print(f"(written to {args.out})")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
