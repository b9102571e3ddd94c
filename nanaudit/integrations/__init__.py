"""Training frameworks' hooks for the guard, each in its own module that imports its
framework (``nanaudit.integrations.lightning``, ``nanaudit.integrations.huggingface``):
``import nanaudit`` imports none of them."""
