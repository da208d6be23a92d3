"""The policy language: YAML with positions, scalars, interpolation, lists, diagnostics, the loader and compiler."""
