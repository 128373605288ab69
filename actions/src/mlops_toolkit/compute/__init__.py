"""Where training runs: GPUs, and the project's training command."""
