"""`tfp-realnvp train`: fit a Real NVP flow, resumably, with TensorBoard logs and checkpoints.

Writes into the log dir:
    config.json      the dataset, architecture and recipe (a rerun with other ones is refused)
    backup/          the training state (weights, batch-norm statistics, optimizer, epoch);
                     the same command run again resumes after the last completed epoch
    train/ validation/ samples/   TensorBoard events (bits/dim, loss, sample grids)
    model.keras      the model after the last good epoch
    samples.png      a grid of samples at the end
    results.json     the held-out bits/dim on the whole split at the end, the optimizer's
                     steps (with --time-budget: this invocation's training time, and whether
                     the budget stopped it); a finished run run again
                     changes nothing and prints it (one stopped by --time-budget before its
                     last epoch trains on, with the whole budget again)

Under --strategy multi_worker only the chief writes there (see `tfp_realnvp.cli.strategy`).
"""

import contextlib
import importlib.util
import os
import sys
import time

from tfp_realnvp.cli import arguments, loading, lock, log_directory, run_config
from tfp_realnvp.cli import strategy as distribution
from tfp_realnvp.cli.errors import TrainingFailed, UsageError

# Held-out batches per validation during training (the whole split is evaluated at the end).
DEFAULT_VALIDATION_STEPS = 20


def run(args):
    """Trains as `args` say; returns the exit status (0).

    The log dir is locked from before its first file is read to the end (`lock.hold`): a second
    `train` there is refused. Its files are checked, and what can be recovered of a damaged run
    is (`log_directory.prepare`).
    """
    with contextlib.ExitStack() as held:
        return _train(args, held)


