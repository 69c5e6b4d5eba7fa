"""`python -m core benchmark`: the TinyAD grid of methods x backbones x layer groups x settings (issue 11).

Each cell trains in its own process (here, or as a Ray task with `--executor ray`); the same command continues a
stopped grid. Results: OUT/results.json, results.csv and report.md (see `core.benchmark`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.backbones.registry import BACKBONES, DEFAULT_BACKBONE, LAYER_GROUPS
from core.benchmark.executors import EXECUTORS
from core.benchmark.grid import METHOD_DEFAULT, SETTINGS, GridSpec
from core.benchmark.report import REPORT, cells_table
from core.benchmark.runner import run_grid
from core.commands import arg_types
from core.commands.progress import run_with_bars
from core.methods.registry import METHODS

WORKERS = arg_types.whole_number(1, 4096)
CPUS = arg_types.real_number(0, 4096, above=True)
GPUS = arg_types.real_number(0, 1024)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("benchmark")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--data", nargs="+", type=Path, required=True, metavar="DIR")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=["stfpm", "paste", "patchcore"])
    parser.add_argument("--backbones", "--backbone", nargs="+", choices=sorted(BACKBONES), default=[DEFAULT_BACKBONE])
    parser.add_argument("--layers", nargs="+", choices=(METHOD_DEFAULT, *LAYER_GROUPS), default=[METHOD_DEFAULT],
                        help="layer groups (default: each method's own; the TinyAD paper's grid uses equiv)")
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    parser.add_argument("--image-size", type=arg_types.IMAGE_SIZE, default=256)
    parser.add_argument("--epochs", type=arg_types.EPOCHS, default=None,
                        help="training epochs of the methods that train (default: each method's own)")
    parser.add_argument("--out", type=arg_types.output_folder, required=True)
    parser.add_argument("--executor", choices=EXECUTORS, default="local")
    parser.add_argument("--ray-address", default=None, metavar="ADDR",
                        help="join this Ray cluster (e.g. HEAD:6379); default: a local Ray runtime")
    parser.add_argument("--workers", type=WORKERS, default=None,
                        help="cells at once (default: 1 locally; on Ray, as many as the resources allow)")
    parser.add_argument("--cpus-per-cell", type=CPUS, default=None,
                        help="CPUs (threads) per cell (default: this machine's CPUs / workers; 2 on a cluster)")
    parser.add_argument("--gpus-per-cell", type=GPUS, default=0, help="GPUs a Ray task asks for")
    parser.add_argument("--latency-runs", type=arg_types.RUNS, default=50, help=argparse.SUPPRESS)
    parser.add_argument("--weights", default="imagenet", help=argparse.SUPPRESS)  # tests: random weights
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    spec = GridSpec(data=tuple(args.data), methods=tuple(args.methods), backbones=tuple(args.backbones),
                    layer_groups=tuple(args.layers), settings=tuple(args.settings), image_size=args.image_size,
                    epochs=args.epochs, weights=args.weights)
    workers = args.workers if args.workers or args.executor == "ray" else 1
    records = run_with_bars(run_grid(spec, args.out, args.executor, args.ray_address, workers,
                                     cpus_per_cell=args.cpus_per_cell, gpus_per_cell=args.gpus_per_cell,
                                     latency_runs=args.latency_runs))
    print("\n".join(cells_table(records)))
    print(f"report: {args.out / REPORT}")
    failed = [record["name"] for record in records if record["status"] != "done"]
    if failed:  # recorded with their errors; the same command runs them again
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0
