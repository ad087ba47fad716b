"""One module per task: plain functions that take paths and Options and return results."""
