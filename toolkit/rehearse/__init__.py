"""The rolling-upgrade rehearsal: a fleet of reference servers, a seeded plan, a workload
running through every mixed state, and invariants counted throughout."""
