"""Built-in evaluation specs (TOML files): ``hir.toml``, loaded by name with :func:`bipdask.spec.load_spec`."""
