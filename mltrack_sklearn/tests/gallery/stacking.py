"""Combining predictors using stacking, each model cross-validated and its predictions plotted.

The shape of scikit-learn's gallery example "Combine predictors using stacking" (on the diabetes data).
"""

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor, StackingRegressor
from sklearn.linear_model import LassoCV, RidgeCV
from sklearn.model_selection import cross_val_predict, cross_validate, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

X, y = load_diabetes(return_X_y=True, as_frame=True)
estimators = [
    ("lasso", make_pipeline(StandardScaler(), LassoCV(cv=3, alphas=np.logspace(-2, 1, 20)))),
    ("random forest", RandomForestRegressor(n_estimators=10, max_depth=5, random_state=42, n_jobs=2)),
    ("gradient boosting", HistGradientBoostingRegressor(max_iter=20, random_state=0)),
]
stacking_regressor = StackingRegressor(estimators=estimators, final_estimator=RidgeCV(), cv=3)

for name, est in [*estimators, ("stacking", stacking_regressor)]:
    scores = cross_validate(est, X, y, scoring=["r2", "neg_mean_absolute_error"], cv=3)
    y_pred = cross_val_predict(est, X, y, cv=3)
    print(f"{name}: R2 {scores['test_r2'].mean():.2f}, MAE {-scores['test_neg_mean_absolute_error'].mean():.1f}")

X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
stacking_regressor.fit(X_train, y_train)
print(f"stacking held-out R2: {stacking_regressor.score(X_test, y_test):.3f}")
