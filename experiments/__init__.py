"""Experiment configs, run orchestration and the one package that talks to MLflow.

OpenMP threads wait passively (set before scikit-learn or xgboost load libgomp, which reads
it once): spinning threads would steal the cores a busy machine's other processes need. An
explicit OMP_WAIT_POLICY in the environment wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
