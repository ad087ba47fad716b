"""xla-tasks: keep a workspace of OpenXLA / PyTorch-XLA repositories on the right commits."""
