"""`jaxann gradcheck`: backprop vs jax.grad vs finite differences on a random network."""

from __future__ import annotations

import json

from jaxann.cli.args import int_list
from jaxann.errors import JaxannError


def add_arguments(p):
    from jaxann.cli.choices import ACTIVATIONS, LOSSES

    p.description = ("Compare the explicit backprop with jax.grad and central finite "
        "differences on a random network and batch; exit 1 when any relative error "
        "exceeds its tolerance.")
    p.add_argument("--sizes", type=int_list, default=[4, 5, 3],
                   help="layer sizes n_0,...,n_L (default 4,5,3)")
    p.add_argument("--activation", choices=list(ACTIVATIONS), default="relu")
    p.add_argument("--loss", choices=list(LOSSES), default="cross_entropy")
    p.add_argument("--alpha", type=float, default=1e-4, help="L2 strength (default 1e-4)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--batch", type=int, default=8, help="rows in the random batch (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)  # finite differences in float64
    import jax.numpy as jnp

    from jaxann.gradcheck import gradcheck
    from jaxann.losses import random_targets
    from jaxann.network import init_mlp

    if len(args.sizes) < 2:
        raise JaxannError(f"--sizes {args.sizes} needs at least two layers (inputs, outputs)")
    if args.batch <= 0:
        raise JaxannError(f"--batch {args.batch} must be a positive integer")
    if args.alpha < 0:
        raise JaxannError(f"--alpha {args.alpha} must be >= 0")
    k_init, k_x, k_y = jax.random.split(jax.random.key(args.seed), 3)
    params = init_mlp(k_init, args.sizes, dtype=jnp.dtype(args.dtype))
    x = jax.random.normal(k_x, (args.batch, args.sizes[0]), args.dtype)
    y = random_targets(k_y, args.loss, args.batch, args.sizes[-1], args.dtype)
    report = gradcheck(params, x, y, args.activation, args.loss, args.alpha)
    if args.json:
        config = {k: getattr(args, k) for k in ("sizes", "activation", "loss", "alpha",
                                                  "dtype", "batch", "seed")}
        print(json.dumps({"config": config} | report.to_dict(), indent=2))
    else:
        print(
            f"gradcheck: sizes {'-'.join(map(str, args.sizes))}, activation {args.activation}, "
            f"loss {args.loss}, alpha {args.alpha:g}, {args.dtype}, batch {args.batch}, "
            f"seed {args.seed}"
        )
        print(report.table())
    return 0 if report.ok else 1


