"""Adapting the shipped model to a customer's own labelled texts, on CPU, in minutes.

``labels`` checks and reads a labelled table, ``fit`` learns the sentiment layer and the
label heads, ``build`` writes a self-contained model version, ``model`` loads one. It sits in
the core (not in ``training/``) because the app builds candidate versions too and the data
layer may not import ``training``; ``python -m nlp adapt`` (``training.adapt``) is its
command line.
"""
