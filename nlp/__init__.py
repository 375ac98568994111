"""Borrower Voice NLP layer: normalisation, segmentation, lexicon sentiment and rules."""
