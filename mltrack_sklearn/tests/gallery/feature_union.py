"""Concatenating PCA components and selected features with a FeatureUnion, tuned by a grid search.

The shape of scikit-learn's gallery example "Concatenating multiple feature extraction methods" (iris).
"""

from sklearn.datasets import load_iris
from sklearn.decomposition import PCA
from sklearn.feature_selection import SelectKBest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import SVC

X, y = load_iris(return_X_y=True)
combined_features = FeatureUnion([("pca", PCA(n_components=2)), ("univ_select", SelectKBest(k=1))])
pipeline = Pipeline([("features", combined_features), ("svm", SVC(kernel="linear"))])
param_grid = {
    "features__pca__n_components": [1, 2],
    "features__univ_select__k": [1, 2],
    "svm__C": [0.1, 10],
}
grid_search = GridSearchCV(pipeline, param_grid=param_grid, cv=3)
grid_search.fit(X, y)
print(grid_search.best_estimator_)
