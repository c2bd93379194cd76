"""Resolving names: import paths, static and runtime resolution, a tree's aliases, symbol targets."""
