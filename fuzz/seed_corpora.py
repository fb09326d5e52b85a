#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/seed-*) from the bundled data,
the test fixtures and the built-in configurations: each file cut to its first lines, so that
seeds stay small. The checkpoint target's seeds and a plan file come from `cargo run -p verdant-fuzz --example
seeds` (a real checkpoint of the agents' format, a real plan). Files the fuzzer adds to a corpus
(named by their hash) are kept; rerunning this script rewrites only the seed-* files.

Usage: python3 fuzz/seed_corpora.py   (from the repository root)
"""
import glob
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def head(path, lines=40):
    with open(os.path.join(ROOT, path), "rb") as f:
        out = []
        for _ in range(lines):
            line = f.readline()
            if not line:
                break
            out.append(line)
    return b"".join(out)


def write(target, name, data):
    folder = os.path.join(ROOT, "fuzz", "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data)


def rel(pattern):
    return sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, pattern)))


def main():
    # Traces: every bundled trace's first lines, every trace fixture.
    for path in rel("datasets/*/*.csv") + rel("datasets/*/*.jsonl") + rel("tests/fixtures/traces/*"):
        if "grid" in path or "servegen" in path:
            continue
        write("trace", os.path.basename(path), head(path))
    # Other data files: the first byte picks the reader (0 rate table, 1 plan, 2 ren2022,
    # 3 EIA-930, 4 Green-LLM params.json).
    for path in ["datasets/servegen-language-14d/language_14d.csv"] + rel("tests/fixtures/traces/rates_*"):
        write("data_file", "rates-" + os.path.basename(path), b"\x00" + head(path, 60))
    for path in ["datasets/grid-ren2022/hourly_signals.csv"] + rel("tests/fixtures/grid/ren_*"):
        write("data_file", "ren-" + os.path.basename(path), b"\x02" + head(path, 60))
    for path in rel("datasets/grid-eia2022/*.csv") + rel("tests/fixtures/grid/eia_*"):
        write("data_file", "eia-" + os.path.basename(path), b"\x03" + head(path, 60))
    write("data_file", "params.json", b"\x04" + head("datasets/green-llm-base/params.json", 10000))
    # Scenarios: every bundled scenario file (their includes and data paths resolve, as the
    # target reads them from the bundled folder).
    for path in rel("datasets/scenarios/*.toml"):
        write("scenario", os.path.basename(path), head(path, 10000))
    # Configurations: each command's built-in defaults as a --config layer, with overrides.
    for path in rel("experiments/configs/*.toml"):
        command = os.path.basename(path)[:-5]
        text = head(path, 10000)
        write("config", command + ".toml", command.encode() + b"\n" + text)
        write("config", command + "-set.toml", command.encode() + b"\nset seed=3\nset scenario=\"geo-4dc\"\n")
    for path in rel("experiments/sweeps/*.toml"):
        write("config", "sweep-" + os.path.basename(path), b"sweep\n" + head(path, 10000))
    # Fronts: moocore and CSV files, cut.
    for path in rel("tests/data/hv/*.txt"):
        write("front", os.path.basename(path), head(path, 30))
    write("front", "csv.csv", b"cost_usd,carbon_kg,ttft_s,water_l\n1,2,3,4\n2,1,3,4\n0.5,4,4,1\n")
    write("front", "two-sets.txt", b"1 2\n2 1\n\n0.5 3\n3 0.5\n")


if __name__ == "__main__":
    main()
