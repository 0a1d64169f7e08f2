"""The warm shared cluster: the embedded cluster run as a process of its own, one per project.

``cellfleet cluster start`` (or ``%cellfleet start``) runs :mod:`cellfleet.cluster.serve` with
``python -m``, detached in a session of its own, so that closing the shell or interrupting a
kernel never stops it. It records itself in ``.cellfleet/cluster.json`` under the project root
(:mod:`cellfleet.cluster.record`); kernels, ``cellfleet run`` and the scheduler's production
runs connect to it while that record is live, before starting a private cluster.

What runs where: :mod:`~cellfleet.cluster.record`, :mod:`~cellfleet.cluster.options` and
:mod:`~cellfleet.cluster.launch` never import Dask (the CLI, the kernel and the server read
them); :mod:`~cellfleet.cluster.serve` (the cluster's process), :mod:`~cellfleet.cluster.plugin`
(its scheduler plugin) and :mod:`~cellfleet.cluster.control` (``cellfleet cluster
restart-workers``, a short-lived client) do.
"""
