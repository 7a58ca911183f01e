"""engram-compat: proves an Engram gRPC schema migration is safe before it ships."""

__version__ = "0.1.0"
