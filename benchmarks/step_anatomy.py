"""What does a training step cost, and where does it go? The first step against the steady
one, the memory a training process holds after each stage, and the time of each part.

    python benchmarks/step_anatomy.py first-step --model cifar10 [--against DIR --rounds 2]
    python benchmarks/step_anatomy.py memory --size paper [--variants normal,memory_saving]
    python benchmarks/step_anatomy.py parts --size paper
    python benchmarks/step_anatomy.py first-step --model digits    # the smallest: seconds

first-step  trace, first call and steady step of `RealNVPModel.train_step` as `fit` runs it,
            for the CLI's models (anatomy/first_step.py); appends to
            results/first_step.jsonl. `--against DIR` measures another checkout in turn.
memory      resident memory after import, build, trace, the first step and steady steps, for
            each memory-saving level (anatomy/memory_stages.py); results/memory_stages.json.
parts       CPU time of each part of the flow alone, forward and backward
            (anatomy/profile_parts.py); results/profile_parts.json.

Each prints its results as a Markdown table too. Every measurement that needs a fresh
process (a first step, a memory variant) gets one.
"""

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.anatomy import first_step, memory_stages, profile_parts  # noqa: E402

SUBCOMMANDS = {"first-step": first_step, "memory": memory_stages, "parts": profile_parts}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    subparsers = parser.add_subparsers(dest="subcommand", required=True)
    for name, module in SUBCOMMANDS.items():
        module.add_arguments(subparsers.add_parser(name, help=module.__doc__.split("\n")[0]))
    args = parser.parse_args(argv)
    return SUBCOMMANDS[args.subcommand].main(args, runner=__file__)


if __name__ == "__main__":
    main()
