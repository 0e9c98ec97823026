"""The words every stage shares: the scenario model, kernel eras, errors and diagnostics.

Nothing here runs anything: ``model`` holds the frozen dataclasses a loaded scenario becomes
(named in the kernel's words: ``FtraceOps``, filter and notrace hashes, steps), ``profile``
what a kernel version means for the model, ``globs`` the kernel's filter-glob matching,
``errno`` the error values, ``errors`` the exception tree and :class:`Diagnostic`,
``diagnostics`` how diagnostics are shown.
"""
