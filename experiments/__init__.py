"""Experiment configs, run orchestration and the one package that talks to MLflow.

Importing `models` first sets OpenMP's passive wait policy (see models/__init__.py) before
scikit-learn or xgboost load libgomp, whichever command starts here.
"""

import models  # noqa: F401
