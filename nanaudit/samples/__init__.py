"""Audit what a training pipeline yields (``nanaudit samples``, ``nanaudit.audit_samples``).

draw.py    the user's object (Dataset, DataLoader, iterable, dict) → samples, one at a time
audit.py   samples → records (decode/) → statistics (aggregate) → checks → Report
(what a draw reduces to, Sample, SampleBatch, Draw, is the model module ../drawn.py)
"""

from __future__ import annotations


class SampleInputError(ValueError):
    """What the pipeline yields cannot be audited (not pairs, no mask key, not iterable…);
    the message is one line. An exception the pipeline raises while drawing is a finding
    (NA506), not this."""
