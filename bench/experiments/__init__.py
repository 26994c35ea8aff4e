"""Settings variants for A/B runs of bench/signin.py (``--settings experiments.<module>``).

They change nothing in src/: each imports ``watchword.settings`` and adjusts one thing, so a
suggested change can be measured before anyone makes it.
"""