def _train(args, held):
    """`run`'s work; `held` (an ExitStack) holds the log dir's lock until `run` returns."""
    recipe = _recipe(args)
    data = loading.data_options(args)
    info = loading.dataset_info(data)
    num_scales, num_res_blocks, num_filters = arguments.architecture(
        args.dataset, info.image_shape, args.num_scales, args.num_res_blocks, args.num_filters
    )
    logdir = args.logdir or loading.default_logdir(info)
    if os.path.exists(logdir) and not os.path.isdir(logdir):
        raise UsageError(f"argument --logdir: {logdir!r} exists and is not a directory")
    epochs = args.epochs or arguments.default_epochs(args.dataset)
    # A class-conditional flow p(x | y): every coupling network sees the one-hot label.
    num_classes = loading.num_classes(info, args.dataset) if args.conditional else None
    if importlib.util.find_spec("tensorboard") is None:
        raise TrainingFailed(
            "TensorBoard is not installed (TensorFlow 2.21 no longer brings it): "
            "pip install tensorboard"
        )

    import keras
    import tensorflow as tf

    from tfp_realnvp.real_nvp_multiscale import RealNVPMultiScale
    from tfp_realnvp.training import RealNVPModel, VariationalDequantizer

    # The strategy first: MultiWorkerMirroredStrategy sets TensorFlow up at start-up.
    strategy = distribution.make_strategy(args.strategy)
    precision = _precision(args, recipe)
    seed = distribution.seed(args.strategy, args.seed)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    write_dir = distribution.write_dir(logdir, strategy)
    chief = write_dir == logdir  # under multi_worker only the chief writes, and locks, the dir
    with strategy.scope():
        try:
            flow = RealNVPMultiScale(
                list(info.image_shape),
                num_scales=num_scales,
                num_res_blocks=num_res_blocks,
                num_filters=num_filters,
                coupling=args.coupling,
                spline_bins=args.spline_bins,
                squeeze_order=args.squeeze_order,
                normalization=None if args.normalization == "none" else args.normalization,
                channel_mixing=None if args.channel_mixing == "none" else args.channel_mixing,
                split_prior=args.split_prior,
                conditional_shape=None if num_classes is None else [num_classes],
                memory_saving_gradients=args.memory_saving_gradients,
                network_dtype_policy="mixed_bfloat16" if precision[0] == "mixed_bfloat16" else None,
            )
        except ValueError as error:  # the constructor names the argument and the value
            problem = str(error).rstrip(".")
            if "num_scales" not in problem:
                raise UsageError(problem) from None
            # The images' size cannot be squeezed num_scales times.
            raise UsageError(
                f"argument --num-scales: {problem} (--dataset {args.dataset})"
            ) from None
        dequantizer = None
        if recipe.dequantization == "variational":
            dequantizer = VariationalDequantizer(info.image_shape, num_bins=info.num_bins)
        model = RealNVPModel(
            flow, num_bins=info.num_bins, num_classes=num_classes, dequantizer=dequantizer
        )
    source, data_record = loading.data_config(data, info)
    config = {
        "dataset": source,
        "data": data_record,
        "num_bins": info.num_bins,
        "flow": flow.get_config(),
        "training": {
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
            "steps_per_epoch": args.steps_per_epoch,
            "epochs": epochs,
            "perturb": args.perturb,
            "time_budget_minutes": args.time_budget,
        },
        "recipe": recipe.record(),
    }
    if chief:  # before the log dir's first file is read; bad flags leave no lock file behind
        held.enter_context(lock.hold(logdir))
    _check_same_architecture(logdir, config)
    plan = log_directory.prepare(logdir, epochs, chief=chief)
    if plan.finished is not None:
        _print_finished_result(logdir, plan.finished)
        return 0
    static = distribution.static_batches(strategy)

    def train_part(input_context=None, **kwargs):
        batches = loading.load_batches(
            data,
            info.train_split,
            args.batch_size,
            input_context=input_context,
            drop_remainder=static,
            with_labels=num_classes is not None,
            **kwargs,
        )
        return batches.map(_perturbed(args.perturb)) if args.perturb else batches

    def held_out_part(input_context=None):
        return loading.held_out_batches(
            data,
            args.batch_size,
            input_context=input_context,
            drop_remainder=static,
            with_labels=num_classes is not None,
        )

    steps_per_epoch = args.steps_per_epoch
    if static:  # full global batches only; a pass over the data where the flags say nothing
        steps_per_epoch = steps_per_epoch or distribution.count_batches(
            train_part(training=False, noise_seed=0)
        )
    # Epochs of a fixed number of steps loop over the data without end.
    train_batches = distribution.distributed_batches(
        strategy, train_part, repeat=steps_per_epoch is not None
    )
    test_batches = distribution.distributed_batches(strategy, held_out_part, repeat=static)
    # The batch-norm refresh before each validation reads the training batches as an endless
    # stream: a tf.data.Dataset is repeated by the callback, a distributed dataset cannot be.
    refresh_batches = train_batches
    if steps_per_epoch is None and not isinstance(train_batches, tf.data.Dataset):
        refresh_batches = distribution.distributed_batches(strategy, train_part, repeat=True)
    run_config.write_config(write_dir, config)
    decay_steps = None
    if recipe.lr_decay != "none" and args.time_budget is None:  # over the steps after warm-up
        epoch_steps = steps_per_epoch or distribution.count_batches(
            train_part(training=False, noise_seed=0)
        )
        decay_steps = epochs * epoch_steps - recipe.warmup_steps
        if decay_steps < 1:
            raise UsageError(
                f"argument --warmup-steps: {recipe.warmup_steps} leaves no step for --lr-decay "
                f"{recipe.lr_decay} (the run has {epochs * epoch_steps} steps)"
            )
    with strategy.scope():
        model.compile(
            optimizer=_optimizer(args, recipe, decay_steps),
            jit_compile="auto" if args.jit_compile is None else args.jit_compile,
        )
    initial_epoch = None  # from the backup
    if plan.from_model:
        initial_epoch = _restore_from_model(
            model,
            logdir,
            write_dir,
            plan.model_epochs,
            steps_per_epoch or distribution.count_batches(train_part(training=False, noise_seed=0)),
        )

    validation_steps = args.validation_steps or DEFAULT_VALIDATION_STEPS
    _announce(logdir, epochs, config, validation_steps, precision, args.time_budget)
    started = time.monotonic()
    sample_grid, budget = _fit(
        model,
        logdir,
        write_dir,
        args,
        recipe,
        x=train_batches,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=test_batches,
        validation_steps=validation_steps,
        refresh_batches=refresh_batches,
        initial_epoch=initial_epoch,
    )

    model_path = os.path.join(write_dir, run_config.MODEL_FILE)
    samples_path = os.path.join(write_dir, run_config.SAMPLES_FILE)
    from tfp_realnvp.checked_files import file_sha256
    from tfp_realnvp.training import callbacks
    from tfp_realnvp.training.image_grid import save_png

    train_seconds = time.monotonic() - started
    # The batch-norm statistics were refreshed before the last validation (and restored with
    # the backup when no epoch ran here); with --ema the averaged weights are in the model now,
    # with statistics of their own.
    callbacks.save_model_atomically(model, model_path)
    save_png(samples_path, sample_grid.grid())
    print(f"Evaluating on the whole {info.eval_split} split.")
    sys.stdout.flush()
    # A repeated (static-shape) held-out split is evaluated for one pass of full batches.
    final_steps = distribution.count_batches(held_out_part()) if static else None
    result = model.evaluate(test_batches, steps=final_steps, verbose=0, return_dict=True)
    if write_dir == logdir:
        print(f"Saved {model_path} and {samples_path}.")
    results = {
        "dataset": args.dataset,
        "split": info.eval_split,
        "epochs": callbacks.completed_epochs(os.path.join(logdir, run_config.BACKUP_DIR)),
        "bits_per_dim": float(result["bits_per_dim"]),
        "conditional": num_classes is not None,
        "dequantization": recipe.dequantization,
        "steps": int(model.optimizer.iterations.numpy()),  # of the optimizer, in all
        # How the next run tells this model.keras from a damaged one.
        "model_sha256": file_sha256(model_path),
    }
    if budget is not None:  # this invocation's: its training time, validations included
        results["time_budget"] = {
            "minutes": args.time_budget,
            "train_seconds": round(train_seconds, 3),
            "stopped": budget.stopped,
        }
    run_config.write_results(write_dir, results)
    print(_result_line(results))
    return 0


