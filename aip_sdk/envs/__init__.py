"""Text environments and suites (need the ``envs`` extra: gymnasium, minigrid, pyyaml)."""
