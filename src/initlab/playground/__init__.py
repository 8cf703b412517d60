"""The playground: watch starts decide, side by side, in the browser, offline.

``initlab playground`` serves one page on loopback (:mod:`.server`); the page sends the
learner's settings and controls, and Python trains and measures (:mod:`.runs`, on initlab's
engine, diagnosis and mean-field theory) and streams what to draw. :mod:`.state` checks
the settings and holds the presets. Every asset is in ``static/``: no CDN, no web fonts.
"""
