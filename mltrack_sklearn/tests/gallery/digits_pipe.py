"""Pipelining a PCA and a logistic regression on the digits, searched with two processes.

The shape of scikit-learn's gallery example "Pipelining: chaining a PCA and a logistic regression".
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

X_digits, y_digits = load_digits(return_X_y=True)
# random_state: scikit-learn 1.4 picks a randomized SVD for this shape, which would make each run differ
pca = PCA(random_state=0)
pipe = Pipeline([("scaler", StandardScaler()), ("pca", pca), ("logistic", LogisticRegression(max_iter=200))])
param_grid = {"pca__n_components": [5, 20], "logistic__C": np.logspace(-2, 1, 2)}
search = GridSearchCV(pipe, param_grid, n_jobs=2, cv=3)
search.fit(X_digits, y_digits)
print(f"Best parameter (CV score={search.best_score_:.3f}):")
print(search.best_params_)
