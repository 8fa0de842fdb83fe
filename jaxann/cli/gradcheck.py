"""`jaxann gradcheck`: backprop vs jax.grad vs finite differences on a random network,
and each learning rule's update against the gradient."""

from __future__ import annotations

import json

from jaxann.cli.args import activation, add_compile_cache_flag, choice_list, int_list, positive_float, positive_int
from jaxann.errors import JaxannError


def add_arguments(p):
    from jaxann.cli.choices import ACTIVATIONS, FD_CHEAP, FD_MODES, LOSSES, RULES

    def fd_modes(text: str):
        """'auto', 'all', or a comma-separated list of FD_MODES."""
        return "auto" if text == "auto" else choice_list(FD_MODES)(text)

    p.description = ("Compare the explicit backprop with jax.grad and central finite "
        "differences on a random network and batch; exit 1 when any relative error "
        "exceeds its tolerance. With --grad, also measure learning rules' updates against "
        "the gradient (angle and norm ratio per array).")
    p.add_argument("--sizes", type=int_list, default=[4, 5, 3],
                   help="layer sizes n_0,...,n_L (default 4,5,3)")
    p.add_argument("--activation", type=activation, default="relu", metavar="NAME[,NAME...]",
                   help=f"the hidden layers' activation, or one per hidden layer, e.g. relu,tanh: "
                   f"{', '.join(ACTIVATIONS)} (default relu)")
    p.add_argument("--loss", choices=list(LOSSES), default="cross_entropy")
    p.add_argument("--alpha", type=float, default=1e-4, help="L2 strength (default 1e-4)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--batch", type=int, default=8, help="rows in the random batch (default 8)")
    p.add_argument("--seed", type=int, default=0,
                   help="the network, batch, directions, samples and feedback matrices (default 0)")
    p.add_argument("--fd", type=fd_modes, default="auto",
                   help=f"finite differences: auto (every entry up to {FD_CHEAP} parameters, else directions "
                   "and sample), all, or some of entries,directions,sample")
    p.add_argument("--directions", type=positive_int, default=8,
                   help="random directions per array for --fd directions (default 8)")
    p.add_argument("--samples", type=positive_int, default=16,
                   help="random entries per array for --fd sample (default 16)")
    p.add_argument("--eps", type=positive_float, default=1e-6, help="finite-difference step (default 1e-6)")
    p.add_argument("--grad", type=choice_list(RULES), default=["backprop"],
                   help="learning rules to measure against the gradient: all, or some of "
                   + ",".join(RULES) + " (default backprop: the check alone)")
    p.add_argument("--feedback-scale", type=positive_float, default=1.0,
                   help="feedback alignment rules: scale of the fixed random matrices' entries (default 1)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_compile_cache_flag(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from jaxann.activations import label
    from jaxann.program_store import use_program_store
    from jaxann.gradcheck import gradcheck, random_problem

    if len(args.sizes) < 2:
        raise JaxannError(f"--sizes {args.sizes} needs at least two layers (inputs, outputs)")
    if args.batch <= 0:
        raise JaxannError(f"--batch {args.batch} must be a positive integer")
    if args.alpha < 0:
        raise JaxannError(f"--alpha {args.alpha} must be >= 0")
    use_program_store(args.compile_cache)
    params, x, y = random_problem(args.sizes, args.batch, args.loss, args.dtype, args.seed)
    report = gradcheck(params, x, y, args.activation, args.loss, args.alpha, fd=args.fd,
                       directions=args.directions, samples=args.samples, eps=args.eps, rules=args.grad,
                       feedback_scale=args.feedback_scale, seed=args.seed)
    if args.json:
        config = {k: getattr(args, k) for k in ("sizes", "activation", "loss", "alpha", "dtype", "batch",
                                                  "seed", "fd", "directions", "samples", "eps", "grad",
                                                  "feedback_scale")}
        print(json.dumps({"config": config} | report.to_dict(), indent=2))
    else:
        print(
            f"gradcheck: sizes {'-'.join(map(str, args.sizes))}, activation {label(args.activation)}, "
            f"loss {args.loss}, alpha {args.alpha:g}, {args.dtype}, batch {args.batch}, "
            f"seed {args.seed}"
        )
        print(report.table())
    return 0 if report.ok else 1
