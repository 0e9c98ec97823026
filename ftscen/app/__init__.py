"""The stages wired together: the pipeline API, corpus runs, the command line, pytest.

``pipeline`` runs one scenario end to end, ``corpus`` turns paths into jobs and runs them
(in processes with ``--jobs``), ``session`` is one ``ftscen run``, ``cli`` parses options
and calls them, ``pytest_plugin`` collects scenario files as test items.
"""
