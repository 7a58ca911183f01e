"""The compat suite: run by `engram-compat runtime` through `toolkit.compat.plugin`."""
