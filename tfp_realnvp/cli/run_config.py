"""A run's `config.json`: what was trained on what, so a log dir can be rebuilt and checked.

    {"dataset": "digits", "num_bins": 17, "flow": {RealNVPMultiScale arguments}, "training": {...}}

`flow` and `dataset` define the run: `evaluate` and `sample` rebuild from them, and `train`
refuses a log dir whose `flow`, `dataset` or `recipe` (optimizer, warm-up, decay, weight
averaging; absent in older runs: the paper's) differ from what its flags ask for. `training`
(batch size, learning rate, ...) is informative: later runs may change it.
"""

import os

from tfp_realnvp.checked_files import read_json, write_json
from tfp_realnvp.recipes import PAPER_RECORD

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
SAMPLES_FILE = "samples.png"
RESULTS_FILE = "results.json"
BACKUP_DIR = "backup"


def config_path(logdir):
    return os.path.join(logdir, CONFIG_FILE)


def read_config(logdir):
    """The config of the run in `logdir`, or None if it has none; `DamagedFileError` if it is
    not a config."""
    return read_json(config_path(logdir), fields={"dataset": str, "flow": dict})


def write_config(logdir, config):
    """Writes `config` to `logdir/config.json` (atomically)."""
    write_json(config_path(logdir), config)


def results_path(logdir):
    return os.path.join(logdir, RESULTS_FILE)


def read_results(logdir):
    """The final result of the run in `logdir` ({"dataset", "split", "epochs", "bits_per_dim",
    "conditional", "model_sha256"}), or None while it has none; `DamagedFileError` if it is not
    a result."""
    fields = {"dataset": str, "split": str, "epochs": int, "bits_per_dim": (int, float)}
    return read_json(results_path(logdir), fields=fields)


def write_results(logdir, results):
    """Writes `results` to `logdir/results.json` (atomically)."""
    write_json(results_path(logdir), results)


def architecture_mismatch(saved, wanted):
    """A sentence naming the first difference of dataset, flow or recipe between two configs, or
    None."""
    if saved.get("dataset") != wanted["dataset"]:
        return f"dataset={saved.get('dataset')!r} there, {wanted['dataset']!r} asked"
    saved_flow, wanted_flow = saved.get("flow", {}), wanted["flow"]
    for key in sorted(set(saved_flow) | set(wanted_flow)):
        if saved_flow.get(key) != wanted_flow.get(key):
            return f"{key}={saved_flow.get(key)!r} there, {wanted_flow.get(key)!r} asked"
    saved_recipe = {**PAPER_RECORD, **saved.get("recipe", {})}
    wanted_recipe = {**PAPER_RECORD, **wanted.get("recipe", {})}
    for key in sorted(set(saved_recipe) | set(wanted_recipe)):
        if saved_recipe.get(key) != wanted_recipe.get(key):
            return f"{key}={saved_recipe.get(key)!r} there, {wanted_recipe.get(key)!r} asked"
    return None
