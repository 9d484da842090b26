#!/usr/bin/env python3
"""Branchdesk's in-memory merge core against pycrdt (the Yrs CRDT's Python bindings), applying
the same trace of field writes one by one: a ticket's text field set to a new value, as a clerk
does. Both sides make each write a change of their CRDT and apply it; neither touches a disk.

    pip install pycrdt
    swift build -c release --product branchdesk-bench
    python3 Benchmarks/pycrdt_compare.py [--writes 200000] [--tickets 1000] [--seed 42]
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

FIELDS = ["title", "assignee", "department", "request", "facts", "resolution"]


def make_trace(path, writes, tickets, seed):
    rng = random.Random(seed)
    people = ["王芳", "李四", "张伟", "刘洋", "陈静"]
    with open(path, "w", encoding="utf-8") as out:
        for index in range(writes):
            ticket = rng.randrange(tickets)
            field = rng.choice(FIELDS)
            value = f"{rng.choice(people)} 第{index}次修改"
            out.write(f"{ticket}\t{field}\t{value}\n")


def run_pycrdt(path):
    import pycrdt

    trace = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            ticket, field, value = line.rstrip("\n").split("\t")
            trace.append((int(ticket), field, value))
    documents = {}
    start = time.perf_counter()
    for ticket, field, value in trace:
        fields = documents.get(ticket)
        if fields is None:
            doc = pycrdt.Doc()
            fields = doc.get("ticket", type=pycrdt.Map)
            documents[ticket] = fields
        fields[field] = value
    return len(trace) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=200_000)
    parser.add_argument("--tickets", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bench", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "branchdesk-bench"))
    arguments = parser.parse_args()
    if not os.access(arguments.bench, os.X_OK):
        sys.exit(f"no {arguments.bench}: run 'swift build -c release --product branchdesk-bench' first")
    try:
        import pycrdt  # noqa: F401
    except ImportError:
        sys.exit("pycrdt is not installed: run 'pip install pycrdt'")

    with tempfile.TemporaryDirectory() as folder:
        trace = os.path.join(folder, "writes.tsv")
        make_trace(trace, arguments.writes, arguments.tickets, arguments.seed)
        pycrdt_rate = run_pycrdt(trace)
        result = subprocess.run([arguments.bench, "--only", "merge", "--trace", trace], capture_output=True, text=True, check=True)
        lines = [line for line in result.stdout.splitlines() if line.startswith("merge core:")]
        if not lines:
            sys.exit(f"branchdesk-bench printed no merge figure:\n{result.stdout}{result.stderr}")
        branchdesk_rate = float(lines[0].split(":")[1].split()[0])
    print(f"{arguments.writes} field writes on {arguments.tickets} tickets (seed {arguments.seed}), applied one by one in memory")
    print(f"  branchdesk merge core  {branchdesk_rate:12,.0f} writes/s")
    print(f"  pycrdt {pycrdt_version():<15} {pycrdt_rate:12,.0f} writes/s")
    print(f"  ratio                  {branchdesk_rate / pycrdt_rate:12.2f}")


def pycrdt_version():
    try:
        from importlib.metadata import version

        return version("pycrdt")
    except Exception:
        return "?"


if __name__ == "__main__":
    main()
