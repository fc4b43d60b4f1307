"""Mixed column types: impute and scale the numbers, one-hot encode the categories, then a grid search.

The shape of scikit-learn's gallery example "Column Transformer with Mixed Types", on data that ships
with scikit-learn (breast cancer, with two categorical columns derived from it and some missing values).
"""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X = X[["mean radius", "mean texture", "mean smoothness", "worst area"]].copy()
X["texture band"] = pd.cut(X["mean texture"], 3, labels=["smooth", "medium", "rough"]).astype(str)
X["size class"] = np.where(X["worst area"] > 1000, "large", "small")
X.loc[X.index % 17 == 0, "mean smoothness"] = np.nan

numeric_features = ["mean radius", "mean texture", "mean smoothness", "worst area"]
numeric_transformer = Pipeline([("imputer", SimpleImputer(strategy="median")), ("scaler", StandardScaler())])
categorical_features = ["texture band", "size class"]
categorical_transformer = OneHotEncoder(handle_unknown="ignore")
preprocessor = ColumnTransformer(
    [("num", numeric_transformer, numeric_features), ("cat", categorical_transformer, categorical_features)]
)
clf = Pipeline([("preprocessor", preprocessor), ("classifier", LogisticRegression())])

X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
clf.fit(X_train, y_train)
print(f"model score: {clf.score(X_test, y_test):.3f}")

param_grid = {"preprocessor__num__imputer__strategy": ["mean", "median"], "classifier__C": [0.1, 1.0]}
search = GridSearchCV(clf, param_grid, cv=3)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"search score: {search.score(X_test, y_test):.3f}")