def _precision(args, recipe):
    """(policy, reason) of the recipe's precision, --mixed-precision being --precision
    mixed_bfloat16."""
    from tfp_realnvp.training.precision import choose_precision

    if args.mixed_precision and args.precision not in (None, "mixed_bfloat16"):
        raise UsageError(
            f"argument --mixed-precision: it means --precision mixed_bfloat16, but --precision "
            f"{args.precision} was given too"
        )
    return choose_precision("mixed_bfloat16" if args.mixed_precision else recipe.precision)


def _recipe(args):
    """The `Recipe` of --recipe with the recipe flags that were given in its place."""
    from tfp_realnvp import recipes

    return recipes.resolve(
        args.recipe,
        optimizer=args.optimizer,
        warmup_steps=args.warmup_steps,
        lr_decay=args.lr_decay,
        ema_momentum=args.ema,
        precision=args.precision,
        dequantization=args.dequantization,
    )


def _optimizer(args, recipe, decay_steps):
    """The recipe's optimizer; with --time-budget its cosine decay (and the warm-up before it)
    is `CosineDecayOverBudget`'s, which sets the learning rate from the time spent."""
    from tfp_realnvp.training.recipe import recipe_optimizer

    over_budget = recipe.lr_decay != "none" and args.time_budget is not None
    return recipe_optimizer(
        args.learning_rate,
        optimizer=recipe.optimizer,
        warmup_steps=0 if over_budget else recipe.warmup_steps,
        lr_decay="none" if over_budget else recipe.lr_decay,
        decay_steps=decay_steps,
        ema_momentum=recipe.ema_momentum,
    )


def _perturbed(rate):
    """The training batches' map of --perturb: `perturb_pixels` on the images of a batch."""
    from tfp_realnvp.data import perturb_pixels

    def perturb(images, *labels):
        images = perturb_pixels(images, rate)
        return (images, *labels) if labels else images

    return perturb


def _result_line(results):
    where = f"{results['dataset']} {results['split']}"
    of = " of p(x | label)" if results.get("conditional") else ""
    if results.get("dequantization") == "variational":
        where += ", the variational bound"
    return f"Held-out bits/dim{of} ({where}): {results['bits_per_dim']:.4f}"


def _print_finished_result(logdir, results):
    print(f"{logdir} already holds a finished run of {results['epochs']} epochs; nothing to do.")
    print(_result_line(results))


def _describe(record):
    """A recipe record in words: "adam, warm-up over 50 steps, cosine decay, ..."."""
    parts = [record["optimizer"]]
    if record["warmup_steps"]:
        parts.append(f"warm-up over {record['warmup_steps']} steps")
    parts.append("cosine decay" if record["lr_decay"] == "cosine" else "constant learning rate")
    if record["ema_momentum"] is not None:
        parts.append(f"weight averaging (momentum {record['ema_momentum']:g})")
    parts.append(f"{record['dequantization']} dequantisation")
    return ", ".join(parts)


def _restore_from_model(model, logdir, write_dir, epochs, steps_per_epoch):
    """Loads logdir's model.keras into `model` (weights and optimizer state) and writes the
    backup anew from it; returns its completed epochs: `epochs` where results.json says, else
    as many as its optimizer's step count fills (at worst one epoch is repeated)."""
    from tfp_realnvp.training import callbacks, checkpoints

    checkpoints.load_weights(model, os.path.join(logdir, run_config.MODEL_FILE))
    if epochs is None:
        epochs = int(model.optimizer.iterations.numpy()) // steps_per_epoch
    backup_dir = os.path.join(logdir, run_config.BACKUP_DIR)
    save_dir = os.path.join(write_dir, run_config.BACKUP_DIR)
    callbacks.TrainingBackup(backup_dir, save_dir=save_dir).save(model, epochs)
    return epochs


