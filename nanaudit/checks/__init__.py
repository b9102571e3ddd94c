"""The checks: one decorated function per check (registry.py), grouped by family (files,
images, masks, dataset), run over records and merged statistics by run.py."""
