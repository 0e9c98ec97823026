"""Stage 5: checked results -> what people and programs read (text, JSON, goldens, JUnit).

``text`` renders one report, ``records`` are what a corpus run hands the reporters,
``corpus`` prints a whole run, ``golden`` keeps and compares golden logs, ``junit`` writes
JUnit XML.
"""
