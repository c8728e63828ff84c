"""`tfp-realnvp train`: fit a Real NVP flow, resumably, with TensorBoard logs and checkpoints.

Writes into the log dir:
    config.json      the dataset and architecture (a rerun with other ones is refused)
    backup/          Keras BackupAndRestore state: weights, batch-norm statistics, optimizer,
                     epoch; the same command run again resumes after the last completed epoch
    train/ validation/ samples/   TensorBoard events (bits/dim, loss, sample grids)
    model.keras      the model after the last good epoch
    samples.png      a grid of samples at the end
    results.json     the held-out bits/dim on the whole split at the end; a finished run
                     run again changes nothing and prints it
"""

import importlib.util
import os
import sys

from tfp_realnvp.cli import arguments, loading, run_config
from tfp_realnvp.cli.errors import TrainingFailed, UsageError

# Held-out batches per validation during training (the whole split is evaluated at the end).
DEFAULT_VALIDATION_STEPS = 20


def run(args):
    """Trains as `args` say; returns the exit status (0)."""
    info = loading.dataset_info(args.dataset)
    num_scales, num_res_blocks, num_filters = arguments.architecture(
        args.dataset, args.num_scales, args.num_res_blocks, args.num_filters
    )
    problem = arguments.squeeze_error(info.image_shape, num_scales)
    if problem is not None:
        raise UsageError(f"argument --num-scales: {problem} ({args.dataset})")
    logdir = args.logdir or os.path.join("runs", args.dataset.replace("/", "_"))
    if os.path.exists(logdir) and not os.path.isdir(logdir):
        raise UsageError(f"argument --logdir: {logdir!r} exists and is not a directory")
    epochs = args.epochs or arguments.default_epochs(args.dataset)
    if importlib.util.find_spec("tensorboard") is None:
        raise TrainingFailed(
            "TensorBoard is not installed (TensorFlow 2.21 no longer brings it): "
            "pip install tensorboard"
        )

    import keras
    import tensorflow as tf

    from tfp_realnvp.real_nvp_multiscale import RealNVPMultiScale
    from tfp_realnvp.training import RealNVPModel, default_optimizer
    from tfp_realnvp.training.real_nvp_model import flow_config

    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    strategy = (
        tf.distribute.MirroredStrategy()
        if args.strategy == "mirrored"
        else tf.distribute.get_strategy()
    )
    with strategy.scope():
        flow = RealNVPMultiScale(
            list(info.image_shape),
            num_scales=num_scales,
            num_res_blocks=num_res_blocks,
            num_filters=num_filters,
            memory_saving_gradients=args.memory_saving_gradients,
            network_dtype_policy="mixed_bfloat16" if args.mixed_precision else None,
        )
        model = RealNVPModel(flow, num_bins=info.num_bins)
    config = {
        "dataset": args.dataset,
        "num_bins": info.num_bins,
        "flow": flow_config(flow),
        "training": {
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
            "steps_per_epoch": args.steps_per_epoch,
            "epochs": epochs,
        },
    }
    _check_same_architecture(logdir, config)
    if _print_finished_result(logdir, epochs):
        return 0
    train_batches = loading.load_batches(
        args.dataset, info.train_split, args.batch_size, args.data_dir, args.manual_dir
    )
    if args.steps_per_epoch is not None:
        train_batches = train_batches.repeat()  # epochs of --steps-per-epoch batches
    test_batches = loading.held_out_batches(
        args.dataset, args.batch_size, args.data_dir, args.manual_dir
    )
    run_config.write_config(logdir, config)
    with strategy.scope():
        model.compile(
            optimizer=default_optimizer(args.learning_rate),
            jit_compile="auto" if args.jit_compile is None else args.jit_compile,
        )

    validation_steps = args.validation_steps or DEFAULT_VALIDATION_STEPS
    _announce(logdir, epochs, config, validation_steps)
    sample_grid = _fit(
        model, train_batches, test_batches.take(validation_steps), logdir, epochs, args
    )

    model_path = os.path.join(logdir, run_config.MODEL_FILE)
    samples_path = os.path.join(logdir, run_config.SAMPLES_FILE)
    from tfp_realnvp.training import callbacks
    from tfp_realnvp.training.image_grid import save_png

    # The batch-norm statistics were refreshed before the last validation (and restored with
    # the backup when no epoch ran here).
    callbacks.save_model_atomically(model, model_path)
    save_png(samples_path, sample_grid.grid())
    print(f"Evaluating on the whole {info.eval_split} split.")
    sys.stdout.flush()
    result = model.evaluate(test_batches, verbose=0, return_dict=True)
    print(f"Saved {model_path} and {samples_path}.")
    results = {
        "dataset": args.dataset,
        "split": info.eval_split,
        "epochs": callbacks.completed_epochs(os.path.join(logdir, run_config.BACKUP_DIR)),
        "bits_per_dim": float(result["bits_per_dim"]),
    }
    run_config.write_results(logdir, results)
    print(_result_line(results))
    return 0


