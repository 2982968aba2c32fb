"""Supervised intrusion classes on flow features, with an unsupervised novelty score beside.

- `features`: a reader's features frame to a model matrix (numbers and coded categories).
- `classifier`: gradient-boosted trees (LightGBM) with calibrated probabilities and
  per-class and per-prediction explanations, saved as LightGBM text plus a JSON card.
- `novelty`: distance to normal training traffic, for attacks no label names.
- `card`: the model card.
- `evaluation`: the NSL-KDD and CIC-IDS2017 evaluations behind `mamori eval`.
"""