def _check_same_architecture(logdir, config):
    from tfp_realnvp.checked_files import DamagedFileError

    try:
        saved = run_config.read_config(logdir)
    except DamagedFileError as error:
        raise UsageError(
            f"{error}; it records the run's dataset and architecture: delete it and run the "
            "same command again to write it anew from the flags (the backup then loads only "
            "if they are the run's)"
        ) from None
    if saved is None:
        return
    mismatch = run_config.architecture_mismatch(saved, config)
    if mismatch is not None:
        raise UsageError(
            f"argument --logdir: {logdir!r} holds a run of another architecture or recipe "
            f"({mismatch}); pass the same flags or choose a new --logdir"
        )


def _announce(logdir, epochs, config, validation_steps, precision, time_budget):
    from tfp_realnvp.training import callbacks

    done = callbacks.completed_epochs(os.path.join(logdir, run_config.BACKUP_DIR))
    if done >= epochs:
        print(f"{logdir} already holds {done} epochs (--epochs {epochs}); evaluating.")
        sys.stdout.flush()
        return
    print(f"Precision: {precision[0]} ({precision[1]}).")
    if done:
        print(f"Resuming {logdir} after epoch {done} of {epochs}.")
    else:
        flow = config["flow"]
        conditional = "class-conditional " if flow.get("conditional_shape") else ""
        print(
            f"Training {conditional}Real NVP (num_scales={flow['num_scales']}, "
            f"num_res_blocks={flow['num_res_blocks']}, num_filters={flow['num_filters']}) on "
            f"{config['dataset']} {flow['event_shape']}, {config['num_bins']} levels; "
            f"logs in {logdir}."
        )
    averaged = "the averaged weights, " if config["recipe"]["ema_momentum"] is not None else ""
    print(f"Recipe: {_describe(config['recipe'])}.")
    print(
        f"Validating after each epoch on up to {validation_steps} held-out batches, with "
        f"{averaged}batch-norm statistics refreshed first; the whole held-out split at the end."
    )
    if time_budget is not None:
        print(f"Stopping after {time_budget:g} minutes of training (--time-budget).")
    sys.stdout.flush()


def _fit(model, logdir, write_dir, args, recipe, refresh_batches, initial_epoch, **fit_arguments):
    """`model.fit(**fit_arguments)` with the run's callbacks, resuming from logdir's backup
    (after `initial_epoch` epochs instead, unless it is None).

    Files go to `write_dir` (logdir, but on multi-worker non-chief workers); the batch-norm
    statistics are refreshed from `refresh_batches` before each validation (with --ema, for
    the averaged weights, which validation, the checkpoints and the final model use). Returns
    the SampleGrid callback and the TimeBudget callback (None without --time-budget).
    """
    from tfp_realnvp.training import callbacks

    backup_dir = os.path.join(logdir, run_config.BACKUP_DIR)
    backup = callbacks.TrainingBackup(
        backup_dir, save_dir=os.path.join(write_dir, run_config.BACKUP_DIR)
    )
    model_path = os.path.join(write_dir, run_config.MODEL_FILE)
    sample_grid = callbacks.SampleGrid(
        write_dir, num_samples=args.num_samples, temperature=args.temperature
    )
    budget, schedule = None, []
    if args.time_budget is not None:
        budget = callbacks.TimeBudget(args.time_budget)
        if recipe.lr_decay == "cosine":
            schedule = [
                callbacks.CosineDecayOverBudget(budget, args.learning_rate, recipe.warmup_steps)
            ]
    if recipe.ema_momentum is None:
        # Before each validation; so also before the end-of-epoch saves.
        evaluation = callbacks.RefreshBatchNormStatistics(refresh_batches)
    else:
        # The averages in for each validation, then for the end-of-epoch saves before it; the
        # trained weights back in its on_epoch_end, before the backup.
        evaluation = callbacks.AveragedWeights(refresh_batches)
    try:
        model.fit(
            **fit_arguments,
            initial_epoch=backup.restore(model) if initial_epoch is None else initial_epoch,
            shuffle=False,  # the pipeline shuffles; Keras would only warn that it cannot
            verbose=args.verbose,
            callbacks=[
                # First: a NaN batch must stop training before any callback saves.
                callbacks.StopOnNonFiniteLoss(),
                *([] if budget is None else [budget]),
                *schedule,
                callbacks.TensorBoard(write_dir, update_freq=args.update_freq),
                sample_grid,
                callbacks.AtomicModelCheckpoint(model_path),
                evaluation,
                backup,  # last: the trained weights, not the averages
            ],
        )
    except callbacks.NonFiniteLossError as error:
        kept = callbacks.completed_epochs(backup_dir)
        raise TrainingFailed(
            f"{error}. The last good checkpoint (epoch {kept}) is kept in {backup_dir}"
            + (f" and {model_path}" if os.path.exists(model_path) else "")
            + "; lower --learning-rate or check the data, then rerun."
        ) from None
    return sample_grid, budget