def _result_line(results):
    where = f"{results['dataset']} {results['split']}"
    return f"Held-out bits/dim ({where}): {results['bits_per_dim']:.4f}"


def _print_finished_result(logdir, epochs):
    """True, after printing its saved result, if `logdir` holds a run finished at `epochs`."""
    results = run_config.read_results(logdir)
    if results is None or results["epochs"] < epochs:
        return False
    print(f"{logdir} already holds a finished run of {results['epochs']} epochs; nothing to do.")
    print(_result_line(results))
    return True


def _check_same_architecture(logdir, config):
    saved = run_config.read_config(logdir)
    if saved is None:
        return
    mismatch = run_config.architecture_mismatch(saved, config)
    if mismatch is not None:
        raise UsageError(
            f"argument --logdir: {logdir!r} holds a run of another architecture "
            f"({mismatch}); pass the same flags or choose a new --logdir"
        )


def _announce(logdir, epochs, config, validation_steps):
    from tfp_realnvp.training import callbacks

    done = callbacks.completed_epochs(os.path.join(logdir, run_config.BACKUP_DIR))
    if done >= epochs:
        print(f"{logdir} already holds {done} epochs (--epochs {epochs}); evaluating.")
        sys.stdout.flush()
        return
    if done:
        print(f"Resuming {logdir} after epoch {done} of {epochs}.")
    else:
        flow = config["flow"]
        print(
            f"Training Real NVP (num_scales={flow['num_scales']}, "
            f"num_res_blocks={flow['num_res_blocks']}, num_filters={flow['num_filters']}) on "
            f"{config['dataset']} {flow['event_shape']}, {config['num_bins']} levels; "
            f"logs in {logdir}."
        )
    print(
        f"Validating after each epoch on up to {validation_steps} held-out batches, with "
        "batch-norm statistics refreshed first; the whole held-out split at the end."
    )
    sys.stdout.flush()


def _fit(model, train_batches, test_batches, logdir, epochs, args):
    """model.fit with the run's callbacks; returns the SampleGrid callback."""
    from tfp_realnvp.training import callbacks

    backup_dir = os.path.join(logdir, run_config.BACKUP_DIR)
    model_path = os.path.join(logdir, run_config.MODEL_FILE)
    sample_grid = callbacks.SampleGrid(
        logdir, num_samples=args.num_samples, temperature=args.temperature
    )
    try:
        model.fit(
            train_batches,
            epochs=epochs,
            steps_per_epoch=args.steps_per_epoch,
            validation_data=test_batches,
            shuffle=False,  # the pipeline shuffles; Keras would only warn that it cannot
            verbose=args.verbose,
            callbacks=[
                # First: a NaN batch must stop training before any callback saves.
                callbacks.StopOnNonFiniteLoss(),
                # Before TensorBoard, which continues from the restored iteration count.
                callbacks.AtomicBackupAndRestore(backup_dir, delete_checkpoint=False),
                # Before each validation; so also before the end-of-epoch saves below.
                callbacks.RefreshBatchNormStatistics(train_batches),
                callbacks.TensorBoard(logdir, update_freq=args.update_freq),
                sample_grid,
                callbacks.AtomicModelCheckpoint(model_path),
            ],
        )
    except callbacks.NonFiniteLossError as error:
        kept = callbacks.completed_epochs(backup_dir)
        raise TrainingFailed(
            f"{error}. The last good checkpoint (epoch {kept}) is kept in {backup_dir}"
            + (f" and {model_path}" if os.path.exists(model_path) else "")
            + "; lower --learning-rate or check the data, then rerun."
        ) from None
    return sample_grid
