"""Baselines, the xgboost pipeline, evaluation, explanation and targeting.

OpenMP threads (xgboost's) wait passively: spinning threads would steal the cores a busy
machine's other processes need and slow everything down many times over. Set before any
module of this package loads xgboost; an explicit OMP_WAIT_POLICY in the environment wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
