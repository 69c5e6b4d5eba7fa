"""`python -m core train`: fit one unified model on the normal images of one or more category folders."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.backbones.registry import BACKBONES, DEFAULT_BACKBONE, LAYER_GROUPS
from core.commands import arg_types
from core.commands.progress import run_with_bars
from core.files import check_replaceable
from core.methods.config import ModelConfig
from core.commands.setting_flags import add_setting_flags, settings_from_args
from core.methods.registry import DEFAULT_METHOD, METHODS, get_method
from core.metrics.thresholds import DEFAULT_TARGET_FRR
from core.model_store import is_model_directory
from core.training import train_job


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--data", nargs="+", type=Path, required=True, metavar="DIR",
                        help="category folders (MVTec AD layout or plain folders of normal images)")
    parser.add_argument("--method", choices=sorted(METHODS), default=DEFAULT_METHOD,
                        help="; ".join(f"{name}: {spec.description}" for name, spec in METHODS.items()))
    parser.add_argument("--backbone", choices=sorted(BACKBONES), default=DEFAULT_BACKBONE)
    parser.add_argument("--layers", choices=LAYER_GROUPS, default=None,
                        help="layer group (default: the method's own)")
    parser.add_argument("--image-size", type=arg_types.IMAGE_SIZE, default=256)
    parser.add_argument("--seed", type=arg_types.SEED, default=0)
    parser.add_argument("--weights", default="imagenet", help="'imagenet' (default), 'random' or a state-dict file")
    parser.add_argument("--target-frr", type=arg_types.TARGET_FRR, default=DEFAULT_TARGET_FRR, metavar="RATE",
                        help="false-reject rate each category's threshold aims at (default 0.01: 1 %%)")
    parser.add_argument("--threshold-folds", type=arg_types.THRESHOLD_FOLDS, default=None, metavar="K",
                        help="choose thresholds from out-of-fold scores of every normal image, K folds (PatchCore "
                             "and PaDiM: 10 by default, about free; methods that train: K more trainings); 0 holds "
                             "10 %% of the normal images out instead (the default of methods that train)")
    parser.add_argument("--out", type=arg_types.replaced_folder, required=True, metavar="MODEL_DIR")
    add_setting_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_replaceable(args.out, is_model_directory, "model directory")  # now, not after the training
    config = ModelConfig(method=args.method, backbone=args.backbone, layer_group=args.layers or "",
                         image_size=args.image_size, seed=args.seed,
                         settings=settings_from_args(get_method(args.method), args))
    result = run_with_bars(train_job(config, args.data, args.out, weights=args.weights, target_frr=args.target_frr,
                                     threshold_folds=args.threshold_folds))
    for path, reason in result.summary["skipped_images"]:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(f"model written to {result.model_dir}")
    print(json.dumps(result.summary, indent=2))
    print("\n".join(result.thresholds.statement_lines()))
    return 0

