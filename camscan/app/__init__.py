"""The application layer: what a camscan command does, without click (docs/design.md).

* :mod:`camscan.app.request` plans the sweeps of one ``camscan scan`` from the request and
  the config file, as a pure function (:func:`~camscan.app.request.plan_runs`).
* :mod:`camscan.app.sweep` runs one planned sweep (scope, credentials, plan, interrupts,
  streamed output) and reports through a :class:`~camscan.app.reporter.Reporter`.
* :mod:`camscan.app.record` records a sweep into the inventory (:class:`ScanRecorder`).
* :mod:`camscan.app.outputs` writes the outputs (atomically) and watches standard output.

The command line (:mod:`camscan.cli`) parses options, builds the request and prints; the
library (api, engine, probes, identify, policy, inventory, render) never imports this package.
"""
