"""The compat suite: run by `engram-compat replay` through `toolkit.compat.plugin`."""
