"""The worker: the Faust app, its arithmetic (aggregation, spike detection), the broker and
the process that runs it."""
