"""A run's `config.json`: what was trained on what, so a log dir can be rebuilt and checked.

    {"dataset": "digits", "num_bins": 17, "flow": {RealNVPMultiScale arguments}, "training": {...}}

`flow` and `dataset` define the run: `evaluate` and `sample` rebuild from them, and `train`
refuses a log dir whose `flow` or `dataset` differ from what its flags ask for. `training`
(batch size, learning rate, ...) is informative: later runs may change it.
"""

import json
import os

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
SAMPLES_FILE = "samples.png"
BACKUP_DIR = "backup"


def config_path(logdir):
    return os.path.join(logdir, CONFIG_FILE)


def read_config(logdir):
    """The config of the run in `logdir`, or None if it has none."""
    path = config_path(logdir)
    if not os.path.exists(path):
        return None
    with open(path) as file:
        return json.load(file)


def write_config(logdir, config):
    """Writes `config` to `logdir/config.json` (atomically)."""
    os.makedirs(logdir, exist_ok=True)
    partial = config_path(logdir) + ".partial"
    with open(partial, "w") as file:
        json.dump(config, file, indent=2, sort_keys=True)
        file.write("\n")
    os.replace(partial, config_path(logdir))


def architecture_mismatch(saved, wanted):
    """A sentence naming the first difference of dataset or flow between two configs, or None."""
    if saved.get("dataset") != wanted["dataset"]:
        return f"dataset={saved.get('dataset')!r} there, {wanted['dataset']!r} asked"
    saved_flow, wanted_flow = saved.get("flow", {}), wanted["flow"]
    for key in sorted(set(saved_flow) | set(wanted_flow)):
        if saved_flow.get(key) != wanted_flow.get(key):
            return f"{key}={saved_flow.get(key)!r} there, {wanted_flow.get(key)!r} asked"
    return None
