"""Drift alarms (issue 13): cheap statistics of each live frame and its anomaly score, over a rolling window,
compared with the same statistics over the model's normal images, so that a light going dim or a lens going soft
is flagged before the NG rate climbs. Qt-free and torch-free: it runs in the light inspect path.

    statistics.py  brightness, contrast, sharpness of one model-sized frame
    psi.py         the population stability index of a window against a reference, and its warn / alarm levels
    reference.py   the training reference: built from the manifest's normal images, cached by the model's sha256
    monitor.py     the rolling window, judged every few frames
"""
