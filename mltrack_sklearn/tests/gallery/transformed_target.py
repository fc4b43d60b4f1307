"""Effect of transforming the target of a regression: a function pair, then a quantile transformer.

The shape of scikit-learn's gallery example "Effect of transforming the targets in regression model"
(on the diabetes data that ships with scikit-learn).
"""

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.linear_model import RidgeCV
from sklearn.metrics import median_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import QuantileTransformer

X, y = load_diabetes(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

ridge = RidgeCV(alphas=np.logspace(-3, 3, 10)).fit(X_train, y_train)
y_pred = ridge.predict(X_test)
print(f"ridge: R2 {r2_score(y_test, y_pred):.3f}, MedAE {median_absolute_error(y_test, y_pred):.1f}")

log_ridge = TransformedTargetRegressor(regressor=RidgeCV(alphas=np.logspace(-3, 3, 10)), func=np.log1p,
                                      inverse_func=np.expm1).fit(X_train, y_train)  # fmt: skip
y_pred = log_ridge.predict(X_test)
print(f"log ridge: R2 {r2_score(y_test, y_pred):.3f}, MedAE {median_absolute_error(y_test, y_pred):.1f}")

quantile_ridge = TransformedTargetRegressor(
    regressor=RidgeCV(alphas=np.logspace(-3, 3, 10)),
    transformer=QuantileTransformer(n_quantiles=300, output_distribution="normal"),
).fit(X_train, y_train)
y_pred = quantile_ridge.predict(X_test)
print(f"quantile ridge: R2 {r2_score(y_test, y_pred):.3f}, MedAE {median_absolute_error(y_test, y_pred):.1f}")
