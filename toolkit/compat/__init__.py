"""The runtime compatibility suite (a pytest plugin) and its clients."""
