"""Static schema analysis: compile, descriptor pools, buf, descriptor diff, wire replay."""
