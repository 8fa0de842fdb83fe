"""Where training's arrays live: one device, or replicated over several for data parallelism.

    placement = Placement.over(devices, batch_rows)
    x_dev = placement.put(x)                 onto the device(s), once per fit
    placement.batch_sharding                 None, or each batch's rows split over 'data'
    local(a)                                 a replicated array as an ordinary local one

Data parallelism: the first `devices` of `jax.devices()` (every host's after
`jax.distributed.initialize()`) form a one-axis mesh 'data'; data and parameters are
replicated, each batch's rows split over the axis, and XLA sums the gradient across
devices, so the result equals one device's to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxann.errors import JaxannError


def device_name() -> str:
    """The device jaxann computes on, for logs and metrics: 'cpu: cpu (x1)', 'gpu: NVIDIA H100 (x8)'."""
    dev = jax.devices()[0]
    return f"{dev.platform}: {dev.device_kind} (x{jax.device_count()})"


@dataclass(frozen=True)
class Placement:
    put: Callable[[Any], Any]  # a tree of host arrays -> the same tree on the device(s)
    batch_sharding: Any  # None on one device
    devices: int

    def feed(self, tree):
        """A small tree passed anew to every call (an epoch's row order): as it is on one
        device (the compiled call copies host arrays faster than `put`), placed on many."""
        return tree if self.devices == 1 else self.put(tree)

    @classmethod
    def over(cls, devices: int, batch_rows: int) -> "Placement":
        if not isinstance(devices, int) or devices < 1:
            raise JaxannError(f"devices {devices!r} must be a positive integer")
        if devices == 1:  # onto the default device, once (a NumPy array would be copied every call)
            return cls(jax.device_put, None, 1)
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        available = jax.devices()
        if devices > len(available):
            raise JaxannError(f"{devices} devices asked for, {len(available)} available ({available[0].platform}); "
                              "on a CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N makes N")
        if batch_rows % devices:
            raise JaxannError(f"batch size {batch_rows} is not a multiple of {devices} devices; "
                              "each device takes an equal share of every batch")
        mesh = Mesh(np.array(available[:devices]), ("data",))
        replicated = NamedSharding(mesh, PartitionSpec())

        def put(tree):  # works across processes too: each fills its own devices' copies
            return jax.tree.map(lambda a: jax.make_array_from_callback(
                np.shape(a), replicated, lambda index, a=np.asarray(a): a[index]), tree)

        return cls(put, NamedSharding(mesh, PartitionSpec("data")), devices)

    def local(self, tree):
        """tree with every replicated array as its local copy (unchanged on one device)."""
        return tree if self.devices == 1 else jax.tree.map(local, tree)


def local(a):
    """A replicated array as a single-device one (its local copy; all copies are equal)."""
    return jnp.asarray(a.addressable_data(0)) if isinstance(a, jax.Array) else a
