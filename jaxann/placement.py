"""Where training's arrays live: one device; replicated over several for data parallelism;
or a sweep's models split over several.

    placement = Placement.over(devices, batch_rows)   one model, data parallel
    placement = Placement.models(devices, K)          K stacked models over the devices
    x_dev = placement.put(x)                 onto the device(s), replicated, once per fit
    placement.feed(tree)                     a per-call tree (row orders; a sweep's per-model
                                             arrays, split along their model axis)
    placement.batch_sharding                 None, or each batch's rows split over 'data'
    placement.gather(tree), local(a)         back to the host; a replicated array as a local one

Data parallelism: the first `devices` of `jax.devices()` (every host's after
`jax.distributed.initialize()`) form a one-axis mesh 'data'; data and parameters are
replicated, each batch's rows split over the axis, and XLA sums the gradient across
devices, so the result equals one device's to rounding. Models: the mesh's axis is
'models'; the data are replicated and every per-model array is split along its leading
axis, so each device trains its share of the models and no model's arithmetic crosses
devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxann.errors import JaxannError


def device_name() -> str:
    """The devices jaxann computes on, in words, for logs and metrics: 'CPU, 1 device',
    'NVIDIA H100 (GPU), 8 devices'."""
    dev, n = jax.devices()[0], jax.device_count()
    kind = "CPU" if dev.platform == "cpu" else f"{dev.device_kind} ({dev.platform.upper()})"
    return f"{kind}, {n} device{'s' * (n != 1)}"


@dataclass(frozen=True)
class Placement:
    put: Callable[[Any], Any]  # a tree of host arrays -> the same tree on the device(s), replicated
    batch_sharding: Any  # None on one device
    devices: int
    split: Callable[[Any], Any] | None = None  # models: host arrays -> split along their first axis

    def feed(self, tree):
        """A tree passed anew to every call (an epoch's row orders): as it is on one device
        (the compiled call copies host arrays faster than `put`), placed on many (split
        along the model axis for a sweep's models)."""
        if self.devices == 1:
            return tree
        return (self.split or self.put)(tree)

    def stack(self, tree):
        """A sweep's stacked state, once: split over the devices' models, else put."""
        return self.put(tree) if self.split is None else self.split(tree)

    @classmethod
    def models(cls, devices: int, K: int) -> "Placement":
        """K stacked models over the first `devices` devices (K a multiple of them)."""
        _check_count(devices)
        if devices == 1:
            return cls(jax.device_put, None, 1)
        from jax.sharding import PartitionSpec

        if K % devices:
            raise JaxannError(f"{K} models do not split evenly over {devices} devices")
        mesh = _mesh(devices, "models")
        return cls(_putter(mesh, PartitionSpec()), None, devices, _putter(mesh, PartitionSpec("models")))

    @classmethod
    def over(cls, devices: int, batch_rows: int) -> "Placement":
        _check_count(devices)
        if devices == 1:  # onto the default device, once (a NumPy array would be copied every call)
            return cls(jax.device_put, None, 1)
        from jax.sharding import NamedSharding, PartitionSpec

        if batch_rows % devices:
            raise JaxannError(f"batch size {batch_rows} is not a multiple of {devices} devices; "
                              "each device takes an equal share of every batch")
        mesh = _mesh(devices, "data")
        return cls(_putter(mesh, PartitionSpec()), NamedSharding(mesh, PartitionSpec("data")), devices)

    def gather(self, tree):
        """tree's arrays as host (NumPy) arrays holding every model's and device's values,
        gathered from the other processes where they are spread over several hosts."""
        return jax.tree.map(gather, tree)

    def local(self, tree):
        """tree with every replicated array as its local copy (unchanged on one device)."""
        return tree if self.devices == 1 else jax.tree.map(local, tree)


def _check_count(devices):
    if not isinstance(devices, int) or devices < 1:
        raise JaxannError(f"devices {devices!r} must be a positive integer")
    available = jax.devices()
    if devices > len(available):
        raise JaxannError(f"{devices} devices asked for, {len(available)} available ({available[0].platform}); "
                          "on a CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N makes N")


def _mesh(devices: int, axis: str):
    from jax.sharding import Mesh

    return Mesh(np.array(jax.devices()[:devices]), (axis,))


def _putter(mesh, spec):
    """tree of host arrays -> global arrays laid out by spec over mesh; works across
    processes too (each fills its own devices' parts from the same host values)."""
    from jax.sharding import NamedSharding

    sharding = NamedSharding(mesh, spec)
    return lambda tree: jax.tree.map(lambda a: jax.make_array_from_callback(
        np.shape(a), sharding, lambda index, a=np.asarray(a): a[index]), tree)


def gather(a) -> np.ndarray:
    """An array's whole value on the host (see `Placement.gather`)."""
    if not isinstance(a, jax.Array) or a.is_fully_addressable:
        return np.asarray(a)
    if a.sharding.is_fully_replicated:
        return np.asarray(a.addressable_data(0))
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(a, tiled=True))


def local(a):
    """A replicated array as a single-device one (its local copy; all copies are equal)."""
    return jnp.asarray(a.addressable_data(0)) if isinstance(a, jax.Array) else a
