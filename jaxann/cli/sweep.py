"""`jaxann sweep`: a grid of models trained as one program; a table, metrics and a figure."""

from __future__ import annotations

from jaxann.cli.args import add_network_flags, config_from


def add_arguments(p):
    p.description = ("Train every combination of --seeds, --lr, --alpha and --momentum at once: the "
        "training step vmapped over the models, one compilation for the grid. Each model equals "
        "`jaxann train` with its settings, to rounding. Every model trains all --epochs (no early stopping).")
    add_network_flags(p, sweep=True)
    p.add_argument("--plot", help="save the models' loss curves to this PNG")
    p.set_defaults(run=run)


def run(args) -> int:
    from jaxann.compiling import counting, use_program_store
    from jaxann.console import ProgressBar, count
    from jaxann.data import load
    from jaxann.placement import device_name
    from jaxann.runs import metrics, save_figure, write_json
    from jaxann.sweep import accuracies, fit_many, member_settings

    config = config_from(args, seed=args.seeds[0], lr=args.lr[0], momentum=args.momentum[0], alpha=args.alpha[0])
    use_program_store(args.compile_cache)
    data = load(args.dataset, args.data_dir)
    sizes = config.sizes(data.x_train.shape[1], data.n_classes)
    K = len(args.seeds) * len(args.lr) * len(args.alpha) * len(args.momentum)
    if not args.quiet:
        print(f"jaxann sweep: {count(K, 'model')} of {'-'.join(map(str, sizes))} {config.activation} "
              f"on {data.name}, {config.epochs} epochs; {device_name()}")

    bar = ProgressBar(config.epochs, enabled=not args.quiet)

    def log(k, losses):
        if not args.quiet:
            bar.close()
            print(f"Iteration {k}, loss = {min(losses):.8f} .. {max(losses):.8f} over {len(losses)} models",
                  flush=True)
            bar.update(k, f"epoch {k}/{config.epochs}")

    with counting() as compiled:  # every program the sweep compiles: training's and the scores'
        try:
            result = fit_many(config, data.x_train, data.y_train, n_out=data.n_classes, seeds=args.seeds,
                              lr=args.lr, alpha=args.alpha, momentum=args.momentum, callback=log)
        finally:
            bar.close()
        train_acc = accuracies(result, data.x_train, data.y_train, config.activation)
        test_acc = accuracies(result, data.x_test, data.y_test, config.activation)
    print(f"| {'model':>5} | {'seed':>5} | {'lr':>8} | {'alpha':>8} | {'momentum':>8} | {'final loss':>10} | "
          f"{'train acc':>9} | {'test acc':>8} |")
    print(f"| {'-' * 5} | {'-' * 5} | {'-' * 8} | {'-' * 8} | {'-' * 8} | {'-' * 10} | {'-' * 9} | {'-' * 8} |")
    entries = []
    for i, (member, history) in enumerate(zip(result.configs, result.histories)):
        print(f"| {i:>5} | {member.seed:>5} | {member.lr:>8g} | {member.alpha:>8g} | {member.momentum:>8g} | "
              f"{history.loss[-1]:>10.6f} | {train_acc[i]:>9.4f} | {test_acc[i]:>8.4f} |")
        entries.append(member_settings(member) | metrics(
            member, history, train_accuracy=train_acc[i], test_accuracy=test_acc[i],
            fit_seconds=result.fit_seconds, compile_seconds=compiled.seconds, compiled=compiled.names,
            loaded=compiled.loaded,
            models_in_program=K))
    if not args.quiet:
        print(f"{count(K, 'model')} trained in {result.fit_seconds:.2f} s "
              f"(compiled in {compiled.seconds:.2f} s: {', '.join(compiled.names)})")
    if args.metrics:
        write_json(args.metrics, entries)
    if args.plot:
        save_figure(args.plot, lambda: _figure(result))
    return 0


def _figure(result):
    from jaxann.plots import loss_curve

    ax = None
    for member, history in zip(result.configs, result.histories):
        ax = loss_curve(history, ax=ax, label=f"seed {member.seed}, lr {member.lr:g}, alpha {member.alpha:g}, "
                                               f"momentum {member.momentum:g}")
    ax.set_title(f"Loss curves of {len(result.configs)} models trained as one program")
    return ax.figure
