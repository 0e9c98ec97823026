"""Stage 1: a scenario file -> a validated :class:`~ftscen.core.model.Scenario`.

``loader`` reads the YAML with line marks into a ``document``; ``schema`` checks its shape
against ``schema/scenario.schema.json``; ``validate`` runs the named semantic checks
(``check_names``, ``check_rules``, over a ``context``); ``scenario`` builds the model. Every
problem is a :class:`~ftscen.core.errors.Diagnostic` naming file, line, column and JSON path.
"""
